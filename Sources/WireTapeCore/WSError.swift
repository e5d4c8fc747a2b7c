/// Whether retrying can help.
///
/// The circuit breaker retries ``transient`` failures forever and stops at the first
/// ``permanent`` one, so that a misconfigured client does not hammer a venue into an IP ban.
public enum FailureClass: String, Sendable, Hashable {
    /// Retrying later may succeed (refused, reset, timeout, 5xx, 429, abnormal close).
    case transient
    /// Retrying will not help without a change (401/403/404, TLS verification, bad URL).
    case permanent
}

/// An error from the WebSocket transport.
///
/// Match on ``code`` in a `catch`; show ``message`` to people; inspect ``underlying`` for the
/// cause and ``failureClass`` for the retry decision.
///
/// ```swift
/// do { let conn = try await connector.connect(request) }
/// catch let error as WSError where error.code == .handshakeRejected {
///     print(error.httpStatus ?? 0, error.retryAfterSeconds ?? 0)
/// }
/// ```
public struct WSError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is: a closed set of named values, all declared here, matchable
    /// with `==` or in a `catch` pattern (`catch WSError.Code.handshakeRejected`).
    public struct Code: RawRepresentable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The stable name of the code (`"handshakeRejected"`), used in JSON output and journals.
        public let rawValue: String
        /// The code with this stable name, or nil when no code has it (e.g. a name read back
        /// from a journal written by a newer version).
        public init?(rawValue: String) {
            guard let code = Self.allCases.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = code
        }
        private init(_ name: String) { rawValue = name }

        /// The URL could not be parsed or uses an unsupported scheme.
        public static let invalidURL = Code("invalidURL")
        /// The host name could not be resolved.
        public static let dnsFailure = Code("dnsFailure")
        /// The peer refused the TCP connection.
        public static let connectionRefused = Code("connectionRefused")
        /// The TCP connection was not established within the connect timeout.
        public static let connectTimeout = Code("connectTimeout")
        /// The TLS handshake failed (certificate verification, protocol mismatch).
        public static let tlsFailure = Code("tlsFailure")
        /// The server answered the upgrade request with an HTTP status other than 101.
        public static let handshakeRejected = Code("handshakeRejected")
        /// The server's 101 response was not a valid WebSocket upgrade (bad accept key,
        /// unrequested subprotocol or extension).
        public static let handshakeInvalid = Code("handshakeInvalid")
        /// The WebSocket handshake did not complete within the handshake timeout.
        public static let handshakeTimeout = Code("handshakeTimeout")
        /// The peer broke RFC 6455 (reserved bits, unknown opcode, bad fragmentation). Close 1002.
        public static let protocolViolation = Code("protocolViolation")
        /// A text message was not valid UTF-8. Close 1007.
        public static let invalidUTF8 = Code("invalidUTF8")
        /// A message exceeded ``WSConfig/maxMessageSize``. Close 1009.
        public static let messageTooLarge = Code("messageTooLarge")
        /// The peer closed the connection with a close frame whose code is not 1000/1001.
        public static let closedByPeer = Code("closedByPeer")
        /// The TCP connection ended without a close handshake (1006): reset, EOF, broken pipe.
        public static let connectionLost = Code("connectionLost")
        /// No data arrived within the idle timeout and no pong answered the probe.
        public static let livenessTimeout = Code("livenessTimeout")
        /// `send` was called after `close` (the sink is terminal) or after the connection ended.
        public static let sinkClosed = Code("sinkClosed")
        /// The operation was cancelled.
        public static let cancelled = Code("cancelled")
        /// The ``AuthSource`` threw instead of returning credentials (transient: sources
        /// usually fail on a token service outage).
        public static let authFailed = Code("authFailed")
        /// Another I/O error.
        public static let ioError = Code("ioError")
        /// A send was rejected because no connection is up and the resilient session's
        /// policy is to reject (`DisconnectedSendPolicy.reject` in WireTapeResilience).
        public static let notConnected = Code("notConnected")
        /// A send was rejected because too many sends are already waiting for a connection
        /// (`DisconnectedSendPolicy.wait(maxWaiting:)` in WireTapeResilience).
        public static let sendQueueFull = Code("sendQueueFull")

        /// Every code.
        public static let allCases: [Code] = [
            .invalidURL, .dnsFailure, .connectionRefused, .connectTimeout, .tlsFailure, .handshakeRejected,
            .handshakeInvalid, .handshakeTimeout, .protocolViolation, .invalidUTF8, .messageTooLarge, .closedByPeer,
            .connectionLost, .livenessTimeout, .sinkClosed, .cancelled, .authFailed, .ioError, .notConnected,
            .sendQueueFull,
        ]

        /// Matches a thrown error against a code: `catch WSError.Code.handshakeRejected { … }`.
        public static func ~= (code: Code, error: any Error) -> Bool {
            (error as? WSError)?.code == code
        }

        /// The stable name.
        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on; it names the URL, status or limit involved.
    public var message: String
    /// The lower-level error that caused this one, if any.
    public var underlying: (any Error & Sendable)?
    /// The HTTP status of a rejected handshake.
    public var httpStatus: Int?
    /// Response headers of a rejected handshake worth showing (e.g. `Retry-After`), redacted.
    public var responseHeaders: [HTTPHeaderField]
    /// The close code involved (received from or sent to the peer), if any.
    public var closeCode: WSCloseCode?
    /// The close reason received from the peer, if any.
    public var closeReason: String?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil,
        httpStatus: Int? = nil, responseHeaders: [HTTPHeaderField] = [],
        closeCode: WSCloseCode? = nil, closeReason: String? = nil
    ) {
        self.code = code
        self.message = message
        self.underlying = underlying
        self.httpStatus = httpStatus
        self.responseHeaders = responseHeaders
        self.closeCode = closeCode
        self.closeReason = closeReason
    }

    /// The `Retry-After` response header in seconds, when present as a number.
    public var retryAfterSeconds: Int? {
        responseHeaders.first { $0.name.lowercased() == "retry-after" }
            .flatMap { Int($0.value.trimmingSpaces) }
    }

    /// Whether retrying later can help, judged from this error alone.
    ///
    /// - Permanent: invalid URL; TLS failure; handshake 400, 401, 403, 404, 405, 406, 410, 426
    ///   (any 4xx but 408 and 429); an invalid upgrade response.
    /// - Transient: everything else, including DNS failure (resolvers flap), refused, reset,
    ///   timeouts, 408, 429, 5xx, protocol and close errors.
    ///
    /// Policies that need history (e.g. "repeated 1008 closes") live in the resilience layer.
    public var failureClass: FailureClass {
        switch code {
        case .invalidURL, .tlsFailure, .handshakeInvalid:
            return .permanent
        case .handshakeRejected:
            guard let status = httpStatus else { return .transient }
            if status == 408 || status == 429 || status >= 500 { return .transient }
            return (400..<500).contains(status) ? .permanent : .transient
        default:
            return .transient
        }
    }

    /// `code: message`, plus the cause.
    public var description: String {
        var s = "\(code): \(message)"
        if let underlying { s += " (cause: \(underlying))" }
        return s
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
