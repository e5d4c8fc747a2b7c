import Foundation
import Testing
@testable import WireTapeCLI
import WireTapeTestSupport

/// `wiretape serve` end to end through the binary: real clients (`record`, `tap --reconnect`)
/// meet the recorded outages on the wire.
@Suite struct ServeCommandTests {
    /// A journal imported from JSON lines with the binary.
    func imported(_ jsonl: String) throws -> String {
        let dir = tempDir()
        try jsonl.write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let run = try CLIRun.wiretape(["import", dir + "/j", dir + "/in.jsonl"])
        #expect(run.status == 0, "\(run.stderr)")
        return dir + "/j"
    }

    func lines(_ run: CLIRun, kind: String) -> [[String: Any]] {
        run.lines.filter { $0["type"] as? String == kind }
    }

    @Test("record through serve: the 503 + Retry-After, the 1011 close and the reset arrive on the wire; frames byte for byte; 410 at the end")
    func recordThroughServe() throws {
        let original = try imported(replayOutageJSONL)
        let server = try CLIRun.start(["serve", original, "--listen", "127.0.0.1:0", "--speed", "4"])
        let url = server.firstLine()
        #expect(url.hasPrefix("ws://127.0.0.1:") && url.hasSuffix("/") && !url.hasSuffix(":0/"), "\(url)")

        let copy = tempDir() + "/r"
        let record = try CLIRun.wiretape(["record", url, "--journal", copy, "--send", #"{"op":"sub"}"#, "--quiet"])
        #expect(record.status == 1, "record ends unrecoverable at the 410: \(record.stderr)")
        #expect(record.stderr.contains("410"), "\(record.stderr)")
        let served = server.wait()
        #expect(served.status == 0, "\(served.stderr)")
        let summary = try #require(lines(served, kind: "summary").first)
        #expect(summary["epochs"] as? Int == 3)
        #expect(summary["frames"] as? Int == 6)
        #expect(summary["refused"] as? Int == 1)
        #expect(summary["outbound_matched"] as? Int == 3, "record re-subscribed in every epoch as recorded")
        #expect(summary["outbound_mismatched"] as? Int == 0)
        #expect(summary["end_of_recording"] as? Bool == true)

        // The inbound frames, byte for byte, in the same epochs.
        let before = try CLIRun.wiretape(["cat", original, "--direction", "in", "--format", "raw"])
        let after = try CLIRun.wiretape(["cat", copy, "--direction", "in", "--format", "raw"])
        #expect(after.status == 0 && after.stdout == before.stdout)
        let epochs = try CLIRun.wiretape(["cat", copy, "--direction", "in"]).lines.map { $0["epoch"] as? Int }
        #expect(epochs == [1, 1, 1, 2, 3, 3])

        // The outages, as the recorder saw them on the wire.
        let connects = try CLIRun.wiretape(["cat", copy, "--kind", "connect"]).lines
        let failed = connects.filter { $0["outcome"] as? String == "failed" }
        #expect(failed.map { $0["http_status"] as? Int } == [503, 410])
        #expect(failed.first?["retry_after_s"] as? Int == 1)
        // Each epoch's end (a failed attempt's reconnecting edge carries no close code).
        let ends = try CLIRun.wiretape(["cat", copy, "--kind", "lifecycle"]).lines
            .filter { $0["state"] as? String == "reconnecting" && $0["close_code"] != nil }
        #expect(ends.map { $0["close_code"] as? Int } == [1011, 1006, 1001], "\(ends)")
        #expect(ends.map { $0["epoch"] as? Int } == [1, 2, 3])
        #expect(ends.first?["close_reason"] as? String == "overloaded")
        #expect(ends.first?["closed_by"] as? String == "peer")
        #expect(ends.dropFirst().first?["error"] as? String == "connectionLost")
        #expect(ends.last?["close_reason"] as? String == "the recording is over")
    }

    @Test("a recorded silence is served without pongs: tap --reconnect's own liveness fires, then it reconnects")
    func silenceTripsTheClientsLiveness() throws {
        let jsonl = """
            {"type":"lifecycle","epoch":0,"wall_ns":1800000000000000000,"mono_ns":1000000000,"state":"connecting"}
            {"type":"lifecycle","epoch":1,"wall_ns":1800000000010000000,"mono_ns":1010000000,"state":"connected"}
            {"type":"frame","epoch":1,"wall_ns":1800000000020000000,"mono_ns":1020000000,"data":"x1"}
            {"type":"frame","epoch":1,"wall_ns":1800000000030000000,"mono_ns":1030000000,"data":"x2"}
            {"type":"lifecycle","epoch":1,"wall_ns":1800000030000000000,"mono_ns":31000000000,"state":"reconnecting","error":"livenessTimeout","message":"no pong"}
            {"type":"lifecycle","epoch":2,"wall_ns":1800000030100000000,"mono_ns":31100000000,"state":"connected"}
            {"type":"frame","epoch":2,"wall_ns":1800000030110000000,"mono_ns":31110000000,"data":"y1"}
            {"type":"lifecycle","epoch":2,"wall_ns":1800000030200000000,"mono_ns":31200000000,"state":"closed","close_code":1000,"closed_by":"local"}

            """
        let journal = try imported(jsonl)
        let server = try CLIRun.start(["serve", journal])
        let url = server.firstLine()
        let tap = try CLIRun.wiretape(["tap", url, "--reconnect", "--idle-timeout", "0.3", "--pong-timeout", "0.3"])
        #expect(tap.status == 1, "tap ends unrecoverable at the 410: \(tap.stderr)")
        let served = server.wait()
        #expect(served.status == 0, "\(served.stderr)")
        let frames = lines(tap, kind: "frame").map { $0["data"] as? String }
        #expect(frames == ["x1", "x2", "y1"])
        let stale = lines(tap, kind: "lifecycle").filter { $0["error"] as? String == "livenessTimeout" }
        #expect(stale.first?["epoch"] as? Int == 1, "\(tap.stdout)")
        let summary = try #require(lines(served, kind: "summary").first)
        #expect((summary["pings_unanswered"] as? Int ?? 0) >= 1)
        #expect(summary["epochs"] as? Int == 2)
    }

    @Test("a Python websockets client that reconnects after every end meets each recorded outage")
    func pythonClient() throws {
        let python = try peerPython()
        let journal = try imported(replayOutageJSONL)
        let server = try CLIRun.start(["serve", journal, "--speed", "4"])
        let url = server.firstLine()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: python)
        client.arguments = [repositoryRoot.appendingPathComponent("Tests/Peers/serve_client.py").path, url]
        let out = Pipe()
        client.standardOutput = out
        try client.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        client.waitUntilExit()
        let served = server.wait()
        #expect(served.status == 0, "\(served.stderr)")
        let events = String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(events.count == 5, "\(events)")
        guard events.count == 5 else { return }
        #expect(events[0]["frames"] as? [String] == ["a1", "a2", "b64:AAEC/w=="])
        #expect(events[0]["close"] as? Int == 1011)
        #expect(events[0]["reason"] as? String == "overloaded")
        #expect(events[1]["status"] as? Int == 503)
        #expect(events[1]["retry_after"] as? String == "1")
        #expect(events[2]["frames"] as? [String] == ["b1"])
        #expect(events[2]["close"] as? Int == 1006, "a reset, no close frame")
        #expect(events[3]["frames"] as? [String] == ["c1", "c2"])
        #expect(events[3]["close"] as? Int == 1001)
        #expect(events[4]["status"] as? Int == 410)
        #expect(lines(served, kind: "summary").first?["outbound_matched"] as? Int == 3)
    }

    @Test("--listen is checked")
    func badListen() async {
        let (_, err, code) = await CLIRun.inProcess(["serve", tempDir(), "--listen", "localhost"])
        #expect(code != 0)
        #expect(err.contains("--listen"))
    }
}
