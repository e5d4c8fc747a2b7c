#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered writing to stdout and one-line messages to stderr.
///
/// Lines are collected and written in batches; ``flush()`` is called whenever the producer
/// has nothing more to say right now, so live output stays live without a syscall per line.
public final class StandardOutput {
    private var buffer: [UInt8] = []
    private let discarding: Bool

    /// Creates a writer; with `discarding`, lines are counted by callers but never written.
    public init(discarding: Bool = false) {
        self.discarding = discarding
        buffer.reserveCapacity(1 << 16)
    }

    /// Appends a line (a newline is added).
    public func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(10)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends raw bytes.
    public func bytes(_ b: [UInt8]) {
        buffer.append(contentsOf: b)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Writes what is buffered.
    public func flush() {
        guard !buffer.isEmpty else { return }
        if discarding {
            buffer.removeAll(keepingCapacity: true)
            return
        }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(1, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    break  // stdout closed (e.g. `| head`): drop the rest, like other tools do
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes `wiretape: <message>` to stderr on one line.
    public static func warn(_ message: String) {
        let text = "wiretape: " + message.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
        text.utf8CString.withUnsafeBufferPointer { p in _ = write(2, p.baseAddress!, p.count - 1) }
    }
}
