import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeCLI

/// The golden journals in journal-format/vectors: each is a journal directory (sealed
/// segments, no index) plus `records.jsonl`, its records in the JSON-lines form. Format-1
/// vectors were written by a 1.1 writer and are kept to prove that format-1 journals still
/// read; the writer test covers the format-2 ones.
///
/// Regenerate after an intentional format change with
/// `WIRETAPE_REGENERATE_VECTORS=1 swift test --filter JournalGoldenVectorTests`.
struct GoldenVector: Sendable, CustomStringConvertible {
    var name: String
    /// The format major version of its segments.
    var format: UInt16 = 2
    var blockSize: Int
    /// ``JournalWriterOptions/dictionaryWarmupBytes`` for the writer test.
    var dictionaryWarmupBytes: UInt64 = 1 << 20
    /// The block codecs its segments must hold (SPEC.md §4.1).
    var codecs: Set<UInt8>
    var records: @Sendable () -> [JournalRecord]
    var description: String { name }
}

let vectorsRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    url.deleteLastPathComponent(); url.deleteLastPathComponent(); url.deleteLastPathComponent()
    return url.path + "/journal-format/vectors"
}()

let goldenVectors: [GoldenVector] = [
    GoldenVector(name: "all-kinds", format: 1, blockSize: 65536, codecs: [1]) {
        sampleJSONL.split(separator: "\n").map { try! RecordJSON.parse(ArraySlice(Array($0.utf8)), nextSeq: 0) }
    },
    GoldenVector(name: "multi-block", format: 1, blockSize: 256, codecs: [1]) {
        var out: [JournalRecord] = []
        var x: UInt64 = 7
        for i in 0..<60 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let wall = 1_764_412_800_000_000_000 + Int64(i) * 40_000 + Int64(x >> 58)
            let body: RecordBody
            if i % 10 == 9 {
                // Incompressible: these blocks are stored (codec 0).
                var bytes: [UInt8] = []
                var y = x
                for _ in 0..<300 {
                    y = y &* 6364136223846793005 &+ 1442695040888963407
                    bytes.append(UInt8(truncatingIfNeeded: y >> 56))
                }
                body = .frame(direction: .inbound, opcode: .binary, payload: bytes)
            } else {
                body = .frame(direction: i % 7 == 3 ? .outbound : .inbound, opcode: .text, payload: Array("{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"t\":\(1000 + i),\"p\":\"9\(x % 1000).\(x % 97)\",\"q\":\"0.0\(x % 89)\"}}".utf8))
            }
            out.append(JournalRecord(seq: 1 + UInt64(i) + (i >= 30 ? 5 : 0), epoch: UInt64(1 + i / 25), wallNanos: wall, monoNanos: 9_000_000_000 + UInt64(i) * 40_000 + (x >> 60), body: body))
        }
        return out
    },
    GoldenVector(name: "stored", blockSize: 4096, codecs: [0]) {
        // Incompressible binary frames of several KiB, and an annotation: LZ4 would not make
        // any block smaller, so every block is stored (codec 0).
        var x: UInt64 = 11
        return (0..<5).map { i in
            let body: RecordBody
            if i == 2 {
                body = .annotation("stored \"quoted\" \\ tab\t ✓")
            } else {
                var bytes: [UInt8] = []
                for _ in 0..<(4000 + i * 7) {
                    x = x &* 6364136223846793005 &+ 1442695040888963407
                    bytes.append(UInt8(truncatingIfNeeded: x >> 56))
                }
                body = .frame(direction: i % 4 == 3 ? .outbound : .inbound, opcode: .binary, payload: bytes)
            }
            return JournalRecord(
                seq: 100 + UInt64(i), epoch: 3, wallNanos: 1_764_412_800_000_000_000 + Int64(i) * 1_000_000,
                monoNanos: 50_000_000_000 + UInt64(i) * 1_000_000, body: body)
        }
    },
    GoldenVector(name: "dictionary", blockSize: 256, dictionaryWarmupBytes: 4096, codecs: [1, 2]) {
        // Enough 256-byte blocks to sample 64 for a dictionary: the first segment is sealed
        // at 64 blocks (and 4 KiB), the second holds the dictionary and codec-2 blocks.
        var out: [JournalRecord] = []
        var x: UInt64 = 3
        for i in 0..<200 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let body: RecordBody
            if i % 50 == 49 {
                body = .lifecycle(LifecycleEdge(stateName: "reconnecting", closeCode: 1006, error: "connectionLost"))
            } else {
                let sym = ["btcusdt", "ethusdt", "solusdt"][Int(x >> 62) % 3]
                body = .frame(direction: .inbound, opcode: .text, payload: Array("{\"stream\":\"\(sym)@trade\",\"data\":{\"e\":\"trade\",\"E\":\(1_764_412_800_000 + i * 3),\"s\":\"\(sym.uppercased())\",\"t\":\(5_000_000 + i),\"p\":\"\(60000 + x % 500).\(x % 100)\",\"q\":\"0.\(x % 997)\",\"m\":\(x & 1 == 0)}}".utf8))
            }
            out.append(JournalRecord(
                seq: 1 + UInt64(i), epoch: 1 + UInt64(i / 50), wallNanos: 1_764_412_800_000_000_000 + Int64(i) * 3_000_000 + Int64(x >> 44),
                monoNanos: 7_000_000_000 + UInt64(i) * 3_000_000 + (x >> 44), body: body))
        }
        return out
    },
]

