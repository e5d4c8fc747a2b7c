import ArgumentParser
import WireTapeResilience

/// The keepalive flags of the reconnecting stack, shared by `tap`, `record` (through
/// ``ConnectionOptions``) and `replay --reconnect`.
struct KeepaliveOptions: ParsableArguments {
    @Option(name: .customLong("idle-timeout"), help: "Seconds without data before the connection is stale and pinged (tap and replay: with --reconnect).",
        transform: NumericOption.seconds(above: 0))
    var idleTimeout: Double = 30

    @Option(name: .customLong("pong-timeout"), help: "Seconds to wait for the pong to that ping before reconnecting (tap and replay: with --reconnect).",
        transform: NumericOption.seconds(above: 0))
    var pongTimeout: Double = 10

    /// The resilient stack's policies with these keepalive timings.
    func reconnectConfig() -> ReconnectConfig {
        var config = ReconnectConfig()
        config.keepalive = KeepalivePolicy(idleTimeout: .seconds(idleTimeout), pongTimeout: .seconds(pongTimeout))
        return config
    }
}
