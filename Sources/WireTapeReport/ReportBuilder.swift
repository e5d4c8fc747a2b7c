import WireTapeCore
import WireTapeJournal

/// Builds a ``JournalReport`` from a journal's index, reading records only where the index
/// says they matter: the blocks that hold lifecycle, connect, session, lag and annotation
/// records, and the few blocks around each outage. Frames are walked only for a continuity
/// check (which must look at every frame).
public enum ReportBuilder {
    /// Called with work done and total work (blocks) as the build goes on.
    public typealias ProgressHandler = (_ done: UInt64, _ total: UInt64) -> Void

    /// Builds the report of `directory`.
    /// - Throws: ``WireTapeJournal/JournalError`` when the index is missing (run `wiretape
    ///   reindex`) or a segment cannot be read.
    public static func build(directory: String, options: ReportOptions = .init(), progress: ProgressHandler? = nil) throws(JournalError) -> JournalReport {
        let q = try JournalIndexQuery(directory: directory)
        var spans: [BlockSpan] = []
        var kinds = KindCounts()
        var raw: UInt64 = 0, stored: UInt64 = 0, payload: UInt64 = 0
        var minWall = Int64.max, maxWall = Int64.min
        try q.forEachBlock(fromWall: options.fromWall, toWall: options.toWall) { row in
            spans.append(BlockSpan(row))
            for k in RecordKind.allCases { kinds[k] += row.kinds[k] }
            raw += UInt64(row.rawLength)
            stored += UInt64(row.storedLength) + UInt64(JournalFormat.blockHeaderSize)
            payload += row.payloadBytes
            minWall = min(minWall, row.minWall)
            maxWall = max(maxWall, row.maxWall)
        }
        let start = options.fromWall ?? (spans.isEmpty ? 0 : minWall)
        let end = max(start, options.toWall ?? (spans.isEmpty ? start : maxWall))
        let width = options.bucketWidth ?? BucketSeries.width(forSpan: end - start, target: options.targetBuckets)
        var buckets = BucketSeries(start: start, end: end, width: width)
        for s in spans { buckets.add(s) }
        let continuityBlocks = options.continuity == nil ? 0 : UInt64(spans.count)
        let total = UInt64(spans.count) + continuityBlocks
        var done: UInt64 = 0
        progress?(done, total)

        var report = JournalReport(
            journalName: directory.split(separator: "/").last.map(String.init) ?? directory, feedURL: nil,
            start: start, end: end, buckets: buckets)
        report.kinds = kinds
        report.rawBytes = raw
        report.storedBytes = stored
        report.payloadBytes = payload
        report.blocks = spans.count

        // Records that are not frames, from the blocks that hold them.
        var fullEdges: [UInt64: LifecycleEdge] = [:]
        var connects: [ConnectMark] = []
        for span in spans where span.other > 0 {
            try q.forEachRecord(segment: span.segment, offset: span.offset) { v throws(JournalError) in
                guard let body = v.body else { return }
                switch body {
                case .lifecycle(let e):
                    fullEdges[v.seq] = e
                    if let c = e.counters { report.lastCounters = c }
                case .connect(let c):
                    connects.append(ConnectMark(seq: v.seq, epoch: v.epoch, wall: v.wallNanos, event: c))
                    if report.feedURL == nil, let u = c.url { report.feedURL = Redaction.redact(url: u) }
                case .session(let s):
                    if s.phase == .start, let u = s.url { report.feedURL = report.feedURL ?? Redaction.redact(url: u) }
                case .lag(let count, let bytes):
                    report.lags.append(LagMark(seq: v.seq, epoch: v.epoch, wall: v.wallNanos, count: count, bytes: bytes))
                case .annotation(let text):
                    report.annotations.append(AnnotationMark(seq: v.seq, epoch: v.epoch, wall: v.wallNanos, text: text))
                case .frame: break
                }
            }
        }
        let sessions = try q.sessions()
        if report.feedURL == nil, let u = sessions.first(where: { $0.url != nil })?.url {
            report.feedURL = Redaction.redact(url: u)
        }
        report.connectFailures = connects.filter { $0.event.outcome == .failed }

        // Epochs and outages from every edge (the state at the range start needs the edges before it).
        let edges = try q.lifecycleEdges().map { row in
            EdgeEvent(seq: row.seq, epoch: row.epoch, wall: row.wall, mono: row.mono, edge: fullEdges[row.seq] ?? row.edge)
        }
        // An open outage ends at the last block in sequence order (not at the largest wall
        // time: after a clock step back that would be long ago).
        let lastWall = spans.last?.maxWall ?? end
        let sessionStarts = sessions.filter { $0.phase == .start }.map(\.seq)
        let (outages, bands) = ConnectivityAnalysis.analyse(
            edges: edges, connects: connects, sessionStarts: sessionStarts, lastWall: lastWall)
        report.epochs = bands.filter { $0.end >= start && $0.start <= end }
        let shown = outages.filter { $0.end >= start && $0.start <= end }

        // Surroundings of each outage: counts from whole blocks, exact counts and excerpts
        // from the boundary blocks only.
        var reader = BlockFrames(query: q, excerptBytes: options.excerptBytes)
        let withExcerpts = Set(shown.indices.sorted { shown[$0].durationSeconds > shown[$1].durationSeconds }.prefix(options.maxExcerptIncidents))
        for (k, o) in shown.enumerated() {
            let before = options.countWindows ? try reader.count(spans, from: o.start - options.windowNanos, to: o.start) : 0
            let after = o.open || !options.countWindows ? 0 : try reader.count(spans, from: o.end, to: o.end + options.windowNanos)
            var inc = Incident(outage: o, framesBefore: before, framesAfter: after, before: [], after: [])
            if withExcerpts.contains(k) {
                inc.before = try reader.last(options.excerptFrames, before: o.start, in: spans)
                if !o.open { inc.after = try reader.first(options.excerptFrames, atOrAfter: o.end, in: spans) }
            }
            report.incidents.append(inc)
        }
        done = UInt64(spans.count)
        progress?(done, total)

        if let spec = options.continuity {
            report.continuity = try ContinuityScan.run(query: q, spec: spec, fromWall: options.fromWall, toWall: options.toWall) { d in
                progress?(done + d, total)
            }
            progress?(total, total)
        }
        return report
    }
}

