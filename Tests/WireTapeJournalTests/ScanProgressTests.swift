import Testing
import WireTapeCore
@testable import WireTapeJournal

/// `verify`, `repair` and `reindex` report how far they have scanned, so the CLI can show a
/// progress line on long journals.
@Suite struct ScanProgressTests {
    func journal(_ d: TempDir) throws -> UInt64 {
        var o = JournalWriterOptions()
        o.blockSize = 1024
        o.maxSegmentBytes = 16 << 10
        o.segmentDictionary = false  // a 64 KiB dictionary would fill every 16 KiB segment at once
        _ = try writeSample(d.path, count: 3_000, options: o)
        let sizes = try segmentPaths(d.path).map { UInt64(fileBytes($0).count) }
        #expect(sizes.count > 2)
        return sizes.reduce(0, +)
    }

    func check(_ calls: [(UInt64, UInt64)], total: UInt64, blocks: Int) {
        #expect(calls.count >= blocks, "a report after every block, not only per segment")
        #expect(calls.allSatisfy { $0.1 == total && $0.0 <= $0.1 })
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0.0 <= $1.0 }, "scanned bytes never go back")
        #expect(calls.last?.0 == total, "the pass ends at 100 %")
    }

    @Test func verifyRepairAndReindexReportBytesScannedUpToTheTotal() throws {
        let d = TempDir(); defer { d.cleanup() }
        let total = try journal(d)
        var calls: [(UInt64, UInt64)] = []
        let v = try JournalMaintenance.verify(directory: d.path) { calls.append(($0, $1)) }
        #expect(v.isOK && v.blocks > 2 * v.segments)
        check(calls, total: total, blocks: v.blocks)
        calls = []
        _ = try JournalMaintenance.reindex(directory: d.path) { calls.append(($0, $1)) }
        check(calls, total: total, blocks: v.blocks)
        calls = []
        _ = try JournalMaintenance.repair(directory: d.path) { calls.append(($0, $1)) }
        // Repair trusts the indexed segments and scans the newest: it still ends at 100 %.
        #expect(calls.last.map { $0 == (total, total) } == true)
    }
}
