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
    /// of blocks the index does not cover yet), by the rules of ``OutageRules``.
    /// - Throws: ``JournalError`` `notAJournal` when `directory` holds no journal.
    public static func find(directory: String, minDurationSeconds: Double = 0) throws(JournalError) -> [JournalGap] {
        var edges: [LifecycleRow] = []
        var sessionStarts: [UInt64] = []
        var lastWall: Int64?
        try JournalRows(directory: directory).forEach(block: { b in
            lastWall = b.maxWall  // the last block in sequence order: see OutageRules.outages(lastWall:)
        }, lifecycle: { edges.append($0) }, session: { if $0.phase == .start { sessionStarts.append($0.seq) } })
        func describe(_ e: LifecycleEdge) -> String {
            var parts: [String] = []
            if let c = e.closeCode { parts.append("close \(c)" + (e.closeReason.map { $0.isEmpty ? "" : " \"\($0)\"" } ?? "")) }
            if let err = e.error { parts.append(err + (e.message.map { ": \($0)" } ?? "")) }
            else if let m = e.message { parts.append(m) }
            return parts.joined(separator: "; ")
        }
        return OutageRules.outages(in: edges, sessionStarts: sessionStarts, lastWall: lastWall ?? edges.last?.wall ?? 0)
            .map { o in
                let first = edges[o.start]
                return JournalGap(
                    start: o.startWall, end: o.endWall, open: o.end == nil, epoch: first.epoch,
                    state: first.edge.stateName, cause: o.cause.map { describe(edges[$0].edge) } ?? first.edge.stateName,
                    seq: first.seq, durationNanos: o.durationNanos)
            }
            .filter { $0.durationSeconds >= minDurationSeconds }
    }
}
