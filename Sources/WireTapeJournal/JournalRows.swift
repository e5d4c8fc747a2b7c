/// What readers of the index see: the index's rows, followed by the rows of blocks the index
/// does not cover yet — read from the segments. After a writer was killed, the index lags
/// the segments by up to a batch of blocks; without an index file at all, every row comes
/// from the segments. Either way `info`, `gaps` and the report see what `cat` sees (SPEC.md §8).
struct JournalRows {
    let directory: String
    let index: JournalIndex?

    /// Opens the index of `directory` when it exists and is readable; otherwise reads the
    /// segments alone.
    init(directory: String) throws(JournalError) {
        guard FS.isDirectory(directory) else {
            throw JournalError(.notAJournal, "\(directory) is not a directory (no journal there)", path: directory)
        }
        self.directory = directory
        let path = joinPath(directory, JournalFormat.indexFileName)
        index = FS.exists(path) ? try? JournalIndex(path: path, readOnly: true) : nil
        if index == nil, try listSegments(directory).isEmpty, !FS.exists(joinPath(directory, JournalFormat.lockFileName)) {
            throw JournalError(.notAJournal, "\(directory) holds no journal (no segment and no index)", path: directory)
        }
    }

    /// Calls the handlers for every block row, then every lifecycle and session row, in
    /// sequence order: indexed rows first, then the unindexed tail from the segments.
    /// Returns how many blocks came from the segments (not in the index).
    @discardableResult
    func forEach(
        block: (BlockIndexRow) throws(JournalError) -> Void,
        lifecycle: (LifecycleRow) throws(JournalError) -> Void = { _ in },
        session: (SessionRow) throws(JournalError) -> Void = { _ in }
    ) throws(JournalError) -> Int {
        var indexedThrough: UInt64?
        var fromSegments = 0
        var fromSegment: String?
        if let index {
            try index.forEachBlock(block)
            for row in try index.lifecycleEdges() { try lifecycle(row) }
            for row in try index.sessions() { try session(row) }
            if let last = try index.lastBlock() {
                indexedThrough = last.lastSeq
                fromSegment = last.segment
            }
        }
        var previous: UInt64?
        for seg in try listSegments(directory) {
            if let from = fromSegment, seg.name < from { continue }
            let res = try Scanner.scan(directory: directory, name: seg.name, previousLastSeq: previous, wantRows: true) {
                (b: ScannedBlock) throws(JournalError) in
                if let h = indexedThrough, b.row.firstSeq <= h { return }
                fromSegments += 1
                try block(b.row)
                for l in b.lifecycle { try lifecycle(l) }
                for s in b.sessions { try session(s) }
            }
            if let l = res.lastSeq { previous = l }
        }
        return fromSegments
    }
}
