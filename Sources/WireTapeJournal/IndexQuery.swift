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
}
