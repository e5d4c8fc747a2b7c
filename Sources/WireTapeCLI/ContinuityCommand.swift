import ArgumentParser
import WireTapeJournal
import WireTapeReport

/// `wiretape continuity DIR --seq-field PATH`: sequence gaps, duplicates and resets per epoch.
public struct ContinuityCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "continuity",
        abstract: "Check the venue's message sequence numbers: gaps, duplicates and resets per epoch.",
        discussion: """
            Reads every inbound text frame in range, takes the integer at --seq-field (a JSON \
            path: Binance depth u with --first-field U, trade ids t, Coinbase sequence with \
            --key product_id), and compares it with the previous one of the same epoch (and key). \
            A reconnect starts a new epoch and a new sequence. Exit status 1 with \
            --fail-on-issues when any gap, duplicate or reset was found.
            """)

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var range: TimeRangeOptions
    @OptionGroup var sequence: ContinuityOptions

    @Flag(help: "Print JSON lines: one per epoch, then one per issue.")
    var json = false

    @Option(name: .customLong("max-issues"), help: "Print at most this many issues.", transform: NumericOption.integer(in: 0...Int.max))
    var maxIssues: Int = 50

    @Flag(name: .customLong("fail-on-issues"), help: "Exit with status 1 when any gap, duplicate or reset was found.")
    var failOnIssues = false

    public init() {}

    public func validate() throws {
        guard sequence.seqField != nil else { throw ValidationError("continuity needs --seq-field PATH (e.g. u, t, sequence)") }
        _ = try sequence.spec()
    }

    public func run() async throws {
        let spec = try sequence.spec()!
        let directory = try await journal.readable()
        let total = (try? JournalSummary.load(directory: directory).blocks).map(UInt64.init)
        let progress = Progress(label: "continuity", unit: "blocks", total: total)
        let c = try ContinuityScan.run(directory: directory, spec: spec, fromWall: range.fromWall, toWall: range.toWall) {
            progress.update(done: $0)
        }
        progress.finish()
        let out = JournalOutput.current
        let issues = c.epochs.reduce(UInt64(0)) { $0 + $1.gaps + $1.duplicates + $1.resets }
        if json {
            for e in c.epochs {
                var l = JSONLine()
                l.add("type", "epoch"); l.add("epoch", e.epoch); l.add("checked", e.checked); l.add("without_field", e.withoutField)
                l.add("gaps", e.gaps); l.add("missing", e.missing); l.add("duplicates", e.duplicates); l.add("resets", e.resets)
                if let f = e.firstID { l.add("first_id", f) }
                if let f = e.lastID { l.add("last_id", f) }
                out.line(l.finish())
            }
            for i in c.issues.prefix(maxIssues) {
                var l = JSONLine()
                l.add("type", i.kind.rawValue); l.add("time", JournalTime.format(i.wall)); l.add("wall_ns", i.wall)
                l.add("epoch", i.epoch); l.add("seq", i.seq); l.add("key", i.key)
                l.add("previous", i.previous); l.add("got", i.got); l.add("missing", i.missing)
                out.line(l.finish())
            }
        } else {
            out.line("epoch  checked  without-field  gaps  ids-missing  duplicates  resets  first-id  last-id")
            for e in c.epochs {
                out.line("\(e.epoch)  \(e.checked)  \(e.withoutField)  \(e.gaps)  \(e.missing)  \(e.duplicates)  \(e.resets)  \(e.firstID.map(String.init) ?? "-")  \(e.lastID.map(String.init) ?? "-")")
            }
            for i in c.issues.prefix(maxIssues) {
                let key = i.key.isEmpty ? "" : " [\(i.key)]"
                switch i.kind {
                case .gap: out.line("\(JournalTime.format(i.wall))  epoch \(i.epoch)\(key)  gap: \(i.previous) then \(i.got), \(i.missing) missing (record \(i.seq))")
                case .duplicate: out.line("\(JournalTime.format(i.wall))  epoch \(i.epoch)\(key)  duplicate: \(i.got) after \(i.previous) (record \(i.seq))")
                case .reset: out.line("\(JournalTime.format(i.wall))  epoch \(i.epoch)\(key)  reset: \(i.got) after \(i.previous) (record \(i.seq))")
                }
            }
            if UInt64(min(c.issues.count, maxIssues)) < issues { out.line("… \(issues - UInt64(min(c.issues.count, maxIssues))) more issue(s); see --max-issues or --json") }
            let checked = c.epochs.reduce(UInt64(0)) { $0 + $1.checked }
            out.line(issues == 0
                ? "continuous: \(checked) message(s) in \(c.epochs.count) epoch(s), no gap, duplicate or reset"
                : "NOT continuous: \(issues) issue(s) in \(checked) message(s)")
        }
        if failOnIssues && issues > 0 { throw ExitCode(1) }
    }
}
