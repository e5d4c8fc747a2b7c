/// The result of ``JournalMaintenance/verify(directory:)``.
public struct VerifyReport: Sendable, CustomStringConvertible {
    /// Segments, valid blocks and records checked.
    public var segments = 0, blocks = 0, records: UInt64 = 0
    /// Everything found wrong, each with its file and byte offset.
    public var problems: [JournalProblem] = []
    /// Blocks that start before the latest wall time of the blocks before them: the
    /// recording clock stepped back, or journals were appended out of wall order. Not a
    /// problem — time queries stay correct, at the cost of a scan in sequence order.
    public var wallBacksteps = 0
    /// Appends a problem; consecutive ``JournalError/Code/missingRecords`` problems of one
    /// segment become one, with the union of their record ranges.
    mutating func add(_ p: JournalProblem) {
        if p.code == .missingRecords, let last = problems.last, last.code == .missingRecords,
            let merged = GivenUpRecords.merge(last, p)
        {
            problems[problems.count - 1] = merged
            return
        }
        problems.append(p)
    }

    /// Whether every block checksum and record is valid and the index matches the segments.
    public var isOK: Bool { problems.isEmpty }

    /// A report for people: a summary line, one line per problem, then warnings.
    public var description: String {
        var s = "\(segments) segments, \(blocks) blocks, \(records) records: " + (isOK ? "OK" : "\(problems.count) problems")
        for p in problems { s += "\n\(p.code): \(p)" }
        if wallBacksteps > 0 {
            s += "\nwarning: wall time goes backwards at \(wallBacksteps) block\(wallBacksteps == 1 ? "" : "s") "
                + "(a clock step, or records appended out of time order); time queries scan in sequence order"
        }
        return s
    }
}

