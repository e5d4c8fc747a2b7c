import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeRecorder
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The status output of `record`, on stderr: one live line on a terminal, otherwise key=value
/// lines (start, every lifecycle edge with its cause, a summary every minute), or nothing.
///
/// Everything printed passes through the scrubber of the request's secret values, and URLs are
/// redacted, so no credential reaches the output.
final class RecordStatus: Sendable {
    enum Mode: Sendable { case live, lines, quiet }

    let mode: Mode
    let url: String
    let journal: String
    let scrubber: SecretScrubber
    /// With several feeds (`--config`): the feed's name on every line, and its row of the
    /// shared live display.
    let feed: (name: String, board: StatusBoard, row: Int)?
    private let state = Mutex(State())

    private struct State {
        var startMono: UInt64 = 0
        var lastTickMono: UInt64 = 0
        var lastFrames: UInt64 = 0
        var lastBytes: UInt64 = 0
        var lastSummaryMono: UInt64 = 0
        var outages: UInt64 = 0
        var lastState: ConnState?
        var lastEpoch: UInt64 = 0
        var liveShown = false
        var archiveBacklog: (@Sendable () -> Int)?
    }

    /// With `--archive`: where the status line, the summaries and the metrics read the number
    /// of sealed segments not uploaded yet.
    func attach(archiveBacklog: @escaping @Sendable () -> Int) { state.withLock { $0.archiveBacklog = archiveBacklog } }

    /// Sealed segments not uploaded yet, when archiving.
    var archiveBacklog: Int? { state.withLock { $0.archiveBacklog }?() }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    init(mode: Mode, url: String, journal: String, scrubber: SecretScrubber, feed: (name: String, board: StatusBoard, row: Int)? = nil) {
        self.mode = mode
        self.url = url
        self.journal = journal
        self.scrubber = scrubber
        self.feed = feed
    }

    private static func monoNow() -> UInt64 { ReceiveTimestamp.now().monotonicNanos }

