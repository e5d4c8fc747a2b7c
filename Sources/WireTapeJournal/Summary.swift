import WireTapeCore

/// What `wiretape info` shows: sizes, counts, time span, epochs and sessions, from the index.
public struct JournalSummary: Sendable {
    /// Segment files, and how many are sealed.
    public var segments = 0, sealedSegments = 0
    /// Bytes of all segment files on disk.
    public var diskBytes: UInt64 = 0
    /// Blocks indexed.
    public var blocks = 0
    /// Uncompressed and stored block payload bytes.
    public var rawBytes: UInt64 = 0, storedBytes: UInt64 = 0
    /// Bytes of frame payloads.
    public var payloadBytes: UInt64 = 0
    /// Records by kind.
    public var kinds = KindCounts()
    /// First and last sequence numbers.
    public var firstSeq: UInt64?, lastSeq: UInt64?
    /// Earliest and latest wall times (ns).
    public var firstWall: Int64?, lastWall: Int64?
    /// Smallest and largest epoch.
    public var minEpoch: UInt64?, maxEpoch: UInt64?
    /// Number of `connected` lifecycle edges.
    public var connects = 0
    /// Session records.
    public var sessions: [SessionRow] = []

    /// Uncompressed over stored bytes (≥ 1 when compression helps).
    public var compressionRatio: Double { storedBytes == 0 ? 0 : Double(rawBytes) / Double(storedBytes) }

    /// Reads the summary from the index of `directory`.
    /// - Throws: ``JournalError`` with code `index` when the index is missing or unreadable
    ///   (the message says to run `wiretape reindex`).
    public static func load(directory: String) throws(JournalError) -> JournalSummary {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        let index = try JournalIndex(path: joinPath(directory, JournalFormat.indexFileName), readOnly: true)
        var s = JournalSummary()
        for seg in try listSegments(directory) {
            s.segments += 1
            s.diskBytes += FS.fileSize(joinPath(directory, seg.name)) ?? 0
        }
        s.sealedSegments = try index.segments().filter(\.sealed).count
        try index.forEachBlock { r in
            s.blocks += 1
            s.rawBytes += UInt64(r.rawLength)
            s.storedBytes += UInt64(r.storedLength) + UInt64(JournalFormat.blockHeaderSize)
            s.payloadBytes += r.payloadBytes
            s.kinds.add(r.kinds)
            if s.firstSeq == nil { s.firstSeq = r.firstSeq }
            s.lastSeq = r.lastSeq
            s.firstWall = min(s.firstWall ?? r.minWall, r.minWall)
            s.lastWall = max(s.lastWall ?? r.maxWall, r.maxWall)
            s.minEpoch = min(s.minEpoch ?? r.minEpoch, r.minEpoch)
            s.maxEpoch = max(s.maxEpoch ?? r.maxEpoch, r.maxEpoch)
        }
        s.connects = try index.lifecycleEdges().filter { $0.edge.stateName == ConnState.connected.rawValue }.count
        s.sessions = try index.sessions()
        return s
    }
}

/// A period with no connected epoch.
public struct JournalGap: Sendable, Hashable {
    /// Wall time (ns) of the lifecycle edge that left the connected states.
    public var start: Int64
    /// Wall time (ns) of the next `connected` edge, or of the journal's last record when
    /// the gap is still open.
    public var end: Int64
    /// Whether no `connected` edge ended the gap (the journal ends disconnected).
    public var open: Bool
    /// The epoch before the gap (the epoch of the starting edge).
    public var epoch: UInt64
    /// The state entered at the start (reconnecting, connecting, unrecoverable, closed).
    public var state: String
    /// Why: the close code and reason, or the error and message, of the first edge in the
    /// gap that carries one; else the state.
    public var cause: String
    /// Sequence number of the starting edge.
    public var seq: UInt64

    /// Duration in seconds.
    public var durationSeconds: Double { Double(end - start) / 1e9 }

    /// The periods with no connected epoch, from the index's lifecycle edges.
    ///
    /// A gap starts at an edge into `connecting`, `reconnecting`, `unrecoverable` or `closed`
    /// when not already in a gap, and ends at the next `connected` edge. `stale` and
    /// `resumed` count as connected (the connection still exists).
    /// - Throws: ``JournalError`` when the index is missing or unreadable.
    public static func find(directory: String, minDurationSeconds: Double = 0) throws(JournalError) -> [JournalGap] {
        let index = try JournalIndex(path: joinPath(directory, JournalFormat.indexFileName), readOnly: true)
        let edges = try index.lifecycleEdges()
        var maxWall = Int64.min
        try index.forEachBlock { maxWall = max(maxWall, $0.maxWall) }
        let lastWall: Int64? = maxWall == Int64.min ? nil : maxWall
        var gaps: [JournalGap] = []
        var current: JournalGap?
        let up: Set<String> = [ConnState.connected.rawValue, ConnState.stale.rawValue, ConnState.resumed.rawValue]
        func describe(_ e: LifecycleEdge) -> String? {
            var parts: [String] = []
            if let c = e.closeCode { parts.append("close \(c)" + (e.closeReason.map { $0.isEmpty ? "" : " \"\($0)\"" } ?? "")) }
            if let err = e.error { parts.append(err + (e.message.map { ": \($0)" } ?? "")) }
            else if let m = e.message { parts.append(m) }
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        }
        for row in edges {
            if up.contains(row.edge.stateName) {
                if var g = current, row.edge.stateName == ConnState.connected.rawValue {
                    g.end = row.wall
                    g.open = false
                    gaps.append(g)
                    current = nil
                }
            } else if current == nil {
                current = JournalGap(
                    start: row.wall, end: row.wall, open: true, epoch: row.epoch, state: row.edge.stateName,
                    cause: describe(row.edge) ?? row.edge.stateName, seq: row.seq)
            } else if current!.cause == current!.state, let c = describe(row.edge) {
                current!.cause = c
            }
        }
        if var g = current {
            g.end = max(g.start, lastWall ?? g.start)
            gaps.append(g)
        }
        return gaps.filter { $0.durationSeconds >= minDurationSeconds }
    }
}
