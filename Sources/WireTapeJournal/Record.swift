import WireTapeCore

/// The kind of a journal record, as stored in its kind byte (see journal-format/SPEC.md).
public enum RecordKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A data frame received from the peer.
    case inboundFrame = 1
    /// A data frame sent to the peer.
    case outboundFrame = 2
    /// A connection lifecycle edge (state, epoch, cause).
    case lifecycle = 3
    /// A connection attempt or its outcome.
    case connect = 4
    /// The start or end of a recording session.
    case session = 5
    /// A journal-lag marker: what could not be recorded.
    case lag = 6
    /// A free-text annotation.
    case annotation = 7

    /// The JSON-lines `type` of the kind (`frame` for both frame kinds).
    public var typeName: String {
        switch self {
        case .inboundFrame, .outboundFrame: return "frame"
        case .lifecycle: return "lifecycle"
        case .connect: return "connect"
        case .session: return "session"
        case .lag: return "lag"
        case .annotation: return "annotation"
        }
    }

    /// A stable name used by `info` and `--kind`: `in`, `out`, `lifecycle`, ...
    public var name: String {
        switch self {
        case .inboundFrame: return "frame-in"
        case .outboundFrame: return "frame-out"
        default: return typeName
        }
    }

    /// `name`.
    public var description: String { name }
}

/// The direction of a frame relative to the recorder.
public enum FrameDirection: String, Sendable, Hashable {
    /// Received from the peer (`"in"`).
    case inbound = "in"
    /// Sent to the peer (`"out"`).
    case outbound = "out"
}

/// The WebSocket opcode of a recorded data frame.
public enum FrameOpcode: String, Sendable, Hashable {
    /// A text message (`"text"`).
    case text
    /// A binary message (`"binary"`).
    case binary
}

/// A lifecycle edge: the connection entered ``stateName`` in the record's epoch, with an
/// optional cause.
public struct LifecycleEdge: Sendable, Hashable {
    /// The `ConnState` raw value. Kept as text so that states added by a later minor format
    /// version still read; see ``state``.
    public var stateName: String
    /// The close code, when the edge was caused by a close.
    public var closeCode: UInt16?
    /// The close reason, when the edge was caused by a close.
    public var closeReason: String?
    /// The `WSError` code name, when the edge was caused by an error.
    public var error: String?
    /// A human message about the cause.
    public var message: String?
    /// Which side closed, when the edge was caused by a close handshake (format 1.1).
    public var closedBy: CloseInitiator?
    /// The session's cumulative counters at this edge (format 1.1).
    public var counters: LifecycleCounters?

    /// Creates an edge.
    public init(
        state: ConnState, closeCode: UInt16? = nil, closeReason: String? = nil, error: String? = nil,
        message: String? = nil, closedBy: CloseInitiator? = nil, counters: LifecycleCounters? = nil
    ) {
        self.init(
            stateName: state.rawValue, closeCode: closeCode, closeReason: closeReason, error: error, message: message,
            closedBy: closedBy, counters: counters)
    }

    /// Creates an edge from a state name (which need not be a known `ConnState`).
    public init(
        stateName: String, closeCode: UInt16? = nil, closeReason: String? = nil, error: String? = nil,
        message: String? = nil, closedBy: CloseInitiator? = nil, counters: LifecycleCounters? = nil
    ) {
        self.stateName = stateName
        self.closeCode = closeCode
        self.closeReason = closeReason
        self.error = error
        self.message = message
        self.closedBy = closedBy
        self.counters = counters
    }

    /// The state, when it is one this build knows.
    public var state: ConnState? { ConnState(rawValue: stateName) }
}

/// Which side started a close handshake.
public enum CloseInitiator: String, Sendable, Hashable, CaseIterable {
    /// The peer sent the first close frame (`"peer"`).
    case peer
    /// This side sent the first close frame (`"local"`): a shutdown or a forced reconnect.
    case local
}

/// A session's cumulative counters, as ``WireTapeCore/LifecycleSnapshot`` carries them.
///
/// Every field only grows during a session, so an edge that a reader skips loses nothing.
public struct LifecycleCounters: Sendable, Hashable {
    /// Frames the adapter-side buffer dropped (oldest first) because the consumer lagged.
    public var totalLagged: UInt64
    /// The bytes of those frames.
    public var totalLaggedBytes: UInt64
    /// Successful reconnects (epochs after the first).
    public var reconnects: UInt64
    /// Connection attempts that failed.
    public var failedAttempts: UInt64

    /// Creates counters.
    public init(totalLagged: UInt64 = 0, totalLaggedBytes: UInt64 = 0, reconnects: UInt64 = 0, failedAttempts: UInt64 = 0) {
        self.totalLagged = totalLagged
        self.totalLaggedBytes = totalLaggedBytes
        self.reconnects = reconnects
        self.failedAttempts = failedAttempts
    }
}

/// The outcome of a connection attempt.
public enum ConnectOutcome: UInt8, Sendable, Hashable, CaseIterable {
    /// An attempt started.
    case attempt = 0
    /// The handshake succeeded.
    case connected = 1
    /// The attempt failed.
    case failed = 2

    /// The JSON-lines name: `attempt`, `connected`, `failed`.
    public var name: String {
        switch self {
        case .attempt: return "attempt"
        case .connected: return "connected"
        case .failed: return "failed"
        }
    }

    /// Parses a JSON-lines name.
    public init?(name: String) {
        guard let v = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = v
    }
}

