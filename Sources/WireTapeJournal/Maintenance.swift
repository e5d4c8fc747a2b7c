#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What recovery, repair or reindex did to a journal.
public struct RecoveryReport: Sendable, CustomStringConvertible {
    /// A torn tail cut off a segment.
    public struct Truncation: Sendable, Hashable {
        /// The segment file.
        public var path: String
        /// The new length of the file (where the torn bytes started).
        public var offset: UInt64
        /// How many bytes were removed.
        public var bytesRemoved: UInt64
        /// Why the bytes were invalid.
        public var why: String
    }
    /// Torn tails truncated.
    public var truncations: [Truncation] = []
    /// Damage in the middle of segments that was left in place (readers skip it).
    public var damage: [JournalProblem] = []
    /// Records that only the index knew of (their segment vanished) and that the rebuilt
    /// index no longer lists, one ``JournalError/Code/missingRecords`` problem per segment.
    public var givenUp = GivenUpRecords()
    /// Block rows added to the index (blocks the index had not recorded yet).
    public var blocksIndexed = 0
    /// Block rows removed from the index (blocks that no longer exist or were truncated).
    public var blockRowsRemoved = 0
    /// Whether the index was rebuilt from scratch.
    public var rebuiltIndex = false
    /// Valid blocks and records found in the segments scanned.
    public var blocksScanned = 0, recordsScanned: UInt64 = 0
    /// The last sequence number in the journal after recovery, if any.
    public var lastSeq: UInt64?
    /// The highest sequence number that any record in the segments may hold, readable or
    /// not: the last readable record, the ranges of damaged blocks, and the first record of a
    /// segment that holds damage. A writer numbers new records after it, so that no record
    /// ever reuses the number of one it could not read.
    public var highestSeqUsed: UInt64?

    /// Whether nothing had to be done and nothing is damaged.
    public var isClean: Bool { truncations.isEmpty && damage.isEmpty && givenUp.problems.isEmpty && blockRowsRemoved == 0 }

    /// One line per action, for people.
    public var description: String {
        var lines: [String] = []
        for t in truncations {
            lines.append("truncated \(t.path) at byte \(t.offset), removing \(t.bytesRemoved) bytes of a torn tail (\(t.why))")
        }
        for d in damage { lines.append("damaged, left in place (readers skip it): \(d)") }
        lines += givenUp.lines
        if rebuiltIndex { lines.append("rebuilt the index from \(blocksScanned) blocks, \(recordsScanned) records") }
        else if blocksIndexed > 0 { lines.append("indexed \(blocksIndexed) blocks missing from the index") }
        if blockRowsRemoved > 0 { lines.append("removed \(blockRowsRemoved) index rows for blocks that no longer exist") }
        if lines.isEmpty { lines.append("nothing to do: \(blocksScanned) blocks scanned, all valid") }
        return lines.joined(separator: "\n")
    }
}

/// Records a repair gives up because no file holds them any more, merged per segment.
public struct GivenUpRecords: Sendable {
    /// One ``JournalError/Code/missingRecords`` problem per segment, with the records' range.
    public private(set) var problems: [JournalProblem] = []

    /// An empty list.
    public init() {}

    /// Adds a block's records; a block of the same segment as the last one widens its range.
    public mutating func add(_ p: JournalProblem) {
        if let last = problems.last, let merged = Self.merge(last, p) {
            problems[problems.count - 1] = merged
        } else {
            problems.append(p)
        }
    }

    /// `a` with its record range widened to cover `b`'s, when both name the same segment and
    /// a range; otherwise `nil`.
    static func merge(_ a: JournalProblem, _ b: JournalProblem) -> JournalProblem? {
        guard a.path == b.path, let x = a.lostSeqs, let y = b.lostSeqs else { return nil }
        var m = a
        m.lostSeqs = min(x.lowerBound, y.lowerBound)...max(x.upperBound, y.upperBound)
        return m
    }

    /// `gave up records A...B: PATH: why`, one line per segment.
    public var lines: [String] {
        problems.compactMap { p in
            p.lostSeqs.map { "gave up records \($0.lowerBound)...\($0.upperBound): \(p.path): \(p.message.prefix { $0 != ";" })" }
        }
    }
}

/// A validated block with everything the index needs.
struct ScannedBlock {
    var header: BlockHeader
    var row: BlockIndexRow
    var lifecycle: [LifecycleRow] = []
    var sessions: [SessionRow] = []
}

