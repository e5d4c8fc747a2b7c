import ArgumentParser
import WireTapeJournal
import WireTapeReport

#if canImport(Glibc)
import Glibc
#endif

/// `wiretape report DIR --out FILE.html`: the post-mortem page of a journal.
public struct ReportCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML post-mortem page: rates, epochs, outages and their causes, incidents, annotations.",
        discussion: """
            The page is one file with inline CSS, SVG and JavaScript that fetches nothing, so it \
            can be attached to a ticket and opened offline. Rates come from the index's block \
            summaries (not from walking every frame); excerpts read only the blocks around each \
            outage. With --seq-field the report also checks sequence continuity (this walks \
            the inbound frames). See docs/report.md.
            """)

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var range: TimeRangeOptions
    @OptionGroup var sequence: ContinuityOptions

    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "FILE.html"))
    var out: String

    @Option(help: "At most this many time buckets on the timeline.", transform: NumericOption.integer(in: 10...100_000))
    var buckets: Int = 1500

    @Option(name: .customLong("excerpt-bytes"), help: "Bytes of each frame excerpt shown.", transform: NumericOption.integer(in: 16...65536))
    var excerptBytes: Int = 240

    public init() {}

    public func run() async throws {
        var options = ReportOptions()
        options.fromWall = range.fromWall
        options.toWall = range.toWall
        options.targetBuckets = buckets
        options.excerptBytes = excerptBytes
        options.continuity = try sequence.spec()
        let progress = Progress(label: "report", unit: "blocks", total: nil)
        let report = try ReportBuilder.build(directory: try await journal.readable(), options: options) { done, total in
            progress.setTotal(total)
            progress.update(done: done)
        }
        progress.finish()
        let html = ReportHTML.render(report)
        try writeFile(out, html)
        JournalOutput.current.warn(
            "wrote \(out): \(html.utf8.count) bytes, \(report.incidents.count) outage(s), \(report.annotations.count) annotation(s), \(report.blocks) blocks")
    }
}

/// Writes `text` to `path` (created or truncated) via a temporary file and a rename, so a
/// reader never sees half a page.
func writeFile(_ path: String, _ text: String) throws {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CommandError(.io, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
    var text = text
    let ok = text.withUTF8 { u -> Bool in
        var done = 0
        while done < u.count {
            let n = write(fd, u.baseAddress! + done, u.count - done)
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }
    let err = errno
    close(fd)
    guard ok else {
        unlink(tmp)
        throw CommandError(.io, "cannot write \(tmp): \(String(cString: strerror(err)))")
    }
    guard rename(tmp, path) == 0 else {
        let e = errno
        unlink(tmp)
        throw CommandError(.io, "cannot rename \(tmp) to \(path): \(String(cString: strerror(e)))")
    }
}
