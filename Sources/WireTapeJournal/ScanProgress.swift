/// Told how far a pass over the segment files has got: bytes of segments scanned so far, and
/// the total bytes of the segments the pass will read. Called after each block, from the
/// thread that runs the pass; keep it cheap (a progress line rate-limits itself).
public typealias ScanProgress = (_ scannedBytes: UInt64, _ totalBytes: UInt64) -> Void

/// Turns "block ending at byte `offset` of the `i`-th segment" into overall bytes scanned.
struct ScanMeter {
    private let report: ScanProgress?
    private let starts: [UInt64]
    private let total: UInt64

    /// Sizes the pass over `segments` of `directory` (the sizes are read once, up front; a
    /// segment that grows meanwhile only makes the last figure exceed 100 %, which is capped).
    init(directory: String, segments: [(name: String, firstSeq: UInt64)], report: ScanProgress?) {
        self.report = report
        var starts: [UInt64] = []
        var sum: UInt64 = 0
        if report != nil {
            for s in segments {
                starts.append(sum)
                sum += FS.fileSize(joinPath(directory, s.name)) ?? 0
            }
        }
        self.starts = starts
        self.total = sum
    }

    /// A block of segment `segment` (its position in the list) ended at byte `offset`.
    func reached(segment: Int, offset: UInt64) {
        guard let report, segment < starts.count else { return }
        report(min(total, starts[segment] + offset), total)
    }

    /// Segment `segment` is done (also when it was skipped).
    func finished(segment: Int) {
        guard let report else { return }
        report(segment + 1 < starts.count ? starts[segment + 1] : total, total)
    }
}

extension BlockIndexRow {
    /// The byte just past the block in its segment (header and stored payload).
    var end: UInt64 { offset + UInt64(JournalFormat.blockHeaderSize) + UInt64(storedLength) }
}
