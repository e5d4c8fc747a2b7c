/// When the writer forces written blocks to stable storage.
public enum Durability: Sendable, Hashable {
    /// `fdatasync` after every block: loses nothing on power loss, caps throughput
    /// (~70 MB/s here with 64 KiB blocks).
    case everyBlock
    /// `fdatasync` from a background thread at most this often when there is unsynced data:
    /// a power loss loses at most this much time; the append path never waits for the disk.
    case interval(nanoseconds: UInt64)
    /// Never sync; the OS writes back when it likes. A process crash loses nothing written;
    /// a power loss can lose tens of seconds.
    case never

    /// The default: a background sync every second. See docs/journal-design.md.
    public static let `default` = Durability.interval(nanoseconds: 1_000_000_000)
}

/// Tuning for a ``JournalWriter``.
public struct JournalWriterOptions: Sendable {
    /// Uncompressed bytes after which a block is written (default 64 KiB).
    public var blockSize: Int = 64 << 10
    /// A block whose first record is older than this (monotonic ns) is written at the next
    /// append or ``JournalWriter/flushIfDue(monoNanos:)`` (default 1 s).
    public var maxBlockAgeNanos: UInt64 = 1_000_000_000
    /// A segment is sealed when the next block would take it past this size (default 256 MiB).
    public var maxSegmentBytes: UInt64 = 256 << 20
    /// A segment is sealed when its first record is older than this (monotonic ns; default 1 h).
    public var maxSegmentAgeNanos: UInt64 = 3_600_000_000_000
    /// When to sync (default ``Durability/default``).
    public var durability: Durability = .default
    /// Index rows are committed in one transaction per this many blocks (default 16), and
    /// on rotation, ``JournalWriter/sync()`` and ``JournalWriter/close()``.
    public var indexBatchBlocks: Int = 16
    /// LZ4 acceleration (1 = `LZ4_compress_default`; higher is faster and compresses less).
    public var lz4Acceleration: Int32 = 1
    /// The largest record payload accepted (default 64 MiB).
    public var maxRecordBytes: Int = 64 << 20
    /// Compress full blocks on a second thread while the next block fills (default false).
    ///
    /// Up to three full blocks are in flight: queued, being compressed (by the thread, or by
    /// the caller's thread when all three buffers are taken, so both cores compress and a
    /// thread that gets no CPU never stalls the writer), or compressed and waiting for the
    /// blocks before them. The writer writes every block itself, in order, on the caller's
    /// thread, at the first append after its compression ends (or at
    /// ``JournalWriter/flush()``, ``JournalWriter/flushIfDue(monoNanos:)``,
    /// ``JournalWriter/sync()``, ``JournalWriter/close()``), so a full block waits in memory
    /// for about two compression times (~0.2 ms each for 64 KiB); a failed write throws from
    /// that call, the file is cut back and the block is retried at the next one. Stored bytes
    /// are identical. Used by `wiretape import`; see docs/journal-design.md ("Compression
    /// pipeline").
    public var compressOnSecondThread: Bool = false
    /// Give each new segment an LZ4 dictionary sampled from the blocks written before it
    /// (format 2, codec 2; default true): ~3% smaller journals, compression at ~0.87 of
    /// plain LZ4's speed, reading unchanged, blocks still decodable one by one. The samples
    /// come from the blocks written and, when the writer opens a journal, from the last 64
    /// blocks on disk, so a restarted writer's next segment has a dictionary at once. A segment
    /// started without one (a new journal's first, before 64 blocks were sampled) is sealed
    /// once it holds ``dictionaryWarmupBytes``, so that the next one gets a dictionary. See docs/journal-design.md ("Segment dictionaries").
    public var segmentDictionary: Bool = true
    /// With ``segmentDictionary``: a segment without a dictionary is sealed at the first
    /// block write that finds it holding at least this many bytes and 64 blocks sampled
    /// (default 1 MiB; the writer's first segment is this small).
    public var dictionaryWarmupBytes: UInt64 = 1 << 20
    /// Tests only: false keeps the compression thread from ever running, as on a machine
    /// whose other core is busy (the owner then compresses every block itself).
    var compressionThreadRuns = true

    /// Creates the default options.
    public init() {}
}