/// Reads the frames of single blocks (through the index), with a small cache, for counting
/// frames in a window and for excerpts.
struct BlockFrames {
    struct Frame {
        var seq: UInt64, epoch: UInt64, wall: Int64
        var direction: FrameDirection, opcode: FrameOpcode
        var head: [UInt8], length: Int
    }

    let query: JournalIndexQuery
    let excerptBytes: Int
    private var cache: [(UInt64, [Frame])] = []

    init(query: JournalIndexQuery, excerptBytes: Int) {
        self.query = query
        self.excerptBytes = excerptBytes
    }

    /// The frames of one block.
    mutating func frames(_ b: BlockSpan) throws(JournalError) -> [Frame] {
        if let hit = cache.first(where: { $0.0 == b.firstSeq }) { return hit.1 }
        var out: [Frame] = []
        let keep = excerptBytes + 4
        try query.forEachRecord(segment: b.segment, offset: b.offset) { v throws(JournalError) in
            guard v.kind == .inboundFrame || v.kind == .outboundFrame else { return }
            out.append(Frame(
                seq: v.seq, epoch: v.epoch, wall: v.wallNanos, direction: v.kind == .inboundFrame ? .inbound : .outbound,
                opcode: v.opcode ?? .text, head: Array(v.payload.prefix(keep)), length: v.payload.count))
        }
        if cache.count >= 8 { cache.removeFirst() }
        cache.append((b.firstSeq, out))
        return out
    }

    /// Frames with wall time in `[from, to)`: whole blocks by their counts, boundary blocks exactly.
    mutating func count(_ spans: [BlockSpan], from: Int64, to: Int64) throws(JournalError) -> UInt64 {
        var n: UInt64 = 0
        var k = firstIndex(spans, reaching: from)
        while k < spans.count, spans[k].minWall < to {
            let b = spans[k]
            if b.inbound + b.outbound > 0 {
                if b.minWall >= from && b.maxWall < to {
                    n += b.inbound + b.outbound
                } else {
                    n += UInt64(try frames(b).filter { $0.wall >= from && $0.wall < to }.count)
                }
            }
            k += 1
        }
        return n
    }

