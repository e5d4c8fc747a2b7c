import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience
import WireTapeTestSupport

let testURL = try! WSURL("ws://mock.test/feed")

/// A configuration with every timer-driven policy off unless a test turns it on, so the only
/// sleepers on the manual clock are the ones a test expects.
func quietConfig(
    backoff: BackoffPolicy = BackoffPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0.5),
    keepalive: KeepalivePolicy = .disabled, buffer: InboundBufferPolicy = InboundBufferPolicy(),
    rateLimit: SendRateLimit? = nil, whileDisconnected: DisconnectedSendPolicy = .wait(maxWaiting: 16),
    attemptWindow: AttemptWindowPolicy = AttemptWindowPolicy(maxAttempts: 1000, window: .seconds(300)),
    attemptTimeout: Duration? = nil
) -> ReconnectConfig {
    ReconnectConfig(
        backoff: backoff, attemptWindow: attemptWindow, breaker: CircuitBreakerPolicy(), keepalive: keepalive,
        buffer: buffer, rateLimit: rateLimit, whileDisconnected: whileDisconnected, attemptTimeout: attemptTimeout)
}

struct Harness {
    let clock = ManualClock()
    /// Set when a safety net gave up: later waits of the same (failed) test give up at once.
    private let gaveUp = Tripwire()
    let mock: MockConnector
    let connection: ReconnectingConnection

    init(
        _ attempts: [MockAttempt], fallback: MockAttempt = .refuse, config: ReconnectConfig = quietConfig(),
        seed: UInt64 = 1, auth: (any AuthSource)? = nil,
        observingEdges observer: (@Sendable (LifecycleSnapshot) -> Void)? = nil
    ) {
        let mock = MockConnector(clock: clock, attempts: attempts, fallback: fallback)
        self.mock = mock
        let connector = ReconnectingConnector(wrapping: mock, config: config, clock: clock, random: SeededRandom(seed: seed))
        connection = connector.connect(ConnectRequest(url: testURL, auth: auth), observingEdges: observer)
    }

    /// Waits (without sleeping) until a snapshot satisfies `predicate`, or the watch ends.
    /// Bounded by ``safetyNet(_:sourceLocation:_:)``: on a manual clock a wrong decision
    /// (a retried 401) waits for time that never moves, and must fail, not hang.
    @discardableResult
    func waitFor(
        sourceLocation: SourceLocation = #_sourceLocation, _ predicate: @escaping @Sendable (LifecycleSnapshot) -> Bool
    ) async -> LifecycleSnapshot {
        let connection = self.connection
        return await safetyNet("a snapshot matching the predicate", sourceLocation: sourceLocation) {
            for await s in connection.lifecycle.updates() where predicate(s) { return s }
            return connection.lifecycle.current
        } ?? connection.lifecycle.current
    }

    /// The session's final snapshot (``ReconnectingConnection/waitUntilEnded()``), bounded.
    func ended(sourceLocation: SourceLocation = #_sourceLocation) async -> LifecycleSnapshot {
        let connection = self.connection
        return await safetyNet("the session to end", sourceLocation: sourceLocation) { await connection.waitUntilEnded() }
            ?? connection.lifecycle.current
    }

    /// Waits until `count` tasks sleep on the manual clock, bounded.
    func sleepers(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async {
        let clock = self.clock
        _ = await safetyNet("\(count) sleeper(s) on the clock", sourceLocation: sourceLocation) { await clock.waitForSleepers(count: count) }
    }

    /// Runs `operation` with a real-time bound that is a safety net, never a timing
    /// assertion: past it the test records an issue and goes on, the abandoned operation left
    /// to finish on its own. The session is then shut down without waiting (a graceful close
    /// can itself wait on the manual clock) and time jumps an hour, so nothing stays parked;
    /// the test's later waits give up at once instead of adding 20 s each.
    func safetyNet<T: Sendable>(
        _ what: String, within limit: Duration = .seconds(20), sourceLocation: SourceLocation = #_sourceLocation,
        _ operation: @escaping @Sendable () async -> T
    ) async -> T? {
        let bound = gaveUp.isTripped ? .milliseconds(100) : limit
        let result = await firstWithin(bound, operation)
        if result == nil {
            Issue.record("no \(what) within \(bound) (the test would hang); last \(connection.lifecycle.current)", sourceLocation: sourceLocation)
            if gaveUp.trip() {
                let connection = self.connection
                Task { await connection.shutdown() }
                clock.advance(by: .seconds(3600))
            }
        }
        return result
    }

    @discardableResult
    func waitForEpoch(_ epoch: UInt64) async -> LifecycleSnapshot {
        await waitFor { $0.epoch == epoch && $0.state == .connected }
    }

    /// The delay the supervisor is waiting out: waits for exactly one sleeper and returns
    /// how far in the future its deadline is.
    func pendingDelay(sourceLocation: SourceLocation = #_sourceLocation) async -> Duration {
        await sleepers(1, sourceLocation: sourceLocation)
        return clock.nextDeadline.map { clock.now.duration(to: $0) } ?? .zero
    }
}

/// Set once, by the first ``trip()``.
final class Tripwire: Sendable {
    private let tripped = Mutex(false)
    var isTripped: Bool { tripped.withLock { $0 } }
    /// Trips the wire; true the first time only.
    func trip() -> Bool { tripped.withLock { was in defer { was = true }; return !was } }
}

final class CountingAuth: AuthSource {
    let calls = Mutex(0)
    func credentials(for url: WSURL) async throws -> Credentials {
        let n = calls.withLock { $0 += 1; return $0 }
        return Credentials(headers: [HTTPHeaderField("Authorization", "Bearer token-\(n)")])
    }
}

extension DisconnectCause {
    var errorCode: WSError.Code? {
        if case .error(let e) = self { return e.code }
        return nil
    }
}

func format3(_ i: Int) -> String {
    let s = String(i)
    return String(repeating: "0", count: max(0, 3 - s.count)) + s
}

/// Records every snapshot a reader of the watch saw.
final class SnapshotRecorder: Sendable {
    private let items = Mutex<[LifecycleSnapshot]>([])
    init(_ watch: LifecycleWatch) {
        Task { [self] in for await s in watch.updates() { self.items.withLock { $0.append(s) } } }
    }
    var values: [LifecycleSnapshot] { items.withLock { $0 } }
}
