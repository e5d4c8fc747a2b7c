import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

/// Offsets of the block headers of a segment file.
func blockOffsets(_ bytes: [UInt8]) -> [Int] {
    var out: [Int] = []
    var o = 40
    while o + 80 <= bytes.count, bytes[o..<o + 4].elementsEqual([0x57, 0x54, 0x4A, 0x42]) {
        out.append(o)
        let stored = Int(bytes[o + 8]) | Int(bytes[o + 9]) << 8 | Int(bytes[o + 10]) << 16 | Int(bytes[o + 11]) << 24
        o += 80 + stored
    }
    return out
}

/// Every record read must be one that was written (same seq, same content), in order.
func expectSubsequence(_ read: [JournalRecord], of written: [JournalRecord], sourceLocation: SourceLocation = #_sourceLocation) {
    let bySeq = Dictionary(written.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
    #expect(bySeq.count == written.count, "the writer handed out a sequence number twice", sourceLocation: sourceLocation)
    var last: UInt64 = 0
    for r in read {
        #expect(bySeq[r.seq] == r, "record \(r.seq) differs from what was written", sourceLocation: sourceLocation)
        #expect(r.seq > last, sourceLocation: sourceLocation)
        last = r.seq
    }
}

func smallBlocks() -> JournalWriterOptions {
    var o = JournalWriterOptions()
    o.blockSize = 1024
    return o
}

@Suite struct RecoveryTests {
    @Test func tornTailIsTruncatedAndIndexReconciled() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 2000, options: smallBlocks())
        let seg = try segmentPaths(t.path)[0]
        var bytes = fileBytes(seg)
        let offs = blockOffsets(bytes)
        let cut = offs[offs.count - 2] + 100  // inside the second-to-last block
        bytes.removeSubrange(cut...)
        writeBytes(seg, bytes)
        // Readers see every complete block and report the torn tail.
        let (read, cursor) = try readAll(t.path)
        #expect(read == Array(written.prefix(read.count)))
        #expect(read.count > 1500)
        #expect(cursor.problems.map(\.code) == [.tornTail])
        #expect(cursor.problems.first?.offset == UInt64(offs[offs.count - 2]))
        #expect(!(try JournalMaintenance.verify(directory: t.path).isOK))
        // Repair truncates and reconciles the index.
        let report = try JournalMaintenance.repair(directory: t.path)
        #expect(report.truncations.count == 1)
        #expect(report.truncations.first?.offset == UInt64(offs[offs.count - 2]))
        // The index named blocks that are gone, so it was rebuilt from the segments.
        #expect(report.rebuiltIndex)
        #expect(report.description.contains("truncated"))
        let v = try JournalMaintenance.verify(directory: t.path)
        #expect(v.isOK, "\(v)")
        // A writer continues the segment after the cut.
        let w = try JournalWriter(directory: t.path, options: smallBlocks())
        #expect(w.nextSeq == UInt64(read.count) + 1)
        try w.append(.annotation("after repair"), epoch: 9, at: ts(5000))
        try w.close()
        #expect(try readAll(t.path).0.count == read.count + 1)
        #expect(try JournalMaintenance.verify(directory: t.path).isOK)
    }

    @Test func writerOpenRecoversATornTail() throws {
        let t = TempDir(); defer { t.cleanup() }
        try writeSample(t.path, count: 500, options: smallBlocks())
        let seg = try segmentPaths(t.path)[0]
        var bytes = fileBytes(seg)
        bytes.removeLast(48 + 30)  // the seal and part of the last block
        writeBytes(seg, bytes)
        let w = try JournalWriter(directory: t.path, options: smallBlocks())
        #expect(w.recovery.truncations.count == 1)
        let next = w.nextSeq
        try w.close()
        // The torn block's numbers are never reused: the index had seen them written.
        #expect(next == 501)
        #expect(try readAll(t.path).0.last!.seq < next - 1)
        #expect(try JournalMaintenance.verify(directory: t.path).isOK)
    }

    @Test func flippedByteInTheMiddleIsReportedAndSkipped() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 2000, options: smallBlocks())
        let seg = try segmentPaths(t.path)[0]
        var bytes = fileBytes(seg)
        let offs = blockOffsets(bytes)
        let victim = offs[5]
        bytes[victim + 80 + 10] ^= 0x01
        writeBytes(seg, bytes)
        let (read, cursor) = try readAll(t.path)
        expectSubsequence(read, of: written)
        #expect(cursor.problemCount == 1)
        let p = try #require(cursor.problems.first)
        #expect(p.code == .corruptBlock && p.offset == UInt64(victim) && p.path == seg)
        #expect(p.message.contains("CRC-32C"))
        #expect(read.count == written.count - Int(p.lostSeqs!.count))
        // Stop policy: an error naming the file and offset.
        #expect {
            _ = try readAll(t.path, ReadOptions(onCorruption: .stop))
        } throws: { e in
            let je = e as! JournalError
            return je.code == .corruptBlock && je.offset == UInt64(victim) && je.path == seg && je.message.contains("byte \(victim)")
        }
        let v = try JournalMaintenance.verify(directory: t.path)
        #expect(!v.isOK)
        #expect(v.problems.contains { $0.code == .corruptBlock && $0.offset == UInt64(victim) })
        // Repair cannot restore it, says so, and the journal stays readable.
        let r = try JournalMaintenance.repair(directory: t.path)
        #expect(r.damage.count == 1 && r.truncations.isEmpty)
    }

    @Test func zeroedPageAndSwappedBlocks() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 3000, options: smallBlocks())
        let seg = try segmentPaths(t.path)[0]
        let original = fileBytes(seg)
        // A zeroed 4 KiB page spanning block headers.
        var zeroed = original
        for i in 8192..<12288 { zeroed[i] = 0 }
        writeBytes(seg, zeroed)
        let (r1, c1) = try readAll(t.path)
        expectSubsequence(r1, of: written)
        #expect(c1.problemCount >= 1)
        #expect(r1.count < written.count && r1.count > written.count - 200)
        #expect(!(try JournalMaintenance.verify(directory: t.path).isOK))
        // Two blocks swapped.
        let offs = blockOffsets(original)
        let a = offs[3], b = offs[4], c = offs[5]
        var swapped = Array(original[..<a])
        swapped += original[b..<c]
        swapped += original[a..<b]
        swapped += original[c...]
        writeBytes(seg, swapped)
        let (r2, c2) = try readAll(t.path)
        expectSubsequence(r2, of: written)
        #expect(c2.problems.contains { $0.code == .outOfOrder })
        let v = try JournalMaintenance.verify(directory: t.path)
        #expect(v.problems.contains { $0.code == .outOfOrder })
        #expect(v.problems.contains { $0.code == .index })
    }

    @Test func deletedIndexIsRebuiltWithTheSameAnswers() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = smallBlocks()
        o.maxSegmentBytes = 32 << 10
        let written = try writeSample(t.path, count: 3000, options: o)
        func snapshot() throws -> ([BlockIndexRow], [LifecycleRow], [SessionRow], [String]) {
            let i = try JournalIndex(path: t.sub("index.sqlite"), readOnly: true)
            var rows: [BlockIndexRow] = []
            try i.forEachBlock { rows.append($0) }
            return (rows, try i.lifecycleEdges(), try i.sessions(), try i.segments().map { "\($0.name) \($0.firstSeq) \($0.sealed)" })
        }
        let before = try snapshot()
        #expect(before.0.count > 20 && before.1.count > 100 && before.2.count > 50)
        for suffix in ["", "-wal", "-shm"] { unlink(t.sub("index.sqlite" + suffix)) }
        // Readers still work (by scanning); verify names the missing index.
        #expect(try readAll(t.path, ReadOptions(filter: RecordFilter(fromSeq: 1500))).0 == written.filter { $0.seq >= 1500 })
        let v = try JournalMaintenance.verify(directory: t.path)
        #expect(v.problems.map(\.code) == [.index])
        #expect(v.problems[0].message.contains("reindex"))
        let report = try JournalMaintenance.reindex(directory: t.path)
        #expect(report.blocksIndexed == before.0.count)
        let after = try snapshot()
        #expect(after.0 == before.0)
        #expect(after.1 == before.1)
        #expect(after.2 == before.2)
        #expect(after.3 == before.3)
        #expect(try JournalMaintenance.verify(directory: t.path).isOK)
    }

    @Test func garbageIndexFileIsReplacedByWriterAndRepair() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 300)
        for suffix in ["-wal", "-shm"] { unlink(t.sub("index.sqlite" + suffix)) }
        writeBytes(t.sub("index.sqlite"), Array("not a database at all, just text".utf8) + [UInt8](repeating: 7, count: 5000))
        #expect(try readAll(t.path, ReadOptions(filter: RecordFilter(fromSeq: 10))).0 == written.filter { $0.seq >= 10 })
        let r = try JournalMaintenance.repair(directory: t.path)
        #expect(r.rebuiltIndex)
        #expect(try JournalMaintenance.verify(directory: t.path).isOK)
    }

    /// A segment cut at any length reads exactly the records of the blocks that are whole
    /// before the cut (not just "some prefix": an empty read is not a pass), and reports the
    /// torn tail whenever something was cut off.
    @Test func everyTruncationLengthReadsExactlyTheWholeBlocks() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 400, options: smallBlocks())
        let segs = try segmentPaths(t.path)
        try #require(segs.count == 1)
        let seg = segs[0]
        let original = fileBytes(seg)
        // (end offset, last seq) of each block, from its header.
        let blocks = try blockOffsets(original).map { o -> (end: Int, lastSeq: UInt64) in
            let h = try original[o..<o + 80].withUnsafeBytes { try BlockHeader.read($0) }
            return (o + 80 + Int(h.storedLength), h.lastSeq)
        }
        try #require(blocks.count > 10 && blocks.last!.lastSeq == 400)
        let dataEnd = blocks.last!.end
        var cuts = Array(stride(from: 0, to: original.count, by: 97))
        for b in blocks { cuts += [b.end - 1, b.end, b.end + 1] }
        for cut in Set(cuts).sorted() where cut < original.count {
            writeBytes(seg, Array(original[..<cut]))
            let (read, cursor) = try readAll(t.path)
            let whole = blocks.last { $0.end <= cut }?.lastSeq ?? 0
            #expect(read == Array(written.prefix(Int(whole))), "cut at \(cut): \(read.count) records read, \(whole) whole")
            // A cut at a block boundary looks like a segment still being written; a cut
            // inside a block (or inside the seal) leaves a torn tail that must be reported.
            if cut > 40 && cut < dataEnd && !blocks.contains(where: { $0.end == cut }) {
                #expect(cursor.problems.map(\.code).contains(.tornTail), "cut at \(cut) inside a block: the torn tail is reported")
            }
        }
    }

    /// Random flips anywhere in a segment: what is read is always what was written, every
    /// flip is found by `verify` (every byte of a segment is under a CRC), and a read that
    /// lost records reports a problem.
    @Test func randomByteFlipsNeverYieldGarbage() throws {
        let t = TempDir(); defer { t.cleanup() }
        let written = try writeSample(t.path, count: 1500, options: smallBlocks())
        let seg = try segmentPaths(t.path)[0]
        let original = fileBytes(seg)
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        var lossy = 0
        for round in 0..<150 {
            var b = original
            for _ in 0..<(1 + Int(rng % 4)) {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                b[Int((rng >> 20) % UInt64(b.count))] ^= UInt8(truncatingIfNeeded: rng >> 50) | 1
            }
            writeBytes(seg, b)
            let (read, cursor) = try readAll(t.path, ReadOptions(useIndex: false))
            expectSubsequence(read, of: written)
            if read.count < written.count {
                lossy += 1
                #expect(cursor.problemCount > 0, "round \(round): \(written.count - read.count) records lost without a problem reported")
            }
            let v = try JournalMaintenance.verify(directory: t.path)
            #expect(!v.isOK, "round \(round): verify missed a flipped byte")
        }
        #expect(lossy > 100, "most rounds damage a block")
    }

    @Test func newerMajorVersionIsRefusedClearly() throws {
        let t = TempDir(); defer { t.cleanup() }
        try writeSample(t.path, count: 10)
        let seg = try segmentPaths(t.path)[0]
        var b = fileBytes(seg)
        b[8] = 3
        let crc = b[0..<36].withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[36 + i] = $0[i] } }
        writeBytes(seg, b)
        #expect {
            _ = try readAll(t.path)
        } throws: { e in
            (e as? JournalError)?.code == .unsupportedVersion && (e as! JournalError).message.contains("version 3")
        }
    }
}
