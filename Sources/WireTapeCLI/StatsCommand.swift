import ArgumentParser
import WireTapeJournal
import WireTapeReport

/// `wiretape stats DIR [--bucket 1s|1m|1h] [--format csv|jsonl]`: counts per time bucket.
public struct StatsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print message counts, bytes and connection state per time bucket, as CSV or JSON lines.",
        discussion: """
            Columns: start (RFC 3339), start_ns, in, out, bytes (frame payload bytes, both \
            directions), state (up, down or partial), down_s (seconds of the bucket in an \
            outage), epochs (connected epochs overlapping the bucket). Counts are spread from \
            the index's block summaries, so a day of frames takes well under a second; with \
            --exact every frame in range is counted in its own bucket.
            """)

    /// Output formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case csv, jsonl }

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var range: TimeRangeOptions

    @Option(help: ArgumentHelp("Bucket width: a number with ms, s, m or h (1s, 1m, 1h, 500ms).", valueName: "WIDTH"))
    var bucket: String = "1m"

    @Option(help: "csv or jsonl.")
    var format: Format = .csv

    @Flag(help: "Count every frame (a walk over the range) instead of spreading block summaries.")
    var exact = false

    public init() {}

    public func validate() throws {
        guard Self.parseWidth(bucket) != nil else {
            throw ValidationError("--bucket \"\(bucket)\" is not a width such as 1s, 1m, 1h or 500ms")
        }
    }

    /// Parses `1s`, `1m`, `1h`, `500ms` into nanoseconds.
    static func parseWidth(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000)]
        for (u, ns) in units where s.hasSuffix(u) {
            guard let n = Int64(s.dropLast(u.count)), n > 0, n <= 1_000_000 else { return nil }
            return n * ns
        }
        return nil
    }

    public func run() async throws {
        let width = Self.parseWidth(bucket)!
        let progress = Progress(label: "stats", unit: "blocks", total: nil)
        let rows = try JournalStats.rows(
            directory: try await journal.readable(), fromWall: range.fromWall, toWall: range.toWall, width: width, exact: exact
        ) { done, total in
            progress.setTotal(total)
            progress.update(done: done)
        }
        progress.finish()
        var out = BufferedOutput(JournalOutput.current)
        if format == .csv { out.append("start,start_ns,in,out,bytes,state,down_s,epochs\n") }
        for r in rows {
            let down = Double(r.downNanos) / 1e9
            switch format {
            case .csv:
                out.append("\(JournalTime.format(r.start)),\(r.start),\(r.inbound),\(r.outbound),\(r.bytes),\(r.state),\(down),\(r.epochs.map(String.init).joined(separator: ";"))\n")
            case .jsonl:
                var l = JSONLine()
                l.add("start", JournalTime.format(r.start)); l.add("start_ns", r.start)
                l.add("in", r.inbound); l.add("out", r.outbound); l.add("bytes", r.bytes)
                l.add("state", r.state); l.add("down_s", down)
                l.addRaw("epochs", json: "[" + r.epochs.map(String.init).joined(separator: ",") + "]")
                out.append(l.finish() + "\n")
            }
        }
        out.flush()
    }
}
