import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeNIO
import WireTapeRecorder
import WireTapeResilience

/// `wiretape record URL --journal DIR`: record a live feed into a journal, on the resilient stack.
public struct RecordCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record a live WebSocket feed into a journal, reconnecting through outages.",
        discussion: """
            Records every inbound frame as the socket delivered it, every frame sent (--send, re-sent \
            in every new epoch as an adapter re-subscribes), every connect attempt and its outcome, \
            and every lifecycle edge with its cause. The journal never waits for the disk: if the \
            writer falls behind, a lag record says exactly how many frames and bytes are missing.

            Credentials never reach the journal, the index or the output: Authorization, Cookie, \
            Sec-WebSocket-Key, secret-looking query parameters and the names given with \
            --redact-param/--redact-header are redacted, every such value is scrubbed from frames, \
            and --redact-field masks a JSON field in frames of both directions.

            SIGINT, SIGTERM, --count or --duration end the recording: the socket is closed with a \
            1000 handshake, the session end is written, the journal flushed and synced; exit 0. \
            Exit 1 when the session becomes unrecoverable (e.g. HTTP 401) or the journal is in use \
            by another recorder (checked before connecting).

            Status goes to stderr: one live line on a terminal; otherwise key=value lines (start, \
            every lifecycle edge with its cause, a summary every minute). --quiet turns it off.
            """)

    @Argument(help: "The ws:// or wss:// URL.")
    var url: String

    @Option(help: ArgumentHelp("The journal directory (created if missing).", valueName: "DIR"))
    var journal: String

    @OptionGroup var connection: ConnectionOptions

    @Option(name: .customLong("send"), help: ArgumentHelp("A text message to send in every epoch, repeatable.", valueName: "TEXT"))
    var messages: [String] = []

    @Option(help: "Stop (exit 0) after this many received frames.", transform: NumericOption.integer(in: 1...Int.max))
    var count: Int?

    @Option(help: "Stop (exit 0) after this many seconds.", transform: NumericOption.seconds(above: 0))
    var duration: Double?

    @Option(name: .customLong("segment-size"), help: ArgumentHelp("Seal a segment at this size (bytes; K, M, G suffixes).", valueName: "SIZE"))
    var segmentSize: String?

    @Option(name: .customLong("segment-age"), help: ArgumentHelp("Seal a segment after this many seconds.", valueName: "SECONDS"),
        transform: NumericOption.seconds(atLeast: 1))
    var segmentAge: Double?

    @Option(help: ArgumentHelp("When to fsync: every-block, never, or a number of seconds (default 1).", valueName: "MODE"))
    var durability: String = "1"

    @Option(name: .customLong("redact-param"), help: ArgumentHelp("A query parameter to treat as secret, repeatable.", valueName: "NAME"))
    var redactParams: [String] = []

    @Option(name: .customLong("redact-header"), help: ArgumentHelp("A header to treat as secret, repeatable.", valueName: "NAME"))
    var redactHeaders: [String] = []

    @Option(name: .customLong("redact-field"), help: ArgumentHelp("A JSON field masked in frames of both directions, repeatable.", valueName: "NAME"))
    var redactFields: [String] = []

    @Flag(help: "No status output.")
    var quiet = false

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Checks the options before running.
    public func validate() throws {
        try connection.validate(url: url, rules: redactionRules())
        _ = try journalOptions()
    }

    static func parseSize(_ text: String) -> UInt64? {
        let t = String(text.filter { $0 != " " }).uppercased()
        var digits = Substring(t)
        var scale: UInt64 = 1
        for (suffix, s) in [("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)] as [(String, UInt64)]
        where t.hasSuffix(suffix) {
            digits = t.dropLast(suffix.count)
            scale = s
            break
        }
        guard let n = UInt64(digits), n > 0 else { return nil }
        return n.multipliedReportingOverflow(by: scale).overflow ? nil : n * scale
    }

    /// The journal options from --segment-size, --segment-age and --durability.
    func journalOptions() throws -> JournalWriterOptions {
        var o = JournalWriterOptions()
        if let segmentSize {
            guard let n = Self.parseSize(segmentSize), n >= 64 << 10 else {
                throw ValidationError("--segment-size must be a size of at least 64K, like 64M or 1G; got '\(segmentSize)'")
            }
            o.maxSegmentBytes = n
        }
        if let segmentAge {
            o.maxSegmentAgeNanos = UInt64(segmentAge * 1e9)
        }
        switch durability {
        case "every-block": o.durability = .everyBlock
        case "never": o.durability = .never
        default:
            let s: Double
            do { s = try NumericOption.parseSeconds(durability, minimum: 0, inclusive: false) } catch {
                throw ValidationError("--durability must be every-block, never, or a number of seconds; '\(durability)' is \(error.message)")
            }
            o.durability = .interval(nanoseconds: UInt64(s * 1e9))
        }
        return o
    }

    /// The redaction rules from the --redact-* flags.
    func redactionRules() -> RedactionRules {
        RedactionRules(extraNames: redactParams + redactHeaders, fields: redactFields)
    }

    /// Records until a signal, --count, --duration or an unrecoverable failure.
    public func run() async throws {
        let request = try connection.request(url: url)
        let rules = redactionRules()
        var options = RecorderOptions()
        options.redaction = rules
        // The journal (and its lock) first: a second recorder is refused before it connects.
        let journalOptions = try journalOptions()
        let recorder: Recorder
        do {
            recorder = try Recorder(directory: journal, journal: journalOptions, options: options)
        } catch {
            StandardOutput.warn("cannot record into \(journal): \(error.message)")
            throw ExitCode(1)
        }
        let status = RecordStatus(
            mode: quiet ? .quiet : (RecordStatus.stderrIsTerminal ? .live : .lines),
            url: rules.redact(url: request.url.description), journal: journal,
            scrubber: rules.scrubber(url: url, headers: request.headers))
        let outcome = await RecordSession(
            request: request, messages: messages, count: count, duration: duration, config: connection.reconnectConfig()
        ).run(recorder: recorder, leaf: NIOConnector(), status: status)
        if let failure = outcome.failure {
            StandardOutput.warn(status.scrubber.scrub(failure))
            throw ExitCode(1)
        }
    }
}

/// The work of `record`, apart from argument parsing.
struct RecordSession {
    /// How a recording ended.
    struct Outcome {
        /// Why it stopped (`SIGTERM`, `count reached`, …).
        var reason: String
        /// A one-line failure when it did not end by request.
        var failure: String?
        /// The recorder's final counters.
        var stats: RecorderStats
    }

    var request: ConnectRequest
    var messages: [String]
    var count: Int?
    var duration: Double?
    var config: ReconnectConfig

    func run(recorder: Recorder, leaf: any WSConnector, status: RecordStatus) async -> Outcome {
        recorder.start(url: request.url.description, headers: request.headers)
        let stack = ReconnectingConnector(wrapping: recorder.connector(wrapping: leaf), config: config)
        let connection = stack.connect(request)
        recorder.follow(connection)
        status.started()

        let stopReason = Mutex<String?>(nil)
        let stop: @Sendable (String) -> Void = { reason in
            let first = stopReason.withLock { r -> Bool in
                guard r == nil else { return false }
                r = reason
                return true
            }
            if first { Task { await connection.shutdown(code: .normalClosure, reason: reason) } }
        }
        let signals = ShutdownSignals { sig in stop(ShutdownSignals.name(sig)) }
        defer { signals.cancel() }
        let timer: Task<Void, Never>? = duration.map { seconds in
            Task {
                try? await ContinuousClock().sleep(for: .seconds(seconds))
                if !Task.isCancelled { stop("duration reached") }
            }
        }
        // The --send messages in every new epoch (as an adapter re-subscribes), and the status.
        let messages = self.messages
        let follower = Task {
            var sentEpoch: UInt64 = 0
            for await snapshot in connection.lifecycle.updates() {
                status.edge(snapshot)
                guard snapshot.state == .connected, snapshot.epoch > sentEpoch else { continue }
                sentEpoch = snapshot.epoch
                await sendSubscriptions(messages, via: connection.sink, epoch: snapshot.epoch, failed: { _, error in
                    status.note("could not send a --send message in epoch \(snapshot.epoch): \(error)")
                })
            }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await ContinuousClock().sleep(for: .seconds(1))
                status.tick(recorder.stats, connection.snapshot)
            }
        }

        // The adapter side: frames are recorded at the leaf; here they are only counted.
        var received = 0
        do {
            for try await _ in connection.inbound {
                received += 1
                if let count, received >= count {
                    stop("count reached")
                    break
                }
            }
        } catch {
            // An unrecoverable session ends the stream with its cause; reported below.
        }
        let final = await connection.waitUntilEnded()
        await follower.value
        timer?.cancel()
        ticker.cancel()
        let reason = stopReason.withLock { $0 } ?? final.lastDisconnect.map { "\($0)" } ?? final.state.rawValue
        let stats = await recorder.finish(reason: final.state == .unrecoverable ? "unrecoverable: \(reason)" : reason)
        status.finished(stats, final, reason: reason)
        var outcome = Outcome(reason: reason, stats: stats)
        if final.state == .unrecoverable {
            outcome.failure = "unrecoverable: \(final.lastDisconnect.map { "\($0)" } ?? "no cause recorded")"
        } else if stats.writeErrors > 0 {
            outcome.failure = "\(stats.writeErrors) records could not be written to the journal: \(stats.lastError ?? "?")"
        }
        return outcome
    }
}
