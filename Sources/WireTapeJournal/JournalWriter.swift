#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import WireTapeCore

/// Appends records to a journal directory.
///
/// One writer per journal: the constructor takes an exclusive lock on `writer.lock` and fails
/// with ``JournalError/Code/locked`` when another writer holds it. Opening recovers from a
/// previous crash (a torn tail is truncated, the index reconciled; see ``recovery``).
///
/// Records collect in an in-memory block; a block is compressed and written when it reaches
/// ``JournalWriterOptions/blockSize`` or its first record is older than
/// ``JournalWriterOptions/maxBlockAgeNanos`` (judged from the timestamps passed in, never by
/// reading a clock), so a crash loses at most one young block (with
/// ``JournalWriterOptions/compressOnSecondThread``, also up to three full blocks still being
/// compressed). Not thread-safe: one owner.
///
/// ```swift
/// let w = try JournalWriter(directory: "/var/tape/btc")
/// try w.append(.frame(direction: .inbound, opcode: .text, payload: Array(json.utf8)), epoch: 1, at: .now())
/// try w.close()
/// ```
public final class JournalWriter {
    /// The journal directory.
    public let directory: String
    /// The options in force.
    public let options: JournalWriterOptions
    /// What opening the journal had to recover.
    public let recovery: RecoveryReport

    private var lock: WriterLock?
    private let index: JournalIndex
    private var syncer: BackgroundSyncer?

    /// Block buffers not in use.
    private var freeBlocks: [TakenBlock] = []
    /// Blocks taken from the builder and not written yet, oldest first: with the compression
    /// thread up to ``pipelineDepth`` (queued, being compressed, or compressed and waiting for
    /// the blocks before them); inline, the block being written (or whose write failed:
    /// retried first).
    private var inFlight: [TakenBlock] = []
    private var compressor: CompressionThread?
    /// Full blocks in flight at most with the compression thread: 3, so that the owner fills
    /// a block while the thread compresses one and a third waits (docs/journal-design.md,
    /// "Compression pipeline").
    static let pipelineDepth = 3
    private let scratch = GrowableBytes(capacity: 1024)
    private let builder: BlockBuilder
    private var pendingCount: UInt32 = 0
    private var blockFirstSeq: UInt64 = 0
    private var blockLastSeq: UInt64 = 0
    private var blockFirstMono: UInt64 = 0
    private var minWall = Int64.max, maxWall = Int64.min
    private var minEpoch = UInt64.max, maxEpoch = UInt64.min
    private var kinds = KindCounts()
    /// Frames of the pending block, counted apart from ``kinds`` and added to it when the
    /// block is taken: plain integers keep the per-frame path free of array accesses (whose
    /// exclusivity checks cost ~2% of `import`).
    private var inboundFrames: UInt64 = 0, outboundFrames: UInt64 = 0
    private var payloadBytes: UInt64 = 0
    private var pendingLifecycle: [LifecycleRow] = []
    private var pendingSessions: [SessionRow] = []

    // Active segment.
    private var segment: FileDescriptor?
    private var segmentName = ""
    private var segmentSize: UInt64 = 0
    private var segmentFirstMono: UInt64?
    private var segmentBlocks: UInt32 = 0
    private var segmentRecords: UInt64 = 0
    private var segmentFirstSeq: UInt64 = 0
    private var segmentLastSeq: UInt64 = 0
    private var segmentCreatedWall: Int64 = 0
    /// Where the active segment's writeback was last started (``startWritebackIfDue()``).
    private var writebackFrom: UInt64 = 0
    /// With a background sync, writeback of the active segment is started each time this many
    /// bytes were written since the last start (4 MiB), so the next `fdatasync` (the
    /// background one, a seal's, `sync()`'s) waits for less (docs/journal-design.md).
    static let writebackBytes: UInt64 = 4 << 20
    /// The active segment's dictionary (nil: blocks are written with codec 1).
    private var segmentDictionary: SegmentDictionary?
    /// Samples of the blocks written, for the next segment's dictionary.
    private var sampler = DictionarySampler()

