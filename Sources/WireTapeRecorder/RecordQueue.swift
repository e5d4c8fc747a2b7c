#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import WireTapeCore
import WireTapeJournal

/// What crosses from the live path to the recorder's writer thread.
///
/// Frames are nearly every event, so the enum is kept the size of the `frame` case (57 bytes):
/// the large, rare cases (a lifecycle snapshot, a `WSError`, connection info, headers) are
/// `indirect`, boxed once when queued. Unboxed, every queued frame copied a 193-byte value into
/// the queue and out again, and a full queue's two arrays (32,768 events each) took 12 MiB
/// instead of 3.6 MiB.
enum RecorderEvent: Sendable {
    /// A data frame of leaf connection `connection` (inbound as the socket delivered it, or
    /// outbound as sent).
    case frame(FrameDirection, Frame, connection: UInt64, at: ReceiveTimestamp)
    /// A connect attempt started.
    case attempt(url: String, at: ReceiveTimestamp)
    /// The attempt succeeded: leaf connection `connection` exists, handshake completed at
    /// `info.connectedAt`. `followed` says whether a lifecycle watch decides its epoch.
    indirect case connected(connection: UInt64, info: ConnectionInfo, followed: Bool)
    /// The attempt failed.
    indirect case failed(WSError, at: ReceiveTimestamp)
    /// Leaf connection `connection` is being closed by the layer above; `epochAtClose` is the
    /// resilient session's epoch at that moment (`nil` when no session is followed).
    indirect case closing(connection: UInt64, epochAtClose: UInt64?, snapshot: LifecycleSnapshot?, at: ReceiveTimestamp)
    /// A lifecycle edge of the followed session (every one, in publication order).
    indirect case lifecycle(LifecycleSnapshot)
    /// Credential values to scrub from now on.
    case secrets([String])
    /// Session start.
    indirect case sessionStart(url: String, headers: [HTTPHeaderField], at: ReceiveTimestamp)
    /// Session end.
    case sessionEnd(message: String, at: ReceiveTimestamp)
    /// A user's note (`wiretape annotate` on a live journal), stamped `at`; `reply` gets the
    /// record's sequence number once it is appended, or why it was not.
    case annotation(text: String, at: ReceiveTimestamp, reply: AnnotationReply)
    /// `count` records of `bytes` payload bytes could not be queued; the first was stamped `at`.
    case lag(count: UInt64, bytes: UInt64, at: ReceiveTimestamp)
}

/// Called once, on the writer thread, with an annotation's sequence number or the failure.
typealias AnnotationReply = @Sendable (Result<UInt64, JournalError>) -> Void

/// The bounded hand-off between the live path and the writer thread.
///
/// Data records (frames) count against a limit in records *and* payload bytes; when either is
/// reached the record is not kept and only counted, and the next record that is kept (or the
/// writer's final take) is preceded by one ``RecorderEvent/lag(count:bytes:at:)`` carrying the
/// exact count and bytes — the lag marker sits where the records are missing. Control events
/// (lifecycle, connect, session) are few and never dropped.
///
/// A producer never waits: `push` takes a mutex for a few instructions and signals the
/// writer's condition only when the writer is parked.
///
/// `@unchecked Sendable`: every mutable field is read and written only while holding `mutex`
/// (a `pthread_mutex_t` allocated once, never moved, destroyed in `deinit`); `maxRecords` and
/// `maxBytes` are immutable.
final class RecordQueue: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    let maxRecords: Int
    let maxBytes: Int
    /// What one queued record costs besides its payload (the event, the string or array
    /// header, allocator rounding), counted against ``maxBytes``.
    static let overheadPerRecord = 96

    private var items: [RecorderEvent] = []
    private var spare: [RecorderEvent] = []
    private var queuedData = 0
    private var queuedBytes = 0
    private var missingCount: UInt64 = 0
    private var missingBytes: UInt64 = 0
    private var missingAt = ReceiveTimestamp(wallNanos: 0, monotonicNanos: 0)
    private var writerParked = false
    private var stopping = false
    private(set) var totalLagged: UInt64 = 0
    private(set) var totalLaggedBytes: UInt64 = 0

    init(maxRecords: Int, maxBytes: Int) {
        self.maxRecords = max(1, maxRecords)
        self.maxBytes = max(1, maxBytes)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
        items.reserveCapacity(1024)
        spare.reserveCapacity(1024)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Lag not yet placed in the queue: placed before the next kept record.
    private func placeMissing() {
        guard missingCount > 0 else { return }
        items.append(.lag(count: missingCount, bytes: missingBytes, at: missingAt))
        missingCount = 0
        missingBytes = 0
    }

    private func wakeWriter() {
        if writerParked {
            writerParked = false
            pthread_cond_signal(cond)
        }
    }

    /// Queues a data record of `bytes` payload bytes, or counts it as lag when the queue is
    /// full. Returns whether it was kept. Never blocks beyond the mutex.
    @discardableResult
    func pushData(_ event: RecorderEvent, bytes: Int, at: ReceiveTimestamp) -> Bool {
        let cost = bytes + Self.overheadPerRecord
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if stopping || queuedData >= maxRecords || (queuedData > 0 && queuedBytes + cost > maxBytes) {
            if missingCount == 0 { missingAt = at }
            missingCount += 1
            missingBytes += UInt64(bytes)
            totalLagged += 1
            totalLaggedBytes += UInt64(bytes)
            return false
        }
        placeMissing()
        items.append(event)
        queuedData += 1
        queuedBytes += cost
        wakeWriter()
        return true
    }

    /// Queues a control event; never dropped while the recorder runs. Returns `false` (and
    /// does not queue it) after ``stop()``: the writer's final take has been promised.
    @discardableResult
    func pushControl(_ event: RecorderEvent) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !stopping else { return false }
        placeMissing()
        items.append(event)
        wakeWriter()
        return true
    }

    /// Asks the writer to finish: later data is counted as lag.
    func stop() {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        stopping = true
        writerParked = false
        pthread_cond_signal(cond)
    }

    /// What waits for the writer now: frames, and their bytes as counted against ``maxBytes``.
    var depth: (frames: Int, bytes: Int) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (queuedData, queuedBytes)
    }

    /// The lag counted so far (records, payload bytes).
    var lagged: (count: UInt64, bytes: UInt64) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return (totalLagged, totalLaggedBytes)
    }

    /// Takes everything queued into `batch` (which must be empty), waiting up to `timeoutNanos`
    /// when nothing is. With `wakeOnPush`, the next push ends the wait early (one signal);
    /// without, the writer only wakes at the timeout or ``stop()``, so a producer never pays a
    /// wake-up while the writer holds records for the reorder window anyway. Returns whether
    /// the queue was stopped; a stopped queue's final take includes the pending lag marker.
    func take(into batch: inout [RecorderEvent], timeoutNanos: UInt64, wakeOnPush: Bool = true) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if items.isEmpty && !stopping {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let total = UInt64(now.tv_nsec) + timeoutNanos
            var deadline = timespec(
                tv_sec: now.tv_sec + Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
            writerParked = wakeOnPush
            _ = pthread_cond_timedwait(cond, mutex, &deadline)
            writerParked = false
        }
        if stopping { placeMissing() }
        swap(&items, &batch)
        queuedData = 0
        queuedBytes = 0
        return stopping
    }
}
