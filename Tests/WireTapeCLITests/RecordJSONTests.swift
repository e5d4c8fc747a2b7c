import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeCLI

@Suite struct RecordJSONTests {
    func object(_ line: String) -> [String: Any] {
        try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    let at = ReceiveTimestamp(wallNanos: 1_700_000_000_000_000_000, monotonicNanos: 42)

    @Test func anEdgeCarriesOnlyTheCauseItHas() {
        let lost = DisconnectCause.error(WSError(.connectionLost, "reset by peer", closeCode: .abnormalClosure))
        for state in [ConnState.connecting, .connected, .stale, .resumed] {
            let o = object(RecordJSON.line(LifecycleSnapshot(epoch: 2, state: state, lastDisconnect: lost, at: at)))
            #expect(o["state"] as? String == state.rawValue)
            #expect(o["error"] == nil && o["close_code"] == nil && o["message"] == nil, "\(state) edge: \(o)")
        }
        let o = object(RecordJSON.line(LifecycleSnapshot(epoch: 2, state: .reconnecting, failedAttempts: 3, lastDisconnect: lost, at: at)))
        #expect(o["error"] as? String == "connectionLost")
        #expect(o["close_code"] as? Int == 1006)
        #expect(o["failed_attempts"] as? Int == 3)
        #expect(o["seq"] == nil)
    }

    @Test func closesSayWhoClosed() {
        let peer = object(RecordJSON.line(LifecycleSnapshot(
            epoch: 1, state: .reconnecting, lastDisconnect: .peerClosed(code: WSCloseCode(1011), reason: "overloaded"), at: at)))
        #expect(peer["close_code"] as? Int == 1011 && peer["close_reason"] as? String == "overloaded")
        #expect(peer["closed_by"] as? String == "peer")
        let local = object(RecordJSON.line(LifecycleSnapshot(
            epoch: 1, state: .closed, lastDisconnect: .localClose(code: .normalClosure, reason: "bye"), at: at)))
        #expect(local["closed_by"] as? String == "local")
    }

    @Test func aRejectedHandshakeShowsItsStatus() {
        let e = WSError(.handshakeRejected, "HTTP 503", httpStatus: 503, responseHeaders: [HTTPHeaderField("Retry-After", "7")])
        let o = object(RecordJSON.line(LifecycleSnapshot(epoch: 0, state: .closed, lastDisconnect: .error(e), at: at)))
        #expect(o["error"] as? String == "handshakeRejected")
        #expect(o["http_status"] as? Int == 503)
    }

    @Test func liveFramesAreRecordsWithoutSeq() throws {
        let text = RecordJSON.line(.text("{\"p\":1}"), direction: .inbound, epoch: 3, at: at)
        let record = try RecordJSON.parse(ArraySlice(Array(text.utf8)), nextSeq: 9)
        #expect(record == JournalRecord(
            seq: 9, epoch: 3, wallNanos: at.wallNanos, monoNanos: 42,
            body: .frame(direction: .inbound, opcode: .text, payload: Array("{\"p\":1}".utf8))))
        let binary = object(RecordJSON.line(.binary([0, 1, 255]), direction: .outbound, epoch: 3, at: at))
        #expect(binary["data_b64"] as? String == "AAH/" && binary["dir"] as? String == "out")
    }

    @Test func everyRecordRoundTrips() throws {
        for line in sampleJSONL.split(separator: "\n") {
            let r = try RecordJSON.parse(ArraySlice(Array(line.utf8)), nextSeq: 0)
            #expect(try RecordJSON.parse(ArraySlice(Array(RecordJSON.line(r).utf8)), nextSeq: 0) == r)
        }
    }

    @Test(arguments: [
        (#"{"type":"lifecycle","wall_ns":1,"state":"closed","closed_by":"venue"}"#, "closed_by"),
        (#"{"type":"connect","wall_ns":1,"retry_after_s":4294967296}"#, "retry_after_s"),
        (#"{"type":"frame","wall_ns":1,"data":"x","dir":"sideways"}"#, "dir"),
    ])
    func badFieldsAreNamed(_ line: String, _ field: String) {
        #expect {
            try RecordJSON.parse(ArraySlice(Array(line.utf8)), nextSeq: 1)
        } throws: { ($0 as? CommandError)?.code == .badInput && "\($0)".contains(field) }
    }

    @Test func integersAtTheirLimitsRoundTripExactly() throws {
        let line = #"{"type":"frame","seq":18446744073709551615,"epoch":18446744073709551615,"wall_ns":-9223372036854775808,"mono_ns":18446744073709551615,"dir":"in","opcode":"text","data":"x"}"#
        let r = try RecordJSON.parse(ArraySlice(Array(line.utf8)), nextSeq: 1)
        #expect(r.seq == .max && r.epoch == .max && r.monoNanos == .max && r.wallNanos == .min)
        #expect(RecordJSON.line(r) == line)
    }

    @Test(arguments: [
        (#"{"type":"frame","wall_ns":9223372036854775808,"data":"x"}"#, "wall_ns\" 9223372036854775808 is out of range"),
        (#"{"type":"frame","seq":18446744073709551616,"wall_ns":1,"data":"x"}"#, "seq\" 18446744073709551616 is out of range"),
        (#"{"type":"frame","seq":-1,"wall_ns":1,"data":"x"}"#, "must not be negative"),
        (#"{"type":"frame","wall_ns":1.5,"data":"x"}"#, "must be an integer"),
        (#"{"type":"frame","wall_ns":1e3,"data":"x"}"#, "must be an integer"),
        (#"{"type":"frame","wall_ns":true,"data":"x"}"#, "must be an integer"),
    ])
    func numbersOutOfRangeAreRefusedNotWrapped(_ line: String, _ message: String) {
        #expect {
            try RecordJSON.parse(ArraySlice(Array(line.utf8)), nextSeq: 1)
        } throws: { "\($0)".contains(message) }
    }

    @Test func anEmptyTimeRangeIsRefused() async {
        let (_, err, code) = await CLIRun.inProcess(["cat", "/nonexistent", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z"])
        #expect(code == 64)
        #expect(err.contains("after --to"))
    }
}