/// The state of one segment after a full scan.
struct SegmentScanResult {
    var name: String
    var header: SegmentHeader?
    var sealed = false
    /// Where valid data ends (the start of a torn tail, or the seal, or the file end).
    var dataEnd: UInt64
    var blockCount: UInt32 = 0
    var recordCount: UInt64 = 0
    var firstSeq: UInt64?
    var lastSeq: UInt64?
    /// The last sequence number the segment's seal names, when it is sealed.
    var sealLastSeq: UInt64?
    var torn: (offset: UInt64, why: String)?
    var damage: [JournalProblem] = []
}

enum Scanner {
    /// Decodes a block whose payload is in `r.rawBytes` and was validated into `contents`.
    static func describe(_ h: BlockHeader, at offset: UInt64, in r: SegmentReader, contents: BlockContents, wantRows: Bool) -> ScannedBlock {
        var b = ScannedBlock(
            header: h,
            row: BlockIndexRow(
                firstSeq: h.firstSeq, lastSeq: h.lastSeq, segment: r.name, offset: offset, storedLength: h.storedLength,
                rawLength: h.rawLength, recordCount: h.recordCount, minWall: h.minWall, maxWall: h.maxWall,
                minEpoch: h.minEpoch, maxEpoch: h.maxEpoch, kinds: contents.kinds, payloadBytes: contents.payloadBytes))
        guard wantRows, contents.kinds[.lifecycle] + contents.kinds[.session] > 0 else { return b }
        let raw = r.rawBytes
        for head in contents.heads where head.kindByte == RecordKind.lifecycle.rawValue || head.kindByte == RecordKind.session.rawValue {
            switch try? RecordCodec.decodeBody(head, in: raw) {
            case .lifecycle(let e)?:
                b.lifecycle.append(LifecycleRow(seq: head.seq, epoch: head.epoch, wall: head.wall, mono: head.mono, edge: e))
            case .session(let e)?:
                b.sessions.append(SessionRow(seq: head.seq, epoch: head.epoch, wall: head.wall, phase: e.phase, url: e.url, message: e.message))
            default: break
            }
        }
        return b
    }

    /// Scans a whole segment, validating every block (checksums and records) and calling
    /// `onBlock` for each valid one in order. Blocks whose sequence numbers do not increase
    /// are reported as damage and not passed on.
    static func scan(
        directory: String, name: String, previousLastSeq: UInt64?, wantRows: Bool,
        onBlock: (ScannedBlock) throws(JournalError) -> Void
    ) throws(JournalError) -> SegmentScanResult {
        let r = try SegmentReader(directory: directory, name: name)
        var result = SegmentScanResult(name: name, header: r.header, dataEnd: r.size)
        if let why = r.headerProblem {
            result.damage.append(JournalProblem(code: .corruptSegment, path: r.path, offset: 0, message: why))
        }
        if r.size < UInt64(JournalFormat.segmentHeaderSize) {
            result.torn = (0, "the file is shorter than a segment header")
            result.dataEnd = 0
            return result
        }
        var offset = r.dataStart
        var contents = BlockContents()
        var last = previousLastSeq
        scanning: while true {
            switch try r.item(at: offset) {
            case .block(let h, let at):
                let end = at + 80 + UInt64(h.storedLength)
                if let l = last, h.firstSeq <= l {
                    result.damage.append(JournalProblem(
                        code: .outOfOrder, path: r.path, offset: at,
                        message: "block with records \(h.firstSeq)...\(h.lastSeq) comes after record \(l) (blocks out of order)",
                        lostSeqs: h.firstSeq...h.lastSeq))
                } else if let why = try r.loadPayload(h, at: at) ?? contents.validate(r.rawBytes, header: h) {
                    result.damage.append(JournalProblem(
                        code: .corruptBlock, path: r.path, offset: at, message: "block of records \(h.firstSeq)...\(h.lastSeq): \(why)",
                        lostSeqs: h.firstSeq...h.lastSeq))
                } else {
                    try onBlock(describe(h, at: at, in: r, contents: contents, wantRows: wantRows))
                    result.blockCount += 1
                    result.recordCount += UInt64(h.recordCount)
                    if result.firstSeq == nil { result.firstSeq = h.firstSeq }
                    result.lastSeq = h.lastSeq
                    last = h.lastSeq
                    if h.rawLength > 1 << 20 { r.trimBuffers() }
                }
                offset = end
            case .seal(let seal, let at):
                result.sealed = true
                if seal.recordCount > 0 { result.sealLastSeq = seal.lastSeq }
                result.dataEnd = at
                break scanning
            case .end(let at):
                result.dataEnd = at
                break scanning
            case .torn(let at, let why):
                result.torn = (at, why)
                result.dataEnd = at
                break scanning
            case .corrupt(let at, let why, let resume):
                result.damage.append(JournalProblem(code: .corruptBlock, path: r.path, offset: at, message: "\(why); \(resume - at) bytes unreadable"))
                offset = resume
            }
        }
        return result
    }
}

