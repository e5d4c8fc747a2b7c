import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

@Suite("Backoff")
struct BackoffTests {
    let policy = BackoffPolicy(initial: .seconds(1), multiplier: 2, maximum: .seconds(8), jitter: 0.5)

    @Test func boundsDoubleUpToTheCap() {
        var low = Backoff(policy: policy)
        var high = Backoff(policy: policy)
        var zero = FixedRandom.zero
        var max = FixedRandom.max
        // FixedRandom.zero draws u = 0 → the full base; .max draws u = 1 → base × (1 − jitter).
        let lows = (0..<6).map { _ in low.nextDelay(using: &max) }
        let highs = (0..<6).map { _ in high.nextDelay(using: &zero) }
        #expect(highs == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
        let expectedLows: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)]
        for (got, want) in zip(lows, expectedLows) {
            #expect(abs((got - want).nanoseconds) <= 1)  // the top draw is 1 − 2⁻⁵³, not exactly 1
        }
    }

    @Test func jitterSpreadsOverTheWholeRange() {
        var rng = SeededRandom(seed: 1)
        var draws: [Duration] = []
        for _ in 0..<2000 {
            var b = Backoff(policy: policy)
            draws.append(b.nextDelay(using: &rng))
        }
        let lo = draws.min()!, hi = draws.max()!
        #expect(lo >= .milliseconds(500) && hi <= .seconds(1))
        #expect(lo < .milliseconds(510) && hi > .milliseconds(990))
        // Roughly uniform: about half the draws fall in each half of the range.
        let lowerHalf = draws.filter { $0 < .milliseconds(750) }.count
        #expect((850...1150).contains(lowerHalf))
    }

    @Test func resetsOnlyAfterMinimumUptime() {
        var b = Backoff(policy: BackoffPolicy(initial: .seconds(1), minimumUptimeForReset: .seconds(10)))
        var rng = FixedRandom.zero
        _ = b.nextDelay(using: &rng)
        _ = b.nextDelay(using: &rng)
        #expect(b.failures == 2)
        let r1 = b.connectionEnded(afterUptime: .seconds(9))
        #expect(!r1)
        #expect(b.nextBase == .seconds(4))
        let r2 = b.connectionEnded(afterUptime: .seconds(10))
        #expect(r2)
        #expect(b.nextBase == .seconds(1))
    }

    @Test func noJitterIsExact() {
        var b = Backoff(policy: BackoffPolicy(initial: .milliseconds(100), jitter: 0))
        var rng = SeededRandom(seed: 3)
        #expect(b.nextDelay(using: &rng) == .milliseconds(100))
        #expect(b.nextDelay(using: &rng) == .milliseconds(200))
    }
}

@Suite("AttemptWindow")
struct AttemptWindowTests {
    @Test func capsAttemptsPerSlidingWindow() {
        var w = AttemptWindow(policy: AttemptWindowPolicy(maxAttempts: 3, window: .seconds(60)))
        for t in [0, 1, 2] {
            let r3 = w.admit(at: .seconds(t))
            #expect(r3 == .proceed)
            w.record(at: .seconds(t))
        }
        let r4 = w.admit(at: .seconds(3))
        #expect(r4 == .waitUntil(.seconds(60)))
        let r5 = w.admit(at: .seconds(59))
        #expect(r5 == .waitUntil(.seconds(60)))
        let r6 = w.admit(at: .seconds(60))
        #expect(r6 == .proceed)
        w.record(at: .seconds(60))
        let r7 = w.admit(at: .seconds(60))
        #expect(r7 == .waitUntil(.seconds(61)))
    }

