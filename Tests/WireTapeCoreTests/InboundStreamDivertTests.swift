import Synchronization
import Testing
@testable import WireTapeCore

/// What a diverted stream handed over, in order.
private final class Diverted: Sendable {
    enum Item: Equatable {
        case frames([String])
        case end(WSError.Code?)
    }
    private let items = Mutex<[Item]>([])
    var all: [Item] { items.withLock { $0 } }

    func divert(_ stream: InboundStream) {
        stream.divert(
            to: { frames in
                let texts = frames.map { f -> String in
                    if case .text(let t) = f.frame { return t }
                    return "?"
                }
                self.items.withLock { $0.append(.frames(texts)) }
            },
            onEnd: { error in self.items.withLock { $0.append(.end(error?.code)) } })
    }
}

private func text(_ s: String) -> InboundFrame { InboundFrame(frame: .text(s), epoch: 1, received: .now()) }

extension InboundStreamTests {
    @Test func divertHandsOverTheQueuedFramesFirstThenEachBatchThenTheEnd() {
        let (stream, producer) = InboundStream.makeStream()
        producer.yield(text("a"))
        producer.yield(text("b"))
        let out = Diverted()
        out.divert(stream)
        #expect(producer.yield(contentsOf: [text("c"), text("d")]))
        producer.yield(text("e"))
        producer.finish()
        producer.yield(text("late"))  // after the end: not handed over
        producer.finish(throwing: WSError(.ioError, "twice"))  // the end is reported once
        #expect(out.all == [.frames(["a", "b"]), .frames(["c", "d"]), .frames(["e"]), .end(nil)])
        #expect(stream.queuedFrameCount == 0)
    }

    @Test func divertAfterTheStreamFailedFlushesThenReportsTheErrorAtOnce() {
        let (stream, producer) = InboundStream.makeStream()
        producer.yield(text("a"))
        producer.finish(throwing: WSError(.connectionLost, "gone"))
        let out = Diverted()
        out.divert(stream)
        #expect(out.all == [.frames(["a"]), .end(.connectionLost)])
    }

    @Test func divertResumesAPausedProducerAndNeverPausesItAgain() {
        let stream = InboundStream(highWaterFrames: 2, highWaterBytes: 1 << 20)
        let producer = InboundStream.Producer(stream: stream)
        let demanded = Mutex(0)
        producer.setDemandHandler { demanded.withLock { $0 += 1 } }
        producer.yield(text("a"))
        #expect(!producer.yield(text("b")))  // at the high-water mark: pause
        #expect(producer.isPaused)
        let out = Diverted()
        out.divert(stream)
        #expect(demanded.withLock { $0 } == 1)
        #expect(!producer.isPaused)
        for i in 0..<10 { #expect(producer.yield(text("\(i)"))) }
        #expect(out.all.count == 11)
        #expect(stream.queuedFrameCount == 0)
    }
}
