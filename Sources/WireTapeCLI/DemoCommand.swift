import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeNIO
import WireTapeResilience

#if canImport(Glibc)
import Glibc
#endif

/// `wiretape demo`: the main job on an embedded default, with no network needed.
public struct DemoCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Record a built-in demo feed with outages into a journal, then show what happened.",
        discussion: """
            Starts a synthetic BTCUSDT trade feed on 127.0.0.1 (a random port) that stages three \
            outages: a 1011 close, a dropped TCP connection, and a 1001 restart. A reconnecting \
            session records every frame and lifecycle edge into a journal; then `wiretape info` \
            and `wiretape gaps` show what was recorded. Pass --json-lines to also see every \
            frame and edge live.
            """)

    /// Where to write the journal.
    @Option(help: "The journal directory to create (default: a new directory under /tmp).")
    var journal: String?

    /// Whether to print every line.
    @Flag(name: .customLong("json-lines"), help: "Print every frame and lifecycle edge as JSON lines on stdout.")
    var jsonLines = false

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Runs the demo.
    public func run() async throws {
        let directory = try journal ?? Self.makeTemporaryDirectory()
        let server = try await DemoFeedServer.start()
        StandardOutput.warn("demo: feed listening on \(server.url); recording into \(directory)")
        let writer = try JournalWriter(directory: directory)
        let summary = try await DemoRecording(url: server.url, printLines: jsonLines, expectedOutages: DemoFeedServer.defaultSteps.count)
            .run(writer: writer)
        await server.stop()
        let out = JournalOutput.current
        out.line("== recorded \(summary.frames) frames in \(summary.epochs) epochs and \(summary.edges) lifecycle edges")
        out.line("\n== what the journal holds: wiretape info \(directory)")
        try await InfoCommand.parse([directory]).run()
        out.line("\n== the outages it recorded: wiretape gaps \(directory)")
        try await GapsCommand.parse([directory]).run()
        out.line("\n== read it back: wiretape cat \(directory) --kind lifecycle --format pretty")
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/wiretape-demo-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ValidationError("cannot create a directory under /tmp") }
        return String(cString: p) + "/journal"
    }
}

/// Records a reconnecting session into a journal: every inbound frame, every lifecycle edge
/// with its cause, and session start and end records. Stops after the feed's scripted
/// outages (the session reaching `reconnecting` in epoch `expectedOutages`).
struct DemoRecording {
    var url: String
    var printLines: Bool
    var expectedOutages: Int

    struct Summary {
        var frames = 0
        var epochs: UInt64 = 0
        var edges = 0
    }

    /// The journal writer and the live output, shared by the frame and lifecycle tasks.
    final class Recorder: Sendable {
        let journal: Mutex<JournalWriter>
        let out: Mutex<StandardOutput>
        let failure = Mutex<String?>(nil)
        let printLines: Bool

        init(writer: sending JournalWriter, printLines: Bool) {
            journal = Mutex(writer)
            out = Mutex(StandardOutput(discarding: !printLines))
            self.printLines = printLines
        }

        /// Appends a record (a failure is kept and reported at the end) and, when lines are
        /// printed, builds and prints its line.
        func callAsFunction(_ body: RecordBody, epoch: UInt64, at: ReceiveTimestamp, line: () -> String) {
            journal.withLock { w in
                do { try w.append(body, epoch: epoch, at: at) } catch {
                    failure.withLock { $0 = $0 ?? "\(error)" }
                }
            }
            guard printLines else { return }
            let text = line()
            out.withLock {
                $0.line(text)
                $0.flush()
            }
        }
    }

    func run(writer: sending JournalWriter) async throws -> Summary {
        var config = ReconnectConfig()
        config.backoff = BackoffPolicy(initial: .milliseconds(200), maximum: .seconds(1))
        let request = ConnectRequest(url: try WSURL(url))
        let connection = ReconnectingConnector(wrapping: NIOConnector(), config: config).connect(request)
        let record = Recorder(writer: writer, printLines: printLines)

        let start = ReceiveTimestamp.now()
        let startBody = RecordBody.session(SessionEvent(phase: .start, url: url))
        record(startBody, epoch: 0, at: start) {
            RecordJSON.line(startBody, seq: nil, epoch: 0, wallNanos: start.wallNanos, monoNanos: start.monotonicNanos)
        }
        let outages = expectedOutages
        let follower = Task { () -> Int in
            var edges = 0
            for await s in connection.lifecycle.updates() {
                edges += 1
                record(.lifecycle(LifecycleEdge(s)), epoch: s.epoch, at: s.at) { RecordJSON.line(s) }
                if s.state == .reconnecting && s.epoch >= UInt64(outages) {
                    Task { await connection.shutdown(code: .normalClosure, reason: "demo finished") }
                }
            }
            return edges
        }
        var summary = Summary()
        do {
            for try await f in connection.inbound {
                summary.frames += 1
                let payload: [UInt8]
                let opcode: FrameOpcode
                switch f.frame {
                case .text(let s): payload = Array(s.utf8); opcode = .text
                case .binary(let b): payload = b; opcode = .binary
                }
                record(.frame(direction: .inbound, opcode: opcode, payload: payload), epoch: f.epoch, at: f.received) {
                    RecordJSON.line(f.frame, direction: .inbound, epoch: f.epoch, at: f.received)
                }
            }
        } catch {
            // The session's end is recorded as its final lifecycle edge.
        }
        let final = await connection.waitUntilEnded()
        summary.edges = await follower.value
        summary.epochs = final.epoch
        let end = ReceiveTimestamp.now()
        let endBody = RecordBody.session(SessionEvent(phase: .end, url: url, message: "demo finished"))
        record(endBody, epoch: final.epoch, at: end) {
            RecordJSON.line(endBody, seq: nil, epoch: final.epoch, wallNanos: end.wallNanos, monoNanos: end.monotonicNanos)
        }
        try record.journal.withLock { w throws(JournalError) in try w.close() }
        if let problem = record.failure.withLock({ $0 }) {
            throw ValidationError("the journal could not record everything: \(problem)")
        }
        return summary
    }
}