extension JournalMaintenance {
    /// Checks every block checksum and record of every segment, the sequence order, the
    /// seals, and that the index agrees with the segments row for row. Read-only; no lock.
    /// - Parameter progress: told the bytes scanned after each block.
    /// - Throws: ``JournalError`` only when the directory cannot be read at all.
    public static func verify(directory: String, progress: ScanProgress? = nil) throws(JournalError) -> VerifyReport {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        var report = VerifyReport()
        let indexPath = joinPath(directory, JournalFormat.indexFileName)
        var index: JournalIndex?
        do { index = try JournalIndex(path: indexPath, readOnly: true) } catch {
            report.problems.append(JournalProblem(code: .index, path: indexPath, offset: 0, message: error.message))
        }
        let rows = try index.map { (i: JournalIndex) throws(JournalError) in try i.db.prepare("SELECT \(JournalIndex.blockColumns) FROM blocks ORDER BY first_seq") }
        var pendingRow: BlockIndexRow? = nil
        var rowsDone = rows == nil
        func nextRow() throws(JournalError) -> BlockIndexRow? {
            if let r = pendingRow { pendingRow = nil; return r }
            guard !rowsDone, let s = rows else { return nil }
            if try s.step() { return JournalIndex.blockRow(s) }
            rowsDone = true
            return nil
        }
        let segments = try listSegments(directory)
        let present = Set(segments.map(\.name))
        // Where each segment older than the newest is cut short (see below).
        var cutAt: [String: UInt64] = [:]
        /// An index row whose block no segment holds: records lost with a missing or cut-short
        /// segment (the index is the only witness that they existed), or an index that is wrong.
        func unheld(_ row: BlockIndexRow) -> JournalProblem {
            let path = joinPath(directory, row.segment)
            let lost = row.firstSeq...row.lastSeq
            if !present.contains(row.segment) {
                return JournalProblem(code: .missingRecords, path: path, offset: row.offset, message: "the segment is missing; the index lists records in it that no file holds (restore the file from a copy or the archive, or run `wiretape repair` to give them up)", lostSeqs: lost)
            }
            if let cut = cutAt[row.segment], row.offset >= cut {
                return JournalProblem(code: .missingRecords, path: path, offset: row.offset, message: "the segment is cut short at byte \(cut); the index lists records after that point (restore the file from a copy or the archive, or run `wiretape repair` to give them up)", lostSeqs: lost)
            }
            return JournalProblem(code: .index, path: indexPath, offset: 0, message: "the index lists a block of records \(row.firstSeq)...\(row.lastSeq) in \(row.segment) at byte \(row.offset) that the segments do not hold (run `wiretape reindex`)")
        }
        var expectedLifecycle: [LifecycleRow] = []
        var expectedSessions: [SessionRow] = []
        var previous: UInt64?
        var latestWall: Int64?
        let meter = ScanMeter(directory: directory, segments: segments, report: progress)
        for (i, seg) in segments.enumerated() {
            defer { meter.finished(segment: i) }
            report.segments += 1
            let path = joinPath(directory, seg.name)
            let res = try Scanner.scan(directory: directory, name: seg.name, previousLastSeq: previous, wantRows: index != nil) {
                (b: ScannedBlock) throws(JournalError) in
                meter.reached(segment: i, offset: b.row.end)
                if let m = latestWall, b.row.minWall < m { report.wallBacksteps += 1 }
                latestWall = max(latestWall ?? b.row.maxWall, b.row.maxWall)
                guard index != nil else { return }
                expectedLifecycle += b.lifecycle
                expectedSessions += b.sessions
                while let row = try nextRow() {
                    if row.firstSeq < b.row.firstSeq {
                        report.add(unheld(row))
                        continue
                    }
                    if row.firstSeq > b.row.firstSeq { pendingRow = row }
                    else if row != b.row {
                        report.problems.append(JournalProblem(code: .index, path: path, offset: b.row.offset, message: "the index row for the block of records \(row.firstSeq)...\(row.lastSeq) disagrees with the segment (index: \(row.segment) at byte \(row.offset), \(row.recordCount) records; segment: byte \(b.row.offset), \(b.row.recordCount) records) (run `wiretape reindex`)"))
                        return
                    } else { return }
                    break
                }
                report.problems.append(JournalProblem(code: .index, path: path, offset: b.row.offset, message: "the block of records \(b.row.firstSeq)...\(b.row.lastSeq) is missing from the index (run `wiretape repair`)"))
            }
            report.blocks += Int(res.blockCount)
            report.records += res.recordCount
            report.problems += res.damage
            if let h = res.header, h.firstSeq != seg.firstSeq {
                report.problems.append(JournalProblem(code: .corruptSegment, path: path, offset: 0, message: "the header says the first record is \(h.firstSeq), the file name says \(seg.firstSeq)"))
            }
            if let f = res.firstSeq, f != seg.firstSeq {
                report.problems.append(JournalProblem(code: .corruptSegment, path: path, offset: 40, message: "the first block starts at record \(f), the file name says \(seg.firstSeq)"))
            }
            if let t = res.torn, i < segments.count - 1 {
                // Writers append only to the newest segment, and recovery truncates a crash's
                // torn tail before a new segment is started: an older segment cut short was
                // truncated or copied partly after it was complete.
                cutAt[seg.name] = t.offset
                report.problems.append(JournalProblem(code: .tornTail, path: path, offset: t.offset, message: "cut short: \(t.why); this is not the newest segment, so it is not a crashed writer's torn tail but a file truncated or copied partly (restore it from a copy or the archive, or run `wiretape repair` to truncate it here and give up what followed)"))
            } else if let t = res.torn {
                report.problems.append(JournalProblem(code: .tornTail, path: path, offset: t.offset, message: "torn tail: \(t.why) (run `wiretape repair`)"))
            }
            if !res.sealed && i < segments.count - 1 && res.torn == nil {
                // An unsealed segment followed by others: a writer crashed and the next one started
                // a new segment. Its blocks are valid; it is simply not sealed. Not an error.
            }
            if let l = res.lastSeq { previous = l }
        }
        if index != nil {
            while let row = try nextRow() {
                report.add(unheld(row))
            }
            if let idx = index {
                if try idx.lifecycleEdges() != expectedLifecycle {
                    report.problems.append(JournalProblem(code: .index, path: indexPath, offset: 0, message: "the lifecycle_edges table disagrees with the lifecycle records in the segments (run `wiretape reindex`)"))
                }
                if try idx.sessions() != expectedSessions {
                    report.problems.append(JournalProblem(code: .index, path: indexPath, offset: 0, message: "the sessions table disagrees with the session records in the segments (run `wiretape reindex`)"))
                }
                // Readers count frames and skip blocks by these marks: wrong ones would drop
                // records from a replay's timeline. (An index older than the table has none.)
                if let n = try idx.marksDisagreeing(), n > 0 {
                    report.problems.append(JournalProblem(code: .index, path: indexPath, offset: 0, message: "\(n) row\(n == 1 ? "" : "s") of the block_marks table disagree\(n == 1 ? "s" : "") with the blocks table (run `wiretape reindex`)"))
                }
            }
        }
        return report
    }
}
