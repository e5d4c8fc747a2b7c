import ArgumentParser
import Foundation
import WireTapeCore
import WireTapeJournal

/// An error a journal command reports to the user: the message names the line, field or file.
struct JournalCommandError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Parses `--from`/`--to` values: RFC 3339 or Unix nanoseconds.
func parseTimeOption(_ s: String, _ name: String) throws -> Int64 {
    guard let v = JournalTime.parse(s) else {
        throw ValidationError("\(name) \"\(s)\" is neither RFC 3339 (2026-11-29T10:40:00Z) nor Unix nanoseconds")
    }
    return v
}

// MARK: - import

/// `wiretape import`: appends records from JSON lines or a frames file to a journal.
public struct JournalImportCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Append records (JSON lines, or a u32 length|u64 time|payload frames file) to a journal.",
        discussion: """
            jsonl: one record per line in the JSON-lines schema (journal-format/SPEC.md §9); \
            records without "seq" get the next sequence number, frames without "dir" are inbound. \
            frames: u32 LE length | u64 LE receive time ns | payload, imported as inbound text frames \
            of epoch 0 with wall and monotonic time both set to the receive time. \
            A malformed line stops the import with its line number; records before it stay in the journal.
            """)

    /// The input format.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, frames }

    /// The journal directory (created when missing).
    @Option(name: .long, help: "The journal directory (created when missing).") public var journal: String
    /// The input format.
    @Option(name: .long, help: "jsonl or frames.") public var format: Format = .jsonl
    /// The input file, or `-` for standard input.
    @Argument(help: "Input file, or - for standard input.") public var input: String = "-"

    /// Creates the command.
    public init() {}

    /// Runs the import.
    public func run() async throws {
        let out = JournalOutput.current
        let fd: Int32 = input == "-" ? 0 : open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalCommandError(message: "cannot open \(input): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        let writer = try JournalWriter(directory: journal)
        var count = 0
        do {
            switch format {
            case .frames: count = try importFrames(fd: fd, writer: writer)
            case .jsonl: count = try importJSONLines(fd: fd, writer: writer)
            }
        } catch {
            try? writer.close()
            throw error
        }
        try writer.close()
        out.warn("imported \(count) records into \(journal)")
    }

    private func importFrames(fd: Int32, writer: JournalWriter) throws -> Int {
        var reader = ChunkReader(fd: fd)
        var count = 0
        var offset: UInt64 = 0
        while true {
            guard let head = try reader.read(12) else { break }
            guard head.count == 12 else {
                throw JournalCommandError(message: "\(input): frame \(count + 1) at byte \(offset): truncated header (\(head.count) of 12 bytes); \(count) frames were imported")
            }
            let len = head.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            let time = head.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self)) }
            guard Int(len) <= writer.options.maxRecordBytes else {
                throw JournalCommandError(message: "\(input): frame \(count + 1) at byte \(offset): length \(len) exceeds the \(writer.options.maxRecordBytes)-byte record limit (not a frames file?); \(count) frames were imported")
            }
            guard let payload = try reader.read(Int(len)), payload.count == Int(len) else {
                throw JournalCommandError(message: "\(input): frame \(count + 1) at byte \(offset): truncated payload (\(len) bytes declared); \(count) frames were imported")
            }
            try payload.withUnsafeBytes { p in
                _ = try writer.appendFrame(
                    direction: .inbound, opcode: .text, payload: p, epoch: 0,
                    at: ReceiveTimestamp(wallNanos: Int64(bitPattern: time), monotonicNanos: time))
            }
            offset += 12 + UInt64(len)
            count += 1
        }
        return count
    }

    private func importJSONLines(fd: Int32, writer: JournalWriter) throws -> Int {
        var reader = ChunkReader(fd: fd)
        var lineNo = 0
        var count = 0
        while let line = try reader.readLine() {
            lineNo += 1
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let record: JournalRecord
            do {
                record = try JSONRecordParser.parse(line, nextSeq: writer.nextSeq)
            } catch let e as JournalCommandError {
                throw JournalCommandError(message: "\(input == "-" ? "stdin" : input): line \(lineNo): \(e.message); \(count) records before it were imported")
            }
            let appended = Result { () throws(JournalError) in try writer.append(record) }
            if case .failure(let e) = appended {
                guard e.code == .invalidArgument else { throw e }
                throw JournalCommandError(message: "\(input == "-" ? "stdin" : input): line \(lineNo): \(e.message); \(count) records before it were imported")
            }
            count += 1
        }
        return count
    }
}

