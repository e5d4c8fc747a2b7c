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
            ReplayCommand.self,
        ])

    /// Creates the command (used by the argument parser).
    public init() {}
}
