/// A WebSocket close status code (RFC 6455 §7.4).
///
/// An open set: any `UInt16` can be represented, and the well-known codes have names.
///
/// ```swift
/// if code == .normalClosure || code == .goingAway { print("clean") }
/// ```
public struct WSCloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The numeric code.
    public var rawValue: UInt16
    /// Creates a close code from its number.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Creates a close code from its number.
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection was fulfilled.
    public static let normalClosure = WSCloseCode(1000)
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    public static let goingAway = WSCloseCode(1001)
    /// 1002: protocol error.
    public static let protocolError = WSCloseCode(1002)
    /// 1003: the endpoint cannot accept this data type.
    public static let unacceptableData = WSCloseCode(1003)
    /// 1005: no status code was present in the close frame (never sent on the wire).
    public static let noStatusReceived = WSCloseCode(1005)
    /// 1006: the connection closed without a close frame (never sent on the wire).
    public static let abnormalClosure = WSCloseCode(1006)
    /// 1007: a text message was not valid UTF-8.
    public static let invalidPayload = WSCloseCode(1007)
    /// 1008: policy violation (venues use it for rate limits and bans).
    public static let policyViolation = WSCloseCode(1008)
    /// 1009: a message was too big to process.
    public static let messageTooBig = WSCloseCode(1009)
    /// 1010: the client expected the server to negotiate an extension.
    public static let mandatoryExtension = WSCloseCode(1010)
    /// 1011: the server met an unexpected condition.
    public static let internalError = WSCloseCode(1011)
    /// 1012: the service is restarting.
    public static let serviceRestart = WSCloseCode(1012)
    /// 1013: try again later.
    public static let tryAgainLater = WSCloseCode(1013)

    /// Whether the code may appear in a close frame on the wire (RFC 6455 §7.4.1–7.4.2).
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    /// Whether this code means the peer ended the session on purpose and cleanly (1000 or 1001).
    public var isClean: Bool { self == .normalClosure || self == .goingAway }

    /// The number, e.g. `"1000"`.
    public var description: String { String(rawValue) }
}
