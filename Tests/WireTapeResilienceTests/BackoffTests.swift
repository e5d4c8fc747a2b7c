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
