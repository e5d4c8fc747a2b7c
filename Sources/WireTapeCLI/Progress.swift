#if canImport(Glibc)
import Glibc
#endif
import WireTapeJournal

/// The decisions of a progress line, with no clock and no terminal: feed it the work done
/// and the time since the start; it says what line to show, if any.
///
/// Nothing is shown during the first second (short commands stay quiet), and at most one
/// line per ``minInterval``; the line gives done/total, the rate and the time left.
struct ProgressMeter: Sendable {
    /// What the units are (`blocks`, `records`, `bytes`).
    let unit: String
    /// Total work, when known.
    var total: UInt64?
    /// No line before this much time has passed (ns).
    let delay: UInt64
    /// At most one line per this interval (ns).
    let minInterval: UInt64
    private var lastShown: UInt64?

    init(unit: String, total: UInt64?, delay: UInt64 = 1_000_000_000, minInterval: UInt64 = 200_000_000) {
        self.unit = unit
        self.total = total
        self.delay = delay
        self.minInterval = minInterval
    }

    /// The line to show now, or nil.
    mutating func update(done: UInt64, elapsed: UInt64) -> String? {
        guard elapsed >= delay else { return nil }
        if let l = lastShown, elapsed - l < minInterval { return nil }
        lastShown = elapsed
        return line(done: done, elapsed: elapsed)
    }

    /// Whether any line was shown (so the last one must be cleared or ended).
    var hasShown: Bool { lastShown != nil }

    /// `1234/5000 blocks (24%), 812 blocks/s, ETA 5 s`.
    func line(done: UInt64, elapsed: UInt64) -> String {
        let secs = Double(elapsed) / 1e9
        let rate = secs > 0 ? Double(done) / secs : 0
        var s = "\(done)"
        if let t = total, t > 0 {
            s += "/\(t) \(unit) (\(min(100, done * 100 / t))%)"
        } else {
            s += " \(unit)"
        }
        s += ", \(Self.count(rate)) \(unit)/s"
        if let t = total, rate > 0, done <= t {
            s += ", ETA \(Self.seconds(Double(t - done) / rate))"
        }
        return s
    }

    static func count(_ v: Double) -> String {
        if v >= 1e6 { return "\(Double(Int(v / 1e5)) / 10)M" }
        if v >= 1e4 { return "\(Int(v / 1e3))k" }
        return "\(Int(v))"
    }

    static func seconds(_ s: Double) -> String {
        let t = Int(s.rounded(.up))
        if t < 60 { return "\(t) s" }
        if t < 3600 { return "\(t / 60) min \(t % 60) s" }
        return "\(t / 3600) h \(t % 3600 / 60) min"
    }
}

/// A progress line on standard error for long commands (`report`, `import`, `verify`,
/// `repair`, `reindex`): shown only when standard error is a terminal and the command has
/// run for more than a second; redrawn in place (`\r`), cleared at the end. Prints nothing
/// when output is piped, redirected or captured (CI, tests).
///
/// ```swift
/// let progress = Progress(label: "report", unit: "blocks", total: n)
/// progress.update(done: k)
/// progress.finish()
/// ```
final class Progress {
    private var meter: ProgressMeter
    private let label: String
    private let enabled: Bool
    private let start = ContinuousClock.now

    /// Creates a progress line; `enabled` defaults to "stderr is a terminal and the output
    /// sink is the process's own".
    init(label: String, unit: String, total: UInt64?, enabled: Bool? = nil) {
        meter = ProgressMeter(unit: unit, total: total)
        self.label = label
        self.enabled = enabled ?? (isatty(2) == 1 && JournalOutput.current === JournalOutput.standard)
    }

    /// Whether lines are drawn at all.
    var isEnabled: Bool { enabled }

    /// Sets the total when it becomes known.
    func setTotal(_ total: UInt64?) { meter.total = total }

    /// Reports work done so far; draws the line when it is due.
    func update(done: UInt64) {
        guard enabled else { return }
        let d = ContinuousClock.now - start
        let ns = UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds / 1_000_000_000))
        guard let line = meter.update(done: done, elapsed: ns) else { return }
        write("\r\u{1B}[2K\(label): \(line)")
    }

    /// Clears the line (if one was drawn).
    func finish() {
        guard enabled, meter.hasShown else { return }
        write("\r\u{1B}[2K")
    }

    private func write(_ s: String) {
        var s = s
        s.withUTF8 { u in _ = Glibc.write(2, u.baseAddress, u.count) }
    }
}

extension Progress {
    /// A progress line for a pass over the segment files (`verify`, `repair`, `reindex`),
    /// counted in MiB of segments scanned.
    static func segmentScan(_ label: String) -> Progress {
        Progress(label: label, unit: "MiB", total: nil)
    }

    /// Runs a maintenance pass that reports to this line, and clears the line when it ends
    /// (also when it throws), before the command prints its result.
    func run<T>(_ pass: (@escaping ScanProgress) throws(JournalError) -> T) throws(JournalError) -> T {
        defer { finish() }
        return try pass { [self] scanned, total in
            setTotal(total >> 20)
            update(done: scanned >> 20)
        }
    }
}
