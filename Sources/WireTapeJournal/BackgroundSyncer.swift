#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A thread that `fdatasync`s the active segment on an interval when it has unsynced data,
/// so the append path never waits for the disk.
///
/// `@unchecked Sendable`: every mutable field (`file`, `dirtySeq`, `syncedSeq`, `failure`,
/// `stopping`) is read and written only while holding `mutex` (a `pthread_mutex_t` allocated
/// once and never moved); `interval` is immutable. The thread and the writer share the object
/// only through those locked accessors.
final class BackgroundSyncer: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private let interval: UInt64
    private var file: FileDescriptor?
    private var dirtySeq: UInt64?
    private var syncedSeq: UInt64?
    private var failure: JournalError?
    private var stopping = false
    private var thread: pthread_t?

    init(intervalNanos: UInt64) {
        interval = max(intervalNanos, 1_000_000)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let me = Unmanaged<BackgroundSyncer>.fromOpaque(arg!).takeRetainedValue()
            me.run()
            return nil
        }, box)
        if rc == 0 { thread = t } else { Unmanaged<BackgroundSyncer>.fromOpaque(box).release() }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Points the syncer at a new segment (after rotation, the old one was synced inline).
    func setFile(_ f: FileDescriptor?) { locked { file = f } }

    /// Notes that records up to `seq` were written and need syncing.
    func markDirty(_ seq: UInt64) { locked { dirtySeq = seq } }

    /// The last sequence number known synced.
    var synced: UInt64? { locked { syncedSeq } }

    /// Marks `seq` as synced (after an inline sync by the writer).
    func noteSynced(_ seq: UInt64) {
        locked {
            if syncedSeq.map({ $0 < seq }) ?? true { syncedSeq = seq }
            if let d = dirtySeq, d <= seq { dirtySeq = nil }
        }
    }

    /// A sync failure seen by the thread, reported once.
    func takeFailure() -> JournalError? { locked { defer { failure = nil }; return failure } }

    private func run() {
        pthread_mutex_lock(mutex)
        while !stopping {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let ns = UInt64(ts.tv_nsec) + interval
            ts.tv_sec += Int(ns / 1_000_000_000)
            ts.tv_nsec = Int(ns % 1_000_000_000)
            _ = pthread_cond_timedwait(cond, mutex, &ts)
            if stopping { break }
            guard let seq = dirtySeq, let f = file else { continue }
            dirtySeq = nil
            pthread_mutex_unlock(mutex)
            let result = Result { () throws(JournalError) in try f.sync() }
            pthread_mutex_lock(mutex)
            switch result {
            case .success: if syncedSeq.map({ $0 < seq }) ?? true { syncedSeq = seq }
            case .failure(let e): failure = e
            }
        }
        pthread_mutex_unlock(mutex)
    }

    /// Stops the thread and waits for it to end.
    func stop() {
        locked {
            stopping = true
            pthread_cond_signal(cond)
        }
        if let t = thread { pthread_join(t, nil) }
        thread = nil
    }
}
