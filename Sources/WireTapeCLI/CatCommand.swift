import ArgumentParser
import Foundation
import WireTapeCore
import WireTapeJournal

#if canImport(Glibc)
import Glibc
#endif

/// `wiretape cat DIR`: prints a journal's records.
public struct CatCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a journal's records (JSON lines, raw payloads or a readable listing).",
        discussion: """
            On a damaged journal, prints what is readable and warns on standard error. A segment the \
            index lists that is gone (deleted, or a dangling symlink) is a warning naming its records; \
            with --strict it is an error before anything is printed, as is the first damaged block.
            """)

    /// Output formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, raw, pretty }
    /// Kind names accepted by `--kind`.
    public enum Kind: String, ExpressibleByArgument, Sendable, CaseIterable {
        case frame, lifecycle, connect, session, lag, annotation
    }

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var range: TimeRangeOptions

    @Option(help: "Only records of this epoch.")
    var epoch: UInt64?

    @Option(help: "Only records of these kinds (repeatable): frame, lifecycle, connect, session, lag, annotation.")
    var kind: [Kind] = []

    @Option(help: "Only frames of this direction: in or out.")
    var direction: String?

    @Option(help: "jsonl, raw (frame payloads, one per line) or pretty.")
    var format: Format = .jsonl

    @Flag(help: "Stop with an error at the first damaged block or missing segment instead of skipping it.")
    var strict = false

    @Flag(help: "Keep waiting for new records (like tail -f).")
    var follow = false

    public init() {}

    public func validate() throws {
        if let d = direction, FrameDirection(rawValue: d) == nil { throw ValidationError("--direction must be in or out, not \"\(d)\"") }
        if follow && journal.isRemote { throw ValidationError("--follow waits for a recorder's new records; an archived journal (\(journal.directory)) does not grow") }
    }

    var filter: RecordFilter {
        var f = RecordFilter()
        f.fromWall = range.fromWall
        f.toWall = range.toWall
        f.epoch = epoch
        f.direction = direction.flatMap(FrameDirection.init(rawValue:))
        if !kind.isEmpty {
            var ks = Set<RecordKind>()
            for k in kind {
                switch k {
                case .frame: ks.formUnion([.inboundFrame, .outboundFrame])
                case .lifecycle: ks.insert(.lifecycle)
                case .connect: ks.insert(.connect)
                case .session: ks.insert(.session)
                case .lag: ks.insert(.lag)
                case .annotation: ks.insert(.annotation)
                }
            }
            f.kinds = ks
        }
        return f
    }

    public func run() async throws {
        let directory = try await journal.readable(
            range.fromWall != nil || range.toWall != nil ? .timeRange(from: range.fromWall, to: range.toWall) : .everything)
        let sink = JournalOutput.current
        // A directory with no segment, index or lock is not a journal: say so rather than
        // print nothing and succeed (`cat /etc`). With --follow it may be one soon.
        if !follow, let names = try? FileManager.default.contentsOfDirectory(atPath: directory),
            !names.contains(where: { ($0.hasPrefix("seg-") && $0.hasSuffix(".wtj")) || $0 == "index.sqlite" || $0 == "writer.lock" })
        {
            throw CommandError(.io, "notAJournal: \(directory) holds no journal (no segment and no index)")
        }
        let missing = Self.missingSegments(directory)
        if strict, let first = missing.first {
            throw CommandError(.io, "\(first) (--strict; \(missing.count) segment(s) missing, run `wiretape verify \(directory)`)")
        }
        for m in missing { sink.warn("warning: " + TerminalText.safe(m)) }
        let out = OutputBuffer(sink)
        let cursor = try JournalCursor(
            directory: directory, options: ReadOptions(filter: filter, onCorruption: strict ? .stop : .skip, follow: follow))
        var reported = 0
        // raw and jsonl read borrowed views (no payload copy, no per-record allocation for
        // frames) and encode straight into the output buffer; pretty is for people.
        let format = self.format
        func drain() throws(JournalError) {
            switch format {
            case .raw:
                while let v = try cursor.nextView() {
                    guard v.body == nil else { continue }
                    out.appendLine(v.payload)
                }
            case .jsonl:
                while let v = try cursor.nextView() {
                    if let body = v.body {
                        out.append(RecordJSON.line(body, seq: v.seq, epoch: v.epoch, wallNanos: v.wallNanos, monoNanos: v.monoNanos))
                        out.append(byte: 10)
                    } else {
                        RecordJSON.appendFrameLine(v, to: out)
                    }
                }
            case .pretty:
                while let r = try cursor.next() {
                    out.append(Self.pretty(r))
                    out.append(byte: 10)
                }
            }
        }
        func warnNew(exceptLast: Bool = false) {
            while reported < cursor.problems.count - (exceptLast ? 1 : 0) {
                sink.warn("warning: " + TerminalText.safe("\(cursor.problems[reported])"))
                reported += 1
            }
        }
        do {
            while true {
                try drain()
                out.flush()
                warnNew()
                if !follow || Task.isCancelled { break }
                // A range that ended before now gets no new records: following it would never end.
                if let to = range.toWall, to < ReceiveTimestamp.now().wallNanos { break }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch let e as JournalError {
            out.flush()
            // Under --strict the damage that stopped the read is the last problem noted: it is
            // printed once, as the error.
            let stoppedAt = cursor.problems.last.map { strict && $0.path == e.path && $0.offset == e.offset } ?? false
            warnNew(exceptLast: stoppedAt)
            throw e
        }
        if cursor.problemCount > reported {
            sink.warn("warning: \(cursor.problemCount - reported) more problems not listed")
        }
        if cursor.problemCount > 0 {
            sink.warn("warning: the journal is damaged; what is readable was printed. Run `wiretape verify \(journal.directory)` for a full report.")
        }
    }

    /// The segments the index lists that are not regular files in the directory (deleted, or
    /// symlinks — a journal never holds one), one sentence each with the records they held.
    /// Empty when there is no index: then nothing says a segment existed (sequence gaps are
    /// allowed, SPEC §4).
    static func missingSegments(_ directory: String) -> [String] {
        guard let query = try? JournalIndexQuery(directory: directory) else { return [] }
        var listed: [(name: String, first: UInt64, last: UInt64)] = []
        try? query.forEachBlock { row in
            if listed.last?.name == row.segment {
                listed[listed.count - 1].last = row.lastSeq
            } else {
                listed.append((row.segment, row.firstSeq, row.lastSeq))
            }
        }
        return listed.compactMap { seg in
            var st = stat()
            let path = directory.hasSuffix("/") ? directory + seg.name : directory + "/" + seg.name
            if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG { return nil }
            let what = lstat(path, &st) == 0 ? "is not a regular file" : "is missing"
            return "segment \(seg.name) \(what): records \(seg.first)...\(seg.last) the index lists cannot be read"
        }
    }

    /// One record as a readable line: `#seq time eEPOCH` and what happened.
    static func pretty(_ r: JournalRecord) -> String {
        TerminalText.safe(prettyUnescaped(r))
    }

    private static func prettyUnescaped(_ r: JournalRecord) -> String {
        let head = "#\(r.seq) \(JournalTime.format(r.wallNanos)) e\(r.epoch)"
        switch r.body {
        case .frame(let d, let op, let payload):
            let text = op == .text
                ? (String(validating: payload, as: UTF8.self) ?? "<\(payload.count) bytes, not UTF-8>")
                : "<binary \(payload.count) bytes>"
            return "\(head) \(d == .inbound ? "<-" : "->") \(text)"
        case .lifecycle(let e):
            var s = "\(head) [\(e.stateName)]"
            if let c = e.closeCode { s += " close \(c)" }
            if let r = e.closeReason, !r.isEmpty { s += " \"\(r)\"" }
            if let by = e.closedBy { s += " by \(by.rawValue)" }
            if let err = e.error { s += " \(err)" }
            if let m = e.message { s += ": \(m)" }
            return s
        case .connect(let e):
            var s = "\(head) connect \(e.outcome.name)"
            if let u = e.url { s += " \(u)" }
            if let h = e.httpStatus { s += " HTTP \(h)" }
            if let r = e.retryAfterSeconds { s += " retry after \(r) s" }
            if let err = e.error { s += " \(err)" }
            if let m = e.message { s += ": \(m)" }
            return s
        case .session(let e):
            return "\(head) session \(e.phase.name)" + (e.url.map { " \($0)" } ?? "") + (e.message.map { ": \($0)" } ?? "")
        case .lag(let c, let b):
            return "\(head) LAG \(c) records, \(b) bytes not recorded"
        case .annotation(let t):
            return "\(head) note: \(t)"
        }
    }
}
