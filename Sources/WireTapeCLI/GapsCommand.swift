import ArgumentParser
import WireTapeJournal

/// `wiretape gaps`: periods with no connected epoch.
public struct GapsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gaps", abstract: "List periods with no connected epoch: start, end, duration, cause.")

    @OptionGroup var journal: JournalDirectoryArgument
    @Option(name: .customLong("min-duration"), help: "Only gaps at least this many seconds long.",
        transform: NumericOption.seconds(atLeast: 0))
    var minDuration: Double = 0

    @Flag(help: "Print one JSON object per gap.")
    var json = false

    public init() {}

    public func run() async throws {
        let directory = try await journal.readable(.summary)
        let out = JournalOutput.current
        let gaps = try JournalGap.find(directory: directory, minDurationSeconds: minDuration)
        for g in gaps {
            if json {
                var l = JSONLine()
                l.add("start", JournalTime.format(g.start)); l.add("end", JournalTime.format(g.end))
                l.add("start_ns", g.start); l.add("end_ns", g.end)
                l.add("duration_s", g.durationSeconds)
                l.add("epoch", g.epoch); l.add("seq", g.seq); l.add("state", g.state)
                l.add("cause", g.cause); l.add("open", g.open)
                out.line(l.finish())
            } else {
                out.line("\(JournalTime.format(g.start))  \(JournalTime.format(g.end))\(g.open ? " (open)" : "")  \(formatDuration(g.durationSeconds))  after epoch \(g.epoch): \(TerminalText.safe(g.cause))")
            }
        }
        if !json && gaps.isEmpty { out.line("no gaps" + (minDuration > 0 ? " of \(minDuration) s or more" : "")) }
    }
}