    @Test func binanceDefaultsLeaveHeadroom() {
        let p = AttemptWindowPolicy()
        #expect(p.maxAttempts <= 300 && p.window == .seconds(300))
    }
}

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    static let permanent: [WSError] = [
        WSError(.handshakeRejected, "401", httpStatus: 401),
        WSError(.handshakeRejected, "403", httpStatus: 403),
        WSError(.handshakeRejected, "404", httpStatus: 404),
        WSError(.tlsFailure, "certificate verify failed"),
        WSError(.invalidURL, "bad"),
    ]
    static let transient: [WSError] = [
        WSError(.connectionRefused, "refused"),
        WSError(.connectionLost, "reset", closeCode: .abnormalClosure),
        WSError(.connectTimeout, "timeout"),
        WSError(.handshakeTimeout, "timeout"),
        WSError(.handshakeRejected, "500", httpStatus: 500),
        WSError(.handshakeRejected, "503", httpStatus: 503),
        WSError(.handshakeRejected, "429", httpStatus: 429),
        WSError(.dnsFailure, "nxdomain"),
    ]

    @Test(arguments: permanent) func permanentFailuresStopAtOnce(_ e: WSError) {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        guard case .unrecoverable = b.attemptFailed(e, at: .zero) else {
            Issue.record("\(e) should be unrecoverable")
            return
        }
    }

    @Test(arguments: transient) func transientFailuresAreRetriedForever(_ e: WSError) {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        for i in 0..<1000 {
            let r8 = b.attemptFailed(e, at: .seconds(i))
            #expect(r8 == .retry(minimumDelay: nil))
        }
    }

    @Test func retryAfterIsHonouredAndCapped() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(maximumRetryAfter: .seconds(60)))
        let e429 = WSError(.handshakeRejected, "429", httpStatus: 429, responseHeaders: [HTTPHeaderField("Retry-After", "7")])
        let r9 = b.attemptFailed(e429, at: .zero)
        #expect(r9 == .retry(minimumDelay: .seconds(7)))
        let e503 = WSError(.handshakeRejected, "503", httpStatus: 503, responseHeaders: [HTTPHeaderField("retry-after", "3600")])
        let r10 = b.attemptFailed(e503, at: .zero)
        #expect(r10 == .retry(minimumDelay: .seconds(60)))
    }

    @Test func repeatedPolicyClosesWithinTheWindowOpenTheBreaker() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(policyCloseLimit: 3, policyCloseWindow: .seconds(60)))
        let close = DisconnectCause.peerClosed(code: .policyViolation, reason: "rate limited")
        let r11 = b.connectionEnded(close, at: .seconds(0))
        #expect(r11 == .retry(minimumDelay: nil))
        let r12 = b.connectionEnded(close, at: .seconds(30))
        #expect(r12 == .retry(minimumDelay: nil))
        guard case .unrecoverable = b.connectionEnded(close, at: .seconds(59)) else {
            Issue.record("three 1008 closes within 60 s must be unrecoverable")
            return
        }
    }

    @Test func policyClosesSpreadOutStayTransient() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(policyCloseLimit: 3, policyCloseWindow: .seconds(60)))
        let close = DisconnectCause.error(WSError(.closedByPeer, "1008", closeCode: .policyViolation))
        for t in stride(from: 0, to: 600, by: 31) {
            let r13 = b.connectionEnded(close, at: .seconds(t))
            #expect(r13 == .retry(minimumDelay: nil))
        }
    }

    @Test func otherClosesAndLocalClosesAreTransient() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        for c: DisconnectCause in [
            .peerClosed(code: .internalError, reason: ""), .peerClosed(code: .normalClosure, reason: ""),
            .peerClosed(code: .goingAway, reason: ""), .localClose(code: .normalClosure, reason: "forced"),
            .error(WSError(.connectionLost, "1006", closeCode: .abnormalClosure)),
            .error(WSError(.livenessTimeout, "idle")),
        ] {
            let r14 = b.connectionEnded(c, at: .zero)
            #expect(r14 == .retry(minimumDelay: nil))
        }
    }
}

@Suite("LivenessMachine")
struct LivenessTests {
    typealias O = LivenessMachine.Observation

    @Test func idleGoesStaleExactlyAfterTheTimeoutSinceTheLastMessage() {
        var m = LivenessMachine(idleTimeout: .seconds(10), pongTimeout: .seconds(4), start: .zero, observation: O(bytesRead: 0, pongsReceived: 0))
        #expect(m.firstCheck == .seconds(10))
        // A message arrived at t=3: the first check at t=10 reschedules to exactly t=13.
        let afterMessage = O(bytesRead: 100, pongsReceived: 0, lastMessageAt: .seconds(3), bytesReadAtLastMessage: 100)
        let r15 = m.check(now: .seconds(10), observation: afterMessage)
        #expect(r15 == .checkAt(.seconds(13)))
        let r16 = m.check(now: .seconds(13), observation: afterMessage)
        #expect(r16 == .markStaleAndPing(checkAt: .seconds(14)))
        #expect(m.isStale)
        let r17 = m.check(now: .seconds(14), observation: afterMessage)
        #expect(r17 == .checkAt(.seconds(15)))
        let r18 = m.check(now: .seconds(16), observation: afterMessage)
        #expect(r18 == .checkAt(.seconds(17)))
        let r19 = m.check(now: .seconds(17), observation: afterMessage)
        #expect(r19 == .expire)
        let r20 = m.check(now: .seconds(18), observation: afterMessage)
        #expect(r20 == .expire)
    }

    @Test func pongDuringTheProbeResumes() {
        var m = LivenessMachine(idleTimeout: .seconds(10), pongTimeout: .seconds(4), start: .zero, observation: O(bytesRead: 0, pongsReceived: 0))
        let r21 = m.check(now: .seconds(10), observation: O(bytesRead: 0, pongsReceived: 0))
        #expect(r21 == .markStaleAndPing(checkAt: .seconds(11)))
        let r22 = m.check(now: .seconds(11), observation: O(bytesRead: 2, pongsReceived: 1))
        #expect(r22 == .markResumed(checkAt: .seconds(21)))
        #expect(!m.isStale)
    }

    @Test func messageDuringTheProbeResumesOnce() {
        var m = LivenessMachine(idleTimeout: .seconds(10), pongTimeout: .seconds(4), start: .zero, observation: O(bytesRead: 0, pongsReceived: 0))
        _ = m.check(now: .seconds(10), observation: O(bytesRead: 0, pongsReceived: 0))
        let r23 = m.messageArrived(at: .seconds(12))
        #expect(r23)
        let r24 = m.messageArrived(at: .seconds(12))
        #expect(!r24)
        let o = O(bytesRead: 50, pongsReceived: 0, lastMessageAt: .seconds(12), bytesReadAtLastMessage: 50)
        let r25 = m.check(now: .seconds(13), observation: o)
        #expect(r25 == .checkAt(.seconds(22)))
    }

