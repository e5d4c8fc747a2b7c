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

    /// Compresses ``raw`` into ``out`` (header included) with the summary's fields.
    func compress(acceleration: Int32) {
        header = BlockCompressor.encodeBlock(
            raw.bytes, into: out, acceleration: acceleration, summary: summary, dictionary: dictionary,
            compressor: dictionaryCompressor)
        compressedWith = dictionary
    }
}

/// One thread that compresses the writer's full blocks while the writer's owner goes on
/// filling the next one (``JournalWriterOptions/compressOnSecondThread``). One block at a
/// time: the writer waits for block N before it hands over block N+1, then writes block N on
/// its owner's thread while block N+1 is compressed (two buffers), and writes every other
/// block as soon as its compression is done.
///
/// `@unchecked Sendable`: `job` and `stopping` are written by the owner only when no job is
/// outstanding (before `sem_post(work)`), and read by the thread only after `sem_wait(work)`;
/// the thread writes the job's results before `finished.store(true, .releasing)` and
/// `sem_post(done)`, and the owner reads them only after `sem_wait(done)`. The two semaphores
/// thus order every access to the shared fields and to the job's buffers: the owner and the
/// thread never touch them at the same time. `acceleration` is immutable.
final class CompressionThread: @unchecked Sendable {
    private let work = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let finished = Atomic<Bool>(false)
    private let acceleration: Int32
    private var job: TakenBlock?
    private var stopping = false
    private var thread: pthread_t?

    init(acceleration: Int32) {
        self.acceleration = acceleration
        sem_init(work, 0, 0)
        sem_init(done, 0, 0)
    }

    deinit {
        sem_destroy(work)
        sem_destroy(done)
        work.deallocate()
        done.deallocate()
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

    /// Hands a block over; the caller must not touch it until ``wait()`` returns.
    func submit(_ block: TakenBlock) {
        job = block
        finished.store(false, ordering: .relaxed)
        sem_post(work)
    }

    /// Whether the submitted block is compressed (then ``wait()`` returns at once).
    var isDone: Bool { finished.load(ordering: .acquiring) }

    /// Waits until the submitted block is compressed.
    func wait() {
        while sem_wait(done) != 0 {}
        job = nil
    }

    /// Stops the thread and waits for it to end (no job may be outstanding).
    func stop() {
        guard let t = thread else { return }
        stopping = true
        sem_post(work)
        pthread_join(t, nil)
        thread = nil
    }

    private func run() {
        while true {
            while sem_wait(work) != 0 {}
            if stopping { return }
            job!.compress(acceleration: acceleration)
            finished.store(true, ordering: .releasing)
            sem_post(done)
        }
    }
}
