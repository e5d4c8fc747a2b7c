import Synchronization
import Testing
import WireTapeCore

struct InboundStreamTests {
    func frame(_ i: Int, bytes: Int = 10) -> InboundFrame {
        InboundFrame(
            frame: .binary([UInt8](repeating: UInt8(i % 256), count: bytes)), epoch: 1,
            received: ReceiveTimestamp(wallNanos: Int64(i), monotonicNanos: UInt64(i)))
    }

    @Test func pausesAtTheFrameHighWaterMarkAndAsksForMoreAtHalf() async throws {
        let stream = InboundStream(highWaterFrames: 600, highWaterBytes: 1 << 20)
        let producer = InboundStream.Producer(stream: stream)
        let demanded = Counter()
        producer.setDemandHandler { demanded.increment() }
        for i in 0..<599 { #expect(producer.yield(frame(i))) }
        #expect(!producer.yield(frame(599)), "the 600th frame reaches the mark: pause")
        #expect(producer.isPaused)
        var it = stream.makeAsyncIterator()
        // The iterator takes a batch of 256 under one lock: 344 stay queued, more than half.
        for i in 0..<256 {
            let f = try await it.next()
            #expect(f?.received.wallNanos == Int64(i))
        }
        #expect(stream.queuedFrameCount == 344)
        #expect(demanded.value == 0, "344 queued > half of 600")
        #expect(producer.isPaused)
        // The next batch leaves 88 queued: demand.
        #expect(try await it.next()?.received.wallNanos == 256)
        #expect(stream.queuedFrameCount == 88)
        #expect(demanded.value == 1, "88 queued <= half: demand")
        #expect(!producer.isPaused)
        var rest = 257
        while rest < 600, let f = try await it.next() {
            #expect(f.received.wallNanos == Int64(rest), "nothing lost, in order")
            rest += 1
        }
        #expect(rest == 600)
    }

    @Test func aLoneQueuedFrameIsTakenWithoutABatchAndResumesAPausedProducer() async throws {
        let stream = InboundStream(highWaterFrames: 1, highWaterBytes: 1 << 20)
        let producer = InboundStream.Producer(stream: stream)
        let demanded = Counter()
        producer.setDemandHandler { demanded.increment() }
        #expect(!producer.yield(frame(0)), "the mark is one frame")
        var it = stream.makeAsyncIterator()
        #expect(try await it.next()?.received.wallNanos == 0)
        #expect(demanded.value == 1)
        #expect(!producer.isPaused)
    }

    @Test func pausesAtTheByteHighWaterMark() {
        let stream = InboundStream(highWaterFrames: 1000, highWaterBytes: 100)
        let producer = InboundStream.Producer(stream: stream)
        #expect(producer.yield(frame(0, bytes: 60)))
        #expect(!producer.yield(frame(1, bytes: 60)))
        #expect(stream.queuedFrameCount == 2, "nothing is dropped: the frame is queued, the producer pauses")
    }

    @Test func deliversEverythingQueuedBeforeTheError() async {
        let (stream, producer) = InboundStream.makeStream()
        for i in 0..<3 { producer.yield(frame(i)) }
        producer.finish(throwing: WSError(.connectionLost, "gone"))
        producer.yield(frame(99))  // after the end: discarded
        var got: [Int] = []
        do {
            for try await f in stream { got.append(Int(f.received.wallNanos)) }
            Issue.record("expected the error")
        } catch {
            #expect((error as? WSError)?.code == .connectionLost)
        }
        #expect(got == [0, 1, 2])
    }

    @Test func consumerWaitingIsWokenByYieldAndFinish() async throws {
        let (stream, producer) = InboundStream.makeStream()
        let consumer = Task { () -> Int in
            var n = 0
            for try await _ in stream { n += 1 }
            return n
        }
        for i in 0..<1000 { producer.yield(frame(i)) }
        producer.finish()
        #expect(try await consumer.value == 1000)
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingTheConsumerTellsTheProducer() async throws {
        let (stream, producer) = InboundStream.makeStream()
        let terminated = Counter()
        producer.setTerminationHandler { terminated.increment() }
        let (took, tookFrame) = AsyncStream.makeStream(of: Void.self)
        let consumer = Task { () -> Int in
            var n = 0
            for try await _ in stream {
                n += 1
                tookFrame.yield()
            }
            return n
        }
        producer.yield(frame(0))
        // Wait for the event "the consumer took the frame"; it then waits for the next one
        // (or is about to): cancelling in either state must end it and tell the producer.
        var it = took.makeAsyncIterator()
        _ = await it.next()
        consumer.cancel()
        #expect(try await consumer.value == 1)
        #expect(terminated.value == 1)
        #expect(!producer.yield(frame(1)), "yields after termination are refused")
    }
}

/// The end handler: the moment the consumer has taken the end, after every frame (a failed
/// connection sends its close then, so replies to earlier frames precede it).
struct InboundStreamEndHandlerTests {
    func frame(_ i: Int) -> InboundFrame {
        InboundFrame(frame: .binary([UInt8(i)]), epoch: 1, received: ReceiveTimestamp(wallNanos: 0, monotonicNanos: 0))
    }

    @Test func calledWhenTheIteratorTakesTheErrorNotWhenTheProducerFinishes() async throws {
        let (stream, producer) = InboundStream.makeStream()
        let ended = Counter()
        producer.setEndHandler { ended.increment() }
        producer.yield(frame(1))
        producer.yield(frame(2))
        producer.finish(throwing: WSError(.protocolViolation, "bad"))
        #expect(ended.value == 0, "frames are still queued")
        var it = stream.makeAsyncIterator()
        _ = try await it.next()
        _ = try await it.next()
        #expect(ended.value == 0, "the consumer has not asked past the last frame yet")
        await #expect(throws: WSError.self) { _ = try await it.next() }
        #expect(ended.value == 1)
        _ = try? await it.next()
        #expect(ended.value == 1, "once")
    }

    /// The consumer may be parked when the end comes (the handler is called by `finish`) or
    /// arrive after it (called by `next`): either way, once, after the frame.
    @Test func calledForAConsumerTaskThatIteratesToTheEnd() async throws {
        let (stream, producer) = InboundStream.makeStream()
        let ended = Counter()
        producer.setEndHandler { ended.increment() }
        let consumer = Task {
            var n = 0
            do { for try await _ in stream { n += 1 } } catch {}
            return n
        }
        producer.yield(frame(1))
        producer.finish()
        #expect(await consumer.value == 1)
        #expect(ended.value == 1)
    }

    @Test func calledAtOnceWhenSetAfterTheEndWasTaken() async throws {
        let (stream, producer) = InboundStream.makeStream()
        producer.finish()
        for try await _ in stream {}
        let ended = Counter()
        producer.setEndHandler { ended.increment() }
        #expect(ended.value == 1)
    }

    @Test func calledWhenADivertedStreamEnds() {
        let (stream, producer) = InboundStream.makeStream()
        let ended = Counter()
        producer.setEndHandler { ended.increment() }
        stream.divert(to: { _ in }, onEnd: { _ in })
        #expect(ended.value == 0)
        producer.finish(throwing: WSError(.protocolViolation, "bad"))
        #expect(ended.value == 1)
    }
}