    private func write(_ line: String) {
        var text = scrubber.scrub(line)
        let prefix = "wiretape record: "
        if let feed, text.hasPrefix(prefix) { text = prefix + "feed=\(feed.name) " + text.dropFirst(prefix.count) }
        if mode == .live, let feed {
            feed.board.message(text)
        } else {
            writeStderr(text + "\n")
        }
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"") + "\""
    }

    func started() {
        let now = Self.monoNow()
        state.withLock {
            $0.startMono = now
            $0.lastTickMono = now
            $0.lastSummaryMono = now
        }
        if mode == .lines { write("wiretape record: event=start url=\(quoted(url)) journal=\(quoted(journal))") }
    }

    /// Outages so far: times the session went from up to `reconnecting`.
    var outages: UInt64 { state.withLock { $0.outages } }

    func note(_ message: String) {
        guard mode != .quiet else { return }
        clearLive()
        write("wiretape record: event=warning message=\(quoted(message))")
    }

    /// Called for every lifecycle snapshot.
    func edge(_ s: LifecycleSnapshot) {
        state.withLock { st in
            let wasUp = st.lastState == .connected || st.lastState == .stale || st.lastState == .resumed
            if wasUp && s.state == .reconnecting { st.outages += 1 }
            st.lastState = s.state
            st.lastEpoch = s.epoch
        }
        guard mode == .lines else { return }
        var line = "wiretape record: event=lifecycle state=\(s.state.rawValue) epoch=\(s.epoch)"
        if s.state == .reconnecting || s.state.isTerminal, let cause = s.lastDisconnect {
            line += " cause=\(quoted("\(cause)"))"
            if let code = cause.closeCode { line += " close_code=\(code.rawValue)" }
        }
        line += " reconnects=\(s.reconnects) failed_attempts=\(s.failedAttempts) lagged=\(s.totalLagged)"
        write(line)
    }

    /// Called about once a second.
    func tick(_ stats: RecorderStats, _ snapshot: LifecycleSnapshot) {
        let now = Self.monoNow()
        let (rate, mbps, uptime, outages, summaryDue) = state.withLock { st in
            let dt = max(Double(now &- st.lastTickMono) / 1e9, 0.001)
            let rate = Double(stats.framesIn &- st.lastFrames) / dt
            let mbps = Double(stats.bytesIn &- st.lastBytes) / dt / 1e6
            st.lastTickMono = now
            st.lastFrames = stats.framesIn
            st.lastBytes = stats.bytesIn
            let due = now &- st.lastSummaryMono >= 60_000_000_000
            if due { st.lastSummaryMono = now }
            return (rate, mbps, Double(now &- st.startMono) / 1e9, st.outages, due)
        }
        let backlog = archiveBacklog
        switch mode {
        case .quiet: return
        case .live:
            let ratio = compressionRatio(stats)
            let line = String(
                "\u{1B}[2K\rrecording \(snapshot.state.rawValue) epoch \(snapshot.epoch) | \(Int(rate)) frames/s \(fmt(mbps)) MB/s"
                    + " | ratio \(fmt(ratio)) | lag \(stats.lagged) | outages \(outages) | up \(clock(uptime))"
                    + (backlog.map { " | archive backlog \($0)" } ?? ""))
            if let feed {
                feed.board.set(feed.row, scrubber.scrub("\(feed.name): " + line.dropFirst(5)))  // without "\e[2K\r"
            } else {
                state.withLock { $0.liveShown = true }
                writeStderr(line)
            }
        case .lines:
            guard summaryDue else { return }
            write(
                "wiretape record: event=summary state=\(snapshot.state.rawValue) epoch=\(snapshot.epoch) frames=\(stats.framesIn)"
                    + " bytes=\(stats.bytesIn) sent=\(stats.framesOut) lagged=\(stats.lagged) lagged_bytes=\(stats.laggedBytes)"
                    + " outages=\(outages) ratio=\(fmt(compressionRatio(stats))) uptime_s=\(Int(uptime))"
                    + (backlog.map { " archive_backlog=\($0)" } ?? ""))
        }
    }

    private func clearLive() {
        let shown = state.withLock { s -> Bool in defer { s.liveShown = false }; return s.liveShown }
        if shown { writeStderr("\u{1B}[2K\r") }
    }

    func finished(_ stats: RecorderStats, _ final: LifecycleSnapshot, reason: String) {
        guard mode != .quiet else { return }
        clearLive()
        let outages = state.withLock { $0.outages }
        write(
            "wiretape record: event=end reason=\(quoted(reason)) state=\(final.state.rawValue) epochs=\(final.epoch)"
                + " frames=\(stats.framesIn) bytes=\(stats.bytesIn) sent=\(stats.framesOut) records=\(stats.records)"
                + " lagged=\(stats.lagged) lagged_bytes=\(stats.laggedBytes) outages=\(outages)"
                + " ratio=\(fmt(compressionRatio(stats)))")
    }

    /// Payload bytes recorded over the journal's size on disk.
    private func compressionRatio(_ stats: RecorderStats) -> Double {
        let disk = Self.directorySize(journal)
        return disk > 0 ? Double(stats.bytesIn + stats.bytesOut) / Double(disk) : 0
    }

    static func directorySize(_ path: String) -> UInt64 {
        guard let d = opendir(path) else { return 0 }
        defer { closedir(d) }
        var total: UInt64 = 0
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasSuffix(JournalFormat.segmentExtension) else { continue }
            var st = stat()
            if stat(path + "/" + name, &st) == 0 { total += UInt64(st.st_size) }
        }
        return total
    }

    private func fmt(_ x: Double) -> String {
        let r = (x * 100).rounded() / 100
        return "\(r)"
    }

    private func clock(_ seconds: Double) -> String {
        let s = Int(seconds)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }
}

/// The live status of several feeds on a terminal: one line per feed, redrawn in place, with
/// messages (warnings, the end of a feed) printed above it.
final class StatusBoard: Sendable {
    private let state: Mutex<(rows: [String], drawn: Int)>

    /// A board of `rows` lines.
    init(rows: Int) { state = Mutex((Array(repeating: "", count: rows), 0)) }

    /// Replaces row `row` and redraws.
    func set(_ row: Int, _ text: String) {
        state.withLock { s in
            guard s.rows.indices.contains(row) else { return }
            s.rows[row] = text
            Self.redraw(&s, above: nil)
        }
    }

    /// Prints `text` on its own line above the board.
    func message(_ text: String) {
        state.withLock { Self.redraw(&$0, above: text) }
    }

    private static func redraw(_ s: inout (rows: [String], drawn: Int), above: String?) {
        var out = s.drawn > 0 ? "\u{1B}[\(s.drawn)A\r" : ""
        if let above { out += "\u{1B}[2K" + above + "\n" }
        for r in s.rows { out += "\u{1B}[2K" + r + "\n" }
        s.drawn = s.rows.count
        writeStderr(out)
    }
}

/// Writes `text` to stderr unbuffered (the status line must appear at once).
private func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
