import Testing
import WireTapeCore
@testable import WireTapeJournal

@Suite struct CodecTests {
    @Test func crc32cKnownValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(data)
        let part = data[0..<333].withUnsafeBytes { CRC32C.update(0, $0) }
        #expect(data[333...].withUnsafeBytes { CRC32C.update(part, $0) } == whole)
    }

    @Test func varintAndZigzagRoundTrip() throws {
        let values: [UInt64] = [0, 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), UInt64.max]
        let b = ByteBuffer(capacity: 16)
        for v in values {
            b.clear()
            b.appendVarint(v)
            #expect(b.count == varintSize(v))
            var r = ByteReader(b.bytes)
            #expect(try r.varint("v") == v)
        }
        for v: Int64 in [0, -1, 1, Int64.min, Int64.max, -123456789] { #expect(unzigzag(zigzag(v)) == v) }
    }

    @Test func overlongVarintIsRejected() {
        let bytes: [UInt8] = Array(repeating: 0xFF, count: 11)
        bytes.withUnsafeBytes { p in
            var r = ByteReader(p)
            #expect(throws: DecodeFailure.self) { try r.varint("v") }
        }
    }

    @Test func everyKindRoundTripsThroughABlock() throws {
        let bodies = sampleRecords(60)
        let buf = ByteBuffer(capacity: 1024)
        let scratch = ByteBuffer(capacity: 64)
        var state = DeltaState(firstSeq: 10)
        var seqs: [UInt64] = []
        var seq: UInt64 = 10
        for (i, b) in bodies.enumerated() {
            let flags = RecordCodec.encodeBody(b, into: scratch)
            RecordCodec.writeHead(kind: b.kind.rawValue, flags: flags, seq: seq, epoch: UInt64(i % 3 == 0 ? 5 : 2), wall: -5 + Int64(i) * 999, mono: UInt64(i) * 7, bodyCount: scratch.count, into: buf, state: &state)
            buf.append(scratch.bytes)
            seqs.append(seq)
            seq += UInt64(i % 4 + 1)
        }
        var r = ByteReader(buf.bytes)
        var st = DeltaState(firstSeq: 10)
        var i = 0
        while let h = try RecordCodec.decodeHead(&r, state: &st) {
            #expect(h.seq == seqs[i])
            #expect(h.wall == -5 + Int64(i) * 999)
            #expect(h.mono == UInt64(i) * 7)
            #expect(h.epoch == UInt64(i % 3 == 0 ? 5 : 2))
            #expect(try RecordCodec.decodeBody(h, in: buf.bytes) == bodies[i])
            i += 1
        }
        #expect(i == bodies.count)
    }

    @Test func blockHeaderRoundTripAndDamage() throws {
        let h = BlockHeader(codec: 1, storedLength: 100, rawLength: 300, recordCount: 3, payloadCRC: 7, firstSeq: 1, lastSeq: 5, minWall: 1, maxWall: 2, minEpoch: 0, maxEpoch: 1)
        var bytes = [UInt8](repeating: 0, count: 80)
        bytes.withUnsafeMutableBytes { h.write(to: $0.baseAddress!) }
        #expect(try bytes.withUnsafeBytes { try BlockHeader.read($0) } == h)
        for i in [0, 8, 40, 77] {
            var bad = bytes
            bad[i] ^= 0x10
            #expect(throws: BlockHeader.Problem.self) { try bad.withUnsafeBytes { try BlockHeader.read($0) } }
        }
    }

    @Test func segmentNames() {
        #expect(JournalFormat.segmentFileName(firstSeq: 42) == "seg-00000000000000000042.wtj")
        #expect(JournalFormat.parseSegmentFileName("seg-00000000000000000042.wtj") == 42)
        #expect(JournalFormat.parseSegmentFileName("seg-0000000000000000004x.wtj") == nil)
        #expect(JournalFormat.parseSegmentFileName("index.sqlite") == nil)
    }
}
