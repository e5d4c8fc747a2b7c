import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

@Suite(.serialized)
struct RecordCommandFailureTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    @Test func anUnrecoverableVenueEndsTheRecordingWithExit1AndACause() throws {
        let dir = NSTemporaryDirectory() + "wiretape-record-401-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.wiretape(["record", peer.url("/status/401"), "--journal", dir], timeout: .seconds(30))
        #expect(run.status == 1)
        #expect(run.stderr.contains("unrecoverable") && run.stderr.contains("401"), "\(run.stderr)")
        let cat = try CLIRun.wiretape(["cat", dir])
        let last = cat.lines.last
        #expect(last?["type"] as? String == "session" && (last?["message"] as? String ?? "").contains("unrecoverable"))
        #expect(cat.lines.contains { $0["type"] as? String == "lifecycle" && $0["state"] as? String == "unrecoverable" })
    }

    @Test func afterSIGKILLRepairLeavesAnExactPrefixOfTheFeed() throws {
        let dir = NSTemporaryDirectory() + "wiretape-record-kill-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let p = try RecordProcess([peer.url("/venue?script=hold&n=200000&log=\(log)"), "--journal", dir, "--durability", "never"])
        #expect(p.waitForLine(containing: "state=connected epoch=1"))
        // Kill once a block is on disk: the journal's segment grows past its header (polled,
        // bounded; the block is written when 64 KiB of the feed arrived).
        for _ in 0..<500 {
            let sizes = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".wtj") }
                .map { ((try? FileManager.default.attributesOfItem(atPath: dir + "/" + $0))?[.size] as? Int) ?? 0 }
            if sizes.contains(where: { $0 > 4096 }) { break }
            usleep(20_000)
        }
        kill(p.process.processIdentifier, SIGKILL)
        _ = p.wait()
        let repair = try CLIRun.wiretape(["repair", dir])
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        let verify = try CLIRun.wiretape(["verify", dir])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let cat = try CLIRun.wiretape(["cat", dir])
        let got = cat.lines.filter { $0["type"] as? String == "frame" }.map { $0["data"] as? String ?? "?" }
        // Whatever reached the disk before the kill is an exact prefix of what the venue sent.
        #expect(got.count > 0 && got.count < 200_000)
        #expect(got == (0..<got.count).map { "s0-m\($0)" })
    }

    @Test func aQuietButAliveSessionIsStaleThenResumedInTheSameEpoch() throws {
        let dir = NSTemporaryDirectory() + "wiretape-record-quiet-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.wiretape([
            "record", peer.url("/venue?script=hold&n=3&quiet=1.5"), "--journal", dir, "--idle-timeout", "0.5",
            "--pong-timeout", "5", "--duration", "2.5",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let records = try CLIRun.wiretape(["cat", dir]).lines
        let edges = records.filter { $0["type"] as? String == "lifecycle" }.map { "\($0["state"] as? String ?? "?")@\($0["epoch"] as? Int ?? -1)" }
        #expect(edges.starts(with: ["connecting@0", "connected@1", "stale@1"]), "\(edges)")
        #expect(edges.contains("resumed@1") && edges.last == "closed@1", "\(edges)")
        #expect(!edges.contains { $0.hasSuffix("@2") || $0.hasPrefix("reconnecting") })
        let frames = records.filter { $0["type"] as? String == "frame" }.map { $0["data"] as? String ?? "?" }
        #expect(frames == ["s0-m0", "s0-m1", "s0-m2", "s0-q0", "s0-q1", "s0-q2"])
        #expect(try CLIRun.wiretape(["verify", dir]).status == 0)
    }

    @Test func badFlagsAreRejectedBeforeAnythingHappens() throws {
        let run = try CLIRun.wiretape(["record", peer.url("/text"), "--journal", "/tmp/never-created-\(UUID().uuidString)", "--durability", "sometimes"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("--durability"))
    }
}
