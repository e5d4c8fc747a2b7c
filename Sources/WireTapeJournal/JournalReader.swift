/// Reads records from a journal directory in sequence order.
///
/// Memory stays bounded by one block whatever the journal's size. Seeks by sequence number,
/// wall time and epoch go through the SQLite index when present; without it the cursor scans
/// from the first segment. Damaged blocks are skipped and listed in ``problems`` (policy
/// ``CorruptionPolicy/skip``), or stop the read with an error (``CorruptionPolicy/stop``).
///
/// Time seeks assume wall times do not go backwards across blocks (they come from one
/// recorder's realtime clock); after a backwards clock step, seek by sequence number.
///
/// ```swift
/// let cursor = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(epoch: 3)))
/// while let record = try cursor.next() { print(record.seq) }
/// ```
public final class JournalCursor {
    /// The journal directory.
    public let directory: String
    /// The options in force (``skip(toSeq:)`` raises the filter's `fromSeq`).
    public private(set) var options: ReadOptions
    /// Damage met so far (at most ``maxProblems`` kept; see ``problemCount``).
    public private(set) var problems: [JournalProblem] = []
    /// All damage met so far, including problems not kept in ``problems``.
    public private(set) var problemCount = 0
    /// Records of kinds this build does not know, skipped.
    public private(set) var unknownRecordsSkipped = 0
    /// Blocks read and validated.
    public private(set) var blocksRead = 0
    /// The most problems kept in ``problems``.
    public static let maxProblems = 100

    private var segmentNames: [String] = []
    private var segmentIndex = 0
    private var reader: SegmentReader?
    private var offset: UInt64 = 0
    private var contents = BlockContents()
    private var headIndex = 0
    private var inBlock = false
    private var lastSeq: UInt64?
    private var reportedTornAt: (String, UInt64)?
    private var lastOpened: String?
    /// The index the cursor was given or positioned itself with (``skip(toSeq:)`` seeks with it).
    private var seekIndex: JournalIndex?

    /// Opens a cursor positioned at the first record the filter accepts.
    /// - Throws: ``JournalError`` when the directory is not readable or not a journal.
    public convenience init(directory: String, options: ReadOptions = .init()) throws(JournalError) {
        try self.init(directory: directory, options: options, index: nil)
    }

