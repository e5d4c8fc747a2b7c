import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeReplay
import WireTapeResilience

/// `wiretape replay DIR`: replays a journal in-process through a `ReplayConnector` and prints
/// what `tap` prints for a live feed.
public struct ReplayCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a journal through the replay connector and print what tap prints for a live feed.",
        discussion: """
            Each connect plays the next recorded attempt: recorded refusals fail as they did, each \
            recorded epoch delivers its inbound frames at their recorded offsets (scaled by --speed) \
            and ends as it ended (close code, lost transport, silence). Lines are tap's JSON lines: \
            frames carry their recorded wall_ns/mono_ns and the epoch the replaying client sees; the \
            last line is {"type":"summary",...} with epochs, frames and the outbound check.

            Without --reconnect every recorded attempt is played once, in order, without backoff; a \
            recorded silence ends at its recorded end. With --reconnect the replay runs under the \
            resilient stack (backoff, circuit breaker, --idle-timeout/--pong-timeout liveness) on the \
            replay's clock, so at --speed 10 its timers also run ten times faster and with --speed \
            max everything runs on virtual time.

            --send messages are sent in every epoch, as an adapter re-subscribes, and compared with \
            the recorded outbound frames of that epoch (exactly, or as JSON ignoring --ignore-field). \
            Mutations (--mutate, repeatable, seeded by --seed): drop-frames:EPOCH:FROM:COUNT, \
            duplicate-frames:EPOCH:FROM:COUNT, reorder-frames:EPOCH:FROM:COUNT, \
            disconnect:EPOCH:AFTER:CODE, refuse:EPOCH:COUNT:STATUS, stall:EPOCH:AFTER:SECONDS, \
            zombie:EPOCH:AFTER:SECONDS, stretch:EPOCH:FACTOR.

            Exit status: 0 at the end of the recording; 1 when the replay ended otherwise (for \
            instance unrecoverable on a recorded 401), with a one-line error on stderr.
            """)

    /// Output formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, raw }

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var playback: PlaybackOptions

    @Flag(help: "Replay under the reconnecting stack (backoff, circuit breaker, keepalive) on the replay's clock.")
    var reconnect = false

    @OptionGroup var keepalive: KeepaliveOptions

    @Option(name: .customLong("send"), help: ArgumentHelp("A text message sent in every epoch and checked against the recording, repeatable.", valueName: "TEXT"))
    var messages: [String] = []

    @Option(help: "jsonl (tap's JSON lines and a summary) or raw (frame payloads, one per line, as cat prints them).")
    var format: Format = .jsonl

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Replays and prints until the end of the recording.
    public func run() async throws {
        let replay = try playback.connector(directory: try await journal.readable(), silenceEnd: reconnect ? .whenClosed : .atRecordedEnd)
        let out = ReplayPrinter(format: format)
        // Paced in real time, each batch is printed when it is due; on virtual time the output
        // is written in large pieces.
        let session = ReplaySession(messages: messages, out: out, flushEachBatch: replay.virtualTime == nil)
        let final: LifecycleSnapshot
        if reconnect {
            final = await session.runReconnecting(
                ReconnectingConnector(wrapping: replay, config: keepalive.reconnectConfig(), clock: replay.clock))
        } else {
            final = await session.runPlain(replay)
        }
        let ended = ReplayError.isEndOfRecording(final.lastDisconnect)
        let report = replay.outboundReport()
        if format == .jsonl { out.line(ReplaySession.summary(replay, report: report, frames: session.frames, ended: ended)) }
        out.flush()
        ReplaySession.warnOutbound(report, out: JournalOutput.current)
        if !ended {
            StandardOutput.warn("error: the replay ended before the end of the recording: \(final.lastDisconnect.map { "\($0)" } ?? "no cause")")
            throw ExitCode(1)
        }
    }
}

/// Lines from two tasks (frames, lifecycle edges) through one lock, into `cat`'s output buffer.
final class ReplayPrinter: Sendable {
    let format: ReplayCommand.Format
    private let lock = Mutex(())
    /// Touched only inside `lock.withLock` (every use below), so never from two threads at
    /// once. Not a `Mutex<OutputBuffer>`: region checking would then tie the buffer to the views
    /// a batch lends (``frames(_:)``), which are only copied into it.
    nonisolated(unsafe) private let out: OutputBuffer

    init(format: ReplayCommand.Format) {
        self.format = format
        out = OutputBuffer(JournalOutput.current)
    }

    func line(_ s: String) {
        lock.withLock { _ in
            out.append(s)
            out.append(byte: 10)
        }
    }

    func lifecycle(_ s: LifecycleSnapshot) {
        guard format == .jsonl else { return }
        line(RecordJSON.line(s))
    }

    func frame(_ f: InboundFrame) {
        lock.withLock { _ in Self.append(f, format, to: out) }
    }

    /// A batch of frames lent as views, under one lock (a stream diverted with
    /// `divert(toViews:)` hands them over this way): raw payloads go from the replay's decoded
    /// block straight into the output buffer, as `cat --format raw` writes them.
    func frames(_ batch: UnsafeBufferPointer<InboundFrameView>) {
        lock.withLock { _ in
            switch format {
            case .raw:
                for v in batch { out.appendLine(v.payload) }
            case .jsonl:
                for v in batch { RecordJSON.appendFrameLine(v, to: out) }
            }
        }
    }

    private static func append(_ f: InboundFrame, _ format: ReplayCommand.Format, to o: OutputBuffer) {
        switch format {
        case .jsonl:
            RecordJSON.appendFrameLine(f, to: o)
        case .raw:
            switch f.frame {
            case .text(var s): s.withUTF8 { o.appendLine(UnsafeRawBufferPointer($0)) }
            case .binary(let b): b.withUnsafeBytes { o.appendLine($0) }
            }
        }
    }

