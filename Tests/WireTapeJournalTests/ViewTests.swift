import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct ViewTests {
    @Test func viewsMatchOwnedRecords() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 2048
        let written = try writeSample(t.path, count: 1000, options: o)
        let c = try JournalCursor(directory: t.path, options: ReadOptions(filter: RecordFilter(fromSeq: 100)))
        var got: [JournalRecord] = []
        while let v = try c.nextView() { got.append(v.record) }
        #expect(got == written.filter { $0.seq >= 100 })
    }

    /// The batch contract: every view of a batch is read only after the whole batch was taken
    /// (as a replay lends a batch to its consumer), so a batch that reached into a second
    /// block would show that block's bytes in place of the first's.
    @Test(arguments: [1, 7, 1024])
    func batchesOfViewsStayValidUntilTheNextCallAndNeverSpanBlocks(limit: Int) throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 2048
        let written = try writeSample(t.path, count: 1000, options: o)
        let filter = RecordFilter(fromSeq: 100)
        let single = try JournalCursor(directory: t.path, options: ReadOptions(filter: filter))
        var expected: [JournalRecord] = []
        while let v = try single.nextView() { expected.append(v.record) }
        #expect(expected == written.filter { $0.seq >= 100 })

        let c = try JournalCursor(directory: t.path, options: ReadOptions(filter: filter))
        var views: [RecordView] = []
        var got: [JournalRecord] = []
        var batches = 0
        while true {
            let blocksBefore = c.blocksRead
            try c.nextViews(into: &views, limit: limit)
            if views.isEmpty { break }
            #expect(views.count <= limit)
            // At most one block was loaded for the batch.
            #expect(c.blocksRead - blocksBefore <= 1)
            got += views.map(\.record)
            batches += 1
        }
        #expect(got == expected)
        #expect(c.blocksRead > 10)
        #expect(batches >= c.blocksRead)
        try c.nextViews(into: &views, limit: limit)
        #expect(views.isEmpty)
    }
}
