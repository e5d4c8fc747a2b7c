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
}