    init(directory: String, options: ReadOptions, index: JournalIndex?) throws(JournalError) {
        self.directory = directory
        self.options = options
        guard FS.isDirectory(directory) else {
            throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory)
        }
        segmentNames = try listSegments(directory).map(\.name)
        seekIndex = index
        try position(sharedIndex: index)
    }

    /// Moves on to the first record with a sequence number at or after `seq` without reading
    /// the blocks before it: through the index when the cursor has one (the open segment is
    /// reused), else by their 80-byte headers. Raises the filter's `fromSeq`. Meant for use
    /// between blocks (records of the block being read that reach `seq` are still delivered).
    func skip(toSeq seq: UInt64) throws(JournalError) {
        if options.filter.fromSeq.map({ $0 < seq }) ?? true { options.filter.fromSeq = seq }
        guard options.useIndex, let index = seekIndex, let row = try index.block(atOrBeforeSeq: seq), row.lastSeq >= seq,
            let i = segmentNames.firstIndex(of: row.segment), i > segmentIndex || (i == segmentIndex && row.offset > offset)
        else { return }
        let r: SegmentReader
        if let open = reader, open.name == row.segment {
            r = open
        } else {
            guard let opened = try? SegmentReader(directory: directory, name: row.segment) else { return }
            r = opened
        }
        // Trust the index only when the block it names is really there (else walk on).
        guard case .block(let h, _) = try r.item(at: row.offset), h.firstSeq == row.firstSeq else { return }
        inBlock = false
        segmentIndex = i
        reader = r
        lastOpened = r.name
        offset = row.offset
    }

    /// Sets the filter's `toSeq` (nil: no end): a cursor that ended at the old one goes on
    /// when it is raised, provided it ended between blocks.
    func stop(afterSeq seq: UInt64?) { options.filter.toSeq = seq }

    /// Seeks with the index when the filter has a start key.
    private func position(sharedIndex: JournalIndex?) throws(JournalError) {
        segmentIndex = 0
        offset = UInt64(JournalFormat.segmentHeaderSize)
        let f = options.filter
        guard options.useIndex, f.fromSeq != nil || f.fromWall != nil || f.epoch != nil else { return }
        let indexPath = joinPath(directory, JournalFormat.indexFileName)
        guard let index = sharedIndex ?? (FS.exists(indexPath) ? try? JournalIndex(path: indexPath, readOnly: true) : nil) else { return }
        seekIndex = index
        var start: BlockIndexRow?
        var afterLast = false
        if let s = f.fromSeq {
            start = try index.block(atOrBeforeSeq: s)
        } else if let w = f.fromWall {
            start = try index.block(reachingWall: w)
            if start == nil { start = try index.lastBlock(); afterLast = start != nil }
        } else if let e = f.epoch {
            start = try index.block(holdingEpoch: e)
            if start == nil { start = try index.lastBlock(); afterLast = start != nil }
        }
        guard let row = start, let i = segmentNames.firstIndex(of: row.segment) else { return }
        // Trust the index only when the block it names is really there.
        guard let r = try? SegmentReader(directory: directory, name: row.segment),
            case .block(let h, _) = try r.item(at: row.offset), h.firstSeq == row.firstSeq
        else {
            note(JournalProblem(code: .index, path: indexPath, offset: 0, message: "the index disagrees with segment \(row.segment) at byte \(row.offset); scanned from the start instead (run `wiretape reindex`)"))
            return
        }
        segmentIndex = i
        reader = r
        lastOpened = r.name
        offset = afterLast ? row.offset + 80 + UInt64(row.storedLength) : row.offset
        if afterLast { lastSeq = row.lastSeq }
    }

    private func note(_ p: JournalProblem) {
        problemCount += 1
        if problems.count < Self.maxProblems { problems.append(p) }
    }

    private func damage(_ p: JournalProblem) throws(JournalError) {
        note(p)
        if options.onCorruption == .stop { throw p.error() }
    }

    /// The next record the filter accepts as a borrowed view, without copying its payload:
    /// the fast path for backtests. The view's ``RecordView/payload`` is valid only until the
    /// next call on this cursor.
    /// - Throws: as ``next()``.
    public func nextView() throws(JournalError) -> RecordView? {
        while let (h, raw) = try nextAcceptedHead() {
            if let v = view(h, raw) { return v }
        }
        return nil
    }

    /// The next records the filter accepts, up to `limit`, as borrowed views that all stay
    /// valid until the next call on this cursor: ``nextView()`` for a reader that hands a
    /// batch of payloads on before it reads further (a replay lending them to its consumer).
    ///
    /// A batch never spans two blocks, so it holds fewer than `limit` views at the end of a
    /// block; it is empty only at the current end of the journal.
    /// - Parameters:
    ///   - views: Replaced with the batch (its capacity is kept, so a reused array allocates nothing).
    ///   - limit: The most views in the batch (at least 1).
    /// - Throws: as ``next()``.
    public func nextViews(into views: inout [RecordView], limit: Int) throws(JournalError) {
        views.removeAll(keepingCapacity: true)
        while views.isEmpty, let (h, raw) = try nextAcceptedHead() {
            if let v = view(h, raw) { views.append(v) }
            // The rest of this block only: the next block would reuse the bytes the views lend.
            while views.count < limit, let (h, raw) = nextAcceptedHeadInBlock() {
                if let v = view(h, raw) { views.append(v) }
            }
        }
    }

    /// The view of an accepted record; nil for a body this build cannot decode.
    @inline(__always)
    private func view(_ h: RecordHead, _ raw: UnsafeRawBufferPointer) -> RecordView? {
        guard let kind = RecordKind(rawValue: h.kindByte) else { return nil }
        if kind == .inboundFrame || kind == .outboundFrame {
            return RecordView(
                seq: h.seq, epoch: h.epoch, wallNanos: h.wall, monoNanos: h.mono, kind: kind,
                opcode: h.flags & RecordCodec.frameBinary != 0 ? .binary : .text,
                payload: UnsafeRawBufferPointer(rebasing: raw[h.bodyStart..<h.bodyEnd]), body: nil)
        }
        let body: RecordBody?? = try? RecordCodec.decodeBody(h, in: raw)
        guard case .some(.some(let b)) = body else { return nil }
        return RecordView(seq: h.seq, epoch: h.epoch, wallNanos: h.wall, monoNanos: h.mono, kind: kind, opcode: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0), body: b)
    }

    /// The next record the filter accepts, or nil at the current end of the journal.
    ///
    /// After nil, a later call returns records appended since (following a live journal).
    /// - Throws: ``JournalError`` on I/O failure, or on damage under ``CorruptionPolicy/stop``.
    public func next() throws(JournalError) -> JournalRecord? {
        while let (h, raw) = try nextAcceptedHead() {
            // Bodies were validated with the block; decoding cannot fail here.
            guard let body = try? RecordCodec.decodeBody(h, in: raw) else {
                unknownRecordsSkipped += 1
                continue
            }
            return JournalRecord(seq: h.seq, epoch: h.epoch, wallNanos: h.wall, monoNanos: h.mono, body: body)
        }
        return nil
    }

    /// The next record head the filter accepts and the bytes of its block (valid until the
    /// next call), loading blocks as needed; nil at the current end of the journal.
    private func nextAcceptedHead() throws(JournalError) -> (RecordHead, UnsafeRawBufferPointer)? {
        while true {
            if let next = nextAcceptedHeadInBlock() { return next }
            guard try loadNextBlock() else { return nil }
        }
    }

    /// The next accepted record head of the loaded block, if any; never loads a block.
    @inline(__always)
    private func nextAcceptedHeadInBlock() -> (RecordHead, UnsafeRawBufferPointer)? {
        guard inBlock else { return nil }
        let raw = reader!.rawBytes
        while headIndex < contents.heads.count {
            let h = contents.heads[headIndex]
            headIndex += 1
            if options.filter.accepts(kindByte: h.kindByte, seq: h.seq, epoch: h.epoch, wall: h.wall) {
                return (h, raw)
            }
        }
        inBlock = false
        return nil
    }

    /// Advances to the next valid block that may hold accepted records; false at the end.
    private func loadNextBlock() throws(JournalError) -> Bool {
        while true {
            if reader == nil {
                if segmentIndex >= segmentNames.count {
                    if !refreshSegments() { return false }
                }
                let name = segmentNames[segmentIndex]
                let r: SegmentReader
                do {
                    r = try SegmentReader(directory: directory, name: name)
                } catch where error.code == .notARegularFile {
                    // A symlink or FIFO where a segment should be: damage like any other, so
                    // a lenient reader goes on with the next segment instead of aborting.
                    try damage(JournalProblem(code: error.code, path: joinPath(directory, name), offset: 0, message: error.message + "; skipped"))
                    lastOpened = name  // passed, so a refresh of the listing does not return to it
                    segmentIndex += 1
                    continue
                }
                if let why = r.headerProblem {
                    try damage(JournalProblem(code: .corruptSegment, path: r.path, offset: 0, message: why))
                }
                reader = r
                lastOpened = name
                offset = r.dataStart
            }
            let r = reader!
            let isLast = segmentIndex == segmentNames.count - 1
            if isLast { try r.refreshSize() }
            offset = max(offset, r.dataStart)
            switch try r.item(at: offset) {
            case .block(let h, let at):
                let blockEnd = at + 80 + UInt64(h.storedLength)
                if let last = lastSeq, h.firstSeq <= last {
                    offset = blockEnd
                    try damage(JournalProblem(
                        code: .outOfOrder, path: r.path, offset: at,
                        message: "block with records \(h.firstSeq)...\(h.lastSeq) comes after record \(last) (blocks out of order); skipped",
                        lostSeqs: h.firstSeq...h.lastSeq))
                    continue
                }
                let f = options.filter
                // Sequence numbers only grow: nothing after `toSeq` can follow.
                if let t = f.toSeq, h.firstSeq > t { return false }
                // A block entirely after `toWall` is skipped, not taken as the end: after a
                // clock step back, later blocks can hold earlier wall times. Skipping reads
                // only the 80-byte block headers.
                let skip = (f.fromSeq.map { h.lastSeq < $0 } ?? false) || (f.fromWall.map { h.maxWall < $0 } ?? false)
                    || (f.toWall.map { h.minWall > $0 } ?? false)
                    || (f.epoch.map { $0 < h.minEpoch || $0 > h.maxEpoch } ?? false)
                if skip {
                    offset = blockEnd
                    lastSeq = h.lastSeq
                    continue
                }
                if let why = try r.loadPayload(h, at: at) ?? contents.validate(r.rawBytes, header: h) {
                    offset = blockEnd
                    try damage(JournalProblem(code: .corruptBlock, path: r.path, offset: at, message: "block of records \(h.firstSeq)...\(h.lastSeq): \(why)", lostSeqs: h.firstSeq...h.lastSeq))
                    continue
                }
                offset = blockEnd
                lastSeq = h.lastSeq
                unknownRecordsSkipped += contents.unknown
                blocksRead += 1
                headIndex = 0
                inBlock = true
                if h.rawLength > 1 << 20 { r.trimBuffers() }
                return true
            case .seal:
                nextSegment()
            case .end:
                if isLast {
                    if refreshSegments() { nextSegment(); continue }
                    return false
                }
                nextSegment()
            case .torn(let at, let why):
                if isLast {
                    if options.follow { return false }
                    if reportedTornAt.map({ $0 != (r.path, at) }) ?? true {
                        reportedTornAt = (r.path, at)
                        note(JournalProblem(code: .tornTail, path: r.path, offset: at, message: "torn tail: \(why); the last \(r.size - at) bytes are an incomplete write (run `wiretape repair`)"))
                    }
                    return false
                }
                // Not a crash's torn write (writers append only to the newest segment): a file
                // cut short after it was complete. What followed is lost, so --strict stops.
                try damage(JournalProblem(code: .tornTail, path: r.path, offset: at, message: "cut short: \(why); this is not the newest segment, so the records after this point are lost"))
                nextSegment()
            case .corrupt(let at, let why, let resume):
                offset = resume
                try damage(JournalProblem(code: .corruptBlock, path: r.path, offset: at, message: "\(why); \(resume - at) bytes skipped"))
            }
        }
    }

    private func nextSegment() {
        reader = nil
        segmentIndex += 1
    }

    /// Re-lists the directory for segments created since. Keeps the position: the open
    /// segment when there is one, else the first segment after the last one opened.
    /// Returns true when a segment after the open one (or one to open) exists.
    private func refreshSegments() -> Bool {
        guard let names = try? listSegments(directory).map(\.name) else { return false }
        segmentNames = names
        if let r = reader, let i = names.firstIndex(of: r.name) {
            segmentIndex = i
            return i < names.count - 1
        }
        if let last = lastOpened {
            segmentIndex = names.firstIndex(where: { $0 > last }) ?? names.count
        }
        return segmentIndex < names.count
    }
}

