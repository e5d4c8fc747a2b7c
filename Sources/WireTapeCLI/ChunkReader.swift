#if canImport(Glibc)
import Glibc
#endif

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
        if n < 0 { throw CommandError(.io, "read failed: \(String(cString: strerror(errno)))") }
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