    // Index rows not yet committed.
    private var indexBlocks: [BlockIndexRow] = []
    private var indexLifecycle: [LifecycleRow] = []
    private var indexSessions: [SessionRow] = []
    private var indexSegments: [(String, UInt64, Int64, Bool)] = []

    private var lastSeq: UInt64?
    private var closed = false

    /// The sequence number the next record gets when none is given.
    public private(set) var nextSeq: UInt64 = 1
    /// Wall-time backsteps among the indexed blocks, and their latest wall time (see
    /// `JournalIndex.wallBacksteps()`), kept up to date as blocks are indexed.
    private var wallBacksteps: Int64 = 0
    private var indexedMaxWall: Int64?
    /// Every record up to this sequence number has been written to the segment file with
    /// `write(2)`: it survives a crash of this process (not necessarily a power loss).
    public private(set) var writtenThroughSeq: UInt64?
    private var inlineSynced: UInt64?

    /// Every record up to this sequence number has been `fdatasync`ed.
    public var syncedThroughSeq: UInt64? {
        let a = syncer?.synced
        switch (a, inlineSynced) {
        case (nil, let b): return b
        case (let a, nil): return a
        case (let a?, let b?): return max(a, b)
        }
    }

    /// Opens (creating when needed) the journal in `directory` for appending.
    ///
    /// - Parameters:
    ///   - directory: the journal directory; created (one level) if missing.
    ///   - options: block, segment, durability and index settings.
    /// - Throws: ``JournalError`` with code `locked` when another writer holds the journal,
    ///   `unsupportedVersion` for a newer format, `io`/`diskFull`/`index` on failures.
    public init(directory: String, options: JournalWriterOptions = .init()) throws(JournalError) {
        guard options.blockSize >= 256, options.blockSize <= JournalFormat.maxBlockBytes / 2 else {
            throw JournalError(.invalidArgument, "blockSize \(options.blockSize) must be between 256 bytes and \(JournalFormat.maxBlockBytes / 2)")
        }
        guard options.maxRecordBytes + options.blockSize <= JournalFormat.maxBlockBytes else {
            throw JournalError(.invalidArgument, "maxRecordBytes \(options.maxRecordBytes) plus blockSize must stay under \(JournalFormat.maxBlockBytes)")
        }
        self.directory = directory
        self.options = options
        try FS.makeDirectory(directory)
        let entries = try FS.list(directory)
        if !entries.isEmpty, !entries.contains(where: {
            $0 == JournalFormat.indexFileName || $0 == JournalFormat.lockFileName
                || JournalFormat.parseSegmentFileName($0) != nil
        }) {
            throw JournalError(
                .notAJournal,
                "\(directory) is not empty and holds no journal (no segment, index or lock file); "
                    + "write the journal into a new or empty directory",
                path: directory)
        }
        lock = try WriterLock(directory: directory)
        let indexPath = joinPath(directory, JournalFormat.indexFileName)
        var idx: JournalIndex
        do { idx = try JournalIndex(path: indexPath, readOnly: false) } catch where error.code == .index {
            JournalMaintenance.removeIndexFiles(directory)
            idx = try JournalIndex(path: indexPath, readOnly: false)
        }
        index = idx
        let (report, scans) = try JournalMaintenance.recover(directory: directory, index: index)
        recovery = report
        wallBacksteps = try index.wallBacksteps()
        indexedMaxWall = try index.maxWall()
        freeBlocks = [TakenBlock(blockSize: options.blockSize)]
        builder = BlockBuilder(capacity: options.blockSize)
        if let l = report.lastSeq { writtenThroughSeq = l }
        if let used = report.highestSeqUsed {
            // Never reuse a number that a damaged (unreadable) record may hold.
            nextSeq = used &+ 1
            lastSeq = used
        }
        // Continue the newest segment when it is not sealed.
        if let last = scans.last, !last.sealed, last.header != nil, let seq = JournalFormat.parseSegmentFileName(last.name) {
            let path = joinPath(directory, last.name)
            let f = try FileDescriptor.open(path, O_RDWR, what: "reopening segment")
            segment = f
            segmentName = last.name
            segmentSize = last.dataEnd
            writebackFrom = last.dataEnd
            segmentBlocks = last.blockCount
            segmentRecords = last.recordCount
            segmentFirstSeq = last.firstSeq ?? seq
            segmentLastSeq = last.lastSeq ?? 0
            segmentCreatedWall = last.header!.createdWallNanos
            if last.blockCount == 0 { segmentFirstSeq = seq }
            segmentDictionary = try SegmentReader(directory: directory, name: last.name).dictionary
        }
        // Samples for the next segment's dictionary from the blocks already on disk, so a
        // restarted writer needs no warm-up segment (SPEC.md §3.1).
        if options.segmentDictionary { sampler.seed(directory: directory) }
        if case .interval(let ns) = options.durability {
            let s = BackgroundSyncer(intervalNanos: ns)
            s.setFile(segment)
            s.start()
            syncer = s
        }
        if options.compressOnSecondThread {
            let c = CompressionThread(acceleration: options.lz4Acceleration)
            if !options.compressionThreadRuns || c.start() {
                compressor = c
                for _ in 1..<Self.pipelineDepth { freeBlocks.append(TakenBlock(blockSize: options.blockSize)) }
            }
        }
    }

