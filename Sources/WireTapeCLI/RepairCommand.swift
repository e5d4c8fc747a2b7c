import ArgumentParser
import WireTapeJournal

/// `wiretape repair`: recovers a journal after a crash.
///
/// Repair and `verify` agree by construction: after recovering, repair rebuilds an index
/// that still disagrees with the segments, then runs `verify` itself. Exit 0 means `verify`
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
        out.line(report.description)
        var after = try JournalMaintenance.verify(directory: directory)
        if after.problems.contains(where: { $0.code == .index }) {
            let rebuilt = try JournalMaintenance.reindex(directory: directory)
            out.line("the index still disagreed with the segments: \(rebuilt)")
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
