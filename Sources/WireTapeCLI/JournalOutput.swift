import Synchronization
import WireTapeCore
#if canImport(Glibc)
import Glibc
#endif

/// Where journal commands write: standard output and error by default; a capture buffer in
/// tests (set with `JournalOutput.$current.withValue(...)`).
///
/// It is also the one place secrets are scrubbed from what the process prints: every value
/// registered with ``registerSecrets(url:headers:rules:)`` is replaced on both streams, and
/// URLs in standard-error text lose their user info and secret query values by name
/// (``Redaction/redactURLs(inText:extraNames:)``), whatever the message around them.
public final class JournalOutput: Sendable {
    private let outFD: Int32?
    private let errFD: Int32?
    private let captured = Mutex<(out: [UInt8], err: [UInt8])>(([], []))
    private let secrets = Mutex<(scrubber: SecretScrubber, names: Set<String>)>((SecretScrubber(), []))

    /// The process's standard output and error.
    public static let standard = JournalOutput(outFD: 1, errFD: 2)

    /// The sink commands use in this task.
    @TaskLocal public static var current: JournalOutput = .standard

    private init(outFD: Int32?, errFD: Int32?) {
        self.outFD = outFD
        self.errFD = errFD
    }

    /// A sink that keeps everything written, for tests.
    public static func capture() -> JournalOutput { JournalOutput(outFD: nil, errFD: nil) }

    /// Everything written to standard output so far (capture sinks only).
    public var stdout: String { captured.withLock { String(decoding: $0.out, as: UTF8.self) } }
    /// Everything written to standard error so far (capture sinks only).
    public var stderr: String { captured.withLock { String(decoding: $0.err, as: UTF8.self) } }
    /// The raw bytes written to standard output (capture sinks only).
    public var stdoutBytes: [UInt8] { captured.withLock { $0.out } }

    /// Registers the credentials a command line carries — secret header values (and the
    /// credential after `Bearer`), URL user info, secret query values, and every word of a
    /// `--header` that does not parse — so no later line on stdout or stderr shows them.
    /// Call it before anything can fail with the URL or a header in its message.
    public func registerSecrets(url: String, headers: [String], rules: RedactionRules = RedactionRules()) {
        var parsed: [HTTPHeaderField] = []
        var loose: [String] = []
        for h in headers {
            if let field = try? HTTPHeaderField(parsing: h) {
                parsed.append(field)
            } else {
                loose += h.split(whereSeparator: { $0 == ":" || $0.isWhitespace }).dropFirst().map(String.init)
            }
        }
        let values = rules.secretValues(url: url, headers: parsed) + loose
        secrets.withLock {
            for v in values { $0.scrubber.add(value: v) }
            $0.names.formUnion(rules.extraNames)
        }
    }

    /// `text` as it may be shown: registered secret values replaced, URLs redacted by name.
    public func scrubbed(_ text: String) -> String {
        let (scrubber, names) = secrets.withLock { ($0.scrubber, $0.names) }
        return Redaction.redactURLs(inText: scrubber.scrub(text), extraNames: names)
    }

    /// Writes bytes to standard output (registered secret values replaced; callers write whole
    /// lines, so a value is never split between two writes).
    public func write(_ bytes: UnsafeRawBufferPointer) {
        let scrubber = secrets.withLock { $0.scrubber }
        if !scrubber.isEmpty, let clean = scrubber.scrub(Array(bytes)) {
            clean.withUnsafeBytes { writeUnscrubbed($0) }
        } else {
            writeUnscrubbed(bytes)
        }
    }

    private func writeUnscrubbed(_ bytes: UnsafeRawBufferPointer) {
        if let fd = outFD { writeAll(fd, bytes) } else { captured.withLock { $0.out.append(contentsOf: bytes) } }
    }