    deinit {
        if !closed { try? close() }
    }

    private func checkOpen() throws(JournalError) {
        if closed { throw JournalError(.closed, "the writer for \(directory) is closed") }
    }

    private func resolveSeq(_ seq: UInt64?) throws(JournalError) -> UInt64 {
        guard let s = seq else {
            if lastSeq == .max {
                throw JournalError(.invalidArgument, "the journal's last sequence number is 18446744073709551615 (2^64-1): no number is left for another record")
            }
            return nextSeq
        }
        if let l = lastSeq, s <= l {
            throw JournalError(.invalidArgument, "sequence number \(s) does not increase (the journal's last record is \(l))")
        }
        return s
    }

    /// Starts a record: writes the pending block first when it is too old for this one.
    @inline(__always)
    private func beginRecord(seq: UInt64, mono: UInt64, size: Int) throws(JournalError) {
        if size > options.maxRecordBytes {
            throw JournalError(.invalidArgument, "a record of \(size) bytes exceeds maxRecordBytes (\(options.maxRecordBytes))")
        }
        if pendingCount > 0 && Int64(bitPattern: mono &- blockFirstMono) >= Int64(options.maxBlockAgeNanos) {
            try flush()
        }
        if pendingCount == 0 {
            blockFirstSeq = seq
            blockFirstMono = mono
            builder.reset(firstSeq: seq)
        }
    }

    @inline(__always)
    private func endRecord(kind: RecordKind, seq: UInt64, epoch: UInt64, wall: Int64) throws(JournalError) {
        pendingCount += 1
        blockLastSeq = seq
        lastSeq = seq
        nextSeq = seq &+ 1
        if wall < minWall { minWall = wall }
        if wall > maxWall { maxWall = wall }
        if epoch < minEpoch { minEpoch = epoch }
        if epoch > maxEpoch { maxEpoch = epoch }
        switch kind {
        case .inboundFrame: inboundFrames += 1
        case .outboundFrame: outboundFrames += 1
        default: kinds[kind] += 1
        }
        if let c = compressor {
            // Write blocks compressed on the other thread as soon as they are ready, in order.
            if let head = inFlight.first, head.isCompressed { try writeCompressedBlocks() }
            if builder.rawCount >= options.blockSize {
                if let e = syncer?.takeFailure() { throw e }
                // All buffers in flight: compress the oldest queued block here (or wait for
                // the oldest one) and write what is done, until a buffer is free.
                while freeBlocks.isEmpty {
                    c.finish(inFlight[0])
                    try writeCompressedBlocks()
                }
                let t = freeBlocks.removeLast()
                takePending(into: t)
                inFlight.append(t)
                c.submit(t)
            }
        } else if builder.rawCount >= options.blockSize {
            try flush()
        }
    }

