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
    /// Blocks read from the segments because the index does not list them (yet): a writer
    /// is appending, was killed before indexing them, or there is no index file.
    public var unindexedBlocks = 0
    /// Whether the journal has no readable index file (everything came from the segments).
    public var indexMissing = false

    /// Uncompressed over stored bytes (≥ 1 when compression helps).
    public var compressionRatio: Double { storedBytes == 0 ? 0 : Double(rawBytes) / Double(storedBytes) }

    /// Reads the summary of `directory` from its index and, for blocks the index does not
    /// cover yet (after a crash, or without an index), from the segments.
    /// - Throws: ``JournalError`` `notAJournal` when `directory` holds no journal.
    public static func load(directory: String) throws(JournalError) -> JournalSummary {
        let rows = try JournalRows(directory: directory)
        var s = JournalSummary()
        for seg in try listSegments(directory) {
            s.segments += 1
            s.diskBytes += FS.fileSize(joinPath(directory, seg.name)) ?? 0
        }
        s.sealedSegments = try rows.index?.segments().filter(\.sealed).count ?? 0
        s.indexMissing = rows.index == nil
        s.unindexedBlocks = try rows.forEach(block: { r in
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
        }, lifecycle: { l in
            if l.edge.stateName == ConnState.connected.rawValue { s.connects += 1 }
        }, session: { s.sessions.append($0) })
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

    /// How long the gap lasted, in nanoseconds: the wall-time difference; when the wall
    /// clock stepped back inside the gap, the monotonic difference if both edges come from
    /// one recording, else 0. Never negative.
    public var durationNanos: UInt64

    /// Duration in seconds.
    public var durationSeconds: Double { Double(durationNanos) / 1e9 }

    /// The periods with no connected epoch, from the lifecycle edges (the index's, then those
    /// of blocks the index does not cover yet).
    ///
    /// A gap starts at an edge into `connecting`, `reconnecting`, `unrecoverable` or `closed`
    /// when not already in a gap, and ends at the next `connected` edge. `stale` and
    /// `resumed` count as connected (the connection still exists).
    /// - Throws: ``JournalError`` `notAJournal` when `directory` holds no journal.
    public static func find(directory: String, minDurationSeconds: Double = 0) throws(JournalError) -> [JournalGap] {
        var edges: [LifecycleRow] = []
        var sessionStarts: [UInt64] = []
        var last: (wall: Int64, mono: UInt64)?
        try JournalRows(directory: directory).forEach(block: { b in
            if last == nil || b.maxWall > last!.wall { last = (b.maxWall, 0) }
        }, lifecycle: { edges.append($0) }, session: { if $0.phase == .start { sessionStarts.append($0.seq) } })
        var gaps: [JournalGap] = []
        var current: (row: LifecycleRow, cause: String?)?
        let up: Set<String> = [ConnState.connected.rawValue, ConnState.stale.rawValue, ConnState.resumed.rawValue]
        func describe(_ e: LifecycleEdge) -> String? {
            var parts: [String] = []
            if let c = e.closeCode { parts.append("close \(c)" + (e.closeReason.map { $0.isEmpty ? "" : " \"\($0)\"" } ?? "")) }
            if let err = e.error { parts.append(err + (e.message.map { ": \($0)" } ?? "")) }
            else if let m = e.message { parts.append(m) }
            return parts.isEmpty ? nil : parts.joined(separator: "; ")
        }
        func gap(from start: LifecycleRow, cause: String?, to end: LifecycleRow?, endWall: Int64) -> JournalGap {
            // Wall time, as people read it; when the wall clock stepped back inside the gap,
            // the monotonic clock of the same recording.
            let oneRecording = end.map { e in !sessionStarts.contains { $0 > start.seq && $0 < e.seq } && e.mono >= start.mono } ?? false
            let nanos: UInt64 = endWall >= start.wall
                ? UInt64(bitPattern: endWall &- start.wall)
                : (oneRecording ? end!.mono - start.mono : 0)
            return JournalGap(
                start: start.wall, end: max(endWall, start.wall), open: end == nil, epoch: start.epoch,
                state: start.edge.stateName, cause: cause ?? start.edge.stateName, seq: start.seq, durationNanos: nanos)
        }
        for row in edges {
            if up.contains(row.edge.stateName) {
                if let c = current, row.edge.stateName == ConnState.connected.rawValue {
                    gaps.append(gap(from: c.row, cause: c.cause, to: row, endWall: row.wall))
                    current = nil
                }
            } else if current == nil {
                current = (row, describe(row.edge))
            } else if current!.cause == nil, let c = describe(row.edge) {
                current!.cause = c
            }
        }
        if let c = current {
            gaps.append(gap(from: c.row, cause: c.cause, to: nil, endWall: last?.wall ?? c.row.wall))
        }
        return gaps.filter { $0.durationSeconds >= minDurationSeconds }
    }
}
