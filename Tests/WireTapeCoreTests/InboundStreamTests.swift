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
        let stream = InboundStream(highWaterFrames: 4, highWaterBytes: 1 << 20)
        let producer = InboundStream.Producer(stream: stream)
        let demanded = Counter()
        producer.setDemandHandler { demanded.increment() }
        #expect(producer.yield(frame(0)) && producer.yield(frame(1)) && producer.yield(frame(2)))
        #expect(!producer.yield(frame(3)), "the fourth frame reaches the mark: pause")
        #expect(producer.isPaused)
        var it = stream.makeAsyncIterator()
        _ = try await it.next()
        #expect(demanded.value == 0, "3 queued > half of 4")
        _ = try await it.next()
        #expect(demanded.value == 1, "2 queued = half: demand")
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
