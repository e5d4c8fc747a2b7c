import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

/// Runs the built `wiretape` binary and captures its output.
struct CLIRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    static func wiretape(_ arguments: [String]) throws -> CLIRun {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("wiretape")
        let candidates = [binary.path, repositoryRoot.appendingPathComponent(".build/debug/wiretape").path]
        guard let path = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw PeerStartError(description: "the wiretape binary was not built (swift build --build-tests builds it)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIRun(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }
}

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

struct JSONLineTests {
    @Test func escapesPerRFC8259() {
        var line = JSONLine()
        line.add("s", "a\"b\\c\nd\u{01}é")
        line.add("n", -5)
        line.add("b", true)
        #expect(line.finish() == #"{"s":"a\"b\\c\nd\u0001é","n":-5,"b":true}"#)
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 100])
    func base64RoundTrips(_ n: Int) {
        let bytes = (0..<n).map { UInt8(($0 * 37) % 256) }
        let text = Base64.encode(bytes)
        #expect(Data(base64Encoded: text).map(Array.init) == bytes)
        #expect(Base64.decode(text) == bytes)
    }

    @Test func base64RejectsGarbage() {
        #expect(Base64.decode("ab$=") == nil)
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("a=bc") == nil)
    }
}

@Suite(.serialized)
struct TapReconnectTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    @Test func keepsGoingAcrossReconnectsWithTheEpochOnEveryFrame() throws {
        // The peer sends two frames per connection and closes; five frames need three epochs.
        let run = try CLIRun.wiretape(["tap", peer.url("/text?n=2"), "--reconnect", "--count", "5"])
        #expect(run.status == 0)
        let frames = run.lines.filter { $0["type"] as? String == "frame" }
        #expect(frames.count == 5)
        #expect(frames.map { $0["epoch"] as? Int } == [1, 1, 2, 2, 3])
        let edges = run.lines.filter { $0["type"] as? String == "lifecycle" }
        #expect(edges.contains { $0["state"] as? String == "reconnecting" && $0["close_code"] as? Int == 1000 })
        #expect(edges.last?["state"] as? String == "closed")
        // The first `connecting` edge is printed once, and an edge carries a cause only when
        // the cause is what it is about (not on connecting/connected/stale/resumed).
        #expect(edges.filter { $0["state"] as? String == "connecting" && $0["epoch"] as? Int == 0 }.count <= 1)
        let live = edges.filter { ["connecting", "connected", "stale", "resumed"].contains($0["state"] as? String ?? "") }
        #expect(!live.isEmpty)
        #expect(live.allSatisfy { $0["close_code"] == nil && $0["error"] == nil }, "\(live)")
    }

    @Test func unrecoverableAfterOne401AttemptExitsNonZero() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/status/401"), "--reconnect"])
        #expect(run.status == 1)
        let final = try #require(run.lines.last)
        #expect(final["state"] as? String == "unrecoverable")
        #expect(final["failed_attempts"] as? Int == 1)
        #expect(final["http_status"] as? Int == 401)
        #expect(run.stderr.contains("unrecoverable") && run.stderr.contains("401"))
    }
}

struct DemoCommandTests {
    @Test func demoRecordsTheStagedOutagesAndShowsThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wiretape-demo-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = dir.appendingPathComponent("journal").path
        let run = try CLIRun.wiretape(["demo", "--journal", journal])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("recorded 700 frames in 3 epochs"))
        #expect(run.stdout.contains("close 1011"), "the overload close is among the gaps")
        #expect(run.stdout.contains("connectionLost"), "the dropped connection is among the gaps")
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0, "the demo's journal verifies: \(verify.stdout) \(verify.stderr)")
    }
}
