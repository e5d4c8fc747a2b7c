import Synchronization
import Testing
import WireTapeCore

struct WatchTests {
    @Test func readerSeesCurrentThenLatestAndEndsAfterFinal() async {
        let watch = Watch(0)
        var it = watch.updates().makeAsyncIterator()
        #expect(await it.next() == 0)
        watch.publish(1)
        watch.publish(2)
        watch.publish(3)  // a slow reader skips 1 and 2
        #expect(await it.next() == 3)
        watch.finish(9)
        watch.publish(10)  // ignored after finish
        #expect(await it.next() == 9)
        #expect(await it.next() == nil)
        #expect(watch.current == 9 && watch.isFinished)
    }

    @Test func aReaderStartingAfterTheEndStillSeesTheFinalValue() async {
        let watch = Watch("connecting")
        watch.publish("connected")
        watch.finish("closed")
        var seen: [String] = []
        for await v in watch.updates() { seen.append(v) }
        #expect(seen == ["closed"])
    }

    @Test func publishingNeverWaitsForReaders() async {
        let watch = Watch(0)
        // No reader at all: a million publishes complete without blocking.
        for i in 1...1_000_000 { watch.publish(i) }
        #expect(watch.current == 1_000_000)
    }

    @Test func waitingReaderIsWokenByPublish() async {
        let watch = Watch(0)
        let reader = Task { () -> [Int] in
            var seen: [Int] = []
            for await v in watch.updates() { seen.append(v) }
            return seen
        }
        // The reader may or may not have seen 0 before 5 lands; it must end with the final value.
        watch.publish(5)
        watch.finish(7)
        let seen = await reader.value
        #expect(seen.last == 7)
        #expect(seen.allSatisfy { [0, 5, 7].contains($0) })
    }
}

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

/// A thread-safe counter for callbacks.
final class Counter: Sendable {
    private let storage = Mutex(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}
