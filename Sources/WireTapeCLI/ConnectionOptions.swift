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

    @Option(name: .customLong("max-message-size"), help: ArgumentHelp("The largest message accepted, in bytes.", valueName: "BYTES"),
        transform: NumericOption.integer(in: 1...Int.max))
    var maxMessageSize: Int = WSConfig().maxMessageSize

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("A PEM file of extra trusted CA certificates.", valueName: "PATH"))
    var caFile: String?

    @OptionGroup var keepalive: KeepaliveOptions

    @Option(name: .customLong("close-timeout"), help: "Seconds to wait for the peer's close frame after sending ours, before dropping the socket.",
        transform: NumericOption.seconds(above: 0))
    var closeTimeout: Double = 5

    /// Registers the command line's credentials with the output (so no message can show
    /// them, ``JournalOutput/registerSecrets(url:headers:rules:)``), then checks the flags.
    /// Called from the command's `validate()`.
    func validate(url: String, rules: RedactionRules = RedactionRules()) throws {
        JournalOutput.current.registerSecrets(url: url, headers: headers, rules: rules)
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
    func reconnectConfig() -> ReconnectConfig { keepalive.reconnectConfig() }
}
