import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

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
    let mock: MockConnector
    let connection: ReconnectingConnection

    init(
        _ attempts: [MockAttempt], fallback: MockAttempt = .refuse, config: ReconnectConfig = quietConfig(),
        seed: UInt64 = 1, auth: (any AuthSource)? = nil
    ) {
        let mock = MockConnector(clock: clock, attempts: attempts, fallback: fallback)
        self.mock = mock
        let connector = ReconnectingConnector(wrapping: mock, config: config, clock: clock, random: SeededRandom(seed: seed))
        connection = connector.connect(ConnectRequest(url: testURL, auth: auth))
    }

    /// Waits (without sleeping) until a snapshot satisfies `predicate`, or the watch ends.
    @discardableResult
    func waitFor(_ predicate: (LifecycleSnapshot) -> Bool) async -> LifecycleSnapshot {
        for await s in connection.lifecycle.updates() where predicate(s) { return s }
        return connection.lifecycle.current
    }

    @discardableResult
    func waitForEpoch(_ epoch: UInt64) async -> LifecycleSnapshot {
        await waitFor { $0.epoch == epoch && $0.state == .connected }
    }

    /// The delay the supervisor is waiting out: waits for exactly one sleeper and returns
    /// how far in the future its deadline is.
    func pendingDelay() async -> Duration {
        await clock.waitForSleepers(count: 1)
        return clock.now.duration(to: clock.nextDeadline!)
    }
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