/// Reads a file descriptor in 1 MiB chunks: exact-size reads and lines.
struct ChunkReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var start = 0
    var eof = false

    init(fd: Int32) { self.fd = fd }

    private mutating func fill() throws -> Bool {
        if eof { return false }
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let old = buffer.count
        buffer.reserveCapacity(old + (1 << 20))
        buffer.append(contentsOf: repeatElement(0, count: 1 << 20))
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + old, 1 << 20) }
        if n < 0 { throw JournalCommandError(message: "read failed: \(String(cString: strerror(errno)))") }
        buffer.removeLast((1 << 20) - n)
        if n == 0 { eof = true }
        return n > 0
    }

    /// Exactly `n` bytes, fewer at the end of input, nil when nothing is left.
    mutating func read(_ n: Int) throws -> ArraySlice<UInt8>? {
        while buffer.count - start < n { if try !fill() { break } }
        if buffer.count == start { return nil }
        let end = min(start + n, buffer.count)
        defer { start = end }
        return buffer[start..<end]
    }

    /// The next line without its newline, nil at the end of input.
    mutating func readLine() throws -> ArraySlice<UInt8>? {
        var scanFrom = start
        while true {
            if let nl = buffer[scanFrom...].firstIndex(of: 10) {
                defer { start = nl + 1 }
                return buffer[start..<nl]
            }
            scanFrom = buffer.count
            let consumed = start
            if try !fill() {
                if buffer.count == start { return nil }
                defer { start = buffer.count }
                return buffer[start...]
            }
            scanFrom -= consumed
        }
    }
}

/// Converts between JSON-lines records (SPEC.md §9) and ``JournalRecord``.
enum JSONRecordParser {
    static func fail(_ s: String) -> JournalCommandError { JournalCommandError(message: s) }

    static func int(_ o: [String: Any], _ key: String) throws -> Int64? {
        guard let v = o[key] else { return nil }
        if v is NSNull { return nil }
        guard let n = v as? NSNumber, !(v is String) else { throw fail("field \"\(key)\" must be an integer") }
        let d = n.doubleValue
        guard d == d.rounded() else { throw fail("field \"\(key)\" must be an integer, found \(n)") }
        return n.int64Value
    }

    static func uint(_ o: [String: Any], _ key: String) throws -> UInt64? {
        guard let v = try int(o, key) else { return nil }
        guard v >= 0 else { throw fail("field \"\(key)\" must not be negative, found \(v)") }
        return UInt64(v)
    }

    static func string(_ o: [String: Any], _ key: String) throws -> String? {
        guard let v = o[key] else { return nil }
        if v is NSNull { return nil }
        guard let s = v as? String else { throw fail("field \"\(key)\" must be a string") }
        return s
    }

