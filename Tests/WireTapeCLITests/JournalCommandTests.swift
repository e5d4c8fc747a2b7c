import ArgumentParser
import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeCLI

func tempDir() -> String {
    let p = NSTemporaryDirectory() + "wiretape-cli-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

func parseLines(_ s: String) -> [NSDictionary] {
    s.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSDictionary }
}

let sampleJSONL = """
{"type":"session","seq":1,"epoch":0,"wall_ns":1700000000000000000,"mono_ns":100,"phase":"start","url":"wss://x.test/ws?stream=btc","headers":[["User-Agent","wt"]]}
{"type":"lifecycle","seq":2,"epoch":0,"wall_ns":1700000000001000000,"mono_ns":200,"state":"connecting"}
{"type":"connect","seq":3,"epoch":0,"wall_ns":1700000000002000000,"mono_ns":300,"outcome":"connected","url":"wss://x.test/ws","http_status":101,"retry_after_s":7}
{"type":"lifecycle","seq":4,"epoch":1,"wall_ns":1700000000003000000,"mono_ns":400,"state":"connected"}
{"type":"frame","seq":5,"epoch":1,"wall_ns":1700000000004000000,"mono_ns":500,"dir":"in","opcode":"text","data":"{\\"p\\":\\"1.5\\"} ✓"}
{"type":"frame","seq":6,"epoch":1,"wall_ns":1700000000005000000,"mono_ns":600,"dir":"out","opcode":"binary","data_b64":"AAEC/w=="}
{"type":"lifecycle","seq":7,"epoch":1,"wall_ns":1700000010000000000,"mono_ns":700,"state":"reconnecting","close_code":1006,"close_reason":"","error":"connectionLost","message":"reset","total_lagged":3,"total_lagged_bytes":900,"reconnects":0,"failed_attempts":1}
{"type":"lag","seq":8,"epoch":1,"wall_ns":1700000011000000000,"mono_ns":800,"count":3,"bytes":900}
{"type":"lifecycle","seq":9,"epoch":2,"wall_ns":1700000017000000000,"mono_ns":900,"state":"connected"}
{"type":"annotation","seq":10,"epoch":2,"wall_ns":1700000018000000000,"mono_ns":1000,"text":"operator note"}
{"type":"frame","seq":11,"epoch":2,"wall_ns":1700000019000000000,"mono_ns":1100,"dir":"in","opcode":"text","data":"after"}
{"type":"lifecycle","seq":12,"epoch":2,"wall_ns":1700000020000000000,"mono_ns":1200,"state":"closed","close_code":1000,"close_reason":"bye","closed_by":"local"}
{"type":"session","seq":13,"epoch":2,"wall_ns":1700000021000000000,"mono_ns":1300,"phase":"end","message":"done"}

"""

@Suite struct JournalCommandTests {
    func importSample(_ dir: String) async throws -> String {
        let input = dir + "/in.jsonl"
        try sampleJSONL.write(toFile: input, atomically: true, encoding: .utf8)
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", input])
        #expect(code == 0, "\(err)")
        #expect(err.contains("imported 13 records"))
        return dir + "/j"
    }

