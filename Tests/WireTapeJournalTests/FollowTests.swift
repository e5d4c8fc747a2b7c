import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FollowTests {
    @Test func cursorFollowsAJournalAcrossRotations() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 512
        o.maxSegmentBytes = 4096
        let w = try JournalWriter(directory: t.path, options: o)
        let bodies = sampleRecords(600)
        for i in 0..<100 { try w.append(bodies[i], epoch: 0, at: ts(i)) }
        let c = try JournalCursor(directory: t.path, options: ReadOptions(follow: true))
        var seen: [UInt64] = []
        while let r = try c.next() { seen.append(r.seq) }
        #expect(!seen.isEmpty)
        for i in 100..<600 {
            try w.append(bodies[i], epoch: 0, at: ts(i))
            if i % 50 == 0 { while let r = try c.next() { seen.append(r.seq) } }
        }
        try w.close()
        while let r = try c.next() { seen.append(r.seq) }
        #expect(seen == Array(1...600))
        #expect(c.problemCount == 0)
        #expect(try segmentPaths(t.path).count > 5)
    }

    /// The follower yields what is there, then waits for and yields new records, and ends
    /// (returns nil, the loop finishes) when its task is cancelled while it waits.
    @Test(.timeLimit(.minutes(1)))
    func followerYieldsNewRecordsThenStopsOnCancel() async throws {
        let t = TempDir(); defer { t.cleanup() }
        try writeSample(t.path, count: 10)
        let (seqs, seen) = AsyncStream.makeStream(of: UInt64.self)
        let follower = JournalFollower(directory: t.path, pollInterval: .milliseconds(1), clock: ContinuousClock())
        let consumer = Task {
            var n = 0
            for try await r in follower {
                seen.yield(r.seq)
                n += 1
            }
            seen.finish()
            return n
        }
        var it = seqs.makeAsyncIterator()
        var got: [UInt64] = []
        for _ in 0..<10 { got.append(try #require(await it.next())) }
        #expect(got == Array(1...10))
        let w = try JournalWriter(directory: t.path)
        try w.append(.annotation("late"), epoch: 0, at: ts(99))
        try w.flush()
        #expect(await it.next() == 11, "a record written later is yielded")
        // The follower is now waiting at the end: cancel it. A follower that ignored
        // cancellation would never end and hit the time limit.
        consumer.cancel()
        #expect(try await consumer.value == 11)
        #expect(await it.next() == nil, "the loop ended")
        try w.close()
    }

    @Test func sharedReaderSeeks() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 512
        let written = try writeSample(t.path, count: 2000, options: o)
        let reader = try JournalReader(directory: t.path)
        for k in stride(from: 0, to: 2000, by: 97) {
            let r = try reader.cursor(ReadOptions(filter: RecordFilter(fromWall: written[k].wallNanos))).next()
            #expect(r == written[k])
            let s = try reader.cursor(ReadOptions(filter: RecordFilter(fromSeq: written[k].seq))).next()
            #expect(s == written[k])
        }
    }
}
