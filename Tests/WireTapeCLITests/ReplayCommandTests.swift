import Foundation
import Testing
@testable import WireTapeCLI

/// A recorded session with outages, as JSON lines for `wiretape import`: epoch 1 ends with a
/// peer close 1011, then one attempt is refused with 503 (Retry-After 1), epoch 2 is lost
/// (1006), epoch 3 ends with the recorder's shutdown. Each epoch re-subscribes.
let replayOutageJSONL = """
{"type":"session","epoch":0,"wall_ns":1800000000000000000,"mono_ns":1000000000,"phase":"start","url":"wss://venue.test/ws"}
{"type":"lifecycle","epoch":0,"wall_ns":1800000000001000000,"mono_ns":1001000000,"state":"connecting"}
{"type":"lifecycle","epoch":1,"wall_ns":1800000000010000000,"mono_ns":1010000000,"state":"connected"}
{"type":"frame","epoch":1,"wall_ns":1800000000011000000,"mono_ns":1011000000,"dir":"out","data":"{\\"op\\":\\"sub\\"}"}
{"type":"frame","epoch":1,"wall_ns":1800000000020000000,"mono_ns":1020000000,"data":"a1"}
{"type":"frame","epoch":1,"wall_ns":1800000000030000000,"mono_ns":1030000000,"data":"a2"}
{"type":"frame","epoch":1,"wall_ns":1800000000040000000,"mono_ns":1040000000,"data_b64":"AAEC/w=="}
{"type":"lifecycle","epoch":1,"wall_ns":1800000000100000000,"mono_ns":1100000000,"state":"reconnecting","close_code":1011,"close_reason":"overloaded","closed_by":"peer"}
{"type":"connect","epoch":1,"wall_ns":1800000000600000000,"mono_ns":1600000000,"outcome":"attempt"}
{"type":"connect","epoch":1,"wall_ns":1800000000610000000,"mono_ns":1610000000,"outcome":"failed","http_status":503,"error":"handshakeRejected","message":"HTTP 503","retry_after_s":1}
{"type":"connect","epoch":1,"wall_ns":1800000001700000000,"mono_ns":2700000000,"outcome":"attempt"}
{"type":"connect","epoch":2,"wall_ns":1800000001710000000,"mono_ns":2710000000,"outcome":"connected","http_status":101}
{"type":"lifecycle","epoch":2,"wall_ns":1800000001710000000,"mono_ns":2710000000,"state":"connected"}
{"type":"frame","epoch":2,"wall_ns":1800000001711000000,"mono_ns":2711000000,"dir":"out","data":"{\\"op\\":\\"sub\\"}"}
{"type":"frame","epoch":2,"wall_ns":1800000001720000000,"mono_ns":2720000000,"data":"b1"}
{"type":"lifecycle","epoch":2,"wall_ns":1800000001800000000,"mono_ns":2800000000,"state":"reconnecting","close_code":1006,"error":"connectionLost","message":"reset"}
{"type":"connect","epoch":2,"wall_ns":1800000002300000000,"mono_ns":3300000000,"outcome":"attempt"}
{"type":"connect","epoch":3,"wall_ns":1800000002310000000,"mono_ns":3310000000,"outcome":"connected","http_status":101}
{"type":"lifecycle","epoch":3,"wall_ns":1800000002310000000,"mono_ns":3310000000,"state":"connected"}
{"type":"frame","epoch":3,"wall_ns":1800000002311000000,"mono_ns":3311000000,"dir":"out","data":"{\\"op\\":\\"sub\\"}"}
{"type":"frame","epoch":3,"wall_ns":1800000002320000000,"mono_ns":3320000000,"data":"c1"}
{"type":"frame","epoch":3,"wall_ns":1800000002330000000,"mono_ns":3330000000,"data":"c2"}
{"type":"lifecycle","epoch":3,"wall_ns":1800000002400000000,"mono_ns":3400000000,"state":"closed","close_code":1000,"close_reason":"shutdown","closed_by":"local"}
{"type":"session","epoch":3,"wall_ns":1800000002401000000,"mono_ns":3401000000,"phase":"end"}

"""

@Suite struct ReplayCommandTests {
    func imported(_ jsonl: String, format: String = "jsonl") async throws -> String {
        let dir = tempDir()
        let input = dir + "/in." + format
        try jsonl.write(toFile: input, atomically: true, encoding: .utf8)
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", input, "--format", format])
        #expect(code == 0, "\(err)")
        return dir + "/j"
    }