    /// Appends a data frame without copying the payload into an intermediate array.
    ///
    /// - Parameters:
    ///   - direction: inbound or outbound.
    ///   - opcode: text or binary.
    ///   - payload: the message bytes.
    ///   - epoch: the connection epoch.
    ///   - at: when it was received or sent.
    ///   - seq: an explicit sequence number (must exceed the last one); nil assigns ``nextSeq``.
    /// - Returns: the record's sequence number.
    /// - Throws: ``JournalError`` (`invalidArgument` for a bad seq or oversized payload;
    ///   `io`/`diskFull` when a block write fails — the record stays pending, retry later).
    @discardableResult
    public func appendFrame(
        direction: FrameDirection, opcode: FrameOpcode, payload: UnsafeRawBufferPointer, epoch: UInt64,
        at: ReceiveTimestamp, seq: UInt64? = nil
    ) throws(JournalError) -> UInt64 {
        try checkOpen()
        let s = try resolveSeq(seq)
        try beginRecord(seq: s, mono: at.monotonicNanos, size: payload.count)
        builder.addFrame(
            direction: direction, binary: opcode == .binary, payload: payload, seq: s, epoch: epoch,
            wall: at.wallNanos, mono: at.monotonicNanos)
        payloadBytes += UInt64(payload.count)
        try endRecord(kind: direction == .inbound ? .inboundFrame : .outboundFrame, seq: s, epoch: epoch, wall: at.wallNanos)
        return s
    }

    /// Appends any record. Session and connect records are redacted here (secret headers,
    /// query values and URL user info never reach the disk).
    ///
    /// - Parameters:
    ///   - body: what to record.
    ///   - epoch: the connection epoch.
    ///   - at: the record's wall and monotonic time.
    ///   - seq: an explicit sequence number (must exceed the last one); nil assigns ``nextSeq``.
    /// - Returns: the record's sequence number.
    /// - Throws: ``JournalError``, as for ``appendFrame(direction:opcode:payload:epoch:at:seq:)``.
    @discardableResult
    public func append(_ body: RecordBody, epoch: UInt64, at: ReceiveTimestamp, seq: UInt64? = nil) throws(JournalError) -> UInt64 {
        if case .frame(let d, let op, let payload) = body {
            var result: Result<UInt64, JournalError> = .success(0)
            payload.withUnsafeBytes { p in
                result = Result { () throws(JournalError) -> UInt64 in
                    try appendFrame(direction: d, opcode: op, payload: p, epoch: epoch, at: at, seq: seq)
                }
            }
            return try result.get()
        }
        try checkOpen()
        let s = try resolveSeq(seq)
        var b = body
        switch body {
        case .session(let e): b = .session(e.redacted)
        case .connect(var e):
            e.url = e.url.map(Redaction.redact(url:))
            b = .connect(e)
        default: break
        }
        let flags = RecordCodec.encodeBody(b, into: scratch)
        try beginRecord(seq: s, mono: at.monotonicNanos, size: scratch.count)
        builder.addEncoded(kind: b.kind.rawValue, flags: flags, body: scratch.bytes, seq: s, epoch: epoch, wall: at.wallNanos, mono: at.monotonicNanos)
        switch b {
        case .lifecycle(let e):
            pendingLifecycle.append(LifecycleRow(seq: s, epoch: epoch, wall: at.wallNanos, mono: at.monotonicNanos, edge: e))
        case .session(let e):
            pendingSessions.append(SessionRow(seq: s, epoch: epoch, wall: at.wallNanos, phase: e.phase, url: e.url, message: e.message))
        default: break
        }
        try endRecord(kind: b.kind, seq: s, epoch: epoch, wall: at.wallNanos)
        return s
    }