    static func parse(_ line: ArraySlice<UInt8>, nextSeq: UInt64) throws -> JournalRecord {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: Data(line), options: []) } catch {
            throw fail("not valid JSON (\((error as NSError).userInfo["NSDebugDescription"] as? String ?? "syntax error"))")
        }
        guard let o = any as? [String: Any] else { throw fail("expected a JSON object") }
        guard let type = try string(o, "type") else { throw fail("missing field \"type\"") }
        let seq = try uint(o, "seq") ?? nextSeq
        let epoch = try uint(o, "epoch") ?? 0
        guard let wall = try int(o, "wall_ns") else { throw fail("missing field \"wall_ns\"") }
        let mono = try uint(o, "mono_ns") ?? UInt64(bitPattern: wall)
        let body: RecordBody
        switch type {
        case "frame":
            let dirName = try string(o, "dir") ?? "in"
            guard let dir = FrameDirection(rawValue: dirName) else { throw fail("field \"dir\" must be \"in\" or \"out\", found \"\(dirName)\"") }
            let data = try string(o, "data")
            let b64 = try string(o, "data_b64")
            let opName = try string(o, "opcode") ?? (b64 != nil ? "binary" : "text")
            guard let op = FrameOpcode(rawValue: opName) else { throw fail("field \"opcode\" must be \"text\" or \"binary\", found \"\(opName)\"") }
            let payload: [UInt8]
            if let data {
                payload = Array(data.utf8)
            } else if let b64 {
                guard let p = Base64.decode(b64) else { throw fail("field \"data_b64\" is not valid base64") }
                payload = p
            } else {
                throw fail("a frame needs \"data\" or \"data_b64\"")
            }
            body = .frame(direction: dir, opcode: op, payload: payload)
        case "lifecycle":
            guard let state = try string(o, "state") else { throw fail("missing field \"state\"") }
            guard ConnState(rawValue: state) != nil else {
                throw fail("field \"state\" must be one of \(ConnState.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(state)\"")
            }
            let code = try int(o, "close_code")
            if let c = code, !(0...65535).contains(c) { throw fail("field \"close_code\" \(c) is not a 16-bit close code") }
            var closedBy: CloseInitiator? = nil
            if let by = try string(o, "closed_by") {
                guard let v = CloseInitiator(rawValue: by) else { throw fail("field \"closed_by\" must be \"peer\" or \"local\", found \"\(by)\"") }
                closedBy = v
            }
            var counters: LifecycleCounters? = nil
            let counterKeys = ["total_lagged", "total_lagged_bytes", "reconnects", "failed_attempts"]
            if counterKeys.contains(where: { o[$0] != nil }) {
                counters = LifecycleCounters(
                    totalLagged: try uint(o, "total_lagged") ?? 0, totalLaggedBytes: try uint(o, "total_lagged_bytes") ?? 0,
                    reconnects: try uint(o, "reconnects") ?? 0, failedAttempts: try uint(o, "failed_attempts") ?? 0)
            }
            body = .lifecycle(LifecycleEdge(
                stateName: state, closeCode: code.map { UInt16($0) }, closeReason: try string(o, "close_reason"),
                error: try string(o, "error"), message: try string(o, "message"), closedBy: closedBy, counters: counters))
        case "connect":
            let name = try string(o, "outcome") ?? "attempt"
            guard let outcome = ConnectOutcome(name: name) else { throw fail("field \"outcome\" must be attempt, connected or failed, found \"\(name)\"") }
            let status = try int(o, "http_status")
            if let s = status, !(0...65535).contains(s) { throw fail("field \"http_status\" \(s) is out of range") }
            let retryAfter = try uint(o, "retry_after_s")
            if let r = retryAfter, r > UInt64(UInt32.max) { throw fail("field \"retry_after_s\" \(r) is out of range (0...4294967295)") }
            body = .connect(ConnectEvent(
                outcome: outcome, url: try string(o, "url"), httpStatus: status.map { UInt16($0) },
                error: try string(o, "error"), message: try string(o, "message"),
                retryAfterSeconds: retryAfter.map { UInt32($0) }))
        case "session":
            let phaseName = try string(o, "phase") ?? "start"
            guard let phase = SessionPhase.allCases.first(where: { $0.name == phaseName }) else { throw fail("field \"phase\" must be start or end, found \"\(phaseName)\"") }
            var headers: [HTTPHeaderField] = []
            if let h = o["headers"] {
                guard let arr = h as? [Any] else { throw fail("field \"headers\" must be an array of [name, value] pairs") }
                for pair in arr {
                    guard let p = pair as? [Any], p.count == 2, let n = p[0] as? String, let v = p[1] as? String else {
                        throw fail("field \"headers\" must be an array of [name, value] string pairs")
                    }
                    headers.append(HTTPHeaderField(n, v))
                }
            }
            body = .session(SessionEvent(phase: phase, url: try string(o, "url"), headers: headers, message: try string(o, "message")))
        case "lag":
            body = .lag(count: try uint(o, "count") ?? 0, bytes: try uint(o, "bytes") ?? 0)
        case "annotation":
            guard let text = try string(o, "text") else { throw fail("missing field \"text\"") }
            body = .annotation(text)
        default:
            throw fail("unknown record type \"\(type)\" (expected frame, lifecycle, connect, session, lag or annotation)")
        }
        return JournalRecord(seq: seq, epoch: epoch, wallNanos: wall, monoNanos: mono, body: body)
    }

    /// The JSON line of a record (without newline).
    static func line(_ r: JournalRecord) -> String {
        var l = JSONLine()
        l.add("type", r.kind.typeName)
        l.add("seq", r.seq)
        l.add("epoch", r.epoch)
        l.add("wall_ns", r.wallNanos)
        l.add("mono_ns", r.monoNanos)
        switch r.body {
        case .frame(let dir, let op, let payload):
            l.add("dir", dir.rawValue)
            l.add("opcode", op.rawValue)
            if op == .text, let s = String(validating: payload, as: UTF8.self) {
                l.add("data", s)
            } else {
                l.add("data_b64", Base64.encode(payload))
            }
        case .lifecycle(let e):
            l.add("state", e.stateName)
            if let c = e.closeCode { l.add("close_code", Int(c)) }
            l.addIfPresent("close_reason", e.closeReason)
            l.addIfPresent("closed_by", e.closedBy?.rawValue)
            l.addIfPresent("error", e.error)
            l.addIfPresent("message", e.message)
            if let c = e.counters {
                l.add("total_lagged", c.totalLagged)
                l.add("total_lagged_bytes", c.totalLaggedBytes)
                l.add("reconnects", c.reconnects)
                l.add("failed_attempts", c.failedAttempts)
            }
        case .connect(let e):
            l.add("outcome", e.outcome.name)
            l.addIfPresent("url", e.url)
            if let s = e.httpStatus { l.add("http_status", Int(s)) }
            if let r = e.retryAfterSeconds { l.add("retry_after_s", UInt64(r)) }
            l.addIfPresent("error", e.error)
            l.addIfPresent("message", e.message)
        case .session(let e):
            l.add("phase", e.phase.name)
            l.addIfPresent("url", e.url)
            if !e.headers.isEmpty {
                var bytes: [UInt8] = [UInt8(ascii: "[")]
                for (i, h) in e.headers.enumerated() {
                    if i > 0 { bytes.append(UInt8(ascii: ",")) }
                    bytes.append(UInt8(ascii: "["))
                    JSONLine.appendString(h.name, to: &bytes)
                    bytes.append(UInt8(ascii: ","))
                    JSONLine.appendString(h.value, to: &bytes)
                    bytes.append(UInt8(ascii: "]"))
                }
                bytes.append(UInt8(ascii: "]"))
                l.addRaw("headers", json: String(decoding: bytes, as: UTF8.self))
            }
            l.addIfPresent("message", e.message)
        case .lag(let count, let bytes):
            l.add("count", count)
            l.add("bytes", bytes)
        case .annotation(let text):
            l.add("text", text)
        }
        return l.finish()
    }
}