    @Test func bytesOfALargeMessageStillArrivingCountAsLiveness() {
        var m = LivenessMachine(idleTimeout: .seconds(10), pongTimeout: .seconds(4), start: .zero, observation: O(bytesRead: 0, pongsReceived: 0))
        // No complete message ever, but bytes keep trickling in between checks.
        var bytes: UInt64 = 0
        var t = Duration.seconds(10)
        for _ in 0..<10 {
            bytes += 64 << 10
            let action = m.check(now: t, observation: O(bytesRead: bytes, pongsReceived: 0))
            #expect(action == .checkAt(t + .seconds(10)))
            t += .seconds(10)
        }
        #expect(!m.isStale)
        // The trickle stops: stale one idle timeout after it was last seen.
        let r26 = m.check(now: t, observation: O(bytesRead: bytes, pongsReceived: 0))
        #expect(r26 == .markStaleAndPing(checkAt: t + .seconds(1)))
    }
}

@Suite("DropOldestBuffer")
struct DropOldestBufferTests {
    @Test func countBoundDropsTheOldestAndCountsIt() {
        var b = DropOldestBuffer<Int>(policy: InboundBufferPolicy(maxFrames: 3, maxBytes: 1 << 20))
        var dropped = 0
        for i in 0..<10 { dropped += b.push(i, bytes: 10).count }
        #expect(dropped == 7)
        #expect(b.count == 3)
        let popped = [b.popFirst(), b.popFirst(), b.popFirst(), b.popFirst()]
        #expect(popped == [7, 8, 9, nil])
    }

    @Test func byteBoundDropsOldestAndKeepsOneOversizedFrame() {
        var b = DropOldestBuffer<String>(policy: InboundBufferPolicy(maxFrames: 100, maxBytes: 100))
        let r27 = b.push("a", bytes: 40)
        #expect(r27 == .nothing)
        let r28 = b.push("b", bytes: 40)
        #expect(r28 == .nothing)
        let r29 = b.push("c", bytes: 40)
        #expect(r29 == .init(count: 1, bytes: 40))
        #expect(b.bytes == 80)
        // Larger than the whole budget: everything older goes, the newest stays.
        let r30 = b.push("huge", bytes: 500)
        #expect(r30 == .init(count: 2, bytes: 80))
        #expect(b.count == 1)
        #expect(b.popFirst() == "huge")
        #expect(b.bytes == 0)
        #expect(b.peakBytes == 500)
    }

    @Test func accountingBalances() {
        var b = DropOldestBuffer<Int>(policy: InboundBufferPolicy(maxFrames: 50, maxBytes: 1000))
        var rng = SeededRandom(seed: 9)
        var pushed = 0, popped = 0, dropped = 0
        for i in 0..<5000 {
            dropped += b.push(i, bytes: Int.random(in: 1...80, using: &rng)).count
            pushed += 1
            if Bool.random(using: &rng), b.popFirst() != nil { popped += 1 }
            #expect(b.count <= 50)
            #expect(b.bytes <= 1000 || b.count == 1)
        }
        #expect(pushed == popped + dropped + b.count)
    }
}

@Suite("TokenBucket")
struct TokenBucketTests {
    @Test func burstThenSteadySpacing() {
        var t = TokenBucket(limit: SendRateLimit(messagesPerSecond: 5, burst: 5), now: .zero)
        let waits = (0..<8).map { _ in t.reserve(at: .zero) }
        #expect(waits.prefix(5).allSatisfy { $0 == .zero })
        #expect(waits.suffix(3).map { $0.milliseconds } == [200, 400, 600])
        // After a quiet second the bucket has refilled.
        var u = TokenBucket(limit: SendRateLimit(messagesPerSecond: 5, burst: 5), now: .zero)
        for _ in 0..<5 { _ = u.reserve(at: .zero) }
        let r31 = u.reserve(at: .seconds(1))
        #expect(r31 == .zero)
    }

    @Test func fixedSpacing() {
        var t = TokenBucket(limit: .spacing(.milliseconds(250)), now: .zero)
        let r32 = t.reserve(at: .zero)
        #expect(r32 == .zero)
        let r33 = t.reserve(at: .zero)
        #expect(r33.milliseconds == 250)
        let r34 = t.reserve(at: .milliseconds(100))
        #expect(r34.milliseconds == 400)
    }

    @Test func chargedControlFramesDelayLaterSends() {
        var t = TokenBucket(limit: SendRateLimit(messagesPerSecond: 5, burst: 5), now: .zero)
        t.charge(5, at: .zero)  // five automatic pongs
        let r35 = t.reserve(at: .zero)
        #expect(r35.milliseconds == 200)
    }
}

extension Duration {
    /// Rounded to the nearest millisecond (float rate arithmetic is not exact).
    var milliseconds: Int64 { (nanoseconds + 500_000) / 1_000_000 }
}
