import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

/// Format 2's per-segment dictionaries (SPEC.md §3.1, codec 2).
@Suite struct SegmentDictionaryTests {
    /// Trade-like frames: 1 KiB blocks, a 4 KiB warm-up, so the first segment is sealed at
    /// 64 blocks and the next ones get a dictionary.
    func options(dictionary: Bool = true) -> JournalWriterOptions {
        var o = JournalWriterOptions()
        o.blockSize = 1024
        o.dictionaryWarmupBytes = 4096
        o.maxSegmentBytes = 256 << 10
        o.durability = .never
        o.segmentDictionary = dictionary
        return o
    }

    func frames(_ n: Int, from start: Int = 0) -> [RecordBody] {
        var x: UInt64 = 5
        return (start..<(start + n)).map { i in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let sym = ["btcusdt", "ethusdt", "bnbusdt"][Int(x >> 62) % 3]
            return .frame(direction: .inbound, opcode: .text, payload: Array(
                "{\"stream\":\"\(sym)@trade\",\"data\":{\"e\":\"trade\",\"s\":\"\(sym.uppercased())\",\"t\":\(i),\"p\":\"\(60000 + x % 900).\(x % 100)\",\"q\":\"0.\(x % 997)\",\"m\":\(x & 1 == 0)}}".utf8))
        }
    }

    func write(_ dir: String, _ bodies: [RecordBody], _ o: JournalWriterOptions, from: Int = 0) throws {
        let w = try JournalWriter(directory: dir, options: o)
        for (i, b) in bodies.enumerated() { try w.append(b, epoch: 1, at: ts(from + i)) }
        try w.close()
    }

    /// The codecs of the blocks of a segment file and whether it starts with a dictionary.
    func layout(_ path: String) -> (dictionary: Bool, codecs: [UInt8]) {
        let b = fileBytes(path)
        func u32(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24 }
        var off = 40
        let dict = b.count >= 44 && u32(40) == Int(JournalFormat.dictionaryMagic)
        if dict { off = 56 + u32(44) }
        var codecs: [UInt8] = []
        while off + 80 <= b.count, u32(off) == Int(JournalFormat.blockMagic) {
            codecs.append(b[off + 4])
            off += 80 + u32(off + 8)
        }
        return (dict, codecs)
    }

    func journalBytes(_ dir: String) throws -> Int { try segmentPaths(dir).map { fileBytes($0).count }.reduce(0, +) }

    @Test func laterSegmentsGetADictionaryAndReadBackSmaller() throws {
        let t = TempDir(); defer { t.cleanup() }
        let bodies = frames(12000)
        try write(t.sub("d"), bodies, options())
        try write(t.sub("n"), bodies, options(dictionary: false))
        let segs = try segmentPaths(t.sub("d"))
        #expect(segs.count >= 3)
        let first = layout(segs[0])
        #expect(!first.dictionary && first.codecs.count == 64 && Set(first.codecs) == [1])
        for s in segs.dropFirst() {
            let l = layout(s)
            #expect(l.dictionary && Set(l.codecs) == [2], "\(s)")
        }
        let (records, c) = try readAll(t.sub("d"))
        #expect(records.map(\.body) == bodies)
        #expect(c.problemCount == 0)
        #expect(try JournalMaintenance.verify(directory: t.sub("d")).isOK)
        #expect(try JournalMaintenance.reindex(directory: t.sub("d")).blocksScanned == segs.map { layout($0).codecs.count }.reduce(0, +))
        #expect(try journalBytes(t.sub("d")) < journalBytes(t.sub("n")))
        // Seeking by sequence number through the index lands in a dictionary segment.
        let seek = try readAll(t.sub("d"), ReadOptions(filter: RecordFilter(fromSeq: 5000))).0
        #expect(seek.first?.seq == 5000 && seek.count == 7001)
    }

    @Test func aDamagedDictionaryLosesItsSegmentsBlocksAndNothingElse() throws {
        let t = TempDir(); defer { t.cleanup() }
        let bodies = frames(3000)
        try write(t.path, bodies, options())
        let segs = try segmentPaths(t.path)
        #expect(segs.count >= 2 && layout(segs[1]).dictionary)
        var b = fileBytes(segs[1])
        b[56 + 100] ^= 0x20  // inside the dictionary bytes: its CRC fails
        writeBytes(segs[1], b)
        let (records, c) = try readAll(t.path)
        let inFirst = layout(segs[0]).codecs.count
        #expect(records.count < bodies.count && records.count > inFirst)
        #expect(records.allSatisfy { $0.body == bodies[Int($0.seq) - 1] })
        #expect(c.problems.contains { $0.path == segs[1] && $0.offset == 40 })
        #expect(c.problems.contains { $0.path == segs[1] && $0.message.contains("no valid dictionary") })
        #expect(throws: JournalError.self) { _ = try readAll(t.path, ReadOptions(onCorruption: .stop)) }
        #expect(try !JournalMaintenance.verify(directory: t.path).isOK)
    }

