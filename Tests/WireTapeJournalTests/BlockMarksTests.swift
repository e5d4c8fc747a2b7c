import Testing
import WireTapeCore
@testable import WireTapeJournal

/// The index's `block_marks` (frames before each block, run boundaries), kept by triggers, and
/// the frame runs read from them: always what a pass over the block rows finds.
@Suite struct BlockMarksTests {
    let base: Int64 = 1_700_000_000_000_000_000

    func at(_ i: Int) -> ReceiveTimestamp { ReceiveTimestamp(wallNanos: base + Int64(i) * 1_000_000, monotonicNanos: UInt64(i) * 1_000_000) }

    /// Epochs of many small blocks each, lifecycle edges, a few outbound frames, frames of epoch
    /// 0 between epochs, and a writer restarted in the middle of epoch 2.
    func write(_ dir: String) throws {
        var o = JournalWriterOptions()
        o.blockSize = 600
        var w = try JournalWriter(directory: dir, options: o)
        var i = 0
        func frame(_ epoch: UInt64, _ dir: FrameDirection = .inbound) throws {
            _ = try w.append(.frame(direction: dir, opcode: .text, payload: Array("frame \(i) of \(epoch) ....................".utf8)), epoch: epoch, at: at(i))
            i += 1
        }
        for epoch in UInt64(1)...4 {
            for _ in 0..<40 { try frame(0) }
            _ = try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: epoch, at: at(i))
            i += 1
            try frame(epoch, .outbound)
            for k in 0..<700 {
                try frame(epoch)
                if epoch == 2 && k == 350 {
                    try w.close()
                    w = try JournalWriter(directory: dir, options: o)
                }
                if epoch == 3 && k % 200 == 199 { try frame(epoch, .outbound) }
            }
            _ = try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, error: "connectionLost")), epoch: epoch, at: at(i))
            i += 1
        }
        try w.close()
    }

    func marks(_ dir: String) throws -> [[Int64]] {
        let index = try JournalIndex(path: dir + "/index.sqlite", readOnly: true)
        let s = try index.db.prepare("SELECT first_seq, frames_before, boundary FROM block_marks ORDER BY first_seq")
        var rows: [[Int64]] = []
        while try s.step() { rows.append([s.int(0), s.isNull(1) ? -1 : s.int(1), s.int(2)]) }
        return rows
    }

    func ranges() -> [(Int64?, Int64?)] {
        [(nil, nil), (base + 500_000_000, nil), (nil, base + 2_000_000_000), (base + 900_000_000, base + 2_100_000_000),
         (base + 2_700_000_000, base + 2_700_500_000)]
    }

    @Test("the triggers keep the marks a full recomputation gives, and the runs agree with a pass")
    func triggersMatchRecomputation() throws {
        let d = TempDir(); defer { d.cleanup() }
        try write(d.path)
        let kept = try marks(d.path)
        #expect(kept.count > 50)
        #expect(kept.allSatisfy { $0[1] >= 0 })
        let rw = try JournalIndex(path: d.path + "/index.sqlite", readOnly: false)
        try rw.db.exec(JournalIndex.rebuildMarks)
        #expect(try marks(d.path) == kept)
        let q = try JournalIndexQuery(directory: d.path)
        var counted = 0
        for (from, to) in ranges() {
            let marked = try q.markedRuns(fromWall: from, toWall: to)
            #expect(marked != nil)
            #expect(marked == (try q.scannedRuns(fromWall: from, toWall: to)), "range \(String(describing: from))...\(String(describing: to))")
            counted += marked?.reduce(0) { $0 + $1.count } ?? 0
        }
        #expect(counted > 2000, "most frames are counted from the index")
    }

    @Test("an index older than the marks: readers fall back to a pass, a writer or reindex adds them")
    func olderIndex() throws {
        let d = TempDir(); defer { d.cleanup() }
        try write(d.path)
        let expected = try JournalIndexQuery(directory: d.path).scannedRuns(fromWall: base + 500_000_000, toWall: nil)
        let before = try marks(d.path)
        func dropMarks() throws {
            let rw = try JournalIndex(path: d.path + "/index.sqlite", readOnly: false)
            try rw.db.exec("DROP TRIGGER blocks_mark; DROP TRIGGER blocks_unmark; DROP TABLE block_marks;")
        }
        try dropMarks()
        var q = try JournalIndexQuery(directory: d.path)
        #expect(try q.markedRuns(fromWall: base + 500_000_000, toWall: nil) == nil)
        #expect(try q.inboundFrameRuns(fromWall: base + 500_000_000) == expected)
        // A writer opening the journal adds the table and fills it.
        try JournalWriter(directory: d.path).close()
        q = try JournalIndexQuery(directory: d.path)
        #expect(try q.markedRuns(fromWall: base + 500_000_000, toWall: nil) == expected)
        #expect(try marks(d.path) == before)
        // So does reindex.
        try dropMarks()
        _ = try JournalMaintenance.reindex(directory: d.path)
        #expect(try marks(d.path) == before)
    }

    @Test("verify finds marks that disagree with the blocks, and reindex mends them")
    func verifyChecksTheMarks() throws {
        let d = TempDir(); defer { d.cleanup() }
        try write(d.path)
        #expect(try JournalMaintenance.verify(directory: d.path).problems.isEmpty)
        let rw = try JournalIndex(path: d.path + "/index.sqlite", readOnly: false)
        try rw.db.exec("UPDATE block_marks SET boundary = 0 WHERE first_seq IN (SELECT first_seq FROM block_marks WHERE boundary = 1 LIMIT 2)")
        let problems = try JournalMaintenance.verify(directory: d.path).problems
        #expect(problems.map(\.code) == [.index])
        #expect(problems.first?.message.contains("2 rows of the block_marks table disagree") == true, "\(problems)")
        _ = try JournalMaintenance.reindex(directory: d.path)
        #expect(try JournalMaintenance.verify(directory: d.path).problems.isEmpty)
    }

    @Test("rows whose marks are unknown make the marks unusable, not wrong")
    func unknownMarks() throws {
        let d = TempDir(); defer { d.cleanup() }
        try write(d.path)
        let rw = try JournalIndex(path: d.path + "/index.sqlite", readOnly: false)
        try rw.db.exec("UPDATE block_marks SET frames_before = NULL WHERE first_seq = (SELECT MAX(first_seq) FROM block_marks)")
        let q = try JournalIndexQuery(directory: d.path)
        #expect(try q.markedRuns(fromWall: nil, toWall: nil) == nil)
        #expect(try q.inboundFrameRuns() == q.scannedRuns(fromWall: nil, toWall: nil))
    }

    @Test("forEachView passes over the runs it is told to skip and reads every other record")
    func passingOverRuns() throws {
        let d = TempDir(); defer { d.cleanup() }
        try write(d.path)
        let from = base + 500_000_000
        let q = try JournalIndexQuery(directory: d.path)
        let runs = try q.inboundFrameRuns(fromWall: from)
        #expect(runs.count >= 3)
        let all = try readAll(d.path, ReadOptions(filter: RecordFilter(fromWall: from))).0.map(\.seq)
        for pattern in [[true], [false], [true, false], [false, true]] {
            var asked = 0
            var read: [UInt64] = []
            try q.forEachView(fromWall: from, passingOver: runs, skip: { _ in
                defer { asked += 1 }
                return pattern[asked % pattern.count]
            }) { read.append($0.seq) }
            #expect(asked == runs.count)
            let skipped = runs.enumerated().filter { pattern[$0.offset % pattern.count] }.map { $0.element.firstSeq...$0.element.lastSeq }
            #expect(read == all.filter { seq in !skipped.contains { $0.contains(seq) } }, "pattern \(pattern)")
        }
    }
}
