import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import WireTapeCLI
import WireTapeTestSupport

/// A `wiretape record` process whose stderr is read line by line as it runs.
final class RecordProcess {
    let process = Process()
    private let err = Pipe()
    private let out = Pipe()
    private var buffer = Data()
    private(set) var stderrText = ""

    /// Starts `wiretape record ARGUMENTS`. A process still running after `limit` (a hang) is
    /// killed, which ends ``waitForLine(containing:)`` and ``wait()`` (status: killed): a
    /// safety net, never a timing assertion.
    init(_ arguments: [String], limit: Duration = .seconds(120)) throws {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("wiretape").path,
            repositoryRoot.appendingPathComponent(".build/debug/wiretape").path,
        ]
        guard let path = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw PeerStartError(description: "the wiretape binary was not built (swift build --build-tests builds it)")
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["record"] + arguments
        process.standardError = err
        process.standardOutput = out
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(limit.components.seconds))) { [process] in
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }

    /// Blocks on stderr until a line containing `text` arrives; false at end of stream.
    func waitForLine(containing text: String) -> Bool {
        while true {
            if let range = buffer.firstRange(of: Data(text.utf8)), buffer[range.upperBound...].contains(10) { return true }
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { return false }
            buffer.append(chunk)
            stderrText += String(decoding: chunk, as: UTF8.self)
        }
    }

    /// Waits for the exit and returns the status; the rest of stderr is kept in ``stderrText``.
    func wait() -> Int32 {
        let rest = err.fileHandleForReading.readDataToEndOfFile()
        stderrText += String(decoding: rest, as: UTF8.self)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// A real HTTP GET: (status, body). Bounded by the request's timeout.
func httpGet(_ url: String) -> (Int, String) {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result = (0, "")
    var request = URLRequest(url: URL(string: url)!)
    request.timeoutInterval = 30
    URLSession.shared.dataTask(with: request) { data, response, error in
        result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "\(String(describing: error))")
        done.signal()
    }.resume()
    done.wait()
    return result
}

/// The value of the Prometheus sample `name{labels}` in `text`, if present.
func sample(_ text: String, _ name: String, _ labels: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { continue }
        let want = Set(labels.split(separator: ",").map(String.init))
        let have = Set(parts[0].dropFirst(name.count + 1).dropLast().split(separator: ",").map(String.init))
        if want == have { return Double(parts[1]) }
    }
    return nil
}

private func lines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

