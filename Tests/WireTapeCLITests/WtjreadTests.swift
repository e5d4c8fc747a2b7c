import Foundation
import Testing
import WireTapeJournal
import WireTapeTestSupport
@testable import WireTapeCLI

/// `journal-format/wtjread.py`, a second reader written from SPEC.md alone (Python, system
/// liblz4), must print exactly the JSON lines the reference reader produces: on every golden
/// vector, and on damaged copies of them (flipped bits, cut tails, inserted and removed bytes).
@Suite struct WtjreadTests {
    /// What wtjread.py prints for a journal directory (stdout).
    func pythonRead(_ dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try peerPython())
        p.arguments = [repositoryRoot.appendingPathComponent("journal-format/wtjread.py").path, dir]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// What the reference reader returns under the skip policy, as JSON lines.
    func referenceRead(_ dir: String) throws -> String {
        let c = try JournalCursor(directory: dir, options: ReadOptions(onCorruption: .skip, useIndex: false))
        var lines = ""
        while let r = try c.next() { lines += RecordJSON.line(r) + "\n" }
        return lines
    }

    @Test(arguments: goldenVectors)
    func readsEveryVectorToItsRecords(_ v: GoldenVector) throws {
        let dir = vectorsRoot + "/" + v.name
        #expect(try pythonRead(dir) == (try String(contentsOfFile: dir + "/records.jsonl", encoding: .utf8)))
    }

    @Test(arguments: ["dictionary", "multi-block"])
    func agreesWithTheReferenceOnDamagedJournals(_ name: String) throws {
        let src = vectorsRoot + "/" + name
        let segments = try FileManager.default.contentsOfDirectory(atPath: src).filter { $0.hasSuffix(".wtj") }.sorted()
        var x: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return Int((x >> 33) % UInt64(n))
        }
        var damagedRuns = 0
        for round in 0..<25 {
            let tmp = tempDir(); defer { try? FileManager.default.removeItem(atPath: tmp) }
            for s in segments { try FileManager.default.copyItem(atPath: src + "/" + s, toPath: tmp + "/" + s) }
            let victim = tmp + "/" + segments[next(segments.count)]
            var b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: victim)))
            switch round % 4 {
            case 0: b[next(b.count)] ^= UInt8(1 << next(8))
            case 1: b.removeSubrange((40 + next(b.count - 40))...)
            case 2: b.insert(contentsOf: (0..<(1 + next(40))).map { _ in UInt8(next(256)) }, at: next(b.count))
            default:
                let at = 40 + next(b.count - 40)
                b.removeSubrange(at..<min(b.count, at + 1 + next(200)))
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: victim)
            try Data(b).write(to: URL(fileURLWithPath: victim))
            let reference = try referenceRead(tmp)
            if reference != (try String(contentsOfFile: src + "/records.jsonl", encoding: .utf8)) { damagedRuns += 1 }
            #expect(try pythonRead(tmp) == reference, "round \(round) of \(name)")
        }
        #expect(damagedRuns >= 15, "most rounds lose records, so the damage paths ran")
    }
}
