import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where journal commands write: standard output and error by default; a capture buffer in
/// tests (set with `JournalOutput.$current.withValue(...)`).
public final class JournalOutput: Sendable {
    private let outFD: Int32?
    private let errFD: Int32?
    private let captured = Mutex<(out: [UInt8], err: [UInt8])>(([], []))

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

    /// Writes bytes to standard output.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        if let fd = outFD { writeAll(fd, bytes) } else { captured.withLock { $0.out.append(contentsOf: bytes) } }
    }

    /// Writes a line to standard output.
    public func line(_ s: String) {
        var s = s + "\n"
        s.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes a line to standard error.
    public func warn(_ s: String) {
        var s = s + "\n"
        s.withUTF8 { u in
            if let fd = errFD { writeAll(fd, UnsafeRawBufferPointer(u)) } else { captured.withLock { $0.err.append(contentsOf: u) } }
        }
    }

    private func writeAll(_ fd: Int32, _ b: UnsafeRawBufferPointer) {
        var done = 0
        while done < b.count {
            let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
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