    @Test func aDictionaryCutShortByACrashIsRemovedOnRecovery() throws {
        let t = TempDir(); defer { t.cleanup() }
        let bodies = frames(1500)
        try write(t.path, bodies, options())
        let segs = try segmentPaths(t.path)
        #expect(segs.count == 2 && layout(segs[1]).dictionary)
        let kept = layout(segs[0]).codecs.count
        // The segment's first write (header and dictionary) cut short.
        writeBytes(segs[1], Array(fileBytes(segs[1]).prefix(40 + 16 + 500)))
        let before = try readAll(t.path).0
        #expect(before.count < bodies.count)
        let w = try JournalWriter(directory: t.path, options: options())
        #expect(try segmentPaths(t.path).count == 1)
        #expect(w.recovery.damage.isEmpty)
        try w.append(.annotation("after"), epoch: 1, at: ts(9999))
        try w.close()
        let (after, c) = try readAll(t.path)
        #expect(c.problemCount == 0)
        #expect(after.last?.body == .annotation("after"))
        #expect(after.count == before.count + 1 && before.count >= kept)
    }

    @Test func aReopenedWriterKeepsCompressingWithTheSegmentsDictionary() throws {
        let t = TempDir(); defer { t.cleanup() }
        let o = options()
        let bodies = frames(2000)
        try write(t.path, Array(bodies.prefix(1000)), o)
        var segs = try segmentPaths(t.path)
        let last = segs.last!
        #expect(layout(last).dictionary)
        // Unseal the last segment, as if its writer had crashed after its last block.
        chmod(last, 0o644)
        writeBytes(last, Array(fileBytes(last).dropLast(JournalFormat.sealSize)))
        let before = layout(last).codecs.count
        try write(t.path, Array(bodies.suffix(1000)), o, from: 1000)
        segs = try segmentPaths(t.path)
        let l = layout(last)
        #expect(l.dictionary && l.codecs.count > before && Set(l.codecs) == [2])
        let (records, c) = try readAll(t.path)
        #expect(c.problemCount == 0)
        #expect(records.map(\.body) == bodies)
    }

    /// A writer opening a journal samples the blocks on disk: its first new segment has a
    /// dictionary at once (no dictionary-less warm-up segment after every restart).
    @Test func aRestartedWritersNewSegmentHasADictionaryAtOnce() throws {
        let t = TempDir(); defer { t.cleanup() }
        let o = options()
        let bodies = frames(3000)
        try write(t.path, Array(bodies.prefix(1500)), o)  // sealed by close
        let before = try segmentPaths(t.path)
        try write(t.path, Array(bodies.suffix(1500)), o, from: 1500)
        let added = try segmentPaths(t.path).filter { !before.contains($0) }
        #expect(!added.isEmpty)
        let first = layout(added[0])
        #expect(first.dictionary && Set(first.codecs) == [2], "the restarted writer's first segment has no dictionary")
        let (records, c) = try readAll(t.path)
        #expect(c.problemCount == 0)
        #expect(records.map(\.body) == bodies)
    }

    /// A follower that opens a segment before its writer's first write (header and
    /// dictionary record) is complete finds the dictionary once it is there.
    @Test func aFollowerThatOpenedASegmentEarlyFindsItsDictionary() throws {
        let t = TempDir(); defer { t.cleanup() }
        let bodies = frames(1500)
        try write(t.sub("src"), bodies, options())
        let segs = try segmentPaths(t.sub("src"))
        #expect(segs.count == 2 && layout(segs[1]).dictionary)
        let name = String(segs[1].split(separator: "/").last!)
        try FS.makeDirectory(t.sub("j"))
        writeBytes(t.sub("j/" + name), Array(fileBytes(segs[1]).prefix(40 + 10)))
        let c = try JournalCursor(directory: t.sub("j"), options: ReadOptions(follow: true))
        #expect(try c.next() == nil)
        writeBytes(t.sub("j/" + name), fileBytes(segs[1]))
        var got: [RecordBody] = []
        while let r = try c.next() { got.append(r.body) }
        #expect(c.problemCount == 0)
        let first = JournalFormat.parseSegmentFileName(name)!
        #expect(got == Array(bodies[Int(first - 1)...]))
        #expect(got.count > 500)
    }

    @Test func theBlockCodecRoundTripsWithADictionary() throws {
        let records = frames(40).enumerated().map { JournalRecord(seq: 10 + UInt64($0.offset), epoch: 2, wallNanos: 5, monoNanos: 6, body: $0.element) }
        let dict: [UInt8] = frames(30, from: 100).flatMap { (b: RecordBody) -> [UInt8] in
            if case .frame(_, _, let p) = b { return p }
            return []
        }
        let with = try JournalBlockCodec.encodeBlock(records, dictionary: dict)
        let without = try JournalBlockCodec.encodeBlock(records)
        #expect(with[4] == JournalFormat.codecLZ4Dictionary && without[4] == JournalFormat.codecLZ4)
        #expect(with.count < without.count)
        #expect(try with.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0, dictionary: dict) } == records)
        #expect(throws: JournalError.self) { _ = try with.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0) } }
        var other = dict
        other[0] ^= 1
        other[other.count / 2] ^= 1
        let decodedWithOther = try? with.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0, dictionary: other) }
        #expect(decodedWithOther != records)
    }
}
