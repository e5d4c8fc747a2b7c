import Foundation
import Testing
import WireTapeJournal
@testable import WireTapeReport

@Suite struct ReportHTMLTests {
    func page() throws -> String {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try KnownJournal(dir + "/j")
        var o = ReportOptions()
        o.continuity = ContinuitySpec(seqField: JSONPath("t")!)
        return ReportHTML.render(try ReportBuilder.build(directory: dir + "/j", options: o))
    }

    @Test func embeddedDataHasEveryOutageAndAnnotation() throws {
        let d = try embeddedData(try page())
        let outages = d["outages"] as! [[String: Any]]
        #expect(outages.count == 2)
        #expect(outages.map { $0["duration_s"] as! Double } == [12, 7.5])
        #expect(outages.map { $0["cause"] as! String } == ["close 1001 \"restart\" by peer; then HTTP 503 on reconnect", "liveness timeout: no data for 10 s"])
        let closeCode = outages[0]["close_code"] as? Int, http = outages[0]["http_status"] as? Int
        #expect(closeCode == 1001)
        #expect(http == 503)
        #expect(outages[1]["error"] as? String == "livenessTimeout")
        #expect((d["annotations"] as! [[String: Any]]).map { $0["text"] as! String } == ["deploy 4.2.1 <b>&</b>", "venue maintenance"])
        let inbound: [Int] = (d["buckets"] as! [String: [Int]])["in"]!
        let total = inbound.reduce(0, +)
        #expect(total == 305)
    }

    @Test func pageIsSelfContainedAndWellFormed() throws {
        let html = try page()
        #expect(structuralProblems(html) == [])
    }

    @Test func hostilePayloadIsEscaped() throws {
        let html = try page()
        #expect(!html.contains("</script><img"))
        #expect(!html.contains("onerror=alert"))
        #expect(html.contains("\\u003c\\/script\\u003e\\u003cimg src\\u003dx onerror\\u003dalert(1)\\u003e"))
        // The data round-trips to the original text.
        let d = try embeddedData(html)
        let before = (d["outages"] as! [[String: Any]])[0]["before"] as! [[String: Any]]
        #expect(before.contains { $0["text"] as? String == KnownJournal.hostile })
    }

    @Test func safeTextEscapesEverythingThatCouldBreakOut() {
        #expect(SafeText.html("<a href='x'>&\"/") == "&lt;a href&#61;&#39;x&#39;&gt;&amp;&quot;&#47;")
        #expect(SafeText.jsonString("</script>\u{2028}\"\\\u{01}") == "\"\\u003c\\/script\\u003e\\u2028\\\"\\\\\\u0001\"")
        #expect(structuralProblems("<!DOCTYPE html><html><body><div></span></body></html>") != [])
    }
}