/// A record read without copying: see ``JournalCursor/nextView()``.
public struct RecordView {
    /// Sequence number, epoch, wall and monotonic time.
    public let seq: UInt64, epoch: UInt64, wallNanos: Int64, monoNanos: UInt64
    /// The record's kind.
    public let kind: RecordKind
    /// For frames: text or binary.
    public let opcode: FrameOpcode?
    /// For frames: the payload bytes, valid until the cursor moves. Empty for other kinds.
    public let payload: UnsafeRawBufferPointer
    /// For other kinds: the decoded body. Nil for frames.
    public let body: RecordBody?

    /// Copies the view into an owned record.
    public var record: JournalRecord {
        let b: RecordBody
        if let body { b = body } else {
            b = .frame(direction: kind == .inboundFrame ? .inbound : .outbound, opcode: opcode ?? .binary, payload: Array(payload))
        }
        return JournalRecord(seq: seq, epoch: epoch, wallNanos: wallNanos, monoNanos: monoNanos, body: b)
    }
}

/// Opens cursors on one journal, sharing one connection to its index: for callers that seek
/// often (a replay server, a UI), where opening the index per seek would dominate.
///
/// ```swift
/// let reader = try JournalReader(directory: dir)
/// let first = try reader.cursor(ReadOptions(filter: RecordFilter(fromWall: t))).next()
/// ```
public final class JournalReader {
    /// The journal directory.
    public let directory: String
    private let index: JournalIndex?