func vectorJSONL(_ records: [JournalRecord]) -> String {
    records.map { RecordJSON.line($0) + "\n" }.joined()
}

@Suite struct JournalGoldenVectorTests {
    func write(_ v: GoldenVector, to dir: String) throws {
        var o = JournalWriterOptions()
        o.blockSize = v.blockSize
        o.dictionaryWarmupBytes = v.dictionaryWarmupBytes
        o.durability = .never
        let w = try JournalWriter(directory: dir, options: o)
        for r in v.records() { try w.append(r) }
        try w.close()
    }

    func segmentFiles(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".wtj") }.sorted()
    }

    @Test(arguments: goldenVectors.filter { $0.format == JournalFormat.majorVersion })
    func writerReproducesTheVectorByteForByte(_ v: GoldenVector) throws {
        let tmp = tempDir(); defer { try? FileManager.default.removeItem(atPath: tmp) }
        try write(v, to: tmp)
        let vdir = vectorsRoot + "/" + v.name
        if ProcessInfo.processInfo.environment["WIRETAPE_REGENERATE_VECTORS"] == "1" {
            try? FileManager.default.removeItem(atPath: vdir)
            try FileManager.default.createDirectory(atPath: vdir, withIntermediateDirectories: true)
            for f in try segmentFiles(tmp) {
                try FileManager.default.copyItem(atPath: tmp + "/" + f, toPath: vdir + "/" + f)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: vdir + "/" + f)
            }
            try vectorJSONL(v.records()).write(toFile: vdir + "/records.jsonl", atomically: true, encoding: .utf8)
        }
        let names = try segmentFiles(vdir)
        #expect(names == (try segmentFiles(tmp)))
        for n in names {
            let want = try Data(contentsOf: URL(fileURLWithPath: vdir + "/" + n))
            let got = try Data(contentsOf: URL(fileURLWithPath: tmp + "/" + n))
            #expect(got == want, "\(v.name)/\(n) differs from the golden file")
        }
    }

    @Test(arguments: goldenVectors)
    func readerDecodesTheVectorToItsRecords(_ v: GoldenVector) throws {
        let vdir = vectorsRoot + "/" + v.name
        let tmp = tempDir(); defer { try? FileManager.default.removeItem(atPath: tmp) }
        for n in try segmentFiles(vdir) { try FileManager.default.copyItem(atPath: vdir + "/" + n, toPath: tmp + "/" + n) }
        let c = try JournalCursor(directory: tmp, options: ReadOptions(onCorruption: .stop))
        var lines = ""
        while let r = try c.next() { lines += RecordJSON.line(r) + "\n" }
        let want = try String(contentsOfFile: vdir + "/records.jsonl", encoding: .utf8)
        #expect(lines == want)
        // And the records.jsonl parse back to the vector's records.
        let parsed = want.split(separator: "\n").map { try! RecordJSON.parse(ArraySlice(Array($0.utf8)), nextSeq: 0) }
        #expect(parsed == v.records())
        #expect(try JournalMaintenance.reindex(directory: tmp).blocksScanned > 0)
        #expect(try JournalMaintenance.verify(directory: tmp).isOK)
    }

    /// What the segments of a vector hold: format versions, dictionary records, block codecs
    /// (walked here with SPEC.md §3, §3.1 and §4.1 alone).
    @Test(arguments: goldenVectors)
    func vectorsHoldWhatTheyClaim(_ v: GoldenVector) throws {
        let vdir = vectorsRoot + "/" + v.name
        var codecs: Set<UInt8> = []
        var dictionaries = 0
        for n in try segmentFiles(vdir) {
            let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: vdir + "/" + n)))
            func u32(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24 }
            #expect(Int(b[8]) | Int(b[9]) << 8 == Int(v.format), "\(v.name)/\(n): format major")
            var off = 40
            if Array(b[40..<44]) == Array("WTJD".utf8) {
                dictionaries += 1
                off = 40 + 16 + u32(44)
            }
            while Array(b[off..<(off + 4)]) == Array("WTJB".utf8) {
                codecs.insert(b[off + 4])
                off += 80 + u32(off + 8)
            }
            #expect(Array(b[off..<(off + 4)]) == Array("WTJS".utf8) && off + 48 == b.count, "\(v.name)/\(n) ends with its seal")
        }
        #expect(codecs == v.codecs)
        #expect((dictionaries > 0) == v.codecs.contains(2))
    }
}
