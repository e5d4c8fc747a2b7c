import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

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
