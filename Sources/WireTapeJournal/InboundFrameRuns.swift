/// A run of consecutive indexed blocks whose records are all inbound frames of one epoch:
/// what a reader that only needs how many frames there are (a replay's timeline) can count
/// from the index instead of decoding.
public struct InboundFrameRun: Sendable, Hashable {
    /// First sequence number of the run's first block.
    public var firstSeq: UInt64
    /// Last sequence number of the run's last block.
    public var lastSeq: UInt64
    /// The epoch of every frame in the run.
    public var epoch: UInt64
    /// Inbound frames in the run.
    public var count: Int

    /// Creates a run.
    public init(firstSeq: UInt64, lastSeq: UInt64, epoch: UInt64, count: Int) {
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.epoch = epoch
        self.count = count
    }
}

extension JournalIndexQuery {
    /// The runs of blocks that hold only inbound frames of one epoch, among the blocks whose
    /// wall-time span meets `[fromWall, toWall]` and lies wholly inside it, leaving out the
    /// first and the last such block (they carry the range's first and last times, which a
    /// reader usually needs). Blocks not in a run must be decoded to know what they hold.
    ///
    /// With the index's `block_marks` (SPEC §8) and wall time that never steps back from
    /// block to block, this costs O(log n) plus one row per block that is not in a run,
    /// whatever the size of the journal; otherwise it is one pass over the block rows.
    ///
    /// With `prefetch`, the blocks the caller will decode instead (the first, the last, and up
    /// to 4,096 that are not frame-only) and their segments' heads are requested from the disk
    /// at once, so that their cold reads overlap (a seek in a journal not in the page cache).
    public func inboundFrameRuns(fromWall: Int64? = nil, toWall: Int64? = nil, prefetch: Bool = false) throws(JournalError) -> [InboundFrameRun] {
        if let runs = try markedRuns(fromWall: fromWall, toWall: toWall, prefetch: prefetch) { return runs }
        return try scannedRuns(fromWall: fromWall, toWall: toWall)
    }

    /// Reads the records of `[fromWall, toWall]` in sequence order as views, passing over
    /// each of `runs` (from ``inboundFrameRuns(fromWall:toWall:prefetch:)``) for which `skip`,
    /// asked when the records before the run were read, returns true; a run not skipped is
    /// read like the rest. One cursor that jumps over skipped runs through the index, reusing
    /// the open segment.
    /// - Parameter body: Receives each record; a view's payload is valid only during its call.
    public func forEachView(
        fromWall: Int64? = nil, toWall: Int64? = nil, passingOver runs: [InboundFrameRun],
        skip: (InboundFrameRun) -> Bool, _ body: (RecordView) throws(JournalError) -> Void
    ) throws(JournalError) {
        let cursor = try JournalCursor(
            directory: directory, options: ReadOptions(filter: RecordFilter(fromWall: fromWall, toWall: toWall)), index: index)
        for run in runs + [nil] {
            cursor.stop(afterSeq: run.map { $0.firstSeq - 1 })
            while let v = try cursor.nextView() { try body(v) }
            guard let run else { break }
            if skip(run) { try cursor.skip(toSeq: run.lastSeq + 1) }
        }
    }

    /// Requests `rows`' blocks and the heads of their segments (header and dictionary) from
    /// the disk; see ``inboundFrameRuns(fromWall:toWall:prefetch:)``.
    func prefetch(_ rows: [BlockIndexRow]) {
        let head = UInt64(JournalFormat.segmentHeaderSize + JournalFormat.dictionaryHeaderSize + JournalFormat.maxDictionaryBytes)
        var bySegment: [String: [(offset: UInt64, length: UInt64)]] = [:]
        for row in rows {
            bySegment[row.segment, default: [(0, head)]].append((row.offset, UInt64(JournalFormat.blockHeaderSize) + UInt64(row.storedLength)))
        }
        for (segment, ranges) in bySegment { FS.willNeed(joinPath(directory, segment), ranges: ranges) }
    }

