import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

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
