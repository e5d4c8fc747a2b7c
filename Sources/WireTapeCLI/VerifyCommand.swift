import ArgumentParser
import WireTapeJournal

/// `wiretape verify`: checks every block and the index.
public struct VerifyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every block checksum and the index against the segments; exit 0 only when all is well.")

    @OptionGroup var journal: JournalDirectoryArgument

    public init() {}

    public func run() async throws {
        let directory = try await journal.readable()
        let out = JournalOutput.current
        let report = try Progress.segmentScan("verify").run { p throws(JournalError) in
            try JournalMaintenance.verify(directory: directory, progress: p)
        }
        out.line(report.description)
        if !report.isOK { throw ExitCode(1) }
    }
}