    /// Appends a record with its own sequence number, epoch and times (used by `import`).
    /// - Throws: ``JournalError`` when `record.seq` does not exceed the last sequence number.
    public func append(_ record: JournalRecord) throws(JournalError) {
        try append(
            record.body, epoch: record.epoch, at: ReceiveTimestamp(wallNanos: record.wallNanos, monotonicNanos: record.monoNanos),
            seq: record.seq)
    }

    /// Writes the pending block when its first record is older than the maximum block age at
    /// monotonic time `monoNanos`. Call it on a timer when the feed may go quiet.
    /// - Throws: ``JournalError`` when the write fails.
    public func flushIfDue(monoNanos: UInt64) throws(JournalError) {
        try checkOpen()
        try writeInFlight()
        if pendingCount > 0 && Int64(bitPattern: monoNanos &- blockFirstMono) >= Int64(options.maxBlockAgeNanos) {
            try flush()
        }
    }

    /// Compresses and writes the pending block now (if any), rotating the segment first when
    /// it is full or old. On failure the file is cut back to its previous length and the
    /// records stay pending, so a later call can retry.
    /// - Throws: ``JournalError`` (`diskFull`, `io`, `index`).
    public func flush() throws(JournalError) {
        // A failed background sync is reported at the next block write.
        if let e = syncer?.takeFailure() { throw e }
        try writeInFlight()
        guard pendingCount > 0 else { return }
        let t = freeBlocks.removeLast()
        takePending(into: t)
        t.compressHere(acceleration: options.lz4Acceleration)  // in flight and compressed
        inFlight.append(t)
        try write(t)
    }

    /// Moves the pending records into `t` (assembled, with their summary) and starts an
    /// empty pending block. `t` must be free (taken from ``freeBlocks``).
    private func takePending(into t: TakenBlock) {
        builder.assemble(into: t.raw)
        t.dictionary = segmentDictionary
        t.summary = BlockHeader(
            codec: 0, storedLength: 0, rawLength: 0, recordCount: pendingCount, payloadCRC: 0,
            firstSeq: blockFirstSeq, lastSeq: blockLastSeq, minWall: minWall, maxWall: maxWall,
            minEpoch: minEpoch, maxEpoch: maxEpoch)
        t.firstMono = blockFirstMono
        kinds[.inboundFrame] += inboundFrames
        kinds[.outboundFrame] += outboundFrames
        t.kinds = kinds
        t.payloadBytes = payloadBytes
        t.lifecycle.removeAll(keepingCapacity: true)
        t.lifecycle += pendingLifecycle
        t.sessions.removeAll(keepingCapacity: true)
        t.sessions += pendingSessions
        // Reset the pending block.
        pendingLifecycle.removeAll(keepingCapacity: true)
        pendingSessions.removeAll(keepingCapacity: true)
        pendingCount = 0
        builder.reset(firstSeq: 0)
        builder.shrink(to: options.blockSize)
        minWall = .max; maxWall = .min; minEpoch = .max; maxEpoch = .min
        kinds = KindCounts()
        inboundFrames = 0
        outboundFrames = 0
        payloadBytes = 0
    }

    /// Writes every block in flight, in order, finishing their compression first (here when
    /// the thread has not started one). On failure the block stays in flight, so a later call
    /// retries it.
    private func writeInFlight() throws(JournalError) {
        while let head = inFlight.first {
            compressor?.finish(head)
            try write(head)
        }
    }

    /// Writes the blocks in flight that are compressed, oldest first, up to the first that
    /// is not.
    private func writeCompressedBlocks() throws(JournalError) {
        while let head = inFlight.first, head.isCompressed { try write(head) }
    }