// MARK: - cat

/// `wiretape cat`: prints a journal's records.
public struct JournalCatCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "cat",
        abstract: "Print a journal's records (JSON lines, raw payloads or a readable listing).",
        discussion: "On a damaged journal, prints what is readable and warns on standard error.")

    /// Output formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, raw, pretty }
    /// Kind names accepted by --kind.
    public enum Kind: String, ExpressibleByArgument, Sendable, CaseIterable {
        case frame, lifecycle, connect, session, lag, annotation
    }

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String
    /// Start time.
    @Option(help: "Only records at or after this time (RFC 3339 or Unix ns).") public var from: String?
    /// End time.
    @Option(help: "Only records at or before this time (RFC 3339 or Unix ns).") public var to: String?
    /// Epoch filter.
    @Option(help: "Only records of this epoch.") public var epoch: UInt64?
    /// Kind filter.
    @Option(help: "Only records of these kinds (repeatable): frame, lifecycle, connect, session, lag, annotation.") public var kind: [Kind] = []
    /// Direction filter.
    @Option(help: "Only frames of this direction: in or out.") public var direction: String?
    /// Output format.
    @Option(help: "jsonl, raw (frame payloads, one per line) or pretty.") public var format: Format = .jsonl
    /// Stop at the first damaged block instead of skipping it.
    @Flag(help: "Stop with an error at the first damaged block instead of skipping it.") public var strict = false
    /// Keep waiting for new records.
    @Flag(help: "Keep waiting for new records (like tail -f).") public var follow = false

    /// Creates the command.
    public init() {}

    /// Validates the options.
    public func validate() throws {
        if let from { _ = try parseTimeOption(from, "--from") }
        if let to { _ = try parseTimeOption(to, "--to") }
        if let d = direction, FrameDirection(rawValue: d) == nil { throw ValidationError("--direction must be in or out, not \"\(d)\"") }
    }

    var filter: RecordFilter {
        var f = RecordFilter()
        f.fromWall = from.flatMap(JournalTime.parse)
        f.toWall = to.flatMap(JournalTime.parse)
        f.epoch = epoch
        f.direction = direction.flatMap(FrameDirection.init(rawValue:))
        if !kind.isEmpty {
            var ks = Set<RecordKind>()
            for k in kind {
                switch k {
                case .frame: ks.insert(.inboundFrame); ks.insert(.outboundFrame)
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

    /// Prints the records.
    public func run() async throws {
        let sink = JournalOutput.current
        var out = BufferedOutput(sink)
        let cursor = try JournalCursor(directory: directory, options: ReadOptions(filter: filter, onCorruption: strict ? .stop : .skip, follow: follow))
        var reported = 0
        func emit(_ r: JournalRecord) {
            switch format {
            case .jsonl:
                out.append(JSONRecordParser.line(r))
                out.append("\n")
            case .raw:
                if case .frame(_, _, let payload) = r.body {
                    payload.withUnsafeBytes { out.append($0) }
                    out.append("\n")
                }
            case .pretty:
                out.append(Self.pretty(r))
                out.append("\n")
            }
        }
        func warnNew() {
            while reported < cursor.problems.count {
                sink.warn("warning: \(cursor.problems[reported])")
                reported += 1
            }
        }
        do {
            while true {
                while let r = try cursor.next() { emit(r) }
                out.flush()
                warnNew()
                if !follow || Task.isCancelled { break }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch let e as JournalError {
            out.flush()
            warnNew()
            throw e
        }
        if cursor.problemCount > reported {
            sink.warn("warning: \(cursor.problemCount - reported) more problems not listed")
        }
        if cursor.problemCount > 0 {
            sink.warn("warning: the journal is damaged; what is readable was printed. Run `wiretape verify \(directory)` for a full report.")
        }
    }

    static func pretty(_ r: JournalRecord) -> String {
        let head = "#\(r.seq) \(JournalTime.format(r.wallNanos)) e\(r.epoch)"
        switch r.body {
        case .frame(let d, let op, let payload):
            let text = op == .text ? (String(validating: payload, as: UTF8.self) ?? "<\(payload.count) bytes, not UTF-8>") : "<binary \(payload.count) bytes>"
            return "\(head) \(d == .inbound ? "<-" : "->") \(text)"
        case .lifecycle(let e):
            var s = "\(head) [\(e.stateName)]"
            if let c = e.closeCode { s += " close \(c)" }
            if let r = e.closeReason, !r.isEmpty { s += " \"\(r)\"" }
            if let err = e.error { s += " \(err)" }
            if let m = e.message { s += ": \(m)" }
            return s
        case .connect(let e):
            var s = "\(head) connect \(e.outcome.name)"
            if let u = e.url { s += " \(u)" }
            if let h = e.httpStatus { s += " HTTP \(h)" }
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

// MARK: - info

/// `wiretape info`: a journal's span, sizes, counts, epochs and sessions.
public struct JournalInfoCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a journal's time span, sizes, compression, record counts, epochs and sessions.")

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String
    /// JSON output.
    @Flag(help: "Print one JSON object.") public var json = false

    /// Creates the command.
    public init() {}

    /// Prints the summary.
    public func run() async throws {
        let out = JournalOutput.current
        let s = try JournalSummary.load(directory: directory)
        let total = s.kinds.total
        if json {
            var l = JSONLine()
            l.add("directory", directory)
            l.add("segments", s.segments)
            l.add("sealed_segments", s.sealedSegments)
            l.add("blocks", s.blocks)
            l.add("records", total)
            var k = JSONLine()
            for kind in RecordKind.allCases { k.add(kind.name, s.kinds[kind]) }
            l.addRaw("records_by_kind", json: k.finish())
            if let f = s.firstSeq, let la = s.lastSeq { l.add("first_seq", f); l.add("last_seq", la) }
            if let a = s.firstWall, let b = s.lastWall {
                l.add("first_wall_ns", a); l.add("last_wall_ns", b)
                l.add("first", JournalTime.format(a)); l.add("last", JournalTime.format(b))
                l.add("duration_s", Double(b - a) / 1e9)
            }
            l.add("disk_bytes", s.diskBytes)
            l.add("uncompressed_bytes", s.rawBytes)
            l.add("stored_bytes", s.storedBytes)
            l.add("payload_bytes", s.payloadBytes)
            l.add("compression_ratio", (s.compressionRatio * 1000).rounded() / 1000)
            if let a = s.minEpoch, let b = s.maxEpoch { l.add("min_epoch", a); l.add("max_epoch", b) }
            l.add("connects", s.connects)
            var sess: [String] = []
            for r in s.sessions {
                var j = JSONLine()
                j.add("seq", r.seq); j.add("phase", r.phase.name); j.add("wall_ns", r.wall); j.add("epoch", r.epoch)
                j.addIfPresent("url", r.url); j.addIfPresent("message", r.message)
                sess.append(j.finish())
            }
            l.addRaw("sessions", json: "[" + sess.joined(separator: ",") + "]")
            out.line(l.finish())
            return
        }
        out.line("journal      \(directory)")
        out.line("segments     \(s.segments) (\(s.sealedSegments) sealed), \(s.blocks) blocks, \(s.diskBytes) bytes on disk")
        if let a = s.firstWall, let b = s.lastWall {
            out.line("time span    \(JournalTime.format(a)) .. \(JournalTime.format(b)) (\(formatDuration(Double(b - a) / 1e9)))")
        }
        if let f = s.firstSeq, let l = s.lastSeq { out.line("sequence     \(f) .. \(l)") }
        out.line("size         \(s.rawBytes) bytes uncompressed, \(s.storedBytes) stored, ratio \(String(format: "%.2f", s.compressionRatio)); frame payloads \(s.payloadBytes) bytes")
        out.line("records      \(total): " + RecordKind.allCases.filter { s.kinds[$0] > 0 }.map { "\($0.name) \(s.kinds[$0])" }.joined(separator: ", "))
        if let a = s.minEpoch, let b = s.maxEpoch { out.line("epochs       \(a) .. \(b), \(s.connects) connected edges") }
        out.line("sessions     \(s.sessions.filter { $0.phase == .start }.count) started, \(s.sessions.filter { $0.phase == .end }.count) ended")
        for r in s.sessions {
            out.line("  \(r.phase.name) #\(r.seq) \(JournalTime.format(r.wall)) epoch \(r.epoch)" + (r.url.map { " \($0)" } ?? "") + (r.message.map { ": \($0)" } ?? ""))
        }
    }
}

func formatDuration(_ s: Double) -> String {
    if s < 60 { return String(format: "%.3f s", s) }
    let t = Int(s)
    return String(format: "%dh%02dm%02ds", t / 3600, t % 3600 / 60, t % 60)
}

// MARK: - gaps

/// `wiretape gaps`: periods with no connected epoch.
public struct JournalGapsCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "gaps", abstract: "List periods with no connected epoch: start, end, duration, cause.")

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String
    /// Minimum duration.
    @Option(name: .customLong("min-duration"), help: "Only gaps at least this many seconds long.") public var minDuration: Double = 0
    /// JSON lines output.
    @Flag(help: "Print one JSON object per gap.") public var json = false

    /// Creates the command.
    public init() {}

    /// Prints the gaps.
    public func run() async throws {
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
                out.line("\(JournalTime.format(g.start))  \(JournalTime.format(g.end))\(g.open ? " (open)" : "")  \(formatDuration(g.durationSeconds))  after epoch \(g.epoch): \(g.cause)")
            }
        }
        if !json && gaps.isEmpty { out.line("no gaps" + (minDuration > 0 ? " of \(minDuration) s or more" : "")) }
    }
}

// MARK: - verify, repair, reindex

/// `wiretape verify`: checks every block and the index.
public struct JournalVerifyCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every block checksum and the index against the segments; exit 0 only when all is well.")

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String

    /// Creates the command.
    public init() {}

    /// Prints the report; exits 1 when there are problems.
    public func run() async throws {
        let out = JournalOutput.current
        let report = try JournalMaintenance.verify(directory: directory)
        out.line(report.description)
        if !report.isOK { throw ExitCode(1) }
    }
}

/// `wiretape repair`: recovers a journal after a crash.
public struct JournalRepairCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Truncate torn tails, report damaged blocks and rebuild the index; prints what was done.")

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String

    /// Creates the command.
    public init() {}

    /// Repairs and prints the report.
    public func run() async throws {
        let report = try JournalMaintenance.repair(directory: directory)
        JournalOutput.current.line(report.description)
    }
}

/// `wiretape reindex`: rebuilds the index from the segments.
public struct JournalReindexCommand: AsyncParsableCommand {
    /// The command's name and help.
    public static let configuration = CommandConfiguration(
        commandName: "reindex", abstract: "Rebuild the SQLite index from the segment files.")

    /// The journal directory.
    @Argument(help: "The journal directory.") public var directory: String

    /// Creates the command.
    public init() {}

    /// Rebuilds and prints the report.
    public func run() async throws {
        let report = try JournalMaintenance.reindex(directory: directory)
        JournalOutput.current.line(report.description)
    }
}
