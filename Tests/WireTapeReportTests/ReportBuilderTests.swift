import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeReport

@Suite struct ReportBuilderTests {
    @Test func outagesCarryTheirCauseDurationAndAttempts() throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try KnownJournal(dir + "/j")
        let r = try ReportBuilder.build(directory: dir + "/j")
        #expect(r.incidents.count == 2)
        let a = r.incidents[0].outage, b = r.incidents[1].outage
        #expect(a.durationSeconds == 12)
        #expect(a.cause.closeCode == 1001)
        #expect(a.cause.closedBy == .peer)
        #expect(a.cause.httpStatus == 503)
        #expect(a.cause.summary == "close 1001 \"restart\" by peer; then HTTP 503 on reconnect")
        #expect(a.attempts == 3)
        #expect(a.failures.count == 2)
        #expect(a.epochBefore == 1)
        #expect(a.epochAfter == 2)
        #expect(b.durationSeconds == 7.5)
        #expect(b.cause.summary == "liveness timeout: no data for 10 s")
        #expect(r.epochs.map(\.epoch) == [1, 2, 3])
        #expect(r.epochs[1].stale == [KnownJournal.t0 + 30_000_000_000...KnownJournal.t0 + 40_000_000_000])
        #expect(r.annotations.map(\.text) == ["deploy 4.2.1 <b>&</b>", "venue maintenance"])
        #expect(r.lags.map(\.count) == [7])
        #expect(r.lastCounters?.totalLagged == 3)
        #expect(r.feedURL == "wss://feed.test/ws?token=<redacted>&stream=x")
        #expect(abs(r.disconnectedSeconds - 19.5) < 1e-9)
    }

    @Test func outagesAreTheGapsOfWiretapeGaps() throws {
        // One definition of an outage: the report's incidents and `gaps` agree on every
        // outage, including one across a wall-clock step back and one still open.
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let base: Int64 = 1_700_000_000_000_000_000
        func at(_ wall: Int64, _ mono: UInt64) -> ReceiveTimestamp { ReceiveTimestamp(wallNanos: base + wall, monotonicNanos: mono) }
        let w = try JournalWriter(directory: dir + "/j")
        try w.append(.lifecycle(LifecycleEdge(state: .connecting)), epoch: 0, at: at(0, 0))
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 1, at: at(1_000_000_000, 1_000_000_000))
        try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1011, closeReason: "overloaded")), epoch: 1, at: at(10_000_000_000, 10_000_000_000))
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 2, at: at(-50_000_000_000, 14_000_000_000))
        try w.append(.lifecycle(LifecycleEdge(state: .stale)), epoch: 2, at: at(-40_000_000_000, 24_000_000_000))
        try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, error: "livenessTimeout", message: "no data")), epoch: 2, at: at(-30_000_000_000, 34_000_000_000))
        try w.flush()  // the last block holds only the frame 10 s into the open outage
        try w.append(.frame(direction: .outbound, opcode: .text, payload: Array("ping".utf8)), epoch: 2, at: at(-20_000_000_000, 44_000_000_000))
        try w.close()
        let gaps = try JournalGap.find(directory: dir + "/j")
        let outages = try ReportBuilder.build(directory: dir + "/j").incidents.map(\.outage)
        #expect(gaps.count == 3)
        #expect(outages.map(\.start) == gaps.map(\.start))
        #expect(outages.map(\.end) == gaps.map(\.end))
        #expect(outages.map(\.durationNanos) == gaps.map(\.durationNanos))
        #expect(outages.map(\.open) == gaps.map(\.open))
        #expect(gaps.map(\.durationNanos) == [1_000_000_000, 4_000_000_000, 10_000_000_000])
        #expect(outages[1].cause.closeCode == 1011 && gaps[1].cause == "close 1011 \"overloaded\"")
        #expect(outages[2].open && outages[2].cause.error == "livenessTimeout")
    }

    @Test func windowCountsAndExcerptsAreExact() throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try KnownJournal(dir + "/j")
        let r = try ReportBuilder.build(directory: dir + "/j")
        let first = r.incidents[0]
        // Frames every 100 ms from 0.05 s to 9.95 s: 100 in the minute before 10 s.
        #expect(first.framesBefore == 100)
        // After 22 s: frames until 30 s (80), then from 47.5 s to 60 s (125) — all within 60 s... 22+60 = 82.
        #expect(first.framesAfter == 80 + 125)
        #expect(first.before.count == 5)
        #expect(first.after.count == 5)
        #expect(first.before.contains { $0.text == KnownJournal.hostile })
        #expect(first.after.first?.wall == KnownJournal.t0 + 22_050_000_000)
        // The whole journal's frames are in the buckets.
        let total = r.buckets.buckets.reduce(UInt64(0)) { $0 + $1.inbound }
        #expect(total == r.kinds[.inboundFrame])
    }

    @Test func aTimeRangeKeepsOnlyWhatMeetsIt() throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try KnownJournal(dir + "/j")
        var o = ReportOptions()
        o.fromWall = KnownJournal.t0 + 25_000_000_000
        let r = try ReportBuilder.build(directory: dir + "/j", options: o)
        #expect(r.incidents.count == 1)
        #expect(r.incidents[0].outage.cause.error == "livenessTimeout")
        #expect(r.start == o.fromWall)
    }

    @Test func continuityIsCheckedPerEpoch() throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try KnownJournal(dir + "/j")
        var o = ReportOptions()
        o.continuity = ContinuitySpec(seqField: JSONPath("t")!)
        let r = try ReportBuilder.build(directory: dir + "/j", options: o)
        let c = try #require(r.continuity)
        #expect(c.epochs.map(\.epoch) == [1, 2, 3])
        // The hostile frame (t = 1 after t = 99) is a step back within the threshold: a duplicate.
        #expect(c.epochs[0].duplicates == 1)
        #expect(c.epochs[1].isClean && c.epochs[2].isClean)
    }
}
