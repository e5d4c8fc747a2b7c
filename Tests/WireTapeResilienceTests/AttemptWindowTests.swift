import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

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