/// Holds the journal's writer lock (an exclusive `flock` on `writer.lock`) while alive.
final class WriterLock {
    let fd: Int32
    let path: String

    init(directory: String) throws(JournalError) {
        path = joinPath(directory, JournalFormat.lockFileName)
        let fd = try FileDescriptor.openRegular(path, O_RDWR | O_CREAT, what: "opening the lock file")
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            close(fd)
            if e == EWOULDBLOCK {
                let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "?" : "?"
                throw JournalError(
                    .locked,
                    "another writer (pid \(pid)) holds \(path); one writer per journal: stop it, or read the journal with `wiretape cat` meanwhile",
                    path: path)
            }
            throw JournalError.system("flock", path: path, errno: e, what: "locking")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }  // closing the descriptor releases the flock
}

/// Recovery, repair, reindex and verification of a journal directory.
public enum JournalMaintenance {
    /// Brings the index up to date with the segments after a crash, and truncates a torn tail
    /// of unsealed segments. Scans only what the index does not cover (plus the newest
    /// segment), unless the index disagrees with the segments, in which case it is rebuilt.
    static func recover(directory: String, index: JournalIndex, progress: ScanProgress? = nil) throws(JournalError) -> (RecoveryReport, [SegmentScanResult]) {
        var report = RecoveryReport()
        let segments = try listSegments(directory)
        let meter = ScanMeter(directory: directory, segments: segments, report: progress)
        let known = Set(segments.map(\.name))
        // Rows for segments that vanished.
        var removed = 0
        var lastRow = try index.lastBlock()
        // Records the index saw written stay reserved even when their blocks are now unreadable.
        if let l = lastRow?.lastSeq { report.highestSeqUsed = l }
        var rebuild = false
        let indexed = try index.segments()
        if indexed.contains(where: { !known.contains($0.name) }) {
            rebuild = true
            // The index is the only witness of the records in a vanished segment: name them
            // before the rebuild forgets them.
            try index.forEachBlock { row in
                guard !known.contains(row.segment) else { return }
                report.givenUp.add(JournalProblem(code: .missingRecords, path: joinPath(directory, row.segment), offset: row.offset, message: "the segment is missing", lostSeqs: row.firstSeq...row.lastSeq))
            }
        }
        if let row = lastRow {
            if !known.contains(row.segment) {
                rebuild = true
            } else if let r = try? SegmentReader(directory: directory, name: row.segment),
                case .block(let h, _) = try r.item(at: row.offset), h.firstSeq == row.firstSeq, h.lastSeq == row.lastSeq,
                (try r.loadPayload(h, at: row.offset)) == nil
            {
            } else {
                rebuild = true
            }
        }
        if rebuild {
            try index.begin()
            var n = 0
            try index.forEachBlock { _ in n += 1 }
            removed = n
            try index.db.exec("DELETE FROM blocks; DELETE FROM lifecycle_edges; DELETE FROM sessions; DELETE FROM segments;")
            try index.commit()
            lastRow = nil
            report.rebuiltIndex = true
        }
        let high = lastRow?.lastSeq
        let startName = lastRow?.segment
        var results: [SegmentScanResult] = []
        var previous: UInt64?
        try index.begin()
        do throws(JournalError) {
            for (i, seg) in segments.enumerated() {
                defer { meter.finished(segment: i) }
                let isLast = i == segments.count - 1
                // Segments wholly before the indexed high-water mark are trusted; the newest
                // segment is always scanned so that the writer knows its counts.
                if let s = startName, seg.name < s, !isLast { continue }
                let res = try Scanner.scan(directory: directory, name: seg.name, previousLastSeq: previous, wantRows: true) {
                    (b: ScannedBlock) throws(JournalError) in
                    meter.reached(segment: i, offset: b.row.end)
                    if let h = high, b.row.firstSeq <= h { return }
                    try index.add(b.row)
                    for l in b.lifecycle { try index.add(l) }
                    for s in b.sessions { try index.add(s) }
                    report.blocksIndexed += 1
                }
                report.blocksScanned += Int(res.blockCount)
                report.recordsScanned += res.recordCount
                let path0 = joinPath(directory, seg.name)
                if !res.sealed, res.blockCount == 0, res.damage.allSatisfy({ $0.code == .corruptSegment }),
                    res.header == nil ? (FS.fileSize(path0) ?? 0) < UInt64(JournalFormat.segmentHeaderSize) : true
                {
                    // A segment that holds no block: created just before a crash. Remove it so
                    // that the next block starts a segment named after its own first record.
                    let size = FS.fileSize(path0) ?? 0
                    FS.remove(path0)
                    FS.syncDirectory(directory)
                    if size > UInt64(JournalFormat.segmentHeaderSize) || res.header == nil {
                        report.truncations.append(.init(path: path0, offset: 0, bytesRemoved: size, why: "a segment without any complete block was removed"))
                    }
                    try index.db.exec("DELETE FROM segments WHERE file_name = '\(seg.name)'")
                    continue
                }
                report.damage += res.damage
                var used = res.lastSeq
                if let l = res.sealLastSeq { used = max(used ?? 0, l) }
                for d in res.damage { if let r = d.lostSeqs { used = max(used ?? 0, r.upperBound) } }
                if !res.damage.isEmpty || res.blockCount > 0 { used = max(used ?? 0, seg.firstSeq) }
                if let u = used { report.highestSeqUsed = max(report.highestSeqUsed ?? 0, u) }
                if let t = res.torn, !res.sealed {
                    let path = joinPath(directory, seg.name)
                    let f = try FileDescriptor.open(path, O_RDWR, what: "opening for recovery")
                    let size = try f.size()
                    try f.truncate(to: t.offset)
                    try f.sync()
                    report.truncations.append(.init(path: path, offset: t.offset, bytesRemoved: size - t.offset, why: t.why))
                }
                if let l = res.lastSeq { previous = l; report.lastSeq = l }
                if let h = res.header {
                    try index.addSegment(fileName: seg.name, firstSeq: seg.firstSeq, createdWall: h.createdWallNanos, sealed: res.sealed)
                }
                results.append(res)
            }
            if let l = report.lastSeq ?? high {
                let before = try countRows(index)
                try index.deleteFrom(seq: l + 1)
                removed += before - (try countRows(index))
            } else {
                try index.deleteFrom(seq: 0)
            }
            try index.commit()
        } catch {
            index.rollback()
            throw error
        }
        if report.lastSeq == nil, let h = high { report.lastSeq = h }
        if let l = report.lastSeq { report.highestSeqUsed = max(report.highestSeqUsed ?? 0, l) }
        report.blockRowsRemoved = rebuild ? 0 : removed
        return (report, results)
    }