    /// The last `n` frames with wall time before `t`.
    mutating func last(_ n: Int, before t: Int64, in spans: [BlockSpan]) throws(JournalError) -> [FrameExcerpt] {
        var k = firstIndex(spans, reaching: t)
        if k >= spans.count || spans[k].minWall >= t { k -= 1 }
        var got: [Frame] = []
        var looked = 0
        while k >= 0, got.count < n, looked < 16 {
            if spans[k].inbound + spans[k].outbound > 0 {
                got = try frames(spans[k]).filter { $0.wall < t } + got
                looked += 1
            }
            k -= 1
        }
        return got.suffix(n).map(excerpt)
    }

    /// The first `n` frames with wall time at or after `t`.
    mutating func first(_ n: Int, atOrAfter t: Int64, in spans: [BlockSpan]) throws(JournalError) -> [FrameExcerpt] {
        var k = firstIndex(spans, reaching: t)
        var got: [Frame] = []
        var looked = 0
        while k < spans.count, got.count < n, looked < 16 {
            if spans[k].inbound + spans[k].outbound > 0 {
                got += try frames(spans[k]).filter { $0.wall >= t }
                looked += 1
            }
            k += 1
        }
        return got.prefix(n).map(excerpt)
    }

    /// The first block whose max wall reaches `t` (blocks are in sequence order; wall times
    /// are non-decreasing across blocks for one recorder).
    private func firstIndex(_ spans: [BlockSpan], reaching t: Int64) -> Int {
        var lo = 0, hi = spans.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if spans[mid].maxWall < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func excerpt(_ f: Frame) -> FrameExcerpt {
        let text: String
        let shown: Int
        if f.opcode == .binary {
            shown = min(f.head.count, excerptBytes / 2)
            text = f.head.prefix(shown).map { b in
                let h = String(b, radix: 16)
                return h.count == 1 ? "0" + h : h
            }.joined(separator: " ")
        } else {
            // Cut at a character boundary: drop trailing continuation bytes of a cut character.
            var cut = min(f.head.count, excerptBytes)
            if cut < f.length {
                while cut > 0, f.head[cut] & 0xC0 == 0x80 { cut -= 1 }
            }
            shown = cut
            text = String(decoding: f.head.prefix(cut), as: UTF8.self)
        }
        return FrameExcerpt(
            seq: f.seq, epoch: f.epoch, wall: f.wall, direction: f.direction, opcode: f.opcode, text: text,
            bytes: f.length, truncated: shown < f.length)
    }
}

/// The effect around ``ContinuityChecker``: walks the inbound text frames of a range.
public enum ContinuityScan {
    /// Checks every inbound text frame of `directory` in `[fromWall, toWall]`.
    /// - Throws: ``WireTapeJournal/JournalError`` when the journal cannot be read.
    public static func run(
        directory: String, spec: ContinuitySpec, fromWall: Int64? = nil, toWall: Int64? = nil,
        blocksRead: ((UInt64) -> Void)? = nil
    ) throws(JournalError) -> ContinuityChecker {
        try run(query: JournalIndexQuery(directory: directory), spec: spec, fromWall: fromWall, toWall: toWall, blocksRead: blocksRead)
    }

    static func run(
        query q: JournalIndexQuery, spec: ContinuitySpec, fromWall: Int64?, toWall: Int64?, blocksRead: ((UInt64) -> Void)?
    ) throws(JournalError) -> ContinuityChecker {
        var checker = ContinuityChecker(spec: spec)
        let cursor = try q.cursor(ReadOptions(filter: RecordFilter(fromWall: fromWall, toWall: toWall, kinds: [.inboundFrame])))
        var lastBlocks = 0
        while let v = try cursor.nextView() {
            if v.opcode == .text { checker.check(payload: v.payload, epoch: v.epoch, seq: v.seq, wall: v.wallNanos) }
            if cursor.blocksRead != lastBlocks {
                lastBlocks = cursor.blocksRead
                blocksRead?(UInt64(lastBlocks))
            }
        }
        return checker
    }
}
