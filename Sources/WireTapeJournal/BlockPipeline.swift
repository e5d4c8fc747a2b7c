import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A block taken out of the writer's builder: its uncompressed bytes, the summary the header
/// needs, what the index row needs, and (once compressed) the bytes to write.
final class TakenBlock {
    let raw: GrowableBytes
    let out: GrowableBytes
    var summary = BlockHeader(
        codec: 0, storedLength: 0, rawLength: 0, recordCount: 0, payloadCRC: 0, firstSeq: 0, lastSeq: 0,
        minWall: 0, maxWall: 0, minEpoch: 0, maxEpoch: 0)
    var header = BlockHeader(
        codec: 0, storedLength: 0, rawLength: 0, recordCount: 0, payloadCRC: 0, firstSeq: 0, lastSeq: 0,
        minWall: 0, maxWall: 0, minEpoch: 0, maxEpoch: 0)
    var firstMono: UInt64 = 0
    var kinds = KindCounts()
    var payloadBytes: UInt64 = 0
    var lifecycle: [LifecycleRow] = []
    var sessions: [SessionRow] = []

    /// The dictionary to compress against: the one of the segment the block is expected to
    /// go to (the writer recompresses when rotation gives it another).
    var dictionary: SegmentDictionary?
    /// The dictionary ``out`` was compressed with.
    private(set) var compressedWith: SegmentDictionary?
    /// Compresses against ``dictionary`` (used by one thread at a time, like the block).
    let dictionaryCompressor = DictionaryCompressor()

    init(blockSize: Int) {
        raw = GrowableBytes(capacity: blockSize + 4096)
        out = GrowableBytes(capacity: blockSize + blockSize / 255 + 4096)
    }

    /// Set (`.releasing`) by whichever thread compressed the block, after ``out`` is final.
    private let compressed = Atomic<Bool>(false)

    /// Whether the block submitted to a ``CompressionThread`` is compressed (``out`` final).
    var isCompressed: Bool { compressed.load(ordering: .acquiring) }

    /// Clears ``isCompressed`` before the block is submitted again.
    func resetPipelineState() { compressed.store(false, ordering: .relaxed) }

    /// Compresses ``raw`` into ``out`` (header included) with the summary's fields.
    func compress(acceleration: Int32) {
        header = BlockCompressor.encodeBlock(
            raw.bytes, into: out, acceleration: acceleration, summary: summary, dictionary: dictionary,
            compressor: dictionaryCompressor)
        compressedWith = dictionary
    }

    /// ``compress(acceleration:)``, then publishes ``isCompressed`` (a submitted block, on
    /// whichever thread claimed it).
    func compressHere(acceleration: Int32) {
        compress(acceleration: acceleration)
        compressed.store(true, ordering: .releasing)
    }
}

/// A second thread that compresses the writer's full blocks while the writer's owner goes on
/// filling the next ones (``JournalWriterOptions/compressOnSecondThread``).
///
/// Blocks are submitted in order to one queue. The thread takes the oldest queued block; the
/// owner, when all its block buffers are in flight, takes the oldest queued block itself
/// (``claim()``) instead of waiting, so both cores compress and a thread that gets no CPU
/// (a loaded machine) never stalls the writer for longer than one block. The owner writes
/// the blocks in order, each as soon as it is compressed (``TakenBlock/isCompressed``).
///
/// `@unchecked Sendable`: `queue`, `stopping` and every block's `claimed` flag are read and
/// written only while holding `mutex` (allocated once, never moved). A block's buffers are
/// written by the owner before ``submit(_:)`` (which locks) and by the compressing thread
/// before it sets the block's `compressed` flag (an `Atomic`, stored `.releasing`, loaded
/// `.acquiring` by the owner, and set before the thread locks to signal); the owner touches a
/// submitted block again only after it saw that flag, or after claiming the block itself.
/// `acceleration` is immutable.
final class CompressionThread: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let acceleration: Int32
    private var queue: [TakenBlock] = []
    private var stopping = false
    private var thread: pthread_t?

    init(acceleration: Int32) {
        self.acceleration = acceleration
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        queue.reserveCapacity(8)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Starts the thread; false when it cannot be created (the writer then compresses inline).
    func start() -> Bool {
        let box = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let me = Unmanaged<CompressionThread>.fromOpaque(arg!).takeRetainedValue()
            me.run()
            return nil
        }, box)
        if rc == 0 {
            thread = t
            return true
        }
        Unmanaged<CompressionThread>.fromOpaque(box).release()
        return false
    }

    /// Queues a block for compression; the caller must not touch its buffers until it is
    /// ``TakenBlock/isCompressed`` (or the caller ``claim()``ed it).
    func submit(_ block: TakenBlock) {
        block.resetPipelineState()
        pthread_mutex_lock(mutex)
        queue.append(block)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    /// Takes the oldest queued block away from the thread, for the caller to compress it
    /// itself (``TakenBlock/compressHere(acceleration:)``); nil when the queue is empty.
    func claim() -> TakenBlock? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !queue.isEmpty else { return nil }
        return queue.removeFirst()
    }

    /// Waits until `block` is compressed: compresses it here when the thread has not taken
    /// it yet (and every older queued block first, which is then compressed too).
    func finish(_ block: TakenBlock) {
        while !block.isCompressed {
            if let b = claim() {
                b.compressHere(acceleration: acceleration)
                continue
            }
            // Taken by the thread: it signals after setting the flag.
            pthread_mutex_lock(mutex)
            while !block.isCompressed { pthread_cond_wait(cond, mutex) }
            pthread_mutex_unlock(mutex)
        }
    }

    /// Stops the thread after the block it is compressing (queued blocks stay queued) and
    /// waits for it to end.
    func stop() {
        guard let t = thread else { return }
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
        pthread_join(t, nil)
        thread = nil
    }

    private func run() {
        pthread_mutex_lock(mutex)
        while true {
            while queue.isEmpty && !stopping { pthread_cond_wait(cond, mutex) }
            if stopping { break }
            let b = queue.removeFirst()
            pthread_mutex_unlock(mutex)
            b.compressHere(acceleration: acceleration)
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(cond)
        }
        pthread_mutex_unlock(mutex)
    }
}
