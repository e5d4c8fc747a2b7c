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

/// What a stream diverted to views handed over: each batch copied at once (the views are valid
/// only during the call), with the payload addresses it was lent.
private final class DivertedViews: Sendable {
    struct Seen: Equatable {
        var binary: Bool
        var bytes: [UInt8]
        var epoch: UInt64
        var received: ReceiveTimestamp
    }
    private let state = Mutex<(batches: [[Seen]], addresses: [UInt], end: [WSError.Code?])>(([], [], []))
    var batches: [[Seen]] { state.withLock { $0.batches } }
    var addresses: [UInt] { state.withLock { $0.addresses } }
    var ends: [WSError.Code?] { state.withLock { $0.end } }

    func divert(_ stream: InboundStream) {
        stream.divert(
            toViews: { views in
                let seen = views.map { Seen(binary: $0.isBinary, bytes: Array($0.payload), epoch: $0.epoch, received: $0.received) }
                let addresses = views.map { UInt(bitPattern: $0.payload.baseAddress) }
                self.state.withLock {
                    $0.batches.append(seen)
                    $0.addresses += addresses
                }
            },
            onEnd: { error in self.state.withLock { $0.end.append(error?.code) } })
    }
}

/// Calls `body` with views of `payloads` (text unless the payload is marked binary) lent from one buffer.
private func withLentViews<R>(_ payloads: [(String, binary: Bool)], epoch: UInt64 = 7, _ body: (UnsafeBufferPointer<InboundFrameView>) -> R) -> R {
    let joined = payloads.flatMap { Array($0.0.utf8) }
    return joined.withUnsafeBytes { raw in
        var offset = 0
        var views: [InboundFrameView] = []
        for (i, p) in payloads.enumerated() {
            let n = p.0.utf8.count
            views.append(InboundFrameView(
                isBinary: p.binary, payload: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), epoch: epoch,
                received: ReceiveTimestamp(wallNanos: Int64(i), monotonicNanos: UInt64(100 + i))))
            offset += n
        }
        return views.withUnsafeBufferPointer(body)
    }
}

extension InboundStreamTests {
    @Test func viewsReachAViewConsumerAsLentWithNothingCopied() {
        let (stream, producer) = InboundStream.makeStream()
        let out = DivertedViews()
        out.divert(stream)
        var lent: [UInt] = []
        let more = withLentViews([("ab", false), ("", false), ("xyz", true)]) { views in
            lent = views.map { UInt(bitPattern: $0.payload.baseAddress) }
            return producer.yield(views: views)
        }
        #expect(more)
        producer.finish()
        #expect(out.batches == [[
            .init(binary: false, bytes: Array("ab".utf8), epoch: 7, received: ReceiveTimestamp(wallNanos: 0, monotonicNanos: 100)),
            .init(binary: false, bytes: [], epoch: 7, received: ReceiveTimestamp(wallNanos: 1, monotonicNanos: 101)),
            .init(binary: true, bytes: Array("xyz".utf8), epoch: 7, received: ReceiveTimestamp(wallNanos: 2, monotonicNanos: 102)),
        ]])
        // The very bytes the producer lent: no copy on the way.
        #expect(out.addresses == lent)
        #expect(out.ends == [nil])
    }

    @Test func viewsBecomeOwnedFramesForAnIteratorAndAFrameConsumer() async throws {
        let (stream, producer) = InboundStream.makeStream()
        withLentViews([("a✓", false), ("\u{1}\u{2}", true)]) { _ = producer.yield(views: $0) }
        producer.finish()
        var got: [InboundFrame] = []
        for try await f in stream { got.append(f) }
        #expect(got == [
            InboundFrame(frame: .text("a✓"), epoch: 7, received: ReceiveTimestamp(wallNanos: 0, monotonicNanos: 100)),
            InboundFrame(frame: .binary([1, 2]), epoch: 7, received: ReceiveTimestamp(wallNanos: 1, monotonicNanos: 101)),
        ])

        let (diverted, producer2) = InboundStream.makeStream()
        let out = Diverted()
        out.divert(diverted)
        withLentViews([("c", false), ("d", false)]) { _ = producer2.yield(views: $0) }
        producer2.finish()
        #expect(out.all == [.frames(["c", "d"]), .end(nil)])
    }

    @Test func ownedFramesReachAViewConsumerAsViewsInOrder() {
        let (stream, producer) = InboundStream.makeStream()
        producer.yield(text("queued"))
        let out = DivertedViews()
        out.divert(stream)
        producer.yield(contentsOf: [text("x"), InboundFrame(frame: .binary([9, 8]), epoch: 3, received: ReceiveTimestamp(wallNanos: 5, monotonicNanos: 6))])
        producer.finish(throwing: WSError(.connectionLost, "gone"))
        #expect(out.batches.map { $0.map(\.bytes) } == [[Array("queued".utf8)], [Array("x".utf8), [9, 8]]])
        #expect(out.batches.last?.last == .init(binary: true, bytes: [9, 8], epoch: 3, received: ReceiveTimestamp(wallNanos: 5, monotonicNanos: 6)))
        #expect(out.ends == [.connectionLost])
    }

    @Test func anObserverSeesLentViewsAsFramesAndViewsAfterTheEndAreDiscarded() {
        let (stream, producer) = InboundStream.makeStream()
        let observed = Mutex<[String]>([])
        stream.observe { f in
            if case .text(let t) = f.frame { observed.withLock { $0.append(t) } }
        }
        let out = DivertedViews()
        out.divert(stream)
        withLentViews([("p", false), ("q", false)]) { _ = producer.yield(views: $0) }
        producer.finish()
        let late = withLentViews([("late", false)]) { producer.yield(views: $0) }
        #expect(!late)
        #expect(observed.withLock { $0 } == ["p", "q"])
        #expect(out.batches.map { $0.map(\.bytes) } == [[Array("p".utf8), Array("q".utf8)]])
        #expect(out.ends == [nil])
    }
}
