import ArgumentParser
import WireTapeCore
import WireTapeResilience

/// The connection flags shared by the live commands (`record`; `tap` can adopt them):
/// headers, subprotocols, limits, TLS roots and keepalive timing.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("header"), help: ArgumentHelp("A request header, repeatable.", valueName: "Name: value"))
    var headers: [String] = []

    @Option(name: .customLong("subprotocol"), help: "A subprotocol to offer, repeatable.")
    var subprotocols: [String] = []

    @Option(name: .customLong("max-message-size"), help: ArgumentHelp("The largest message accepted, in bytes.", valueName: "BYTES"))
    var maxMessageSize: Int = WSConfig().maxMessageSize

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A PEM file of extra trusted CA certificates.", valueName: "PATH"))
    var caFile: String?

    @Option(name: .customLong("idle-timeout"), help: "Seconds without data before the connection is stale and pinged (tap: with --reconnect).")
    var idleTimeout: Double = 30

    @Option(name: .customLong("pong-timeout"), help: "Seconds to wait for the pong to that ping before reconnecting (tap: with --reconnect).")
    var pongTimeout: Double = 10

    @Option(name: .customLong("close-timeout"), help: "Seconds to wait for the peer's close frame after sending ours, before dropping the socket.")
    var closeTimeout: Double = 5

    /// Checks the flags (called from the command's `validate()`).
    func validate(url: String) throws {
        if !(idleTimeout > 0) || !(pongTimeout > 0) || !(closeTimeout > 0) {
            throw ValidationError("--idle-timeout, --pong-timeout and --close-timeout must be positive numbers of seconds")
        }
        if maxMessageSize < 1 { throw ValidationError("--max-message-size must be at least 1 byte") }
        do { _ = try WSURL(url) } catch let e as WSError { throw ValidationError(e.message) }
        for h in headers {
            do { _ = try HTTPHeaderField(parsing: h) } catch { throw ValidationError("--header: \(error)") }
        }
    }

    /// The parsed request headers.
    func parsedHeaders() throws -> [HTTPHeaderField] { try headers.map(HTTPHeaderField.init(parsing:)) }

    /// The connect request for `url`.
    func request(url: String) throws -> ConnectRequest {
        ConnectRequest(
            url: try WSURL(url), headers: try parsedHeaders(), subprotocols: subprotocols,
            tls: TLSOptions(extraTrustRootsPEMFile: caFile), config: WSConfig(maxMessageSize: maxMessageSize, closeTimeout: .seconds(closeTimeout)))
    }

    /// The resilient stack's policies with these keepalive timings.
    func reconnectConfig() -> ReconnectConfig {
        var config = ReconnectConfig()
        config.keepalive = KeepalivePolicy(idleTimeout: .seconds(idleTimeout), pongTimeout: .seconds(pongTimeout))
        return config
    }
}
