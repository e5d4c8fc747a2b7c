#if canImport(Glibc)
import Glibc
#endif

/// Reads a file descriptor in large chunks (4 MiB reads) into one buffer that callers parse
/// in place: ``buffered`` exposes the unread bytes without copying, ``consume(_:)`` moves past
/// them, ``fill(toHold:)`` reads more. Lines (``readLine()``) are copied out, one per call.
final class ChunkReader {
    let fd: Int32
    /// Bytes asked of the kernel per read.
    static let chunk = 4 << 20
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private(set) var eof = false

    init(fd: Int32) {
        self.fd = fd
        capacity = 2 * Self.chunk
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// The bytes read and not consumed yet (valid until the next ``fill(toHold:)``).
    var buffered: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base + start, count: end - start) }

    /// Moves past `n` buffered bytes.
    func consume(_ n: Int) {
        precondition(n <= end - start)
        start += n
    }

    /// Reads until at least `n` bytes are buffered or the input ends; true when `n` are.
    func fill(toHold n: Int) throws -> Bool {
        while end - start < n {
            if eof { return false }
            if capacity - end < Self.chunk || capacity - start < n {
                // Move the unread tail to the front, growing when one piece needs more room.
                let live = end - start
                let needed = max(n, live) + Self.chunk
                if needed > capacity {
                    let bigger = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 16)
                    bigger.copyMemory(from: base + start, byteCount: live)
                    base.deallocate()
                    base = bigger
                    capacity = needed
                } else if start > 0 {
                    memmove(base, base + start, live)
                }
                start = 0
                end = live
            }
            let r = Glibc.read(fd, base + end, capacity - end)
            if r < 0 {
                if errno == EINTR { continue }
                throw CommandError(.io, "read failed: \(String(cString: strerror(errno)))")
            }
            if r == 0 { eof = true } else { end += r }
        }
        return true
    }

    /// The next line without its newline, nil at the end of input.
    func readLine() throws -> ArraySlice<UInt8>? {
        var scanned = 0
        while true {
            let avail = buffered
            if let nl = avail[scanned...].firstIndex(of: 10) {
                defer { start += nl + 1 }
                return ArraySlice(UnsafeRawBufferPointer(rebasing: avail[..<nl]))
            }
            scanned = avail.count
            if try !fill(toHold: avail.count + 1) {
                let rest = buffered
                if rest.isEmpty { return nil }
                defer { start = end }
                return ArraySlice(rest)
            }
        }
    }
}