    func sent(_ text: String, epoch: UInt64) {
        guard format == .jsonl else { return }
        line(RecordJSON.line(.text(text), direction: .outbound, epoch: epoch, at: .now()))
    }

    func flush() { lock.withLock { _ in out.flush() } }
}

/// The logic of `replay`, apart from argument parsing.
final class ReplaySession: Sendable {
    let messages: [String]
    let out: ReplayPrinter
    let flushEachBatch: Bool
    private let count = Atomic<Int>(0)

    init(messages: [String], out: ReplayPrinter, flushEachBatch: Bool) {
        self.messages = messages
        self.out = out
        self.flushEachBatch = flushEachBatch
    }

    /// Frames printed.
    var frames: Int { count.load(ordering: .relaxed) }

    static let request = ConnectRequest(url: try! WSURL("ws://replay.invalid/"))

    /// Every recorded attempt once, in order, without backoff or liveness.
    func runPlain(_ replay: ReplayConnector) async -> LifecycleSnapshot {
        var snapshot = LifecycleSnapshot(epoch: 0, state: .connecting)
        out.lifecycle(snapshot)
        while true {
            let connection: WSConnection
            do {
                connection = try await replay.connect(Self.request)
            } catch {
                let e = error as? WSError ?? WSError(.ioError, "\(error)")
                snapshot.lastDisconnect = .error(e)
                snapshot.at = .now()
                if ReplayError.isEndOfRecording(e) {
                    snapshot.state = .closed
                    out.lifecycle(snapshot)
                    return snapshot
                }
                snapshot.failedAttempts += 1
                snapshot.state = .reconnecting
                out.lifecycle(snapshot)
                snapshot.state = .connecting
                snapshot.lastDisconnect = nil
                out.lifecycle(snapshot)
                continue
            }
            if snapshot.epoch > 0 { snapshot.reconnects += 1 }
            snapshot.epoch += 1
            snapshot.state = .connected
            snapshot.lastDisconnect = nil
            snapshot.at = connection.info.connectedAt
            out.lifecycle(snapshot)
            await sendSubscriptions(messages, via: connection.sink, epoch: snapshot.epoch) { out.sent($0, epoch: snapshot.epoch) }
            // Frames are printed in the batches the replay hands over, on its own task: no hop,
            // no lock and no copy per frame (views of the replay's decoded block). The cause of
            // the end is the final lifecycle edge's, below.
            await withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
                connection.inbound.divert(
                    toViews: { [self] batch in
                        out.frames(batch)
                        if flushEachBatch { out.flush() }
                        count.add(batch.count, ordering: .relaxed)
                    },
                    onEnd: { _ in ended.resume() })
            }
            out.flush()
            for await _ in connection.lifecycle.updates() {}
            let end = connection.lifecycle.current
            snapshot.lastDisconnect = end.lastDisconnect
            snapshot.at = .now()
            if ReplayError.isEndOfRecording(end.lastDisconnect) {
                snapshot.state = .closed
                out.lifecycle(snapshot)
                return snapshot
            }
            snapshot.state = .reconnecting
            out.lifecycle(snapshot)
            snapshot.state = .connecting
            snapshot.lastDisconnect = nil
            out.lifecycle(snapshot)
            out.flush()
        }
    }

    /// Under the reconnecting stack: the same lines as `tap --reconnect`.
    func runReconnecting(_ connector: ReconnectingConnector) async -> LifecycleSnapshot {
        let out = self.out
        let (connection, follower) = followLifecycle(
            connecting: Self.request, through: connector, sending: messages,
            edge: { snapshot in
                out.lifecycle(snapshot)
                out.flush()
            },
            sent: { m, epoch in out.sent(m, epoch: epoch) })
        do {
            for try await f in connection.inbound {
                out.frame(f)
                count.add(1, ordering: .relaxed)
                if connection.inbound.bufferedCount == 0 { out.flush() }
            }
        } catch {
            // An unrecoverable session (the end of the recording, too) ends the stream with its cause.
        }
        let final = await connection.waitUntilEnded()
        await follower.value
        out.flush()
        return final
    }

    /// The outbound differences on stderr, at most 20 of them.
    static func warnOutbound(_ report: OutboundReport, out: JournalOutput) {
        for p in report.problems.prefix(20) { out.warn("wiretape: outbound: " + TerminalText.safe("\(p)")) }
        if report.problems.count > 20 { out.warn("wiretape: outbound: \(report.problems.count - 20) more differences") }
    }

    /// The last line: `{"type":"summary",...}`.
    static func summary(_ replay: ReplayConnector, report: OutboundReport, frames: Int, ended: Bool) -> String {
        let s = replay.statistics
        var l = JSONLine()
        l.add("type", "summary")
        l.add("epochs", s.epochs)
        l.add("frames", frames)
        l.add("attempts", s.connects)
        l.add("refused", s.refused)
        l.add("frames_dropped", s.framesDropped)
        l.add("frames_missed", s.framesMissed)
        l.add("frames_undelivered", s.framesUndelivered)
        l.add("pings_answered", s.pingsAnswered)
        l.add("pings_unanswered", s.pingsUnanswered)
        l.add("outbound_matched", report.matched)
        l.add("outbound_mismatched", report.mismatched)
        l.add("outbound_missing", report.missing)
        l.add("outbound_extra", report.extra)
        l.add("recorded_epochs", replay.recording.epochs.count)
        l.add("recorded_frames", replay.recording.inboundCount)
        l.add("end_of_recording", ended)
        return l.finish()
    }
}