    func frames(_ lines: [NSDictionary]) -> [String] {
        lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
            .map { ($0["data"] as? String) ?? "b64:" + (($0["data_b64"] as? String) ?? "") }
    }

    @Test("replay prints tap's lines for every epoch and outage, then a summary; exit 0 at the end")
    func plain() async throws {
        let dir = try await imported(replayOutageJSONL)
        let (out, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--send", #"{"op":"sub"}"#])
        #expect(code == 0, "\(err)")
        let lines = parseLines(out)
        #expect(frames(lines) == ["a1", "a2", "b64:AAEC/w==", "b1", "c1", "c2"])
        let inFrames = lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
        #expect(inFrames.map { $0["epoch"] as? Int } == [1, 1, 1, 2, 3, 3])
        #expect(inFrames.first?["wall_ns"] as? Int == 1_800_000_000_020_000_000)
        #expect(inFrames.first?["mono_ns"] as? Int == 1_020_000_000)
        let edges = lines.filter { $0["type"] as? String == "lifecycle" }
        #expect(edges.contains { $0["close_code"] as? Int == 1011 && $0["state"] as? String == "reconnecting" })
        #expect(edges.contains { $0["http_status"] as? Int == 503 })
        #expect(edges.contains { $0["error"] as? String == "connectionLost" })
        let summary = try #require(lines.last)
        #expect(summary["type"] as? String == "summary")
        #expect(summary["epochs"] as? Int == 3)
        #expect(summary["frames"] as? Int == 6)
        #expect(summary["outbound_matched"] as? Int == 3)
        #expect(summary["outbound_mismatched"] as? Int == 0)
        #expect(summary["end_of_recording"] as? Bool == true)
    }

    @Test("--reconnect runs the resilient stack on the replay's clock; a mismatched --send is reported")
    func reconnecting() async throws {
        let dir = try await imported(replayOutageJSONL)
        let (out, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--reconnect", "--send", #"{"op":"unsub"}"#])
        #expect(code == 0, "\(err)")
        let lines = parseLines(out)
        #expect(frames(lines) == ["a1", "a2", "b64:AAEC/w==", "b1", "c1", "c2"])
        let summary = try #require(lines.last)
        #expect(summary["outbound_mismatched"] as? Int == 3)
        #expect(summary["refused"] as? Int == 1)
        #expect(err.contains("mismatched"))
    }

    @Test("--reconnect prints every lifecycle edge, none coalesced, each before its epoch's frames", arguments: 0..<5)
    func reconnectingPrintsEveryEdge(run: Int) async throws {
        let dir = try await imported(replayOutageJSONL)
        let (out, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--reconnect"])
        #expect(code == 0, "\(err)")
        var edges: [String] = []
        var connected: Set<Int> = []
        for line in parseLines(out) {
            let epoch = line["epoch"] as? Int ?? -1
            if line["type"] as? String == "lifecycle" {
                let state = line["state"] as? String ?? "?"
                edges.append("\(state)@\(epoch)")
                if state == "connected" { connected.insert(epoch) }
            } else if line["type"] as? String == "frame" {
                #expect(connected.contains(epoch), "a frame of epoch \(epoch) came before its connected edge")
            }
        }
        #expect(edges == [
            "connecting@0", "connected@1", "reconnecting@1", "connecting@1", "reconnecting@1", "connecting@1",
            "connected@2", "reconnecting@2", "connecting@2", "connected@3", "unrecoverable@3",
        ])
    }

    @Test("--mutate and --epoch select and change what is replayed")
    func mutateAndSelect() async throws {
        let dir = try await imported(replayOutageJSONL)
        let (out, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--epoch", "1", "--mutate", "drop-frames:1:1:1"])
        #expect(code == 0, "\(err)")
        let lines = parseLines(out)
        #expect(frames(lines) == ["a1", "b64:AAEC/w=="])
        #expect(lines.last?["frames_dropped"] as? Int == 1)

        let (_, bad, badCode) = await CLIRun.inProcess(["replay", dir, "--mutate", "drop-frames:1:x:1"])
        #expect(badCode != 0)
        #expect(bad.contains("FROM"))
        let (_, badSpeed, speedCode) = await CLIRun.inProcess(["replay", dir, "--speed", "-3"])
        #expect(speedCode != 0)
        #expect(badSpeed.contains("--speed"))
    }

    @Test("a journal of imported frames replays as one connection; raw output equals cat's")
    func rawEqualsCat() async throws {
        var jsonl = ""
        for i in 0..<200 {
            jsonl += #"{"type":"frame","wall_ns":\#(1_800_000_000_000_000_000 + i * 1_000_000),"data":"frame \#(i) ✓"}"# + "\n"
        }
        let dir = try await imported(jsonl)
        let (replayed, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--format", "raw"])
        #expect(code == 0, "\(err)")
        let (catted, _, _) = await CLIRun.inProcess(["cat", dir, "--format", "raw"])
        #expect(replayed == catted)
        #expect(replayed.split(separator: "\n").count == 200)
        let (json, _, _) = await CLIRun.inProcess(["replay", dir, "--speed", "max"])
        let lines = parseLines(json)
        #expect(lines.last?["epochs"] as? Int == 1)
        #expect(lines.last?["frames"] as? Int == 200)
    }

    /// Three epochs of `perEpoch` text and binary frames of up to ~200 bytes (about 300 KB in
    /// all: several 64 KiB blocks per epoch), ending 1011, 1006 and with the recorder's close.
    static func manyBlocksJSONL(perEpoch: Int = 1000) -> String {
        var l = [#"{"type":"session","epoch":0,"wall_ns":1800000000000000000,"mono_ns":1000000000,"phase":"start"}"#]
        var ms = 10
        func at(_ ms: Int) -> String { #""wall_ns":\#(1_800_000_000_000_000_000 + ms * 1_000_000),"mono_ns":\#(1_000_000_000 + ms * 1_000_000)"# }
        for e in 1...3 {
            l.append(#"{"type":"lifecycle","epoch":\#(e),\#(at(ms)),"state":"connected"}"#)
            for i in 0..<perEpoch {
                ms += 1
                if i % 5 == 2 {
                    // Printable bytes without a newline, so that outputs compare as text, line by line.
                    let bytes = (0..<(i % 150)).map { UInt8(32 + ($0 * 7 + i + e) % 95) }
                    l.append(#"{"type":"frame","epoch":\#(e),\#(at(ms)),"data_b64":"\#(Data(bytes).base64EncodedString())"}"#)
                } else {
                    l.append(#"{"type":"frame","epoch":\#(e),\#(at(ms)),"data":"e\#(e) f\#(i) \#(String(repeating: "é✓-", count: i % 60))"}"#)
                }
            }
            ms += 100
            switch e {
            case 1: l.append(#"{"type":"lifecycle","epoch":1,\#(at(ms)),"state":"reconnecting","close_code":1011,"close_reason":"overloaded","closed_by":"peer"}"#)
            case 2: l.append(#"{"type":"lifecycle","epoch":2,\#(at(ms)),"state":"reconnecting","close_code":1006,"error":"connectionLost","message":"reset"}"#)
            default: l.append(#"{"type":"lifecycle","epoch":3,\#(at(ms)),"state":"closed","close_code":1000,"close_reason":"shutdown","closed_by":"local"}"#)
            }
            ms += 100
        }
        return l.joined(separator: "\n") + "\n"
    }

    /// The payloads of a replay's jsonl output, as raw prints them: one per line.
    func rawOfJSONL(_ out: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in parseLines(out) where line["type"] as? String == "frame" && line["dir"] as? String == "in" {
            if let t = line["data"] as? String { bytes += Array(t.utf8) } else { bytes += Array(Data(base64Encoded: line["data_b64"] as! String)!) }
            bytes.append(10)
        }
        return bytes
    }

    /// Nil when `a` and `b` are equal, else where they first differ (a short message: a failed
    /// `==` on outputs this large would make the test library diff them at length).
    func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String? {
        guard a != b else { return nil }
        let i = zip(a, b).prefix { $0 == $1 }.count
        let line = a.prefix(i).filter { $0 == 10 }.count
        return "\(a.count) vs \(b.count) bytes, first difference at byte \(i) (line \(line + 1))"
    }

    @Test("raw output, lent from the decoded blocks, equals cat's and the frames' payloads: across blocks and epochs, with --epoch, --from/--to, --mutate and --reconnect")
    func rawFastPathEqualsFramePath() async throws {
        let dir = try await imported(Self.manyBlocksJSONL())
        // Frames of the middle of epoch 1 to the middle of epoch 3 (wall ms 510 and 2800).
        let from = String(1_800_000_000_000_000_000 + 510 * 1_000_000)
        let to = String(1_800_000_000_000_000_000 + 2_800 * 1_000_000)
        for selection in [[], ["--epoch", "2"], ["--from", from, "--to", to]] {
            let (catted, _, _) = await CLIRun.inProcess(["cat", dir, "--format", "raw", "--direction", "in"] + selection)
            let expectedLines = selection.isEmpty ? 3000 : selection.count == 2 ? 1000 : 1891  // 501 + 1000 + 390
            let cattedLines = catted.split(separator: "\n", omittingEmptySubsequences: false).count
            #expect(cattedLines == expectedLines + 1, "\(selection)")
            let (raw, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--format", "raw"] + selection)
            #expect(code == 0, "\(selection): \(err)")
            #expect(firstDifference(Array(raw.utf8), Array(catted.utf8)) == nil, "\(selection)")
            // The same replay through the resilient stack: owned frames, taken one by one.
            let (reconnecting, err2, code2) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--format", "raw", "--reconnect"] + selection)
            #expect(code2 == 0, "\(selection): \(err2)")
            #expect(firstDifference(Array(reconnecting.utf8), Array(catted.utf8)) == nil, "\(selection) --reconnect")
            let (json, _, _) = await CLIRun.inProcess(["replay", dir, "--speed", "max"] + selection)
            #expect(firstDifference(rawOfJSONL(json), Array(catted.utf8)) == nil, "\(selection) jsonl")
        }
        // Mutated frames are owned (a reorder holds them across blocks) and lent to the printer
        // as views of one copy: the same payloads as jsonl prints from the frames.
        let mutations = ["--mutate", "drop-frames:1:5:3", "--mutate", "duplicate-frames:2:10:4", "--mutate", "reorder-frames:3:100:50", "--seed", "9"]
        let (raw, err, code) = await CLIRun.inProcess(["replay", dir, "--speed", "max", "--format", "raw"] + mutations)
        #expect(code == 0, "\(err)")
        let (json, _, _) = await CLIRun.inProcess(["replay", dir, "--speed", "max"] + mutations)
        #expect(firstDifference(Array(raw.utf8), rawOfJSONL(json)) == nil)
        let mutatedLines = raw.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(mutatedLines == 3002)  // 3000 - 3 dropped + 4 duplicated, and the empty piece after the last newline
        #expect(parseLines(json).last?["frames"] as? Int == 3001)
    }

    @Test("a journal recorded by the demo (a live feed through the resilient stack) replays with the same epochs, frames and outage causes")
    func recordedDemoReplays() async throws {
        let journal = tempDir() + "/demo"
        let (_, demoErr, demoCode) = await CLIRun.inProcess(["demo", "--journal", journal])
        #expect(demoCode == 0, "\(demoErr)")
        let (catted, _, _) = await CLIRun.inProcess(["cat", journal, "--direction", "in"])
        let recorded = parseLines(catted)
        for args in [["--speed", "max"], ["--speed", "max", "--reconnect"], ["--speed", "20", "--reconnect"]] {
            let (out, err, code) = await CLIRun.inProcess(["replay", journal] + args)
            #expect(code == 0, "\(args): \(err)")
            let lines = parseLines(out)
            let inFrames = lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
            #expect(inFrames.map { $0["data"] as? String } == recorded.map { $0["data"] as? String }, "\(args)")
            #expect(inFrames.map { $0["wall_ns"] as? Int } == recorded.map { $0["wall_ns"] as? Int }, "\(args)")
            #expect(inFrames.map { $0["epoch"] as? Int } == recorded.map { $0["epoch"] as? Int }, "\(args)")
            let edges = lines.filter { $0["type"] as? String == "lifecycle" }
            if !args.contains("--reconnect") {
                // Every edge is printed; under --reconnect the lifecycle watch may skip
                // intermediate edges (latest-value semantics, as with `tap --reconnect`).
                #expect(edges.contains { $0["close_code"] as? Int == 1011 }, "\(args)")
                #expect(edges.contains { $0["error"] as? String == "connectionLost" }, "\(args)")
                #expect(edges.contains { $0["close_code"] as? Int == 1001 }, "\(args)")
            }
            #expect(edges.last?["reconnects"] as? Int == 2, "\(args)")
            #expect(lines.last?["epochs"] as? Int == 3)
            #expect(lines.last?["end_of_recording"] as? Bool == true)
        }
    }
}
