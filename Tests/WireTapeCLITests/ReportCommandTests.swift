import Foundation
import Testing
import WireTapeJournal
@testable import WireTapeCLI

/// A journal with two known outages, as JSON lines: a peer close 1001 (12 s, two failed
/// attempts with HTTP 503) and a liveness timeout (7.5 s); two annotations, one lag marker,
/// and a hostile frame just before the first outage.
let outageJSONL: String = {
    let t0: Int64 = 1_764_000_000_000_000_000
    var lines: [String] = []
    var seq = 0
    func add(_ s: Double, _ epoch: Int, _ body: String) {
        seq += 1
        let ns = Int64((s * 1e9).rounded())
        lines.append("{\"seq\":\(seq),\"epoch\":\(epoch),\"wall_ns\":\(t0 + ns),\"mono_ns\":\(ns + 1),\(body)}")
    }
    add(0, 0, #""type":"session","phase":"start","url":"wss://feed.test/ws?token=SECRET""#)
    add(0.001, 1, #""type":"lifecycle","state":"connected""#)
    for i in 0..<95 { add(0.1 * Double(i) + 0.05, 1, #""type":"frame","dir":"in","opcode":"text","data":"{\"t\":\#(i)}""#) }
    add(9.9, 1, #""type":"frame","dir":"in","opcode":"text","data":"</script><img src=x onerror=alert(1)>""#)
    add(9.95, 1, #""type":"annotation","text":"deploy 4.2.1""#)
    add(10, 1, #""type":"lifecycle","state":"reconnecting","close_code":1001,"close_reason":"restart","closed_by":"peer""#)
    add(13, 1, #""type":"connect","outcome":"failed","http_status":503,"error":"handshakeRejected","message":"HTTP 503""#)
    add(16, 1, #""type":"connect","outcome":"failed","http_status":503,"error":"handshakeRejected","message":"HTTP 503""#)
    add(22, 2, #""type":"lifecycle","state":"connected""#)
    add(23, 2, #""type":"frame","dir":"in","opcode":"text","data":"{\"t\":1000}""#)
    add(25, 2, #""type":"lag","count":3,"bytes":300"#)
    add(30, 2, #""type":"lifecycle","state":"stale""#)
    add(40, 2, #""type":"lifecycle","state":"reconnecting","error":"livenessTimeout","message":"no data for 10 s""#)
    add(47.5, 3, #""type":"lifecycle","state":"connected""#)
    add(48, 3, #""type":"frame","dir":"in","opcode":"text","data":"{\"t\":2000}""#)
    add(50, 3, #""type":"annotation","text":"venue maintenance""#)
    return lines.joined(separator: "\n") + "\n"
}()

func importOutageJournal(_ dir: String) async throws -> String {
    try outageJSONL.write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
    let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", dir + "/in.jsonl"])
    #expect(code == 0, "\(err)")
    return dir + "/j"
}

func reportData(_ html: String) throws -> [String: Any] {
    let a = try #require(html.range(of: "<script type=\"application/json\" id=\"wt-data\">"))
    let b = try #require(html.range(of: "</script>", range: a.upperBound..<html.endIndex))
    return try JSONSerialization.jsonObject(with: Data(html[a.upperBound..<b.lowerBound].utf8)) as! [String: Any]
}

@Suite struct ReportCommandTests {
    @Test func reportCarriesEveryOutageAndAnnotation() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (_, err, code) = await CLIRun.inProcess(["report", j, "--out", dir + "/r.html"])
        #expect(code == 0, "\(err)")
        #expect(err.contains("2 outage(s), 2 annotation(s)"))
        let html = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
        let d = try reportData(html)
        let outages = d["outages"] as! [[String: Any]]
        #expect(outages.map { $0["duration_s"] as! Double } == [12, 7.5])
        #expect(outages.map { $0["cause"] as! String } == [
            "close 1001 \"restart\" by peer; then HTTP 503 on reconnect", "liveness timeout: no data for 10 s",
        ])
        #expect(outages.map { $0["attempts"] as! Int } == [3, 1])
        #expect(outages.map { $0["frames_before"] as! Int } == [96, 97])
        #expect((d["annotations"] as! [[String: Any]]).map { $0["text"] as! String } == ["deploy 4.2.1", "venue maintenance"])
        #expect(d["feed"] as? String == "wss://feed.test/ws?token=<redacted>")
        // Self-contained, and the hostile frame is inert.
        for bad in ["http://", "https://", "://", "src=", "href=", "</script><img", "onerror="] {
            #expect(!html.contains(bad), "page contains \(bad)")
        }
        let before = outages[0]["before"] as! [[String: Any]]
        #expect(before.last?["text"] as? String == "</script><img src=x onerror=alert(1)>")
    }

    @Test func rangeAndBadInput() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (_, err, code) = await CLIRun.inProcess(["report", j, "--from", "1764000025000000000", "--out", dir + "/r.html"])
        #expect(code == 0, "\(err)")
        let d = try reportData(try String(contentsOfFile: dir + "/r.html", encoding: .utf8))
        #expect((d["outages"] as! [[String: Any]]).map { $0["error"] as? String } == ["livenessTimeout"])
        let (_, err2, code2) = await CLIRun.inProcess(["report", dir + "/missing", "--out", dir + "/x.html"])
        #expect(code2 != 0)
        #expect(err2.contains("missing"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.html"))
    }

    @Test func reportWithContinuity() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (_, err, code) = await CLIRun.inProcess(["report", j, "--out", dir + "/r.html", "--seq-field", "t"])
        #expect(code == 0, "\(err)")
        let d = try reportData(try String(contentsOfFile: dir + "/r.html", encoding: .utf8))
        let c = try #require(d["continuity"] as? [String: Any])
        let epochs = c["epochs"] as! [[String: Any]]
        #expect(epochs.map { $0["checked"] as! Int } == [95, 1, 1])
        #expect(epochs.map { $0["without_field"] as! Int } == [1, 0, 0])
        #expect(epochs.allSatisfy { ($0["gaps"] as! Int) == 0 })
    }
}