    /// Writes `t` (the oldest block in flight), rotating the segment first when it is full or
    /// old, and returns its buffer to ``freeBlocks``. On failure the file is cut back to its
    /// previous length and `t` stays in flight.
    private func write(_ t: TakenBlock) throws(JournalError) {
        assert(t === inFlight.first)
        let h = t.summary
        let estimate = UInt64(JournalFormat.blockHeaderSize + t.raw.count)
        if segment != nil, segmentBlocks > 0 {
            let tooBig = segmentSize + estimate + UInt64(JournalFormat.sealSize) > options.maxSegmentBytes
            let tooOld = segmentFirstMono.map { Int64(bitPattern: t.firstMono &- $0) >= Int64(options.maxSegmentAgeNanos) } ?? false
            // A segment without a dictionary ends once the next one can have one.
            let dictionaryReady = options.segmentDictionary && segmentDictionary == nil && sampler.isReady
                && segmentSize >= options.dictionaryWarmupBytes
            if tooBig || tooOld || dictionaryReady { try sealSegment() }
        }
        if segment == nil { try createSegment(firstSeq: h.firstSeq, minWall: h.minWall) }
        if t.compressedWith !== segmentDictionary {
            // Compressed for the segment before the rotation: compress for this one.
            t.dictionary = segmentDictionary
            t.compress(acceleration: options.lz4Acceleration)
        }
        let storedCount = Int(t.header.storedLength)
        let f = segment!
        do throws(JournalError) {
            try f.write(t.out.bytes, at: segmentSize)
        } catch {
            try? f.truncate(to: segmentSize)
            throw error
        }
        let offset = segmentSize
        segmentSize += UInt64(t.out.count)
        if options.segmentDictionary { sampler.sample(block: t.raw.bytes) }
        if segmentBlocks == 0 { segmentFirstSeq = h.firstSeq }
        if segmentFirstMono == nil { segmentFirstMono = t.firstMono }
        segmentBlocks += 1
        segmentRecords += UInt64(h.recordCount)
        segmentLastSeq = h.lastSeq
        writtenThroughSeq = h.lastSeq
        indexBlocks.append(BlockIndexRow(
            firstSeq: h.firstSeq, lastSeq: h.lastSeq, segment: segmentName, offset: offset,
            storedLength: UInt32(storedCount), rawLength: UInt32(t.raw.count), recordCount: h.recordCount,
            minWall: h.minWall, maxWall: h.maxWall, minEpoch: h.minEpoch, maxEpoch: h.maxEpoch, kinds: t.kinds,
            payloadBytes: t.payloadBytes))
        indexLifecycle += t.lifecycle
        indexSessions += t.sessions
        inFlight.removeFirst()
        freeBlocks.append(t)
        t.raw.clear()
        if t.raw.capacity > 2 * (options.blockSize + 4096) { t.dictionaryCompressor.trim(to: options.blockSize + 4096) }
        t.raw.shrink(to: options.blockSize + 4096)
        t.out.shrink(to: options.blockSize + options.blockSize / 255 + 4096)
        switch options.durability {
        case .everyBlock:
            try f.sync()
            inlineSynced = h.lastSeq
        case .interval:
            syncer?.markDirty(h.lastSeq)
            if segmentSize - writebackFrom >= Self.writebackBytes {
                f.startWriteback(from: writebackFrom, count: segmentSize - writebackFrom)
                writebackFrom = segmentSize
            }
        case .never: break
        }
        if indexBlocks.count >= options.indexBatchBlocks { try commitIndex() }
    }

    /// Commits pending index rows in one transaction.
    private func commitIndex() throws(JournalError) {
        guard !indexBlocks.isEmpty || !indexSegments.isEmpty else { return }
        try index.begin()
        do throws(JournalError) {
            for s in indexSegments { try index.addSegment(fileName: s.0, firstSeq: s.1, createdWall: s.2, sealed: s.3) }
            for b in indexBlocks {
                try index.add(b)
                if let m = indexedMaxWall, b.minWall < m { wallBacksteps += 1 }
                indexedMaxWall = max(indexedMaxWall ?? b.maxWall, b.maxWall)
            }
            if let last = indexBlocks.last { try index.storeWallBacksteps(wallBacksteps, throughSeq: last.lastSeq) }
            for l in indexLifecycle { try index.add(l) }
            for s in indexSessions { try index.add(s) }
            try index.commit()
        } catch {
            index.rollback()
            throw error
        }
        indexSegments.removeAll(keepingCapacity: true)
        indexBlocks.removeAll(keepingCapacity: true)
        indexLifecycle.removeAll(keepingCapacity: true)
        indexSessions.removeAll(keepingCapacity: true)
    }

