/// Read-only queries over a journal's SQLite index, for tools that summarise a journal
/// without walking its frames (the report, `stats`): block rows, lifecycle edges, sessions,
/// and cursors that share the one index connection.
///
/// The index is derived data; when it is missing the initialiser fails with a message that
/// says to run `wiretape reindex`.
///
/// ```swift
/// let q = try JournalIndexQuery(directory: dir)
/// try q.forEachBlock(fromWall: t0, toWall: t1) { row in print(row.firstSeq, row.kinds[.inboundFrame]) }
/// ```
public final class JournalIndexQuery {
    /// The journal directory.
    public let directory: String
    let index: JournalIndex
    private var reader: SegmentReader?
    private var contents = BlockContents()

    /// Opens the index of `directory` read-only.
    /// - Throws: ``JournalError`` with code `notAJournal` when `directory` is not a directory,
    ///   or `index` when the index is missing or unreadable.
    public init(directory: String) throws(JournalError) {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        self.directory = directory
        index = try JournalIndex(path: joinPath(directory, JournalFormat.indexFileName), readOnly: true)
    }

    /// Calls `body` for every block row in sequence order whose wall-time span meets
    /// `[fromWall, toWall]` (either bound nil means unbounded). Streaming: memory stays bounded.
    public func forEachBlock(
        fromWall: Int64? = nil, toWall: Int64? = nil, _ body: (BlockIndexRow) throws(JournalError) -> Void
    ) throws(JournalError) {
        let s = try index.db.prepare(
            "SELECT \(JournalIndex.blockColumns) FROM blocks WHERE max_wall_ns >= ?1 AND min_wall_ns <= ?2 ORDER BY first_seq")
        s.bind(1, fromWall ?? Int64.min)
        s.bind(2, toWall ?? Int64.max)
        while try s.step() { try body(JournalIndex.blockRow(s)) }
    }

    /// Every lifecycle edge in sequence order (state, close code and reason, error, message;
    /// ``LifecycleEdge/closedBy`` and counters are only in the records).
    public func lifecycleEdges() throws(JournalError) -> [LifecycleRow] { try index.lifecycleEdges() }

    /// Every session row in sequence order.
    public func sessions() throws(JournalError) -> [SessionRow] { try index.sessions() }

    /// A cursor over the journal that seeks with this index connection instead of opening
    /// its own (cheap enough to open one per block read).
    public func cursor(_ options: ReadOptions = .init()) throws(JournalError) -> JournalCursor {
        try JournalCursor(directory: directory, options: options, index: options.useIndex ? index : nil)
    }

    /// Calls `body` with every record of the block the index lists at `offset` of `segment`
    /// (``BlockIndexRow/segment`` and ``BlockIndexRow/offset``), reading that block only.
    /// A frame view's payload is valid only during its call.
    /// - Throws: ``JournalError`` `index` when no block starts there (the index is stale: run
    ///   `wiretape reindex`), `corruptBlock` when the block fails its checks.
    public func forEachRecord(segment: String, offset: UInt64, _ body: (RecordView) throws(JournalError) -> Void) throws(JournalError) {
        if reader?.name != segment { reader = try SegmentReader(directory: directory, name: segment) }
        let r = reader!
        guard case .block(let h, let at) = try r.item(at: offset) else {
            throw JournalError(.index, "the index lists a block at byte \(offset) of \(segment) that is not there; run `wiretape reindex`", path: r.path, offset: offset)
        }
        if let why = try r.loadPayload(h, at: at) ?? contents.validate(r.rawBytes, header: h) {
            throw JournalError(.corruptBlock, "block of records \(h.firstSeq)...\(h.lastSeq) at byte \(at) of \(segment): \(why); run `wiretape verify`", path: r.path, offset: at)
        }
        let raw = r.rawBytes
        for head in contents.heads {
            guard let kind = RecordKind(rawValue: head.kindByte) else { continue }
            if kind == .inboundFrame || kind == .outboundFrame {
                try body(RecordView(
                    seq: head.seq, epoch: head.epoch, wallNanos: head.wall, monoNanos: head.mono, kind: kind,
                    opcode: head.flags & RecordCodec.frameBinary != 0 ? .binary : .text,
                    payload: UnsafeRawBufferPointer(rebasing: raw[head.bodyStart..<head.bodyEnd]), body: nil))
            } else {
                let decoded: RecordBody?? = try? RecordCodec.decodeBody(head, in: raw)
                guard case .some(.some(let b)) = decoded else { continue }
                try body(RecordView(
                    seq: head.seq, epoch: head.epoch, wallNanos: head.wall, monoNanos: head.mono, kind: kind, opcode: nil,
                    payload: UnsafeRawBufferPointer(start: nil, count: 0), body: b))
            }
        }
    }
}
