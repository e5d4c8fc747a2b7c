import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

@Suite(.serialized)
struct TapCommandTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    @Test func printsLifecycleAndFramesAsJSONLinesAndExitsZeroOnCleanClose() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/text?n=3")])
        #expect(run.status == 0)
        let lines = run.lines
        #expect(lines.map { $0["type"] as? String } == ["lifecycle", "lifecycle", "frame", "frame", "frame", "lifecycle"])
        #expect(lines.map { $0["state"] as? String } == ["connecting", "connected", nil, nil, nil, "closed"])
        #expect(lines[2...4].map { $0["data"] as? String } == ["msg-0", "msg-1", "msg-2"])
        for frame in lines[2...4] {
            #expect(frame["opcode"] as? String == "text" && frame["epoch"] as? Int == 1)
            #expect((frame["wall_ns"] as? Int ?? 0) > 1_600_000_000_000_000_000 && (frame["mono_ns"] as? Int ?? 0) > 0)
        }
        #expect(lines.last?["close_code"] as? Int == 1000)
        #expect(lines.last?["close_reason"] as? String == "done")
        #expect(run.stderr.isEmpty)
    }

    @Test func binaryFramesAreBase64() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/binary?size=4")])
        let frame = try #require(run.lines.first { $0["type"] as? String == "frame" })
        #expect(frame["opcode"] as? String == "binary" && frame["data_b64"] as? String == "AAECAw==")
    }

    @Test func sendAndCountStopCleanly() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/echo"), "--send", "a", "--send", "b", "--count", "2"])
        #expect(run.status == 0)
        let inbound = run.lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
        #expect(inbound.map { $0["data"] as? String } == ["a", "b"])
    }

    @Test func abnormalCloseExitsNonZeroWithOneLineOnStderr() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/close?code=1011&reason=overloaded")])
        #expect(run.status == 1)
        #expect(run.lines.last?["close_code"] as? Int == 1011)
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(run.stderr.contains("1011") && run.stderr.contains("overloaded"))
    }

    @Test func handshakeRejectionIsReported() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/status/401")])
        #expect(run.status == 1)
        #expect(run.lines.last?["error"] as? String == "handshakeRejected")
        #expect(run.lines.last?["http_status"] as? Int == 401)
        #expect(run.stderr.contains("401"))
    }

    @Test func badFlagsAreRejectedBeforeConnecting() throws {
        let a = try CLIRun.wiretape(["tap", peer.url("/text"), "--count", "0"])
        #expect(a.status == 64 && a.stderr.contains("--count"))
        let b = try CLIRun.wiretape(["tap", "http://example.com/"])
        #expect(b.status == 64 && b.stderr.contains("ws://"))
        let c = try CLIRun.wiretape(["tap", peer.url("/text"), "--header", "nocolon"])
        #expect(c.status == 64 && c.stderr.contains("header"))
    }
}

