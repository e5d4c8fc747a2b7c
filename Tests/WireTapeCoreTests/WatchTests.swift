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

    @Test func observerSeesEveryValueInOrderAndNothingAfterTheFinal() {
        let watch = Watch(0)
        watch.publish(1)
        let seen = Mutex<[Int]>([])
        watch.observe { v in seen.withLock { $0.append(v) } }
        for i in 2...1000 { watch.publish(i) }  // none coalesced
        watch.finish(-1)
        watch.publish(5)  // ignored after finish
        #expect(seen.withLock { $0 } == Array(1...1000) + [-1])
        let late = Mutex<[Int]>([])
        watch.observe { v in late.withLock { $0.append(v) } }
        #expect(late.withLock { $0 } == [-1])  // an observer after the end sees the final value only
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

/// A thread-safe counter for callbacks.
final class Counter: Sendable {
    private let storage = Mutex(0)
    func increment() { storage.withLock { $0 += 1 } }
    var value: Int { storage.withLock { $0 } }
}
