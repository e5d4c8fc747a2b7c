import Foundation
import WireTapeCore
import WireTapeJournal
@testable import WireTapeReport

func tempDir() -> String {
    let p = NSTemporaryDirectory() + "wiretape-report-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

/// The JSON object embedded in a report page.
func embeddedData(_ html: String) throws -> [String: Any] {
    guard let a = html.range(of: "<script type=\"application/json\" id=\"wt-data\">"),
        let b = html.range(of: "</script>", range: a.upperBound..<html.endIndex)
    else { throw CocoaError(.coderReadCorrupt) }
    let json = String(html[a.upperBound..<b.lowerBound])
    return try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
}

/// Checks the page's structure: every non-void element closed in order, no external
/// reference of any kind. Returns the problems found (empty when the page is sound).
func structuralProblems(_ html: String) -> [String] {
    var problems: [String] = []
    for bad in ["://", "src=", "href=", "url(", "@import", "<img", "<iframe", "<link", "<object", "<embed"] where html.lowercased().contains(bad) {
        problems.append("page contains \(bad)")
    }
    if !html.hasPrefix("<!DOCTYPE html>") { problems.append("no doctype") }
    let void: Set<String> = ["meta", "br", "input", "img", "link", "hr", "wbr", "col", "area", "source"]
    var stack: [String] = []
    let s = Array(html.utf8)
    var i = 0
    var scripts = 0
    while i < s.count {
        guard s[i] == UInt8(ascii: "<") else { i += 1; continue }
        if s[i...].starts(with: Array("<!".utf8)) {
            while i < s.count, s[i] != UInt8(ascii: ">") { i += 1 }
            continue
        }
        var j = i + 1
        let closing = j < s.count && s[j] == UInt8(ascii: "/")
        if closing { j += 1 }
        var name = ""
        while j < s.count, (s[j] >= 97 && s[j] <= 122) || (s[j] >= 65 && s[j] <= 90) || (s[j] >= 48 && s[j] <= 57) {
            name.append(Character(UnicodeScalar(s[j]))); j += 1
        }
        name = name.lowercased()
        guard !name.isEmpty else { problems.append("stray < at byte \(i)"); i += 1; continue }
        while j < s.count, s[j] != UInt8(ascii: ">") { j += 1 }
        let selfClosing = j > 0 && s[j - 1] == UInt8(ascii: "/")
        i = j + 1
        if closing {
            if stack.last == name { stack.removeLast() } else { problems.append("</\(name)> closes <\(stack.last ?? "nothing")>") }
        } else if !void.contains(name) && !selfClosing {
            stack.append(name)
            if name == "script" || name == "style" {
                // Raw text: runs to the first "</name".
                scripts += name == "script" ? 1 : 0
                let end = Array("</\(name)".utf8)
                var k = i
                while k + end.count <= s.count, !s[k..<(k + end.count)].elementsEqual(end) { k += 1 }
                if k + end.count > s.count { problems.append("<\(name)> never closed") }
                i = k
            }
        }
    }
    if !stack.isEmpty { problems.append("unclosed: \(stack)") }
    if scripts != 2 { problems.append("\(scripts) script elements, expected 2 (data and code)") }
    return problems
}

/// Writes a journal with known outages directly through the writer.
/// Timeline (seconds from t0): connected epoch 1 at 0; frames every 100 ms; at 10 s the
/// peer closes 1001 "restart" (two failed attempts, HTTP 503); connected epoch 2 at 22 s;
/// stale at 30 s, liveness timeout at 40 s; connected epoch 3 at 47.5 s; frames until 60 s.
/// Annotations at 5 s and 50 s; a lag marker at 35 s; a hostile frame just before 10 s.
struct KnownJournal {
    static let t0: Int64 = 1_764_000_000_000_000_000
    static let hostile = "{\"t\":1,\"x\":\"</script><img src=x onerror=alert(1)>https://evil.test/a.js\"}"
    let directory: String

    init(_ directory: String) throws {
        self.directory = directory
        var options = JournalWriterOptions()
        options.blockSize = 4096
        let w = try JournalWriter(directory: directory, options: options)
        func at(_ s: Double) -> ReceiveTimestamp {
            let ns = Int64((s * 1e9).rounded())
            return ReceiveTimestamp(wallNanos: Self.t0 + ns, monotonicNanos: UInt64(ns) + 1)
        }
        var epoch: UInt64 = 0
        var events: [(Double, UInt64, RecordBody)] = []
        events.append((0, 0, .session(SessionEvent(phase: .start, url: "wss://feed.test/ws?token=SECRET&stream=x"))))
        events.append((0.001, 1, .lifecycle(LifecycleEdge(state: .connected))))
        events.append((5, 1, .annotation("deploy 4.2.1 <b>&</b>")))
        events.append((10, 1, .lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1001, closeReason: "restart", closedBy: .peer))))
        for k in 0..<2 {
            events.append((13 + Double(k) * 3, 1, .connect(ConnectEvent(outcome: .attempt))))
            events.append((13.01 + Double(k) * 3, 1, .connect(ConnectEvent(outcome: .failed, httpStatus: 503, error: "handshakeRejected", message: "HTTP 503"))))
        }
        events.append((21.9, 1, .connect(ConnectEvent(outcome: .attempt))))
        events.append((22, 2, .lifecycle(LifecycleEdge(state: .connected))))
        events.append((30, 2, .lifecycle(LifecycleEdge(state: .stale))))
        events.append((35, 2, .lag(count: 7, bytes: 700)))
        events.append((40, 2, .lifecycle(LifecycleEdge(state: .reconnecting, error: "livenessTimeout", message: "no data for 10 s", counters: LifecycleCounters(totalLagged: 3)))))
        events.append((47.5, 3, .lifecycle(LifecycleEdge(state: .connected))))
        events.append((50, 3, .annotation("venue maintenance")))
        var t = 0.05
        var id: UInt64 = 1
        while t < 60 {
            let up = (t < 10) || (t >= 22 && t < 30) || t >= 47.5
            if up {
                let e: UInt64 = t < 10 ? 1 : t < 47.5 ? 2 : 3
                let text = (t > 9.9 && t < 10) ? Self.hostile : "{\"t\":\(id),\"p\":\"1.0\"}"
                events.append((t, e, .frame(direction: .inbound, opcode: .text, payload: Array(text.utf8))))
                id += 1
            }
            t += 0.1
        }
        events.sort { $0.0 < $1.0 }
        for (s, e, body) in events {
            epoch = e
            _ = try w.append(body, epoch: epoch, at: at(s))
        }
        try w.close()
    }
}