/// A connection attempt or its outcome. Never holds credentials: the writer redacts the URL.
public struct ConnectEvent: Sendable, Hashable {
    /// Attempt, connected or failed.
    public var outcome: ConnectOutcome
    /// The URL attempted (secret query values and user info are redacted when written).
    public var url: String?
    /// The HTTP status of the handshake response, if any.
    public var httpStatus: UInt16?
    /// The `WSError` code name of a failure (its error class).
    public var error: String?
    /// A human message.
    public var message: String?
    /// The `Retry-After` the server asked for, in seconds, when it sent one (format 1.1).
    public var retryAfterSeconds: UInt32?

    /// Creates an event.
    public init(
        outcome: ConnectOutcome, url: String? = nil, httpStatus: UInt16? = nil, error: String? = nil,
        message: String? = nil, retryAfterSeconds: UInt32? = nil
    ) {
        self.outcome = outcome
        self.url = url
        self.httpStatus = httpStatus
        self.error = error
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// Whether a session record starts or ends a session.
public enum SessionPhase: UInt8, Sendable, Hashable, CaseIterable {
    /// A recording session started.
    case start = 0
    /// A recording session ended.
    case end = 1

    /// The JSON-lines name: `start` or `end`.
    public var name: String { self == .start ? "start" : "end" }
}

/// The start or end of a recording session, with redacted connection metadata.
public struct SessionEvent: Sendable, Hashable {
    /// Start or end.
    public var phase: SessionPhase
    /// The feed URL (redacted when written).
    public var url: String?
    /// Request headers (secret values redacted when written).
    public var headers: [HTTPHeaderField]
    /// A human message (e.g. why the session ended).
    public var message: String?

    /// Creates an event.
    public init(phase: SessionPhase, url: String? = nil, headers: [HTTPHeaderField] = [], message: String? = nil) {
        self.phase = phase
        self.url = url
        self.headers = headers
        self.message = message
    }

    /// The same event with credentials removed: secret header values and query values
    /// replaced by ``Redaction/placeholder``, and URL user info dropped.
    public var redacted: SessionEvent {
        var e = self
        e.url = url.map(Redaction.redact(url:))
        e.headers = Redaction.redact(headers)
        return e
    }
}


/// What a record says.
public enum RecordBody: Sendable, Hashable {
    /// A data frame.
    case frame(direction: FrameDirection, opcode: FrameOpcode, payload: [UInt8])
    /// A lifecycle edge.
    case lifecycle(LifecycleEdge)
    /// A connection attempt or outcome.
    case connect(ConnectEvent)
    /// A session start or end.
    case session(SessionEvent)
    /// A journal-lag marker: `count` records totalling `bytes` bytes could not be recorded.
    case lag(count: UInt64, bytes: UInt64)
    /// A free-text annotation.
    case annotation(String)

    /// The record kind that stores this body.
    public var kind: RecordKind {
        switch self {
        case .frame(let d, _, _): return d == .inbound ? .inboundFrame : .outboundFrame
        case .lifecycle: return .lifecycle
        case .connect: return .connect
        case .session: return .session
        case .lag: return .lag
        case .annotation: return .annotation
        }
    }
}

/// One record of a journal: a body plus its sequence number, epoch and two timestamps.
public struct JournalRecord: Sendable, Hashable {
    /// The journal-wide sequence number: strictly increasing, gaps allowed.
    public var seq: UInt64
    /// The connection epoch the record belongs to.
    public var epoch: UInt64
    /// UTC wall time, nanoseconds since the Unix epoch.
    public var wallNanos: Int64
    /// Monotonic time in nanoseconds (for replay pacing).
    public var monoNanos: UInt64
    /// What the record says.
    public var body: RecordBody

    /// Creates a record.
    public init(seq: UInt64, epoch: UInt64, wallNanos: Int64, monoNanos: UInt64, body: RecordBody) {
        self.seq = seq
        self.epoch = epoch
        self.wallNanos = wallNanos
        self.monoNanos = monoNanos
        self.body = body
    }

    /// The record's kind.
    public var kind: RecordKind { body.kind }
}

extension LifecycleEdge {
    /// The journal's form of a lifecycle snapshot: its state and counters, and — only on the
    /// edges a disconnect causes (`reconnecting`, `unrecoverable`, `closed`) — that cause.
    ///
    /// The snapshot's `lastDisconnect` lingers on later edges (`connecting`, `stale`, …) that
    /// it did not cause; an edge says only what is true of it.
    public init(_ snapshot: LifecycleSnapshot) {
        self.init(
            state: snapshot.state,
            counters: LifecycleCounters(
                totalLagged: snapshot.totalLagged, totalLaggedBytes: snapshot.totalLaggedBytes,
                reconnects: snapshot.reconnects, failedAttempts: snapshot.failedAttempts))
        switch snapshot.state {
        case .reconnecting, .unrecoverable, .closed: break
        case .connecting, .connected, .stale, .resumed: return
        }
        guard let cause = snapshot.lastDisconnect else { return }
        switch cause {
        case .peerClosed(let code, let reason):
            closeCode = code.rawValue
            closeReason = reason
            closedBy = .peer
        case .localClose(let code, let reason):
            closeCode = code.rawValue
            closeReason = reason
            closedBy = .local
        case .error(let e):
            closeCode = e.closeCode?.rawValue
            closeReason = e.closeReason
            error = e.code.rawValue
            message = e.message
        }
    }
}
