/// Transport liveness: when a silent connection is suspect and when it is dead.
///
/// Passive: if nothing at all arrives for ``idleTimeout`` (no message, no partial bytes of a
/// large message, no pong), the connection is marked `stale` and one ping is sent. Active: if
/// still nothing arrives within ``pongTimeout`` of that ping, the epoch ends with
/// ``WireTapeCore/WSError/Code/livenessTimeout`` and the client reconnects. Any data or pong
/// during the probe resumes the connection (`resumed`).
///
/// Session keepalives in a venue's own grammar (e.g. a JSON `{"op":"ping"}`) are the
/// adapter's business, not this policy's.
public struct KeepalivePolicy: Sendable, Hashable {
    /// Silence after which the connection is `stale` and probed; `nil` disables liveness checks.
    public var idleTimeout: Duration?
    /// How long a probe may go unanswered before the connection is declared dead.
    public var pongTimeout: Duration

    /// Creates a policy. Defaults: stale after 30 s of silence, dead 10 s after the probe.
    public init(idleTimeout: Duration? = .seconds(30), pongTimeout: Duration = .seconds(10)) {
        self.idleTimeout = idleTimeout
        self.pongTimeout = pongTimeout
    }

    /// No liveness checks.
    public static let disabled = KeepalivePolicy(idleTimeout: nil)
}

/// The liveness state machine of one connection (one epoch).
///
/// Fed with observations of transport activity, it returns what to do and when to look
/// again. It never reads a clock itself: `now` is always a parameter.
public struct LivenessMachine: Sendable {
    /// What a transport looks like at one moment.
    public struct Observation: Sendable, Equatable {
        /// Bytes read from the socket so far, including partial messages
        /// (``WireTapeCore/ConnectionActivity/bytesRead``).
        public var bytesRead: UInt64
        /// Pongs received so far (``WireTapeCore/ConnectionActivity/pongsReceived``).
        public var pongsReceived: UInt64
        /// When the newest complete message arrived, if any.
        public var lastMessageAt: Duration?
        /// ``bytesRead`` as read just after the newest message arrived; bytes beyond it belong
        /// to a message still arriving.
        public var bytesReadAtLastMessage: UInt64

        /// Creates an observation.
        public init(
            bytesRead: UInt64, pongsReceived: UInt64, lastMessageAt: Duration? = nil,
            bytesReadAtLastMessage: UInt64 = 0
        ) {
            self.bytesRead = bytesRead
            self.pongsReceived = pongsReceived
            self.lastMessageAt = lastMessageAt
            self.bytesReadAtLastMessage = bytesReadAtLastMessage
        }
    }

    /// What the shell must do.
    public enum Action: Sendable, Equatable {
        /// Nothing changed; check again at this time.
        case checkAt(Duration)
        /// Publish `stale`, send one ping, and check again at this time.
        case markStaleAndPing(checkAt: Duration)
        /// Publish `resumed`, and check again at this time.
        case markResumed(checkAt: Duration)
        /// The connection is dead: end the epoch with a liveness timeout.
        case expire
    }

    private enum Phase: Sendable, Equatable {
        case live
        case probing(since: Duration)
        case expired
    }

    /// Silence after which the connection is stale.
    public let idleTimeout: Duration
    /// How long a probe may go unanswered.
    public let pongTimeout: Duration
    private var phase: Phase = .live
    private var lastProgress: Duration
    private var lastBytes: UInt64
    private var lastPongs: UInt64

    /// Starts watching a connection that came up at `now` with the counters in `observation`.
    public init(idleTimeout: Duration, pongTimeout: Duration, start now: Duration, observation: Observation) {
        self.idleTimeout = idleTimeout
        self.pongTimeout = pongTimeout
        self.lastProgress = now
        self.lastBytes = observation.bytesRead
        self.lastPongs = observation.pongsReceived
    }

    /// Whether a probe is outstanding (the connection is `stale`).
    public var isStale: Bool {
        if case .probing = phase { return true }
        return false
    }

    /// The time of the last sign of life seen so far.
    public var lastSignOfLife: Duration { lastProgress }

    /// When the shell should first call ``check(now:observation:)``.
    public var firstCheck: Duration { lastProgress + idleTimeout }

    /// How often progress is re-examined while a probe is outstanding (a quarter of the pong
    /// timeout), so that a pong or trickling bytes resume the connection promptly.
    public var probePollInterval: Duration { pongTimeout / 4 }

    /// Examines the transport at `now`.
    ///
    /// A complete message is dated exactly (``Observation/lastMessageAt``); bytes beyond the
    /// last message and new pongs are dated `now`, the first moment they were seen.
    public mutating func check(now: Duration, observation o: Observation) -> Action {
        if phase == .expired { return .expire }
        var progress = lastProgress
        if let m = o.lastMessageAt { progress = Swift.max(progress, m) }
        let newBytes = o.bytesRead > lastBytes && o.bytesRead > o.bytesReadAtLastMessage
        if newBytes || o.pongsReceived > lastPongs { progress = Swift.max(progress, now) }
        lastBytes = Swift.max(lastBytes, o.bytesRead)
        lastPongs = Swift.max(lastPongs, o.pongsReceived)
        lastProgress = progress

        switch phase {
        case .live:
            let deadline = lastProgress + idleTimeout
            guard now >= deadline else { return .checkAt(deadline) }
            phase = .probing(since: now)
            return .markStaleAndPing(checkAt: now + Swift.min(probePollInterval, pongTimeout))
        case .probing(let since):
            if lastProgress > since {
                phase = .live
                return .markResumed(checkAt: lastProgress + idleTimeout)
            }
            if now >= since + pongTimeout {
                phase = .expired
                return .expire
            }
            return .checkAt(Swift.min(now + probePollInterval, since + pongTimeout))
        case .expired:
            return .expire
        }
    }

    /// A message arrived at `now`. Returns `true` exactly when this ends a probe (publish
    /// `resumed`); the next scheduled check stays valid either way.
    public mutating func messageArrived(at now: Duration) -> Bool {
        lastProgress = Swift.max(lastProgress, now)
        guard case .probing = phase else { return false }
        phase = .live
        return true
    }
}
