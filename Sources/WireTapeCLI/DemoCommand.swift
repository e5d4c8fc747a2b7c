import ArgumentParser
import WireTapeCore
import WireTapeNIO

/// `wiretape demo`: the main job on an embedded default, with no network needed.
public struct DemoCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Tap a built-in demo feed on loopback that stages an outage, and show what happened.",
        discussion: """
            Starts a synthetic BTCUSDT trade feed on 127.0.0.1 (a random port) whose first \
            connection ends in an outage (close 1011), taps it like `wiretape tap` would, and \
            prints a summary on stderr. Pass --json-lines to see every frame on stdout.
            """)

    /// Whether to print every line.
    @Flag(name: .customLong("json-lines"), help: "Print every frame and lifecycle edge as JSON lines on stdout.")
    var jsonLines = false

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Runs the demo.
    public func run() async throws {
        let server = try await DemoFeedServer.start()
        StandardOutput.warn("demo: feed listening on \(server.url)")
        let out = StandardOutput()
        let collector = jsonLines ? out : StandardOutput(discarding: true)
        let outcome = try await TapSession(request: ConnectRequest(url: try WSURL(server.url)), messages: [], count: nil, duration: nil)
            .run(connector: NIOConnector(), out: collector)
        out.flush()
        await server.stop()
        StandardOutput.warn("demo: received \(outcome.frames) frames, then: \(outcome.failure ?? "a clean close")")
        StandardOutput.warn(
            "demo: the feed staged that outage on purpose; a recorder keeps such edges in the journal next to the frames")
    }
}
