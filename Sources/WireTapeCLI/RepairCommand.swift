import ArgumentParser
import WireTapeJournal

/// `wiretape repair`: recovers a journal after a crash.
///
/// Repair and `verify` agree by construction: after recovering, repair truncates older
/// segments that were cut short, names the records it gives up (those only the index knew
/// of: in a deleted or cut-short segment), rebuilds an index that still disagrees with the
/// segments, then runs `verify` itself. Exit 0 means `verify`
/// is now clean; otherwise every problem left is printed as one repair cannot fix (damaged
/// blocks whose records are lost, files that are not what they claim), with the records it
/// gives up, and the exit status is 1.
public struct RepairCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Truncate torn tails, report damaged blocks and rebuild the index; prints what was done.",
        discussion: """
            Exit 0 when `wiretape verify` is clean afterwards. Otherwise each problem left is printed \
            with why repair cannot fix it and the records given up, and the exit status is 1.
            """)

    @OptionGroup var journal: JournalDirectoryArgument

    public init() {}

    public func run() async throws {
        let directory = try journal.writable()
        let out = JournalOutput.current
        let report = try Progress.segmentScan("repair").run { p throws(JournalError) in
            try JournalMaintenance.repair(directory: directory, progress: p)
        }
        for line in report.description.split(separator: "\n", omittingEmptySubsequences: false) { out.line(TerminalText.safe(String(line))) }
        var after = try JournalMaintenance.verify(directory: directory)
        let cut = try JournalMaintenance.truncateCutSegments(directory: directory, problems: after.problems)
        for t in cut {
            out.line(TerminalText.safe("truncated \(t.path) at byte \(t.offset), removing \(t.bytesRemoved) bytes: \(t.why)"))
        }
        // Records only the index knew of (a segment deleted or cut short): rebuilding the index
        // forgets them, so they are named here, once, as given up.
        var givenUp = GivenUpRecords()
        for p in after.problems where p.code == .missingRecords { givenUp.add(p) }
        for line in givenUp.lines { out.line(TerminalText.safe(line)) }
        if !cut.isEmpty || after.problems.contains(where: { $0.code == .index || $0.code == .missingRecords }) {
            let rebuilt = try JournalMaintenance.reindex(directory: directory)
            out.line("the index disagreed with the segments: \(rebuilt)")
            after = try JournalMaintenance.verify(directory: directory)
        }
        guard !after.isOK else { return }
        let lost = after.problems.compactMap(\.lostSeqs)
        out.line("repair cannot fix \(after.problems.count) problem(s); they stay in place and readers skip them:")
        for p in after.problems { out.line("  cannot fix: \(p.code): \(TerminalText.safe("\(p)"))") }
        if !lost.isEmpty {
            out.line("records given up: " + lost.map { "\($0.lowerBound)...\($0.upperBound)" }.joined(separator: ", "))
        }
        throw ExitCode(1)
    }
}