    static func countRows(_ index: JournalIndex) throws(JournalError) -> Int {
        let s = try index.db.prepare("SELECT count(*) FROM blocks")
        _ = try s.step()
        return Int(s.int(0))
    }

    /// Recovers a journal after a crash: truncates torn tails of unsealed segments, reports
    /// damage in the middle (left in place; readers skip it) and rebuilds the index.
    ///
    /// Takes the writer lock, so it fails with ``JournalError/Code/locked`` while a writer runs.
    /// - Parameter progress: told the bytes scanned after each block.
    /// - Throws: ``JournalError`` on I/O failure or when the journal is locked.
    public static func repair(directory: String, progress: ScanProgress? = nil) throws(JournalError) -> RecoveryReport {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        let lock = try WriterLock(directory: directory)
        defer { withExtendedLifetime(lock) {} }
        let indexPath = joinPath(directory, JournalFormat.indexFileName)
        var report: RecoveryReport
        do {
            let index = try JournalIndex(path: indexPath, readOnly: false)
            (report, _) = try recover(directory: directory, index: index, progress: progress)
        } catch where error.code == .index {
            // An unreadable index file: start over.
            removeIndexFiles(directory)
            let index = try JournalIndex(path: indexPath, readOnly: false)
            (report, _) = try recover(directory: directory, index: index, progress: progress)
            report.rebuiltIndex = true
        }
        return report
    }

