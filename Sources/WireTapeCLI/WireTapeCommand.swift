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
            JournalImportCommand.self, JournalCatCommand.self, JournalInfoCommand.self, JournalGapsCommand.self,
            JournalVerifyCommand.self, JournalRepairCommand.self, JournalReindexCommand.self,
            RecordCommand.self,
        ])

    /// Creates the command (used by the argument parser).
    public init() {}
}
