import ArgumentParser
import WireTapeArchive
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

            --config FEEDS.json records several feeds in one process, each into its own journal \
            with its own flags (see docs/recorder.md); a feed that fails does not stop the \
            others; the last lines say how each ended, and the exit status is 1 if any failed.
            """)

    @Argument(help: "The ws:// or wss:// URL (not with --config).")
    var url: String?

    @Option(help: ArgumentHelp("The journal directory (created if missing).", valueName: "DIR"))
    var journal: String?

    @Option(help: ArgumentHelp("Record every feed of this JSON file, each with its own URL, journal and flags.", valueName: "FEEDS.json"))
    var config: String?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var metrics: MetricsOptions

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

    @Option(help: ArgumentHelp("Upload segments to s3://BUCKET/PREFIX in the background as they seal (see `wiretape archive`).", valueName: "URL"))
    var archive: String?

    @OptionGroup var s3: S3Options

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Checks the options before running.
    public func validate() throws {
        _ = try metrics.address()
        if config != nil {
            guard url == nil, journal == nil, messages.isEmpty, connection.headers.isEmpty, count == nil, duration == nil else {
                throw ValidationError("with --config, the URL, --journal and the feed's flags go in the feed's entry of the file")
            }
            return
        }
        guard let url else { throw ValidationError("missing the URL to record (or --config FEEDS.json)") }
        guard journal != nil else { throw ValidationError("missing --journal DIR: where to record") }
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

    /// The `feed` label of a recording: the journal directory's name.
    static func feedName(_ journal: String) -> String {
        journal.split(separator: "/").last.map(String.init) ?? journal
    }

    /// The redaction rules from the --redact-* flags.
    func redactionRules() -> RedactionRules {
        RedactionRules(extraNames: redactParams + redactHeaders, fields: redactFields)
    }

    /// Records until a signal, --count, --duration or an unrecoverable failure.
    public func run() async throws {
        let feeds = try config.map(RecordFeeds.load)  // checked before anything starts
        let stops = StopRequests()
        let signals = ShutdownSignals { stops.stop(ShutdownSignals.name($0)) }
        defer { signals.cancel() }
        var served: (RecordMetrics, MetricsEndpoint)?
        if let address = try metrics.address() {
            let m = RecordMetrics()
            served = (m, try await RecordMetrics.serve(on: address, m, quiet: quiet))
        }
        let failed: Bool
        if let feeds {
            failed = await feeds.run(stops: stops, metrics: served?.0, quiet: quiet)
        } else {
            let outcome = await record(feed: Self.feedName(journal ?? ""), stops: stops, metrics: served?.0, mode: Self.statusMode(quiet: quiet))
            if let failure = outcome.failure { StandardOutput.warn(failure) }
            failed = outcome.failure != nil
        }
        await served?.1.stop()
        if failed { throw ExitCode(1) }
    }

    /// How status is shown: nothing with --quiet, a live line on a terminal, else key=value lines.
    static func statusMode(quiet: Bool) -> RecordStatus.Mode {
        quiet ? .quiet : (RecordStatus.stderrIsTerminal ? .live : .lines)
    }

    /// Records this command's feed until a stop, --count, --duration or an unrecoverable
    /// failure. Never throws: a failure (the journal in use, a session that became
    /// unrecoverable) is the outcome's, scrubbed of secrets, so the other feeds of a --config
    /// go on.
    func record(
        feed: String, stops: StopRequests, metrics: RecordMetrics?, mode: RecordStatus.Mode,
        board: (StatusBoard, row: Int)? = nil
    ) async -> RecordSession.Outcome {
        let url = self.url ?? "", journal = self.journal ?? ""
        let request: ConnectRequest
        do { request = try connection.request(url: url) } catch {
            return RecordSession.Outcome(reason: "bad request", failure: "\(error)", stats: RecorderStats())
        }
        let archiver: Archiver?
        do {
            archiver = try archive.map { Archiver(client: try s3.client(), location: try S3Location(parsing: $0)) }
        } catch {
            return RecordSession.Outcome(reason: "bad options", failure: "--archive: \(error)", stats: RecorderStats())
        }
        let rules = redactionRules()
        var options = RecorderOptions()
        options.redaction = rules
        // The journal (and its lock) first: a second recorder is refused before it connects.
        let recorder: Recorder
        do {
            recorder = try Recorder(directory: journal, journal: try journalOptions(), options: options)
        } catch let error as JournalError {
            return RecordSession.Outcome(reason: "journal unavailable", failure: "cannot record into \(journal): \(error.message)", stats: RecorderStats())
        } catch {
            return RecordSession.Outcome(reason: "bad options", failure: "\(error)", stats: RecorderStats())
        }
        let status = RecordStatus(
            mode: mode, url: rules.redact(url: request.url.description), journal: journal,
            scrubber: rules.scrubber(url: url, headers: request.headers), feed: board.map { (feed, $0.0, $0.row) })
        // --archive: passes off the live path; a last pass after the close uploads the last segment.
        let uploader = archiver.map { BackgroundArchiver(archiver: $0, directory: journal) { status.note($0) } }
        if let uploader { status.attach(archiveBacklog: { uploader.backlog }) }
        let uploading = uploader.map { u in Task { await u.run(clock: ContinuousClock()) } }
        var outcome = await RecordSession(
            request: request, messages: messages, count: count, duration: duration, config: connection.reconnectConfig()
        ).run(recorder: recorder, leaf: NIOConnector(), status: status, stops: stops, metrics: metrics.map { ($0, feed) })
        if let uploader, let uploading, let archive {
            uploading.cancel()
            await uploading.value
            if await !uploader.pass() {
                StandardOutput.warn("archive: \(uploader.backlog) sealed segment(s) not uploaded; run `wiretape archive \(journal) --to \(archive)`")
            }
        }
        outcome.failure = outcome.failure.map(status.scrubber.scrub)
        return outcome
    }
}
