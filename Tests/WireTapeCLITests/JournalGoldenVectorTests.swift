import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeCLI

/// The golden journals in journal-format/vectors: each is a journal directory (one sealed
/// segment, no index) plus `records.jsonl`, its records in the JSON-lines form.
///
/// Regenerate after an intentional format change with
/// `WIRETAPE_REGENERATE_VECTORS=1 swift test --filter JournalGoldenVectorTests`.
struct GoldenVector: Sendable, CustomStringConvertible {
    var name: String
    var blockSize: Int
    var records: @Sendable () -> [JournalRecord]
    var description: String { name }
}

let vectorsRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    url.deleteLastPathComponent(); url.deleteLastPathComponent(); url.deleteLastPathComponent()
    return url.path + "/journal-format/vectors"
}()

let goldenVectors: [GoldenVector] = [
    GoldenVector(name: "all-kinds", blockSize: 65536) {
        sampleJSONL.split(separator: "\n").map { try! RecordJSON.parse(ArraySlice(Array($0.utf8)), nextSeq: 0) }
    },
    GoldenVector(name: "multi-block", blockSize: 256) {
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
]

func vectorJSONL(_ records: [JournalRecord]) -> String {
    records.map { RecordJSON.line($0) + "\n" }.joined()
}

@Suite struct JournalGoldenVectorTests {
    func write(_ v: GoldenVector, to dir: String) throws {
        var o = JournalWriterOptions()
        o.blockSize = v.blockSize
        o.durability = .never
        let w = try JournalWriter(directory: dir, options: o)
        for r in v.records() { try w.append(r) }
        try w.close()
    }

    func segmentFiles(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".wtj") }.sorted()
    }

    @Test(arguments: goldenVectors)
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
}
