import Testing
import WireTapeCore
@testable import WireTapeJournal

/// Time queries, `verify`, `info` and `gaps` when wall time goes backwards (a clock step, or
/// journals appended out of time order).
@Suite struct WallClockStepTests {
    let base: Int64 = 1_700_000_000_000_000_000

    func at(_ wall: Int64, _ mono: UInt64) -> ReceiveTimestamp { ReceiveTimestamp(wallNanos: wall, monotonicNanos: mono) }

    /// 2,000 frames an hour late, then 2,000 an hour early (the clock stepped back), small blocks.
    func steppedJournal(_ dir: String) throws {
        var o = JournalWriterOptions()
        o.blockSize = 512
        let w = try JournalWriter(directory: dir, options: o)
        for i in 0..<2000 {
            try w.append(.frame(direction: .inbound, opcode: .text, payload: Array("late \(i)".utf8)), epoch: 1, at: at(base + 3_600_000_000_000 + Int64(i) * 1000, UInt64(i)))
        }
        for i in 0..<2000 {
            try w.append(.frame(direction: .inbound, opcode: .text, payload: Array("early \(i)".utf8)), epoch: 1, at: at(base + Int64(i) * 1000, 2000 + UInt64(i)))
        }
        try w.close()
    }

    @Test func fromAndToAreRightForAnyWallOrder() throws {
        let d = TempDir(); defer { d.cleanup() }
        try steppedJournal(d.path)
        let mid = base + 1000 * 1000  // early frame 1000
        let from = try readAll(d.path, ReadOptions(filter: RecordFilter(fromWall: mid))).0
        #expect(from.count == 2000 + 1000, "every late frame and the second half of the early ones")
        let to = try readAll(d.path, ReadOptions(filter: RecordFilter(toWall: mid))).0
        #expect(to.count == 1001)
        #expect(to.allSatisfy { $0.wallNanos <= mid })
        let window = try readAll(d.path, ReadOptions(filter: RecordFilter(fromWall: base + 3_600_000_000_000 + 500_000, toWall: base + 3_600_000_000_000 + 599_000))).0
        #expect(window.count == 100)
        // Without the index the answers are the same.
        #expect(try readAll(d.path, ReadOptions(filter: RecordFilter(fromWall: mid), useIndex: false)).0 == from)
    }

    @Test func theIndexCountsBackstepsAndVerifyWarns() throws {
        let d = TempDir(); defer { d.cleanup() }
        try steppedJournal(d.path)
        let index = try JournalIndex(path: d.sub(JournalFormat.indexFileName), readOnly: true)
        let stored = try index.wallBacksteps()
        #expect(stored > 0)
        #expect(stored == (try index.countWallBacksteps()), "the writer's running count equals a recount")
        let report = try JournalMaintenance.verify(directory: d.path)
        #expect(report.isOK, "a clock step is not damage")
        #expect(report.wallBacksteps > 0)
        #expect(report.description.contains("wall time goes backwards"))
        let r = try JournalMaintenance.reindex(directory: d.path)
        #expect(r.damage.isEmpty)
        #expect(try JournalIndex(path: d.sub(JournalFormat.indexFileName), readOnly: true).wallBacksteps() == stored)
    }

    @Test func aGapAcrossAClockStepKeepsItsMonotonicDuration() throws {
        let d = TempDir(); defer { d.cleanup() }
        let w = try JournalWriter(directory: d.path)
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 1, at: at(base, 1_000))
        try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, error: "connectionLost")), epoch: 1, at: at(base + 10_000_000_000, 10_000_001_000))
        // The wall clock steps back 60 s while disconnected; 4 s pass on the monotonic clock.
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 2, at: at(base - 50_000_000_000, 14_000_001_000))
        try w.close()
        let gaps = try JournalGap.find(directory: d.path)
        #expect(gaps.count == 1)
        #expect(gaps.first?.durationNanos == 4_000_000_000)
        #expect(gaps.first?.cause.contains("connectionLost") == true)
    }

    @Test func infoAndGapsSeeBlocksTheIndexDoesNotListYet() throws {
        let d = TempDir(); defer { d.cleanup() }
        var o = JournalWriterOptions()
        o.indexBatchBlocks = 1_000_000  // index rows only at close
        o.blockSize = 256
        let w = try JournalWriter(directory: d.path, options: o)
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 1, at: at(base, 0))
        for i in 0..<200 {
            try w.append(.frame(direction: .inbound, opcode: .text, payload: Array("frame \(i)".utf8)), epoch: 1, at: at(base + Int64(i), UInt64(i)))
        }
        try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1011, closeReason: "overloaded")), epoch: 1, at: at(base + 1_000_000_000, 1_000_000_000))
        try w.flush()
        // As if the writer were killed now: blocks on disk, none indexed.
        let summary = try JournalSummary.load(directory: d.path)
        #expect(summary.kinds[.inboundFrame] == 200)
        #expect(summary.unindexedBlocks == summary.blocks && summary.blocks > 1)
        let gaps = try JournalGap.find(directory: d.path)
        #expect(gaps.count == 1 && gaps[0].open && gaps[0].cause.contains("close 1011"))
        try w.close()
        #expect(try JournalSummary.load(directory: d.path).unindexedBlocks == 0)
    }
}

