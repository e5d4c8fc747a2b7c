import Foundation
import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeNIO
import WireTapeRecorder
import WireTapeResilience

#if canImport(Glibc)
import Glibc
#endif

/// `wiretape demo`: the main job on an embedded default, with no network needed.
public struct DemoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Record a built-in demo feed with outages into a journal, show what happened, then replay it.",
        discussion: """
            Starts a synthetic BTCUSDT trade feed on 127.0.0.1 (a random port) that stages three \
            outages: a 1011 close, a dropped TCP connection, and a 1001 restart. `wiretape record`'s \
            recorder (under a reconnecting session, as in production) records every frame, connect \
            attempt and lifecycle edge into a journal; `wiretape info` and `wiretape gaps` show what \
            was recorded; then the journal is replayed at x20 through the reconnecting stack (as an \
            adapter under test would meet it) and the recorded and replayed lifecycle edges are \
            printed side by side. Pass --json-lines to also see every frame and edge live.
            """)

    @Option(help: "The journal directory to create (default: a new directory under /tmp).")
    var journal: String?

    @Flag(name: .customLong("json-lines"), help: "Print every frame and lifecycle edge as JSON lines on stdout.")
    var jsonLines = false

    public init() {}

    public func run() async throws {
        let directory = try journal ?? Self.makeTemporaryDirectory()
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw ValidationError("\(directory) is not empty: the demo records into a new journal (omit --journal for one under /tmp)")
        }
        let server = try await DemoFeedServer.start()
        StandardOutput.warn("demo: feed listening on \(server.url); recording into \(directory)")
        let recorder = try Recorder(directory: directory)
        let summary = await DemoRecording(
            url: server.url, printLines: jsonLines, expectedOutages: DemoFeedServer.defaultSteps.count
        ).run(recorder: recorder)
        await server.stop()
        let out = JournalOutput.current
        out.line("== recorded \(summary.frames) frames in \(summary.epochs) epochs; \(summary.stats.records) records, lag \(summary.stats.lagged)")
        out.line("\n== what the journal holds: wiretape info \(directory)")
        try await InfoCommand.parse([directory]).run()
        out.line("\n== the outages it recorded: wiretape gaps \(directory)")
        try await GapsCommand.parse([directory]).run()

        out.line("\n== replayed at x20 through the reconnecting stack: wiretape replay \(directory) --reconnect --speed 20")
        let recorded = try Self.recordedEdges(directory)
        let capture = JournalOutput.capture()
        try await JournalOutput.$current.withValue(capture) {
            try await ReplayCommand.parse([directory, "--reconnect", "--speed", "20"]).run()
        }
        let replayed = capture.stdout.split(separator: "\n").compactMap(Self.edgeOrSummary)
        out.line(String(repeating: " ", count: 2) + "recorded".padding(toLength: 44, withPad: " ", startingAt: 0) + "replayed")
        for i in 0..<max(recorded.count, replayed.edges.count) {
            let l = i < recorded.count ? recorded[i] : ""
            let r = i < replayed.edges.count ? replayed.edges[i] : ""
            out.line("  " + l.padding(toLength: 44, withPad: " ", startingAt: 0) + r)
        }
        if let s = replayed.summary { out.line("\n== replay summary: \(s)") }
        out.line("\n== read it back: wiretape cat \(directory) --kind lifecycle --kind connect --format pretty")
    }

    /// `state@epoch (cause)` for every lifecycle record of the journal.
    static func recordedEdges(_ directory: String) throws -> [String] {
        let cursor = try JournalCursor(directory: directory, options: ReadOptions(filter: RecordFilter(kinds: [.lifecycle])))
        var out: [String] = []
        while let r = try cursor.next() {
            guard case .lifecycle(let e) = r.body else { continue }
            out.append(edgeText(state: e.stateName, epoch: r.epoch, code: e.closeCode.map(Int.init), error: e.error))
        }
        return out
    }

    static func edgeText(state: String, epoch: UInt64, code: Int?, error: String?) -> String {
        var s = "\(state)@\(epoch)"
        if let code { s += " close \(code)" }
        if let error { s += " \(error)" }
        return TerminalText.safe(s)
    }

    static func edgeOrSummary(_ line: Substring) -> (edge: String?, summary: String?)? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let type = o["type"] as? String
        else { return nil }
        if type == "summary" { return (nil, TerminalText.safe(String(line))) }
        guard type == "lifecycle", let state = o["state"] as? String else { return nil }
        let epoch = (o["epoch"] as? NSNumber)?.uint64Value ?? 0
        return (edgeText(state: state, epoch: epoch, code: (o["close_code"] as? NSNumber)?.intValue, error: o["error"] as? String), nil)
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/wiretape-demo-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ValidationError("cannot create a directory under /tmp") }
        return String(cString: p) + "/journal"
    }
}

extension Array where Element == (edge: String?, summary: String?) {
    var edges: [String] { compactMap(\.edge) }
    var summary: String? { compactMap(\.summary).last }
}

/// Records the demo feed the way `wiretape record` does: the recorder's connector at the leaf,
/// under a reconnecting session, the recorder following the session's lifecycle. Stops after
/// the feed's scripted outages (the session reaching `reconnecting` in epoch `expectedOutages`).
struct DemoRecording {
    var url: String
    var printLines: Bool
    var expectedOutages: Int

    struct Summary {
        var frames = 0
        var epochs: UInt64 = 0
        var stats: RecorderStats
    }

    func run(recorder: Recorder) async -> Summary {
        var config = ReconnectConfig()
        config.backoff = BackoffPolicy(initial: .milliseconds(200), maximum: .seconds(1))
        let request = ConnectRequest(url: try! WSURL(url))
        recorder.start(url: url)
        let connection = recorder.connect(
            request, through: ReconnectingConnector(wrapping: recorder.connector(wrapping: NIOConnector()), config: config))
        let out = Mutex(StandardOutput(discarding: !printLines))
        let printLines = self.printLines
        let outages = expectedOutages
        let follower = Task {
            for await s in connection.lifecycle.updates() {
                if printLines { out.withLock { $0.line(RecordJSON.line(s)); $0.flush() } }
                // Stop at the attempt after the last outage, not at its `reconnecting` edge: the
                // recorder follows the lifecycle watch, which keeps only the latest value, and a
                // shutdown right on that edge could replace it before the recorder reads it.
                // (The recorder should take an epoch's end from the leaf; see the closing note.)
                if s.state == .connecting && s.epoch >= UInt64(outages) {
                    Task { await connection.shutdown(code: .normalClosure, reason: "demo finished") }
                }
            }
        }
        var frames = 0
        do {
            for try await f in connection.inbound {
                frames += 1
                if printLines {
                    out.withLock {
                        $0.line(RecordJSON.line(f.frame, direction: .inbound, epoch: f.epoch, at: f.received))
                        $0.flush()
                    }
                }
            }
        } catch {
            // The session's end is recorded as its final lifecycle edge.
        }
        let final = await connection.waitUntilEnded()
        await follower.value
        let stats = await recorder.finish(reason: "demo finished")
        return Summary(frames: frames, epochs: final.epoch, stats: stats)
    }
}
