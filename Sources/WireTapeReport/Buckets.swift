import WireTapeJournal

/// What the report and `stats` keep of one index block row: its span and counts.
///
/// A compact copy of ``WireTapeJournal/BlockIndexRow`` (no segment name), so that a day of
/// blocks (a few hundred thousand) stays small in memory.
public struct BlockSpan: Sendable, Hashable {
    /// First and last sequence numbers.
    public var firstSeq: UInt64, lastSeq: UInt64
    /// Smallest and largest wall time (ns).
    public var minWall: Int64, maxWall: Int64
    /// Inbound and outbound frames.
    public var inbound: UInt64, outbound: UInt64
    /// Records that are not frames (lifecycle, connect, session, lag, annotation).
    public var other: UInt64
    /// Sum of frame payload bytes.
    public var payloadBytes: UInt64
    /// Where the block is: its segment file and byte offset (empty for spans made in tests).
    public var segment: String = "", offset: UInt64 = 0

    /// Creates a span from an index row.
    public init(_ row: BlockIndexRow) {
        segment = row.segment
        offset = row.offset
        firstSeq = row.firstSeq
        lastSeq = row.lastSeq
        minWall = row.minWall
        maxWall = row.maxWall
        inbound = row.kinds[.inboundFrame]
        outbound = row.kinds[.outboundFrame]
        other = row.kinds.total - inbound - outbound
        payloadBytes = row.payloadBytes
    }

    /// Creates a span from its fields (tests).
    public init(
        firstSeq: UInt64, lastSeq: UInt64, minWall: Int64, maxWall: Int64, inbound: UInt64, outbound: UInt64,
        other: UInt64 = 0, payloadBytes: UInt64
    ) {
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.minWall = minWall
        self.maxWall = maxWall
        self.inbound = inbound
        self.outbound = outbound
        self.other = other
        self.payloadBytes = payloadBytes
    }
}

/// One time bucket: frames and payload bytes whose time falls in `[start, start + width)`.
public struct Bucket: Sendable, Hashable {
    /// Start of the bucket (wall ns).
    public var start: Int64
    /// Inbound and outbound frames.
    public var inbound: UInt64 = 0, outbound: UInt64 = 0
    /// Frame payload bytes (both directions).
    public var bytes: UInt64 = 0
}

/// Frame counts per fixed-width time bucket, built from block rows rather than frames.
///
/// A block's counts are spread over the buckets its wall-time span covers, in proportion to
/// the overlap (a block is at most ~1 s or 64 KiB of records, so at bucket widths of a second
/// and more the error is small); counts stay integers and sum exactly to the block's counts
/// inside the range. Blocks partly outside the range contribute only their share inside it.
public struct BucketSeries: Sendable, Hashable {
    /// Start of the first bucket (wall ns).
    public let start: Int64
    /// Bucket width (ns, > 0).
    public let width: Int64
    /// The buckets, in time order.
    public internal(set) var buckets: [Bucket]

    /// Creates empty buckets covering `[start, end]`.
    public init(start: Int64, end: Int64, width: Int64) {
        precondition(width > 0 && end >= start)
        self.start = start
        self.width = width
        let n = Int((end - start) / width) + 1
        buckets = (0..<n).map { Bucket(start: start + Int64($0) * width) }
    }

    /// The end of the last bucket (exclusive).
    public var end: Int64 { start + Int64(buckets.count) * width }

    /// Adds a block's counts, spread by overlap.
    public mutating func add(_ b: BlockSpan) {
        let lo = max(b.minWall, start), hi = min(b.maxWall, end - 1)
        guard lo <= hi else { return }
        let first = Int((lo - start) / width), last = Int((hi - start) / width)
        if first == last || b.maxWall == b.minWall {
            // Whole block (or the part in range) in one bucket: use the fraction in range.
            let frac = b.maxWall == b.minWall ? 1.0 : Double(hi - lo) / Double(b.maxWall - b.minWall)
            buckets[first].inbound += share(b.inbound, frac)
            buckets[first].outbound += share(b.outbound, frac)
            buckets[first].bytes += share(b.payloadBytes, frac)
            return
        }
        let span = Double(b.maxWall - b.minWall)
        var given = (inb: UInt64(0), out: UInt64(0), bytes: UInt64(0))
        // Cumulative rounding keeps the integer total exact over the covered buckets.
        let startFrac = Double(lo - b.minWall) / span
        let base = (inb: share(b.inbound, startFrac), out: share(b.outbound, startFrac), bytes: share(b.payloadBytes, startFrac))
        for i in first...last {
            let bucketEnd = min(start + Int64(i + 1) * width, hi)
            let frac = i == last ? Double(hi - b.minWall) / span : Double(bucketEnd - b.minWall) / span
            let cum = (inb: share(b.inbound, frac) - base.inb, out: share(b.outbound, frac) - base.out, bytes: share(b.payloadBytes, frac) - base.bytes)
            buckets[i].inbound += cum.inb - given.inb
            buckets[i].outbound += cum.out - given.out
            buckets[i].bytes += cum.bytes - given.bytes
            given = cum
        }
    }

    private func share(_ n: UInt64, _ frac: Double) -> UInt64 {
        if frac >= 1 { return n }
        if frac <= 0 { return 0 }
        return min(n, UInt64((Double(n) * frac).rounded()))
    }

    /// The bucket index holding `wall`, or nil outside the series.
    public func index(of wall: Int64) -> Int? {
        guard wall >= start, wall < end else { return nil }
        return Int((wall - start) / width)
    }

    /// Bucket widths that read well on an axis, smallest first (ns).
    public static let niceWidths: [Int64] = [
        1_000_000, 10_000_000, 100_000_000, 1_000_000_000, 2_000_000_000, 5_000_000_000, 10_000_000_000,
        15_000_000_000, 30_000_000_000, 60_000_000_000, 120_000_000_000, 300_000_000_000, 600_000_000_000,
        900_000_000_000, 1_800_000_000_000, 3_600_000_000_000, 7_200_000_000_000, 21_600_000_000_000,
        43_200_000_000_000, 86_400_000_000_000,
    ]

    /// The smallest nice width that covers `span` ns in at most `target` buckets.
    public static func width(forSpan span: Int64, target: Int) -> Int64 {
        let t = Int64(max(1, target))
        return niceWidths.first { span / $0 < t } ?? max(niceWidths.last!, span / t + 1)
    }
}