    /// Opens the journal; works without an index (cursors then scan).
    /// - Throws: ``JournalError`` when the directory is not a directory.
    public init(directory: String) throws(JournalError) {
        guard FS.isDirectory(directory) else {
            throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory)
        }
        self.directory = directory
        let p = joinPath(directory, JournalFormat.indexFileName)
        index = FS.exists(p) ? try? JournalIndex(path: p, readOnly: true) : nil
    }

    /// A cursor positioned at the first record `options.filter` accepts.
    /// - Throws: ``JournalError`` as ``JournalCursor/init(directory:options:)``.
    public func cursor(_ options: ReadOptions = .init()) throws(JournalError) -> JournalCursor {
        try JournalCursor(directory: directory, options: options, index: options.useIndex ? index : nil)
    }
}

/// An asynchronous sequence of a journal's records that waits for new ones at the end
/// (like `tail -f`), polling on an injected clock.
///
/// ```swift
/// for try await record in JournalFollower(directory: dir, pollInterval: .milliseconds(50), clock: ContinuousClock()) { ... }
/// ```
public struct JournalFollower<C: Clock>: AsyncSequence {
    /// The journal directory.
    public let directory: String
    /// Which records to yield.
    public let filter: RecordFilter
    /// How long to wait before looking again at the end of the journal.
    public let pollInterval: C.Duration
    /// The clock to wait on.
    public let clock: C

    /// Creates a follower.
    public init(directory: String, filter: RecordFilter = .init(), pollInterval: C.Duration, clock: C) {
        self.directory = directory
        self.filter = filter
        self.pollInterval = pollInterval
        self.clock = clock
    }

    /// Creates the iterator.
    public func makeAsyncIterator() -> Iterator { Iterator(owner: self) }

    /// Yields records as they are written; ends when the task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        let owner: JournalFollower
        var cursor: JournalCursor?

        /// The next record, waiting for it if needed; nil after cancellation.
        /// - Throws: ``JournalError`` when the journal cannot be read.
        public mutating func next() async throws -> JournalRecord? {
            while !Task.isCancelled {
                if cursor == nil {
                    cursor = try JournalCursor(
                        directory: owner.directory, options: ReadOptions(filter: owner.filter, follow: true))
                }
                if let r = try cursor!.next() { return r }
                do { try await owner.clock.sleep(for: owner.pollInterval) } catch { return nil }
            }
            return nil
        }
    }
}
