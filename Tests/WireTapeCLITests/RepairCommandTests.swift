import Foundation
import Testing
import WireTapeCLI
import WireTapeCore

/// `verify` and `repair` agree, for every kind of damage: when `verify` fails, `repair`
/// either fixes it (exit 0, and `verify` is clean afterwards) or says what it cannot fix
/// (exit 1, and `verify` still fails). Never "repair: OK" on a journal `verify` rejects.
@Suite(.serialized)
struct RepairCommandTests {
    enum Damage: String, CaseIterable, CustomTestStringConvertible {
        case flippedByteInAMiddleSegment, truncatedMiddleSegment, tornLastSegment, deletedMiddleSegment
        case deletedIndex, garbageAfterTheLastSeal, danglingSegmentSymlink
        var testDescription: String { rawValue }
    }

    /// Three sealed segments of 3,000 annotations each (one import each).
    func journal() throws -> (dir: String, segments: [String]) {
        let dir = NSTemporaryDirectory() + "wiretape-repair-\(UUID().uuidString)"
        for s in 0..<3 {
            let run = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
            run.write((1...3000).map { i -> String in
                let n = s * 3000 + i
                return #"{"type":"annotation","wall_ns":\#(n),"mono_ns":\#(n),"epoch":0,"text":"payload-\#(n)-\#(String(repeating: "x", count: 40))"}"# + "\n"
            }.joined())
            run.closeInput()
            #expect(run.wait().status == 0)
        }
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".wtj") }.sorted().map { dir + "/" + $0 }
        return (dir, segments)
    }

    func damage(_ d: Damage, _ dir: String, _ segments: [String]) throws {
        let fm = FileManager.default
        func writable(_ p: String) throws { try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: p) }
        switch d {
        case .flippedByteInAMiddleSegment:
            try writable(segments[1])
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: segments[1]))
            try h.seek(toOffset: 200)
            let b = try h.read(upToCount: 1)!
            try h.seek(toOffset: 200)
            try h.write(contentsOf: Data([b[0] ^ 0xFF]))
            try h.close()
        case .truncatedMiddleSegment:
            try writable(segments[1])
            #expect(truncate(segments[1], 3000) == 0)
        case .tornLastSegment:
            try writable(segments[2])
            let size = try fm.attributesOfItem(atPath: segments[2])[.size] as! Int
            #expect(truncate(segments[2], off_t(size - 30)) == 0)
        case .deletedMiddleSegment:
            try fm.removeItem(atPath: segments[1])
        case .deletedIndex:
            try fm.removeItem(atPath: dir + "/index.sqlite")
        case .garbageAfterTheLastSeal:
            try writable(segments[2])
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: segments[2]))
            try h.seekToEnd()
            var g = SeededRandom(seed: 7)
            try h.write(contentsOf: Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &g) }))
            try h.close()
        case .danglingSegmentSymlink:
            try fm.removeItem(atPath: segments[1])
            try fm.createSymbolicLink(atPath: segments[1], withDestinationPath: dir + "/gone")
        }
    }

    @Test(arguments: Damage.allCases)
    func verifyAndRepairAgree(_ d: Damage) throws {
        let (dir, segments) = try journal()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(segments.count == 3)
        #expect(try CLIRun.wiretape(["verify", dir]).status == 0, "healthy before the damage")
        try damage(d, dir, segments)
        let before = try CLIRun.wiretape(["verify", dir])
        #expect(before.status != 0, "verify sees the damage: \(before.stdout)")
        if d == .truncatedMiddleSegment || d == .deletedMiddleSegment {
            // Only the index knows these records existed: verify names them and does not send
            // the user to `reindex` (which would forget them); --strict readers stop.
            #expect(before.stdout.contains("missingRecords") && before.stdout.contains("records 3001...6000"), "\(before.stdout)")
            #expect(!before.stdout.contains("reindex"), "\(before.stdout)")
            let strict = try CLIRun.wiretape(["cat", dir, "--strict"])
            #expect(strict.status != 0)
            if d == .truncatedMiddleSegment {
                #expect(strict.stderr.components(separatedBy: "cut short").count == 2, "the damage is printed once, as the error:\n\(strict.stderr)")
            }
        }
        let repair = try CLIRun.wiretape(["repair", dir])
        let after = try CLIRun.wiretape(["verify", dir])
        if d == .truncatedMiddleSegment || d == .deletedMiddleSegment {
            #expect(repair.stdout.contains("gave up records 3001...6000"), "repair names what it gives up:\n\(repair.stdout)")
        }
        if repair.status == 0 {
            #expect(after.status == 0, "repair said OK but verify disagrees:\n\(repair.stdout)\n\(after.stdout)\(after.stderr)")
        } else {
            #expect(after.status != 0, "repair failed but verify is clean:\n\(repair.stdout)\(repair.stderr)")
            #expect(repair.stdout.contains("cannot fix") || repair.stderr.contains("Error:"), "repair says why:\n\(repair.stdout)\(repair.stderr)")
        }
        // Repair is idempotent in its verdict.
        #expect(try CLIRun.wiretape(["repair", dir]).status == repair.status)
    }
}
