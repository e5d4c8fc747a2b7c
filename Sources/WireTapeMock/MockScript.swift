import WireTapeCore

/// What a ``MockConnector`` does with one connection attempt.
///
/// Attempts are consumed in order, one per call to ``MockConnector/connect(_:)``; when the
/// queue is empty the connector's fallback attempt is used.
///
/// ```swift
/// let mock = MockConnector(clock: clock, attempts: [
///     .reject(status: 503, headers: [HTTPHeaderField("Retry-After", "2")]),
///     .accept(MockScript([.wait(.seconds(1)), .send(.text("hello")), .close(.internalError)])),
/// ])
/// ```
public enum MockAttempt: Sendable {
    /// Completes the handshake after `after` (on the mock's clock) and plays `script`.
    case accept(after: Duration = .zero, MockScript = MockScript())
    /// Fails the attempt with `error` after `after`.
    case fail(WSError, after: Duration = .zero)
    /// Answers the upgrade with HTTP `status` (and `headers`, e.g. `Retry-After`) after
    /// `after`: throws ``WSError/Code/handshakeRejected`` carrying both, classified by
    /// ``WSError/failureClass`` like a real rejection.
    case reject(status: Int, headers: [HTTPHeaderField] = [], after: Duration = .zero)
    /// Never completes: `connect` suspends until its task is cancelled, then throws
    /// ``WSError/Code/cancelled``. Models a blackholed TCP connect or handshake.
    case stall

    /// Refuses the TCP connection at once (``WSError/Code/connectionRefused``, transient).
    public static var refuse: MockAttempt {
        .fail(WSError(.connectionRefused, "mock: connection refused"))
    }

    /// Accepts at once and plays `steps`.
    public static func accept(_ steps: [MockStep]) -> MockAttempt { .accept(after: .zero, MockScript(steps)) }
}

/// One step of a scripted peer, played on the mock's clock after the handshake.
public enum MockStep: Sendable {
    /// Waits `duration` on the mock's clock.
    case wait(Duration)
    /// Delivers a data message.
    case send(Frame)
    /// Delivers `count` copies of a data message at once (a burst).
    case burst(Frame, count: Int)
    /// Records `bytes` read from the socket without completing a message: the bytes of a
    /// large message still arriving. Counts as transport activity, delivers nothing.
    case trickle(bytes: Int)
    /// The peer sends a ping; the client side answers with a pong (both counted on the
    /// connection's ``ConnectionActivity``).
    case ping
    /// The peer sends a close frame with `code` and `reason`. A clean code (1000/1001) ends
    /// the inbound stream normally; any other code makes it throw
    /// ``WSError/Code/closedByPeer``.
    case close(WSCloseCode, reason: String = "")
    /// The TCP connection is lost without a close frame: the inbound stream throws
    /// ``WSError/Code/connectionLost`` with close code 1006.
    case drop
    /// The inbound stream throws `error` and the connection ends.
    case fail(WSError)
}

/// A scripted peer session: steps played in order after the handshake, and how the peer
/// answers pings.
///
/// When the steps run out the connection stays open and silent until the client closes it or
/// the test drives it through its ``MockPeer``.
public struct MockScript: Sendable {
    /// The steps, in order.
    public var steps: [MockStep]
    /// Whether the peer answers the client's pings with pongs (a live peer does; a
    /// half-dead one does not).
    public var answersPings: Bool
    /// Whether the peer answers the client's close frame. A blackholed peer does not: the
    /// client's ``WireTapeCore/WSSink/close(code:reason:)`` then waits the request's
    /// ``WireTapeCore/WSConfig/closeTimeout`` on the mock's clock, as a real socket would,
    /// while ``WireTapeCore/WSSink/abort()`` ends the connection at once.
    public var answersClose: Bool

    /// Creates a script.
    public init(_ steps: [MockStep] = [], answersPings: Bool = true, answersClose: Bool = true) {
        self.steps = steps
        self.answersPings = answersPings
        self.answersClose = answersClose
    }
}

/// What the connector saw of one connection attempt.
public struct MockAttemptRecord: Sendable {
    /// 1 for the first attempt.
    public var index: Int
    /// When `connect` was called, as time since the mock's clock reading at creation.
    public var at: Duration
    /// The URL requested.
    public var url: WSURL
    /// The credentials the request's ``AuthSource`` returned for this attempt (`nil` without one).
    public var credentials: Credentials?
}

/// Reads a clock as "time since creation", so the mock can record plain durations for any clock.
struct ElapsedClock: Sendable {
    let now: @Sendable () -> Duration
    let sleepFor: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleepFor = { d in try await clock.sleep(until: clock.now.advanced(by: d), tolerance: nil) }
    }

    var nowNanos: UInt64 {
        let c = now().components
        return UInt64(max(0, c.seconds)) &* 1_000_000_000 &+ UInt64(max(0, c.attoseconds / 1_000_000_000))
    }
}
