import ArgumentParser
import WireTapeJournal

/// `wiretape repair`: recovers a journal after a crash.
public struct RepairCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Truncate torn tails, report damaged blocks and rebuild the index; prints what was done.")

    @OptionGroup var journal: JournalDirectoryArgument

    public init() {}

    public func run() async throws {
        let directory = try journal.writable()
        let report = try Progress.segmentScan("repair").run { p throws(JournalError) in
            try JournalMaintenance.repair(directory: directory, progress: p)
        }
        JournalOutput.current.line(report.description)
    }
}