    /// Truncates the segments older than the newest that ``verify(directory:progress:)``
    /// found cut short (a `tornTail` problem in a segment followed by others: a file truncated
    /// or copied partly after it was complete) at their last good block, so that the journal
    /// is consistent again. Recovery after a crash never looks there: writers append only to
    /// the newest segment.
    ///
    /// The records after the cut are lost either way; the caller reports them (`verify`'s
    /// ``JournalError/Code/missingRecords`` problems name them when the index knew them) and
    /// rebuilds the index. Takes the writer lock.
    /// - Parameter problems: a fresh `verify` report's problems.
    /// - Returns: what was cut, one entry per segment.
    public static func truncateCutSegments(directory: String, problems: [JournalProblem]) throws(JournalError) -> [RecoveryReport.Truncation] {
        let segments = try listSegments(directory).map { joinPath(directory, $0.name) }
        guard let newest = segments.last else { return [] }
        let cut = problems.filter { $0.code == .tornTail && $0.path != newest && segments.contains($0.path) }
        guard !cut.isEmpty else { return [] }
        let lock = try WriterLock(directory: directory)
        defer { withExtendedLifetime(lock) {} }
        var done: [RecoveryReport.Truncation] = []
        for p in cut {
            let f = try FileDescriptor.open(p.path, O_RDWR, what: "opening a cut-short segment for repair")
            let size = try f.size()
            guard p.offset < size else { continue }
            try f.truncate(to: p.offset)
            try f.sync()
            done.append(.init(path: p.path, offset: p.offset, bytesRemoved: size - p.offset, why: "the segment was cut short; it is not the newest, so these were the remains of a partly copied or truncated file"))
        }
        return done
    }

    static func removeIndexFiles(_ directory: String) {
        let p = joinPath(directory, JournalFormat.indexFileName)
        FS.remove(p); FS.remove(p + "-wal"); FS.remove(p + "-shm")
    }

    /// Rebuilds the index from the segments alone (the index is derived data).
    ///
    /// Builds into a temporary file and renames it over the old index. Takes the writer lock.
    /// - Parameter progress: told the bytes scanned after each block.
    /// - Throws: ``JournalError`` on I/O failure or when the journal is locked.
    public static func reindex(directory: String, progress: ScanProgress? = nil) throws(JournalError) -> RecoveryReport {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        let lock = try WriterLock(directory: directory)
        defer { withExtendedLifetime(lock) {} }
        let tmp = joinPath(directory, "index.sqlite.rebuild")
        FS.remove(tmp); FS.remove(tmp + "-wal"); FS.remove(tmp + "-shm")
        var report = RecoveryReport()
        report.rebuiltIndex = true
        do {
            let index = try JournalIndex(path: tmp, readOnly: false)
            try index.begin()
            var previous: UInt64?
            var pending = 0
            let segments = try listSegments(directory)
            let meter = ScanMeter(directory: directory, segments: segments, report: progress)
            for (i, seg) in segments.enumerated() {
                defer { meter.finished(segment: i) }
                let res = try Scanner.scan(directory: directory, name: seg.name, previousLastSeq: previous, wantRows: true) {
                    (b: ScannedBlock) throws(JournalError) in
                    meter.reached(segment: i, offset: b.row.end)
                    try index.add(b.row)
                    for l in b.lifecycle { try index.add(l) }
                    for s in b.sessions { try index.add(s) }
                    pending += 1
                    if pending >= 4096 {
                        try index.commit()
                        try index.begin()
                        pending = 0
                    }
                }
                if let h = res.header {
                    try index.addSegment(fileName: seg.name, firstSeq: seg.firstSeq, createdWall: h.createdWallNanos, sealed: res.sealed)
                }
                if let t = res.torn {
                    report.damage.append(JournalProblem(code: .tornTail, path: joinPath(directory, seg.name), offset: t.offset, message: "torn tail: \(t.why) (not truncated by reindex; run `wiretape repair`)"))
                }
                report.damage += res.damage
                report.blocksScanned += Int(res.blockCount)
                report.recordsScanned += res.recordCount
                if let l = res.lastSeq { previous = l; report.lastSeq = l }
            }
            if let last = report.lastSeq { try index.storeWallBacksteps(try index.countWallBacksteps(), throughSeq: last) }
            // Rows may have been added between others: recompute what the triggers derived.
            try index.db.exec(JournalIndex.rebuildMarks)
            try index.commit()
            try index.db.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        report.blocksIndexed = report.blocksScanned
        removeIndexFiles(directory)
        try FS.rename(tmp, joinPath(directory, JournalFormat.indexFileName))
        FS.remove(tmp + "-wal"); FS.remove(tmp + "-shm")
        FS.syncDirectory(directory)
        return report
    }
}
