/// One HTTP header, in order; names compare case-insensitively where it matters.
public struct HTTPHeaderField: Sendable, Hashable, CustomStringConvertible {
    /// The header name as it will be written.
    public var name: String
    /// The header value.
    public var value: String
    /// Creates a header.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Parses `"Name: value"` (the form of `--header`).
    /// - Throws: ``HeaderParseError`` naming the header when the line is malformed.
    public init(parsing line: String) throws {
        guard let colon = line.firstIndex(of: ":") else {
            throw HeaderParseError(line: line, why: "expected 'Name: value'")
        }
        let name = line[..<colon].trimmingSpaces
        let value = line[line.index(after: colon)...].trimmingSpaces
        guard !name.isEmpty, name.utf8.allSatisfy(HTTPHeaderField.isTokenByte) else {
            throw HeaderParseError(line: line, why: "the header name must be a non-empty HTTP token")
        }
        guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
            throw HeaderParseError(line: line, why: "the value must not contain a line break")
        }
        self.init(name, value)
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// `Name: value`, with the value redacted when the name is a secret.
    public var description: String { "\(name): \(Redaction.redactedValue(name: name, value: value))" }
}

/// A header line that could not be parsed.
public struct HeaderParseError: Error, Sendable, CustomStringConvertible {
    /// The offending input (its value part is redacted in ``description``).
    public var line: String
    /// What is wrong.
    public var why: String
    /// A one-line explanation.
    public var description: String {
        // Only the name: without a colon (`Authorization Bearer t0ken`) the text after the
        // first word may be the credential itself.
        let name = line.prefix { $0 != ":" && !$0.isWhitespace }
        return "invalid header '\(name): …': \(why)"
    }
}

/// TLS settings for `wss://` connections.
///
/// Certificate chain and host name are always verified against the system trust store;
/// ``extraTrustRootsPEMFile`` adds roots (a private venue, a test CA). There is deliberately
/// no switch that accepts any certificate.
public struct TLSOptions: Sendable, Hashable {
    /// A PEM file of additional trusted CA certificates, used besides the system store.
    public var extraTrustRootsPEMFile: String?
    /// Overrides the name sent in SNI and checked against the certificate (defaults to the URL host).
    public var serverNameOverride: String?

    /// Creates TLS options.
    public init(extraTrustRootsPEMFile: String? = nil, serverNameOverride: String? = nil) {
        self.extraTrustRootsPEMFile = extraTrustRootsPEMFile
        self.serverNameOverride = serverNameOverride
    }
}

/// Limits and timeouts of one WebSocket connection.
///
/// The defaults suit exchange market data: venues send snapshots of several megabytes
/// (Coinbase level-2), so a message may be up to 16 MiB; the inbound queue pauses socket
/// reads at 4 MiB or 8192 frames not yet consumed, whichever comes first.
public struct WSConfig: Sendable, Hashable {
    /// The largest message (after reassembly of fragments) accepted; larger ones close the
    /// connection with 1009 and fail the stream with ``WSError/Code/messageTooLarge``.
    public var maxMessageSize: Int
    /// Socket reads pause while this many bytes of frames wait for the consumer.
    public var inboundHighWaterBytes: Int
    /// Socket reads pause while this many frames wait for the consumer.
    public var inboundHighWaterFrames: Int
    /// How long the TCP connect may take.
    public var connectTimeout: Duration
    /// How long the TLS and HTTP upgrade may take after the TCP connection is up.
    public var handshakeTimeout: Duration
    /// After sending a close frame, how long to wait for the peer's close before dropping the socket.
    public var closeTimeout: Duration
    /// The shortest spacing between automatic pongs. Pings that arrive faster are coalesced:
    /// only the latest is answered, when the spacing allows (RFC 6455 §5.5.3 permits answering
    /// only the most recent ping). Venues that count pongs against a message-rate limit
    /// (Binance: 5 messages/s) would otherwise disconnect a client that a ping flood provoked.
    /// `.zero` (the default) answers every ping at once.
    public var pongMinInterval: Duration

    /// Creates a configuration; every parameter has the documented default.
    public init(
        maxMessageSize: Int = 16 << 20,
        inboundHighWaterBytes: Int = 4 << 20,
        inboundHighWaterFrames: Int = 8192,
        connectTimeout: Duration = .seconds(10),
        handshakeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(5),
        pongMinInterval: Duration = .zero
    ) {
        self.maxMessageSize = maxMessageSize
        self.inboundHighWaterBytes = inboundHighWaterBytes
        self.inboundHighWaterFrames = inboundHighWaterFrames
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.pongMinInterval = pongMinInterval
    }
}

/// Everything needed to open one WebSocket connection.
public struct ConnectRequest: Sendable {
    /// The server URL.
    public var url: WSURL
    /// Extra request headers, sent in order (e.g. `Origin`, `User-Agent`). Credentials belong
    /// in ``auth``, which is asked afresh on every connect.
    public var headers: [HTTPHeaderField]
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in order of preference.
    public var subprotocols: [String]
    /// Where fresh credentials come from on every connect; `nil` for none.
    public var auth: (any AuthSource)?
    /// TLS settings (used for `wss://` only).
    public var tls: TLSOptions
    /// Limits and timeouts.
    public var config: WSConfig

    /// Creates a request.
    public init(
        url: WSURL, headers: [HTTPHeaderField] = [], subprotocols: [String] = [],
        auth: (any AuthSource)? = nil, tls: TLSOptions = TLSOptions(), config: WSConfig = WSConfig()
    ) {
        self.url = url
        self.headers = headers
        self.subprotocols = subprotocols
        self.auth = auth
        self.tls = tls
        self.config = config
    }
}