    @Test func importThenCatReproducesTheRecords() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importSample(dir)
        let (out, err, code) = await CLIRun.inProcess(["cat", j, "--format", "jsonl"])
        #expect(code == 0 && err.isEmpty, "\(err)")
        let got = parseLines(out)
        let want = parseLines(sampleJSONL)
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) { #expect(g == w, "\(g) != \(w)") }
    }

    @Test func catFiltersAndFormats() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importSample(dir)
        let (raw, _, _) = await CLIRun.inProcess(["cat", j, "--format", "raw", "--direction", "in"])
        #expect(raw == "{\"p\":\"1.5\"} ✓\nafter\n")
        let (ep, _, _) = await CLIRun.inProcess(["cat", j, "--epoch", "2", "--kind", "lifecycle"])
        #expect(parseLines(ep).map { $0["seq"] as! Int } == [9, 12])
        let (range, _, _) = await CLIRun.inProcess(["cat", j, "--from", "2023-11-14T22:13:30Z", "--to", "1700000018000000000"])
        #expect(parseLines(range).map { $0["seq"] as! Int } == [7, 8, 9, 10])
        let (pretty, _, _) = await CLIRun.inProcess(["cat", j, "--format", "pretty", "--kind", "lag"])
        #expect(pretty.contains("LAG 3 records, 900 bytes"))
        let (_, err, code) = await CLIRun.inProcess(["cat", j, "--from", "yesterday"])
        #expect(code != 0 && err.contains("RFC 3339"))
    }

    @Test func tapOutputWithoutSeqOrDirImports() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let tap = """
            {"type":"lifecycle","state":"connected","epoch":1,"wall_ns":5,"mono_ns":6}
            {"type":"frame","opcode":"text","data":"hi","wall_ns":7,"mono_ns":8,"epoch":1}
            {"type":"lifecycle","state":"closed","epoch":1,"wall_ns":9,"mono_ns":10,"close_code":1000,"close_reason":"done"}

            """
        try tap.write(toFile: dir + "/tap.jsonl", atomically: true, encoding: .utf8)
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", dir + "/tap.jsonl"])
        #expect(code == 0, "\(err)")
        let lines = parseLines(await CLIRun.inProcess(["cat", dir + "/j"]).0)
        #expect(lines.map { $0["seq"] as! Int } == [1, 2, 3])
        #expect(lines[1]["dir"] as? String == "in" && lines[1]["data"] as? String == "hi")
        #expect(lines[2]["close_code"] as? Int == 1000)
    }

    @Test func malformedLineIsNamedAndJournalStaysValid() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let bad = """
            {"type":"annotation","wall_ns":1,"text":"one"}
            {"type":"annotation","wall_ns":2,"text":"two"}
            {"type":"frame","wall_ns":3,"data":
            {"type":"annotation","wall_ns":4,"text":"four"}
            """
        try bad.write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", dir + "/bad.jsonl"])
        #expect(code != 0)
        #expect(err.contains("line 3"), "\(err)")
        let (_, _, vcode) = await CLIRun.inProcess(["verify", dir + "/j"])
        #expect(vcode == 0)
        #expect(parseLines(await CLIRun.inProcess(["cat", dir + "/j"]).0).count == 2)
        try "{\"type\":\"lifecycle\",\"wall_ns\":1,\"state\":\"sideways\"}\n".write(toFile: dir + "/bad2.jsonl", atomically: true, encoding: .utf8)
        let (_, err2, code2) = await CLIRun.inProcess(["import", dir + "/j", dir + "/bad2.jsonl"])
        #expect(code2 != 0 && err2.contains("line 1") && err2.contains("state"))
    }

    @Test func importFramesFormat() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        var data = Data()
        for (i, p) in ["{\"a\":1}", "{\"b\":2}", "x"].enumerated() {
            var len = UInt32(p.utf8.count).littleEndian
            var t = (UInt64(1_700_000_000_000_000_000) + UInt64(i)).littleEndian
            data.append(Data(bytes: &len, count: 4)); data.append(Data(bytes: &t, count: 8)); data.append(Data(p.utf8))
        }
        try data.write(to: URL(fileURLWithPath: dir + "/c.frames"))
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", "--format", "frames", dir + "/c.frames"])
        #expect(code == 0, "\(err)")
        #expect(await CLIRun.inProcess(["cat", dir + "/j", "--format", "raw"]).0 == "{\"a\":1}\n{\"b\":2}\nx\n")
        // A truncated file: error with the frame number, earlier frames kept.
        try data.prefix(data.count - 1).write(to: URL(fileURLWithPath: dir + "/t.frames"))
        let (_, err2, code2) = await CLIRun.inProcess(["import", dir + "/k", "--format", "frames", dir + "/t.frames"])
        #expect(code2 != 0 && err2.contains("frame 3"), "\(err2)")
        #expect(await CLIRun.inProcess(["cat", dir + "/k", "--format", "raw"]).0 == "{\"a\":1}\n{\"b\":2}\n")
    }

    @Test func infoAndGaps() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importSample(dir)
        let (info, _, code) = await CLIRun.inProcess(["info", j, "--json"])
        #expect(code == 0)
        let o = parseLines(info)[0]
        #expect(o["records"] as? Int == 13)
        #expect((o["records_by_kind"] as? NSDictionary)?["lifecycle"] as? Int == 5)
        #expect(o["max_epoch"] as? Int == 2)
        #expect(o["connects"] as? Int == 2)
        #expect((o["sessions"] as? [Any])?.count == 2)
        let (text, _, _) = await CLIRun.inProcess(["info", j])
        #expect(text.contains("time span") && text.contains("2023-11-14T22:13:20.000000000Z"))
        let (gaps, _, _) = await CLIRun.inProcess(["gaps", j, "--json"])
        let g = parseLines(gaps)
        #expect(g.count == 3)  // initial connect, the reconnect, the final close (open)
        #expect(g[1]["duration_s"] as? Double == 7.0)
        #expect((g[1]["cause"] as? String)?.contains("connectionLost: reset") == true)
        #expect(g[2]["open"] as? Bool == true)
        let (long, _, _) = await CLIRun.inProcess(["gaps", j, "--min-duration", "5"])
        #expect(long.split(separator: "\n").count == 1 && long.contains("close 1006"))
    }

    @Test func verifyRepairReindexOnADamagedJournal() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importSample(dir)
        #expect(await CLIRun.inProcess(["verify", j]).2 == 0)
        let seg = try FileManager.default.contentsOfDirectory(atPath: j).first { $0.hasSuffix(".wtj") }!
        let path = j + "/" + seg
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes = bytes.prefix(bytes.count - 60)  // seal and part of the block: a torn tail
        try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        try bytes.write(to: URL(fileURLWithPath: path))
        let (vout, _, vcode) = await CLIRun.inProcess(["verify", j])
        #expect(vcode == 1)
        #expect(vout.contains("tornTail") && vout.contains(seg) && vout.contains("at byte 40"))
        let (_, catErr, catCode) = await CLIRun.inProcess(["cat", j])
        #expect(catCode == 0 && catErr.contains("warning") && catErr.contains("torn"))
        let (rout, _, rcode) = await CLIRun.inProcess(["repair", j])
        #expect(rcode == 0 && rout.contains("truncated"))
        #expect(await CLIRun.inProcess(["verify", j]).2 == 0)
        let (xout, _, xcode) = await CLIRun.inProcess(["reindex", j])
        #expect(xcode == 0 && xout.contains("rebuilt the index"))
        // Without an index, info reads the segments and says so.
        let other = tempDir(); defer { try? FileManager.default.removeItem(atPath: other) }
        let k = try await importSample(other)
        for f in ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"] { try? FileManager.default.removeItem(atPath: k + "/" + f) }
        let (iout, ierr, icode) = await CLIRun.inProcess(["info", k])
        #expect(icode == 0, "\(ierr)")
        #expect(iout.contains("index        missing") && iout.contains("records      13"), "\(iout)")
        let (gout, gerr, gcode) = await CLIRun.inProcess(["gaps", "/nonexistent/journal"])
        #expect(gcode != 0 && !gerr.contains("reindex") && gout.isEmpty, "\(gerr)")
    }
}
