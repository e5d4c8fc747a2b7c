import WireTapeCore
import WireTapeJournal

/// An error from the replayer: a journal that cannot be replayed, a bad mutation or option,
/// or the end of the recording.
///
/// Match on ``code`` in a `catch`; show ``message`` to people; ``underlying`` is the cause.
///
/// The end of the recording reaches a connector's caller as a ``WireTapeCore/WSError`` (see
/// ``endOfRecordingError(attempts:)``), because that is what `WSConnector.connect` throws and
/// what a `ReconnectingConnector` classifies: code `handshakeRejected`, HTTP status 410
/// (Gone, the status `wiretape serve` answers when its recording is exhausted), which
/// classifies as permanent, with a ``ReplayError`` of code ``Code/endOfRecording`` as its
/// `underlying` error. Test for it with ``isEndOfRecording(_:)``:
///
/// ```swift
/// do { _ = try await replay.connect(request) }
/// catch where ReplayError.isEndOfRecording(error) { /* the recording is over */ }
/// ```
public struct ReplayError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; a closed set of named values, matchable with `==`.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The stable name of the code.
        public let rawValue: String
        /// Creates a code from its stable name.
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Every recorded attempt has been played; no further connection can be made.
        public static let endOfRecording = Code(rawValue: "endOfRecording")
        /// The journal could not be read.
        public static let journal = Code(rawValue: "journal")
        /// The selection (time range, epochs) holds nothing to replay.
        public static let emptySelection = Code(rawValue: "emptySelection")
        /// A mutation spec could not be parsed or names an epoch or frame that does not exist.
        public static let invalidMutation = Code(rawValue: "invalidMutation")
        /// An option is out of range (a speed that is not positive, a bad time).
        public static let invalidOption = Code(rawValue: "invalidOption")

        /// The stable name.
        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The lower-level error, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `code: message`, plus the cause.
    public var description: String {
        var s = "\(code): \(message)"
        if let underlying { s += " (cause: \(underlying))" }
        return s
    }

    /// The `WSError` that `connect()` throws once every recorded attempt was played: HTTP 410
    /// `handshakeRejected` (permanent, so a reconnecting stack stops) wrapping an
    /// ``Code/endOfRecording`` replay error.
    public static func endOfRecordingError(attempts: Int) -> WSError {
        let cause = ReplayError(.endOfRecording, "the recording is over: all \(attempts) recorded attempts were played")
        return WSError(
            .handshakeRejected, "the recording is over (HTTP 410 Gone): all \(attempts) recorded attempts were played",
            underlying: cause, httpStatus: 410)
    }

    /// Whether `error` (a ``ReplayError``, or a `WSError` caused by one, at any depth) is the
    /// end of the recording.
    public static func isEndOfRecording(_ error: any Error) -> Bool {
        if let r = error as? ReplayError { return r.code == .endOfRecording }
        if let w = error as? WSError, let u = w.underlying { return isEndOfRecording(u) }
        return false
    }

    /// Whether a disconnect cause is the end of the recording.
    public static func isEndOfRecording(_ cause: DisconnectCause?) -> Bool {
        if case .error(let e) = cause { return isEndOfRecording(e) }
        return false
    }
}
