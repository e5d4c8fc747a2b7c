import ArgumentParser
import WireTapeCore
import WireTapeJournal
import WireTapeReport

/// `wiretape annotate DIR [--at TIME] TEXT`: adds an annotation record.
public struct AnnotateCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Add an annotation (\"deploy 4.2.1\") to a journal, directly or through the recorder that holds it.",
        discussion: """
            When no writer holds the journal, the note is appended directly, in the epoch of the \
            journal's last record. When a recorder holds it, the note is handed to the recorder \
            through the journal's control socket (control.sock; see docs/report.md) and lands \
            in sequence order with the live records. Records are appended in time order, so \
            --at may not be earlier than the journal's last record: say in the text which \
            earlier moment a note is about.
            """)

    @OptionGroup var journal: JournalDirectoryArgument

    @Option(help: "The note's time (RFC 3339 or Unix ns); default now.")
    var at: String?

    @Argument(help: "The note.")
    var text: String

    public init() {}

    public func validate() throws {
        if let at { _ = try TimeRangeOptions.parse(at, "--at") }
        guard !text.isEmpty else { throw ValidationError("the note is empty") }
        guard text.utf8.count <= ControlProtocol.maxTextBytes else {
            throw ValidationError("the note is \(text.utf8.count) bytes; at most \(ControlProtocol.maxTextBytes)")
        }
    }

    public func run() async throws {
        let dir = try journal.writable()
        let summary: JournalSummary
        switch Result(catching: { () throws(JournalError) in try JournalSummary.load(directory: dir) }) {
        case .success(let s): summary = s
        case .failure(let e): throw CommandError(.badInput, "\(dir) is not a journal (\(e.message))")
        }
        let requested = at.flatMap(JournalTime.parse)
        let writer: JournalWriter
        switch Result(catching: { () throws(JournalError) in try JournalWriter(directory: dir) }) {
        case .success(let w): writer = w
        case .failure(let e):
            guard e.code == .locked else { throw e }
            try handOver(dir, requested, holder: e)
            return
        }
        do {
            try append(dir, summary, requested, writer)
            try writer.close()
        } catch {
            try? writer.close()
            throw error
        }
    }

    /// A recorder holds the journal: hand the note to it through the control socket.
    private func handOver(_ dir: String, _ wall: Int64?, holder: JournalError) throws {
        switch Result(catching: { () throws(ControlError) in
            try ControlSocketClient.send(.annotate(text: text, wallNanos: wall), directory: dir)
        }) {
        case .success(let seq):
            JournalOutput.current.warn("annotated \(dir) through the recorder: record \(seq)")
        case .failure(let c) where c.code == .notListening:
            throw CommandError(.io, "\(holder.message); it does not listen on \(dir)/\(ControlProtocol.fileName), so the note cannot be handed to it (a recorder that serves the control socket accepts notes while it runs)")
        case .failure(let c):
            throw CommandError(.io, c.message)
        }
    }

    private func append(_ dir: String, _ summary: JournalSummary, _ requested: Int64?, _ writer: JournalWriter) throws {
        let last = try lastRecord(dir, summary)
        let now = ReceiveTimestamp.now()
        let wall = requested ?? max(now.wallNanos, last?.wallNanos ?? now.wallNanos)
        if let l = last, wall < l.wallNanos {
            throw CommandError(.badInput, "--at \(JournalTime.format(wall)) is before the journal's last record (\(JournalTime.format(l.wallNanos))); records are appended in time order, so say in the text which earlier moment the note is about")
        }
        let mono = last.map { $0.monoNanos &+ UInt64(max(0, wall - $0.wallNanos)) } ?? UInt64(max(0, wall))
        let seq = try writer.append(.annotation(text), epoch: last?.epoch ?? 0, at: ReceiveTimestamp(wallNanos: wall, monotonicNanos: mono))
        JournalOutput.current.warn("annotated \(dir): record \(seq) at \(JournalTime.format(wall))")
    }

    /// The journal's last record (from its last block), if any.
    private func lastRecord(_ dir: String, _ s: JournalSummary) throws -> JournalRecord? {
        guard let lastSeq = s.lastSeq else { return nil }
        let cursor = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(fromSeq: lastSeq)))
        var last: JournalRecord?
        while let r = try cursor.next() { last = r }
        return last
    }
}
