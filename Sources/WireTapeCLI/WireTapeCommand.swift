import ArgumentParser

/// The `wiretape` command: record, inspect and replay WebSocket feeds.
public struct WireTapeCommand: AsyncParsableCommand {
    /// The command tree.
    public static let configuration = CommandConfiguration(
        commandName: "wiretape",
        abstract: "Record live WebSocket feeds into an indexed journal, inspect them, replay them.",
        subcommands: [
            DemoCommand.self,
            TapCommand.self,
            ImportCommand.self, CatCommand.self, InfoCommand.self, GapsCommand.self,
            VerifyCommand.self, RepairCommand.self, ReindexCommand.self,
            RecordCommand.self,
            ReportCommand.self, StatsCommand.self, ContinuityCommand.self, AnnotateCommand.self,
            ReplayCommand.self, ServeCommand.self,
            ArchiveCommand.self, LsCommand.self,
        ])

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Runs the command line as `AsyncParsableCommand.main()` does, except that error
    /// messages — which can quote a server's close reason, a URL or a file name — are made
    /// terminal-safe (``TerminalText``) before they reach stderr.
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help and friends, printed as the parser does
            let text = fullMessage(for: error)
            if !text.isEmpty {
                JournalOutput.standard.warn(text.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { TerminalText.safe(String($0)) }.joined(separator: "\n"))
            }
            exit(withError: ExitCode(code.rawValue))
        }
    }
}
