import WireTapeCore
import WireTapeJournal

/// One row of `wiretape stats`: a time bucket's counts and connection state.
public struct StatsRow: Sendable, Hashable {
    /// Bucket start (wall ns) and width (ns).
    public var start: Int64, width: Int64
    /// Inbound and outbound frames, and their payload bytes.
    public var inbound: UInt64, outbound: UInt64, bytes: UInt64
    /// Nanoseconds of the bucket spent in an outage.
    public var downNanos: Int64
    /// The connected epochs that overlap the bucket.
    public var epochs: [UInt64]

    /// `up` (connected throughout), `down` (no connected epoch at all) or `partial`.
    public var state: String { downNanos <= 0 ? "up" : downNanos >= width ? "down" : "partial" }
}

/// Per-bucket statistics of a journal (`wiretape stats`).
public enum JournalStats {
    /// The rows for `[fromWall, toWall]` at `width` ns per bucket. Counts are spread from the
    /// index's block summaries (``BucketSeries``), or counted frame by frame when `exact`
    /// (a walk over every frame in range).
    /// - Throws: ``WireTapeJournal/JournalError`` when the index is missing or a segment
    ///   cannot be read.
    public static func rows(
        directory: String, fromWall: Int64? = nil, toWall: Int64? = nil, width: Int64, exact: Bool = false,
        progress: ReportBuilder.ProgressHandler? = nil
    ) throws(JournalError) -> [StatsRow] {
        var options = ReportOptions()
        options.fromWall = fromWall
        options.toWall = toWall
        options.bucketWidth = width
        options.maxExcerptIncidents = 0
        options.countWindows = false
        let r = try ReportBuilder.build(directory: directory, options: options, progress: progress)
        var series = r.buckets
        if exact {
            series = BucketSeries(start: series.start, end: series.end - 1, width: width)
            let q = try JournalIndexQuery(directory: directory)
            let cursor = try q.cursor(ReadOptions(filter: RecordFilter(fromWall: r.start, toWall: r.end, kinds: [.inboundFrame, .outboundFrame])))
            while let v = try cursor.nextView() {
                series.addFrame(wall: v.wallNanos, inbound: v.kind == .inboundFrame, bytes: UInt64(v.payload.count))
            }
        }
        var rows = series.buckets.map {
            StatsRow(start: $0.start, width: width, inbound: $0.inbound, outbound: $0.outbound, bytes: $0.bytes, downNanos: 0, epochs: [])
        }
        for inc in r.incidents { spread(inc.outage.start, inc.outage.end, over: &rows, series) { $0.downNanos += $1 } }
        for e in r.epochs {
            spread(e.start, e.end, over: &rows, series) { row, _ in if row.epochs.last != e.epoch { row.epochs.append(e.epoch) } }
        }
        return rows
    }

    private static func spread(_ a: Int64, _ b: Int64, over rows: inout [StatsRow], _ s: BucketSeries, _ body: (inout StatsRow, Int64) -> Void) {
        let lo = max(a, s.start), hi = min(b, s.end)
        guard lo < hi || (lo == hi && s.index(of: lo) != nil) else { return }
        var i = Int((lo - s.start) / s.width)
        while i < rows.count, rows[i].start < hi || (lo == hi && i == Int((lo - s.start) / s.width)) {
            let overlap = min(hi, rows[i].start + s.width) - max(lo, rows[i].start)
            body(&rows[i], max(0, overlap))
            i += 1
            if lo == hi { break }
        }
    }
}

extension BucketSeries {
    /// Counts one frame in its bucket (frames outside the series are ignored).
    mutating func addFrame(wall: Int64, inbound: Bool, bytes: UInt64) {
        guard let i = index(of: wall) else { return }
        if inbound { buckets[i].inbound += 1 } else { buckets[i].outbound += 1 }
        buckets[i].bytes += bytes
    }
}