@Suite(.serialized)
struct RecordCommandTests {
    let peer: PythonPeer
    let dir: URL
    init() throws {
        peer = try PythonPeer()
        dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wiretape-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    @Test func recordsAVenueThroughA1011A503AndATCPAbortExactly() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("j").path
        let url = peer.url("/venue?script=close1011,503,abort,hold&wait=1&n=5&log=\(log)")
        let run = try CLIRun.wiretape(["record", url, "--journal", journal, "--send", "sub", "--count", "15", "--idle-timeout", "30"])
        #expect(run.status == 0, "stderr: \(run.stderr)")

        let cat = try CLIRun.wiretape(["cat", journal])
        #expect(cat.status == 0)
        let records = cat.lines
        // What the venue sent, byte-exact and in order, one epoch per venue session.
        let sent = lines(log).filter { $0.hasPrefix("sent ") }.map { $0.split(separator: " ")[2] }.map(String.init)
        let inbound = records.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
        #expect(sent.count == 15)
        #expect(inbound.map { $0["data"] as? String ?? "?" } == sent)
        #expect(inbound.map { $0["epoch"] as? Int ?? -1 } == Array(repeating: 1, count: 5) + Array(repeating: 2, count: 5) + Array(repeating: 3, count: 5))
        // The --send message once per epoch, as outbound; the venue got it in every session.
        let outbound = records.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "out" }
        #expect(outbound.map { $0["data"] as? String } == ["sub", "sub", "sub"])
        #expect(outbound.map { $0["epoch"] as? Int } == [1, 2, 3])
        #expect(lines(log).filter { $0.hasSuffix(" sub") && $0.hasPrefix("recv") }.count == 3)
        // One connect record per attempt, the 503 among them.
        let connects = records.filter { $0["type"] as? String == "connect" }
        #expect(connects.filter { $0["outcome"] as? String == "attempt" }.count == 4)
        #expect(connects.filter { $0["outcome"] as? String == "connected" }.count == 3)
        let failed = connects.filter { $0["outcome"] as? String == "failed" }
        #expect(failed.count == 1 && failed.first?["http_status"] as? Int == 503)
        #expect(failed.first?["retry_after_s"] as? Int == 1)
        // Causal timestamps: mono never decreases; each epoch's connected edge precedes its frames.
        let monos = records.compactMap { $0["mono_ns"] as? Int }
        #expect(monos.count == records.count && zip(monos, monos.dropFirst()).allSatisfy { $0 <= $1 })
        for epoch in 1...3 {
            let edge = records.firstIndex { $0["type"] as? String == "lifecycle" && $0["state"] as? String == "connected" && $0["epoch"] as? Int == epoch }
            let frame = records.firstIndex { $0["type"] as? String == "frame" && $0["epoch"] as? Int == epoch }
            #expect(edge != nil && frame != nil && edge! < frame!, "epoch \(epoch)")
        }
        // The last session was closed with a handshake.
        #expect(lines(log).contains("closed 2 1000"))
        // gaps lists each outage with its cause.
        let gaps = try CLIRun.wiretape(["gaps", journal])
        #expect(gaps.status == 0)
        #expect(gaps.stdout.contains("after epoch 1") && gaps.stdout.contains("1011"))
        #expect(gaps.stdout.contains("after epoch 2") && gaps.stdout.contains("1006"))
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }

    @Test func sigtermClosesCleanlyNoSecretAnywhereAndASecondRecorderIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("j").path
        let token = "TOKENSECRET42", auth = "AUTHSECRET43", sig = "SIGSECRET44"
        let url = peer.url("/venue?script=hold&wait=1&n=3&log=\(log)&token=\(token)&symbol=BTCUSDT")
        let login = #"{"op":"login","key":"\#(auth)","sign":"\#(sig)","args":["\#(token)"]}"#
        let first = try RecordProcess([
            url, "--journal", journal, "--header", "Authorization: Bearer \(auth)", "--header", "X-Trace: keep-me",
            "--send", login, "--redact-field", "sign",
        ])
        #expect(first.waitForLine(containing: "state=connected epoch=1"))

        // A second recorder on the same journal is refused before it connects, naming the holder.
        let second = try CLIRun.wiretape(["record", url, "--journal", journal])
        #expect(second.status == 1)
        #expect(second.stderr.contains("pid \(first.process.processIdentifier)"), "\(second.stderr)")
        #expect(lines(log).filter { $0.hasPrefix("open") }.count == 1)

        first.process.terminate()  // SIGTERM
        let status = first.wait()
        #expect(status == 0, "stderr: \(first.stderrText)")
        #expect(lines(log).contains("closed 0 1000"), "\(lines(log))")
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0)

        let cat = try CLIRun.wiretape(["cat", journal])
        var haystacks = [("cat", cat.stdout), ("stderr of the recorder", first.stderrText), ("stderr of the refused one", second.stderr)]
        for name in try FileManager.default.contentsOfDirectory(atPath: journal) {
            let data = try Data(contentsOf: URL(fileURLWithPath: journal).appendingPathComponent(name))
            haystacks.append((name, String(decoding: data, as: UTF8.self)))
        }
        for (name, text) in haystacks {
            for secret in [token, auth, sig] { #expect(!text.contains(secret), "\(secret) found in \(name)") }
        }
        // What is not secret is kept.
        #expect(cat.stdout.contains("symbol=BTCUSDT") && cat.stdout.contains("keep-me"))
        #expect(cat.stdout.contains(#"\"op\":\"login\""#) || cat.stdout.contains(#""op":"login""#))
        let inbound = cat.lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
        // SIGTERM may come before the venue's frames: what was recorded is an exact prefix.
        let got = inbound.map { $0["data"] as? String ?? "?" }
        #expect(got == Array(["s0-m0", "s0-m1", "s0-m2"].prefix(got.count)))
    }

    @Test func annotateOnALiveRecordingHandsTheNoteToTheRecorder() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("j").path
        let recorder = try RecordProcess([peer.url("/venue?script=hold&n=3&log=\(log)"), "--journal", journal])
        #expect(recorder.waitForLine(containing: "state=connected epoch=1"))

        let note = try CLIRun.wiretape(["annotate", journal, "deploy 4.2.1"])
        #expect(note.status == 0, "\(note.stderr)")
        #expect(note.stderr.contains("through the recorder"), "\(note.stderr)")

        recorder.process.terminate()  // SIGTERM
        #expect(recorder.wait() == 0, "stderr: \(recorder.stderrText)")
        #expect(!FileManager.default.fileExists(atPath: journal + "/control.sock"))
        let records = try CLIRun.wiretape(["cat", journal]).lines
        let notes = records.filter { $0["type"] as? String == "annotation" }
        #expect(notes.map { $0["text"] as? String } == ["deploy 4.2.1"])
        #expect(notes.first?["epoch"] as? Int == 1)
        // In sequence order with the live records: after the epoch's connected edge, before the end.
        let at = records.firstIndex { $0["type"] as? String == "annotation" }
        let connected = records.firstIndex { $0["type"] as? String == "lifecycle" && $0["state"] as? String == "connected" }
        #expect(at != nil && connected != nil && connected! < at! && at! < records.count - 1)
        let monos = records.compactMap { $0["mono_ns"] as? Int }
        #expect(monos.count == records.count && zip(monos, monos.dropFirst()).allSatisfy { $0 <= $1 })
        try expectVerifies(journal)
    }

    /// `wiretape verify` passes on `journal`.
    private func expectVerifies(_ journal: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0, "\(journal): \(verify.stdout) \(verify.stderr)", sourceLocation: sourceLocation)
    }

    /// The journal's inbound frames as (data, epoch), and its lifecycle edges as (epoch, record).
    private func framesAndEdges(_ records: [[String: Any]]) -> ([String], [Int], [(Int, [String: Any])]) {
        let inbound = records.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
        let edges = records.filter { $0["type"] as? String == "lifecycle" }.map { ($0["epoch"] as? Int ?? -1, $0) }
        return (inbound.map { $0["data"] as? String ?? "?" }, inbound.map { $0["epoch"] as? Int ?? -1 }, edges)
    }

    @Test func aBlackholedVenueGoesStaleAndIsAbortedAtTheLivenessTimeoutWithoutWaitingForAClose() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("j").path
        let proxy = try FaultProxy(upstreamPort: peer.port)
        defer { proxy.stop() }
        // The close timeout (600 s) is far beyond the recorder's 120 s bound: the second epoch
        // can only be recorded if the dead socket is dropped at once after the liveness
        // timeout, not closed with a handshake the blackholed venue never answers.
        let recorder = try RecordProcess([
            "ws://127.0.0.1:\(proxy.port)/venue?script=hold&n=3&log=\(log)", "--journal", journal,
            "--idle-timeout", "0.5", "--pong-timeout", "0.5", "--close-timeout", "600", "--count", "6",
        ])
        // Stale: the venue sent its 3 frames and went quiet (it still answers pings).
        #expect(recorder.waitForLine(containing: "state=stale epoch=1"))
        #expect(proxy.command("blackhole on").hasPrefix("ok"))
        #expect(recorder.waitForLine(containing: "state=reconnecting epoch=1"))
        #expect(proxy.command("blackhole off").hasPrefix("ok"))
        #expect(recorder.wait() == 0, "stderr: \(recorder.stderrText)")  // --count 6: the next session's frames

        let records = try CLIRun.wiretape(["cat", journal]).lines
        let (frames, epochs, edges) = framesAndEdges(records)
        #expect(frames == ["s0-m0", "s0-m1", "s0-m2", "s1-m0", "s1-m1", "s1-m2"])
        #expect(epochs == [1, 1, 1, 2, 2, 2])
        let epoch1 = edges.filter { $0.0 == 1 }.map { $0.1["state"] as? String ?? "?" }
        #expect(epoch1.first == "connected" && epoch1.contains("stale"))
        let lost = edges.first { $0.0 == 1 && $0.1["state"] as? String == "reconnecting" }?.1
        #expect(lost?["error"] as? String == "livenessTimeout", "\(String(describing: lost))")
        #expect(edges.contains { $0.0 == 2 && $0.1["state"] as? String == "connected" })
        try expectVerifies(journal)
    }

    @Test func aRestartedVenueIsRecordedAcrossTheRestart() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("j").path
        let recorder = try RecordProcess([
            peer.url("/venue?script=hold&n=3&log=\(log)"), "--journal", journal, "--idle-timeout", "0.5", "--count", "6",
        ])
        #expect(recorder.waitForLine(containing: "state=stale epoch=1"))  // the first process's 3 frames are in
        peer.stop()  // SIGKILL: the venue process dies, its sockets with it
        #expect(recorder.waitForLine(containing: "connectionRefused"))  // down: attempts are refused
        // The venue comes back on the same port, a new process.
        let restarted = try PythonPeer(script: "Tests/Peers/ws_peer.py", arguments: ["--port", "\(peer.port)"])
        defer { restarted.stop() }
        #expect(recorder.wait() == 0, "stderr: \(recorder.stderrText)")

        let records = try CLIRun.wiretape(["cat", journal]).lines
        let (frames, epochs, edges) = framesAndEdges(records)
        #expect(frames == ["s0-m0", "s0-m1", "s0-m2", "s0-m0", "s0-m1", "s0-m2"])  // each process numbers its sessions from 0
        #expect(epochs == [1, 1, 1, 2, 2, 2])
        let lost = edges.first { $0.0 == 1 && $0.1["state"] as? String == "reconnecting" }?.1
        #expect(lost?["error"] as? String == "connectionLost", "\(String(describing: lost))")
        let refused = records.filter { $0["type"] as? String == "connect" && $0["error"] as? String == "connectionRefused" }
        #expect(!refused.isEmpty)
        #expect(refused.allSatisfy { $0["epoch"] as? Int == 1 })
        let gaps = try CLIRun.wiretape(["gaps", journal])
        #expect(gaps.stdout.contains("after epoch 1"), "\(gaps.stdout)")
        try expectVerifies(journal)
    }

    @Test func metricsAreScrapedOverHTTPWhileRecordingAndAgreeWithTheJournal() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("venue.log").path
        let journal = dir.appendingPathComponent("btc").path
        let recorder = try RecordProcess([
            peer.url("/venue?script=hold&n=5&wait=1&log=\(log)"), "--journal", journal, "--send", "sub", "--idle-timeout", "0.5",
            "--metrics-listen", "127.0.0.1:0",
        ])
        #expect(recorder.waitForLine(containing: "event=metrics url="))
        let url = recorder.stderrText.split(separator: "\n").first { $0.contains("event=metrics") }
            .flatMap { $0.split(separator: "url=").last }.map(String.init) ?? "?"
        #expect(recorder.waitForLine(containing: "state=stale epoch=1"))  // the 5 frames are in, the venue is quiet
        let (status, text) = httpGet(url)
        let (notFound, _) = httpGet(url.replacingOccurrences(of: "/metrics", with: "/other"))
        recorder.process.terminate()
        #expect(recorder.wait() == 0, "stderr: \(recorder.stderrText)")
        #expect(status == 200, "\(text)")
        #expect(notFound == 404)

        let records = try CLIRun.wiretape(["cat", journal]).lines
        let frames = records.filter { $0["type"] as? String == "frame" }
        let inbound = frames.filter { $0["dir"] as? String == "in" }.compactMap { $0["data"] as? String }
        let outbound = frames.filter { $0["dir"] as? String == "out" }.compactMap { $0["data"] as? String }
        #expect(inbound.count == 5 && outbound == ["sub"])
        let feed = #"feed="btc""#
        #expect(sample(text, "wiretape_record_frames_total", "\(feed),direction=\"in\"") == Double(inbound.count), "\(text)")
        #expect(sample(text, "wiretape_record_bytes_total", "\(feed),direction=\"in\"") == Double(inbound.map(\.utf8.count).reduce(0, +)))
        #expect(sample(text, "wiretape_record_frames_total", "\(feed),direction=\"out\"") == 1)
        #expect(sample(text, "wiretape_record_lagged_frames_total", feed) == 0)
        #expect(sample(text, "wiretape_record_queue_frames", feed) == 0)
        #expect(sample(text, "wiretape_session_epoch", feed) == 1)
        #expect(sample(text, "wiretape_session_reconnects_total", feed) == 0)
        let up = ["stale", "resumed"].compactMap { sample(text, "wiretape_session_state", "\(feed),state=\"\($0)\"") }
        #expect(up.reduce(0, +) == 1, "\(text)")  // quiet venue: stale or, after the pong, resumed
        #expect(sample(text, "wiretape_session_state", "\(feed),state=\"closed\"") == 0)
    }

    @Test func configRecordsSeveralFeedsEachIntoItsOwnJournalAndOneFailureStopsNoOther() throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let second = try PythonPeer()
        defer { second.stop() }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let feeds: [[String: Any]] = [
            ["name": "a", "url": peer.url("/venue?script=hold&n=3&log=\(path("a.log"))"), "journal": path("a"), "count": 3],
            ["name": "b", "url": second.url("/venue?script=close1011,hold&n=2&wait=1&log=\(path("b.log"))"), "journal": path("b"),
             "count": 4, "send": ["sub"], "idle-timeout": 30],
            ["name": "revoked", "url": second.url("/status/401"), "journal": path("c")],
        ]
        let file = path("feeds.json")
        try JSONSerialization.data(withJSONObject: ["feeds": feeds]).write(to: URL(fileURLWithPath: file))
        let run = try CLIRun.wiretape(["record", "--config", file])
        #expect(run.status == 1, "\(run.stderr)")  // one feed failed
        let last = run.stderr.split(separator: "\n").suffix(3).map(String.init)
        #expect(last.count == 3 && last[0].contains("feed=a result=ok") && last[1].contains("feed=b result=ok"), "\(last)")
        #expect(last.last?.contains("feed=revoked result=failed") == true && last.last?.contains("401") == true, "\(last)")
        #expect(run.stderr.contains("feed=b event=lifecycle state=connected epoch=2"), "\(run.stderr)")

        func inbound(_ journal: String) throws -> [(String, Int)] {
            try CLIRun.wiretape(["cat", journal]).lines.filter { $0["type"] as? String == "frame" && $0["dir"] as? String == "in" }
                .map { ($0["data"] as? String ?? "?", $0["epoch"] as? Int ?? -1) }
        }
        let a = try inbound(path("a"))
        #expect(a.map(\.0) == ["s0-m0", "s0-m1", "s0-m2"] && a.map(\.1) == [1, 1, 1])
        let b = try inbound(path("b"))
        #expect(b.map(\.0) == ["s0-m0", "s0-m1", "s1-m0", "s1-m1"] && b.map(\.1) == [1, 1, 2, 2])
        #expect(lines(path("b.log")).filter { $0.hasSuffix(" sub") }.count == 2)  // b's own --send, in each epoch
        let c = try CLIRun.wiretape(["cat", path("c"), "--kind", "connect"]).lines
        #expect(c.contains { $0["http_status"] as? Int == 401 }, "\(c)")
        for j in ["a", "b", "c"] { try expectVerifies(path(j)) }
    }

    @Test func aConfigIsCheckedBeforeAnythingConnects() async throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("feeds.json").path
        func attempt(_ feeds: [[String: Any]]) async throws -> (String, Int32) {
            try JSONSerialization.data(withJSONObject: ["feeds": feeds]).write(to: URL(fileURLWithPath: file))
            let (_, err, code) = await CLIRun.inProcess(["record", "--config", file])
            return (err, code)
        }
        let url = peer.url("/venue?script=hold")
        var (err, code) = try await attempt([["name": "x", "url": url, "journal": "/tmp/x", "quiet": true]])
        #expect(code != 0 && err.contains(#"feed "x""#) && err.contains("--quiet on the command line"), "\(err)")
        (err, code) = try await attempt([["name": "x", "url": url, "journal": "/tmp/x"], ["name": "y", "url": url, "journal": "/tmp/x/"]])
        #expect(code != 0 && err.contains(#"feed "y""#) && err.contains("its own"), "\(err)")
        (err, code) = try await attempt([["name": "x", "url": url, "journal": "/tmp/x", "idle-timeout": -1]])
        #expect(code != 0 && err.contains(#"feed "x""#) && err.contains("--idle-timeout"), "\(err)")
        (err, code) = try await attempt([["name": "x", "url": url]])
        #expect(code != 0 && err.contains("journal"), "\(err)")
    }
}