    private static func isFrameOnly(_ row: BlockIndexRow) -> Bool {
        row.kinds[.inboundFrame] == UInt64(row.recordCount) && row.minEpoch == row.maxEpoch
    }

    /// One pass over the rows of the range.
    func scannedRuns(fromWall: Int64?, toWall: Int64?) throws(JournalError) -> [InboundFrameRun] {
        var rows: [BlockIndexRow] = []
        try forEachBlock(fromWall: fromWall, toWall: toWall) { rows.append($0) }
        guard rows.count > 2 else { return [] }
        var runs: [InboundFrameRun] = []
        for row in rows[1..<(rows.count - 1)] {
            let inside = row.minWall >= (fromWall ?? .min) && row.maxWall <= (toWall ?? .max)
            guard Self.isFrameOnly(row) && inside else { continue }
            if var last = runs.last, last.lastSeq + 1 == row.firstSeq, last.epoch == row.minEpoch {
                last.lastSeq = row.lastSeq
                last.count += Int(row.recordCount)
                runs[runs.count - 1] = last
            } else {
                runs.append(InboundFrameRun(firstSeq: row.firstSeq, lastSeq: row.lastSeq, epoch: row.minEpoch, count: Int(row.recordCount)))
            }
        }
        return runs
    }

    /// The runs from `block_marks`, or nil when the marks cannot answer (no table, rows that
    /// predate it, wall time that steps back, or marks that contradict the rows).
    func markedRuns(fromWall: Int64?, toWall: Int64?, prefetch: Bool = false) throws(JournalError) -> [InboundFrameRun]? {
        guard try index.marksComplete(), try index.wallBacksteps() == 0 else { return nil }
        // Without backsteps, min and max wall time never decrease in sequence order: the range
        // is the blocks from the first one reaching `fromWall` to the last one starting at or
        // before `toWall`, and every block strictly between those two lies wholly inside it.
        guard let first = try index.block(reachingWall: fromWall ?? .min, backsteps: 0) else { return [] }
        var last: BlockIndexRow?
        if let to = toWall, to < .max, let after = try index.block(reachingWall: to + 1, backsteps: 0) {
            last = after.minWall <= to ? after : try index.block(atOrBeforeSeq: after.firstSeq &- 1)
        } else {
            last = try index.lastBlock()
        }
        guard let last, last.firstSeq > first.firstSeq, first.minWall <= (toWall ?? .max) else { return [] }
        guard let firstBefore = try index.framesBefore(blockAt: first.firstSeq),
            let lastBefore = try index.framesBefore(blockAt: last.firstSeq)
        else { return nil }
        let marked = try index.boundaries(after: first.firstSeq, before: last.firstSeq)
        if prefetch { self.prefetch([first, last] + marked.lazy.map(\.row).filter { !Self.isFrameOnly($0) }.prefix(4096)) }
        var runs: [InboundFrameRun] = []
        // Walks from each run-starting block to the next one (or to the last block). Blocks
        // after `first` up to the first boundary continue `first`'s run (`first` itself is left
        // out); blocks after a block that is not frame-only must start a run themselves.
        var start = (row: first, before: firstBefore, counted: false)
        for (row, before) in marked.map({ ($0.row, $0.framesBefore) }) + [(last, lastBefore)] {
            guard let before else { return nil }
            // A block that is not frame-only is followed by a boundary (nothing to count); a
            // block left out of every run is decoded by the caller, so only a count that the
            // marks contradict makes them unusable.
            if Self.isFrameOnly(start.row) {
                let from = start.counted ? start.row.firstSeq : start.row.lastSeq &+ 1
                if row.firstSeq > from {
                    let count = before - start.before - (start.counted ? 0 : Int64(start.row.kinds[.inboundFrame]))
                    guard count > 0 else { return nil }
                    runs.append(InboundFrameRun(firstSeq: from, lastSeq: row.firstSeq - 1, epoch: start.row.minEpoch, count: Int(count)))
                }
            }
            start = (row, before, true)
        }
        return runs
    }
}
