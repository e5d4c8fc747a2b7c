#if canImport(Glibc)
import Glibc
#endif

/// Reads a file descriptor in large chunks (4 MiB reads) into one buffer that callers parse
/// in place: ``buffered`` exposes the unread bytes without copying, ``consume(_:)`` moves past
/// them, ``fill(toHold:)`` reads more. Lines (``readLine(maxLength:)``) are copied out, one per
/// call.
///
/// The buffer grows geometrically, so a long line costs linear time from a pipe (64 KiB per
/// read) as from a file; a line is capped (``LineTooLong``), so an endless one fails early.
/// With an ``InterruptPipe`` every read first waits on both the input and the pipe, and a
/// signal ends the read with ``Interrupted`` instead of blocking on a silent producer.
final class ChunkReader {
    /// The input ended a read: a SIGINT or SIGTERM arrived (its number).
    struct Interrupted: Error { var signal: Int32 }
    /// A line exceeded the cap: `length` bytes (at least) of a `limit`-byte cap.
    struct LineTooLong: Error { var length: Int, limit: Int }

    let fd: Int32
    private let interrupt: InterruptPipe?
    /// Bytes asked of the kernel per read.
    static let chunk = 4 << 20
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0
    private(set) var eof = false
    /// Bytes moved inside the buffer (compaction and growth) so far: linear in the input.
    private(set) var movedBytes = 0
    /// Bytes read from `fd` so far.
    private(set) var bytesRead: UInt64 = 0
    /// Called after every read with ``bytesRead`` (a progress line).
    var onRead: ((UInt64) -> Void)?

    init(fd: Int32, interrupt: InterruptPipe? = nil) {
        self.fd = fd
        self.interrupt = interrupt
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
                // Move the unread tail to the front, growing when one piece needs more room:
                // at least doubling, so a long line is copied O(log n) times, not per read.
                let live = end - start
                let needed = max(n, live) + Self.chunk
                if needed > capacity {
                    let grown = max(needed, 2 * capacity)
                    let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
                    bigger.copyMemory(from: base + start, byteCount: live)
                    movedBytes += live
                    base.deallocate()
                    base = bigger
                    capacity = grown
                } else if start > 0 {
                    memmove(base, base + start, live)
                    movedBytes += live
                }
                start = 0
                end = live
            }
            if let interrupt, let sig = try interrupt.wait(forReadable: fd) { throw Interrupted(signal: sig) }
            let r = Glibc.read(fd, base + end, capacity - end)
            if r < 0 {
                if errno == EINTR { continue }
                throw CommandError(.io, "read failed: \(String(cString: strerror(errno)))")
            }
            if r == 0 {
                eof = true
            } else {
                end += r
                bytesRead += UInt64(r)
                onRead?(bytesRead)
            }
        }
        return true
    }

    /// The next line without its newline, nil at the end of input.
    /// - Throws: ``LineTooLong`` as soon as `maxLength` bytes hold no newline (the line is not
    ///   consumed), ``Interrupted``, or a read error.
    func readLine(maxLength: Int = .max) throws -> ArraySlice<UInt8>? {
        var scanned = 0
        while true {
            let avail = buffered
            if avail.count > scanned, let hit = memchr(avail.baseAddress! + scanned, 10, avail.count - scanned) {
                let nl = avail.baseAddress!.distance(to: UnsafeRawPointer(hit))
                guard nl <= maxLength else { throw LineTooLong(length: nl, limit: maxLength) }
                defer { start += nl + 1 }
                return ArraySlice(UnsafeRawBufferPointer(rebasing: avail[..<nl]))
            }
            scanned = avail.count
            guard scanned <= maxLength else { throw LineTooLong(length: scanned, limit: maxLength) }
            if try !fill(toHold: avail.count + 1) {
                let rest = buffered
                if rest.isEmpty { return nil }
                defer { start = end }
                return ArraySlice(rest)
            }
        }
    }
}

/// A pipe a signal handler writes to, so a blocked read can wait on "input or signal"
/// (``ChunkReader``). Dispatch runs ``ShutdownSignals`` handlers on a queue, not in the
/// signal context, so writing a byte here is safe.
final class InterruptPipe: Sendable {
    private let readFD: Int32
    private let writeFD: Int32

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw CommandError(.io, "cannot create a pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(readFD)
        close(writeFD)
    }

    /// Records that `signal` arrived (the first one wins).
    func raise(_ signal: Int32) {
        var b = UInt8(truncatingIfNeeded: signal)
        _ = write(writeFD, &b, 1)
    }

    /// Waits until `fd` is readable or a signal was raised; the signal's number in that case.
    func wait(forReadable fd: Int32) throws -> Int32? {
        var fds = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0), pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
        while poll(&fds, 2, -1) < 0 {
            guard errno == EINTR else { throw CommandError(.io, "poll failed: \(String(cString: strerror(errno)))") }
        }
        guard fds[0].revents != 0 else { return nil }
        var b: UInt8 = 0
        return read(readFD, &b, 1) == 1 ? Int32(b) : nil
    }
}
