import ArgumentParser
import WireTapeJournal

/// `wiretape reindex`: rebuilds the index from the segments.
public struct ReindexCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "reindex", abstract: "Rebuild the SQLite index from the segment files.")

    @OptionGroup var journal: JournalDirectoryArgument

    public init() {}

    public func run() async throws {
        let directory = try journal.writable()
        let report = try Progress.segmentScan("reindex").run { p throws(JournalError) in
            try JournalMaintenance.reindex(directory: directory, progress: p)
        }
        JournalOutput.current.line(report.description)
    }
}