    private func createSegment(firstSeq blockFirstSeq: UInt64, minWall: Int64) throws(JournalError) {
        let name = JournalFormat.segmentFileName(firstSeq: blockFirstSeq)
        let path = joinPath(directory, name)
        let created = minWall == .max ? 0 : minWall
        // O_EXCL: a writer never overwrites a file it did not create in this run.
        let f = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, what: "creating segment")
        let dictionary = options.segmentDictionary ? sampler.dictionary() : nil
        // The header and the dictionary record in one write.
        let header = SegmentHeader(firstSeq: blockFirstSeq, createdWallNanos: created).encode() + (dictionary?.record() ?? [])
        do throws(JournalError) {
            try writeAll(header, f, at: 0)
        } catch {
            FS.remove(path)
            throw error
        }
        FS.syncDirectory(directory)
        segment = f
        segmentName = name
        segmentSize = UInt64(header.count)
        writebackFrom = 0
        segmentBlocks = 0
        segmentRecords = 0
        segmentFirstSeq = blockFirstSeq
        segmentLastSeq = 0
        segmentFirstMono = nil
        segmentCreatedWall = created
        segmentDictionary = dictionary
        indexSegments.append((name, blockFirstSeq, created, false))
        syncer?.setFile(f)
    }

    /// Seals the active segment: writes the seal, syncs (unless durability is `never`),
    /// marks it read-only and closes it.
    private func sealSegment() throws(JournalError) {
        guard let f = segment else { return }
        let seal = SegmentSeal(
            blockCount: segmentBlocks, recordCount: segmentRecords, firstSeq: segmentBlocks > 0 ? segmentFirstSeq : 0,
            lastSeq: segmentLastSeq, dataEnd: segmentSize).encode()
        do throws(JournalError) {
            try writeAll(seal, f, at: segmentSize)
        } catch {
            try? f.truncate(to: segmentSize)
            throw error
        }
        if options.durability != .never {
            try f.sync()
            if segmentBlocks > 0 { inlineSynced = segmentLastSeq; syncer?.noteSynced(segmentLastSeq) }
        }
        _ = fchmod(f.fd, 0o444)
        indexSegments.append((segmentName, JournalFormat.parseSegmentFileName(segmentName) ?? segmentFirstSeq, segmentCreatedWall, true))
        syncer?.setFile(nil)
        segment = nil
        segmentDictionary = nil
        try commitIndex()
    }

    /// Writes the pending block, commits the index and syncs the active segment now.
    /// - Throws: ``JournalError`` on failure.
    public func sync() throws(JournalError) {
        try checkOpen()
        try flush()
        try commitIndex()
        if let f = segment, let w = writtenThroughSeq {
            try f.sync()
            inlineSynced = w
            syncer?.noteSynced(w)
        }
    }

    /// Writes the pending block, seals the active segment, commits the index, stops the
    /// sync thread and releases the lock. The writer cannot be used afterwards.
    /// - Throws: ``JournalError`` when the final writes fail (the journal stays readable and
    ///   the next writer recovers it).
    public func close() throws(JournalError) {
        guard !closed else { return }
        defer {
            closed = true
            compressor?.stop()
            compressor = nil
            syncer?.stop()
            syncer = nil
            lock = nil
        }
        try flush()
        try sealSegment()
        try commitIndex()
    }
}

/// Writes an array with `pwrite`, typed-throwing.
func writeAll(_ bytes: [UInt8], _ f: FileDescriptor, at offset: UInt64) throws(JournalError) {
    var result: Result<Void, JournalError> = .success(())
    bytes.withUnsafeBytes { b in result = Result { () throws(JournalError) in try f.write(b, at: offset) } }
    try result.get()
}