    /// Writes a line to standard output.
    public func line(_ s: String) {
        var s = s + "\n"
        s.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes a line to standard error, scrubbed (``scrubbed(_:)``).
    public func warn(_ s: String) {
        var s = scrubbed(s) + "\n"
        s.withUTF8 { u in
            if let fd = errFD { writeAll(fd, UnsafeRawBufferPointer(u)) } else { captured.withLock { $0.err.append(contentsOf: u) } }
        }
    }

    private func writeAll(_ fd: Int32, _ b: UnsafeRawBufferPointer) {
        var done = 0
        while done < b.count {
            let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                // Standard error is for people: losing it must not stop a command (a recorder
                // keeps recording). Standard output is the command's product.
                if fd != 1 { return }
                Self.outputFailed(errno: errno)
            }
            done += n
        }
    }

    /// The reader of standard output went away (`tap … | head`) or it cannot be written:
    /// end the process instead of producing into the void forever. A closed pipe ends
    /// quietly with status 141, as SIGPIPE would (the Swift runtime ignores SIGPIPE); any
    /// other failure says what happened on stderr and exits 1.
    private static func outputFailed(errno e: Int32) -> Never {
        if e != EPIPE {
            var msg = "wiretape: writing to standard output failed: \(String(cString: strerror(e)))\n"
            msg.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
            exit(1)
        }
        exit(141)
    }}

/// Collects output in one 1 MiB buffer and writes it in pieces of at least 512 KiB, for
/// commands that print many lines (`cat`). Callers either append bytes or reserve room and
/// encode into it directly (``reserve(_:)`` / ``commit(_:)``), so a line needs no allocation.
final class OutputBuffer {
    let sink: JournalOutput
    /// The buffer's size; a single piece larger than this is written straight through.
    static let capacity = 1 << 20
    /// Fill level at which the buffer is written out.
    static let flushAt = 512 << 10
    private let base: UnsafeMutableRawPointer
    private(set) var count = 0

    init(_ sink: JournalOutput) {
        self.sink = sink
        base = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Appends bytes (a piece larger than the buffer is written straight through).
    @inline(__always)
    func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > Self.capacity - count {
            flush()
            if bytes.count > Self.capacity {
                sink.write(bytes)
                return
            }
        }
        if let b = bytes.baseAddress { (base + count).copyMemory(from: b, byteCount: bytes.count) }
        count += bytes.count
        if count >= Self.flushAt { flush() }
    }

    /// Appends one byte.
    @inline(__always)
    func append(byte: UInt8) {
        if count == Self.capacity { flush() }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
        if count >= Self.flushAt { flush() }
    }

    /// Appends a frame payload and a newline: a line of the raw format (`cat` and `replay
    /// --format raw`).
    @inline(__always)
    func appendLine(_ payload: UnsafeRawBufferPointer) {
        append(payload)
        append(byte: 10)
    }

    /// Appends a string's UTF-8 bytes.
    func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Room for at least `n` bytes (n ≤ ``capacity``) at the end of the buffer; write into it,
    /// then ``commit(_:)`` what was written.
    @inline(__always)
    func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        precondition(n <= Self.capacity)
        if n > Self.capacity - count { flush() }
        return (base + count).assumingMemoryBound(to: UInt8.self)
    }

    /// Takes `n` bytes written after ``reserve(_:)`` into the buffer.
    @inline(__always)
    func commit(_ n: Int) {
        count += n
        if count >= Self.flushAt { flush() }
    }

    /// Writes out what is buffered.
    func flush() {
        guard count > 0 else { return }
        sink.write(UnsafeRawBufferPointer(start: base, count: count))
        count = 0
    }
}

/// Collects output into 64 KiB chunks before writing, for commands that print many lines.
struct BufferedOutput {
    let sink: JournalOutput
    var buffer: [UInt8] = []

    init(_ sink: JournalOutput) {
        self.sink = sink
        buffer.reserveCapacity(80 << 10)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 64 << 10 { flush() }
    }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func flush() {
        buffer.withUnsafeBytes { sink.write($0) }
        buffer.removeAll(keepingCapacity: true)
    }
}
