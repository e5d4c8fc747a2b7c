import Foundation
import Testing
import WireTapeCore
@testable import WireTapeJournal

@Suite struct CodecTests {
    @Test func crc32cContinues() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = CRC32C.checksum(data)
        let part = data[0..<333].withUnsafeBytes { CRC32C.update(0, $0) }
        #expect(data[333...].withUnsafeBytes { CRC32C.update(part, $0) } == whole)
    }

    @Test func varintAndZigzagRoundTrip() throws {
        let values: [UInt64] = [0, 1, 127, 128, 300, 16383, 16384, UInt64(UInt32.max), UInt64.max]
        let b = GrowableBytes(capacity: 16)
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
        var records: [JournalRecord] = []
        var seq: UInt64 = 10
        for (i, b) in bodies.enumerated() {
            records.append(JournalRecord(seq: seq, epoch: UInt64(i % 3 == 0 ? 5 : 2), wallNanos: -5 + Int64(i) * 999, monoNanos: UInt64(i) * 7, body: b))
            seq += UInt64(i % 4 + 1)
        }
        let raw = JournalBlockCodec.encodeRecords(records)
        let back = try raw.withUnsafeBytes { try JournalBlockCodec.decodeRecords($0, firstSeq: 10) }
        #expect(back == records)
        let block = try JournalBlockCodec.encodeBlock(records)
        #expect(try block.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0) } == records)
        // Frame payloads sit back to back after the heads.
        let payloads = records.compactMap { r -> [UInt8]? in if case .frame(_, _, let p) = r.body { return p } else { return nil } }.flatMap { $0 }
        #expect(Array(raw.suffix(payloads.count)) == payloads)
        // A byte that belongs to no record is an error, not ignored.
        #expect(throws: JournalError.self) { try (raw + [1]).withUnsafeBytes { try JournalBlockCodec.decodeRecords($0, firstSeq: 10) } }
    }

    /// `decodeBlock` (the public decoder the fuzzer drives) refuses a block whose payload was
    /// damaged, naming the CRC, even where the damaged payload still decompresses.
    @Test func decodeBlockRefusesADamagedPayloadByItsCRC() throws {
        let records = (0..<40).map { i in
            JournalRecord(seq: UInt64(i + 1), epoch: 1, wallNanos: Int64(i), monoNanos: UInt64(i), body: .annotation("note \(i) with some text"))
        }
        let block = try JournalBlockCodec.encodeBlock(records)
        #expect(try block.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0) } == records)
        var refused = 0
        for offset in stride(from: 80, to: block.count, by: 7) {
            var bad = block
            bad[offset] ^= 0x04
            #expect {
                _ = try bad.withUnsafeBytes { try JournalBlockCodec.decodeBlock($0) }
            } throws: { e in
                (e as? JournalError)?.code == .corruptBlock && (e as? JournalError)?.message.contains("CRC-32C") == true
            }
            refused += 1
        }
        #expect(refused > 10)
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

