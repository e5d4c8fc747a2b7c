import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

@Suite("LivenessMachine")
struct LivenessMachineTests {
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
