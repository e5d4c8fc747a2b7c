/// Buffered line output for live commands (`tap`, `demo`), and one-line messages to stderr.
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

    /// Writes what is buffered (through ``JournalOutput/current``, the CLI's one sink).
    public func flush() {
        guard !buffer.isEmpty else { return }
        if !discarding {
            buffer.withUnsafeBytes { JournalOutput.current.write($0) }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes `wiretape: <message>` to stderr on one line.
    public static func warn(_ message: String) {
        JournalOutput.current.warn("wiretape: " + TerminalText.safe(message.split(whereSeparator: \.isNewline).joined(separator: " ")))
    }
}
