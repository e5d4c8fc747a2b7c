/// Which records a cursor yields. Every condition must hold; nil means "any".
public struct RecordFilter: Sendable, Hashable {
    /// Only records with `seq >= fromSeq`.
    public var fromSeq: UInt64?
    /// Only records with `seq <= toSeq`; a cursor ends at the first block after it without
    /// reading that block's records.
    public var toSeq: UInt64?
    /// Only records with `wallNanos >= fromWall`.
    public var fromWall: Int64?
    /// Only records with `wallNanos <= toWall`.
    public var toWall: Int64?
    /// Only records of this epoch.
    public var epoch: UInt64?
    /// Only records of these kinds.
    public var kinds: Set<RecordKind>?
    /// Only frames of this direction (non-frame records are excluded when set).
    public var direction: FrameDirection?

    /// Creates a filter.
    public init(
        fromSeq: UInt64? = nil, toSeq: UInt64? = nil, fromWall: Int64? = nil, toWall: Int64? = nil, epoch: UInt64? = nil,
        kinds: Set<RecordKind>? = nil, direction: FrameDirection? = nil
    ) {
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.fromWall = fromWall
        self.toWall = toWall
        self.epoch = epoch
        self.kinds = kinds
        self.direction = direction
    }

    @inline(__always)
    func accepts(kindByte: UInt8, seq: UInt64, epoch e: UInt64, wall: Int64) -> Bool {
        if let s = fromSeq, seq < s { return false }
        if let s = toSeq, seq > s { return false }
        if let w = fromWall, wall < w { return false }
        if let w = toWall, wall > w { return false }
        if let ep = epoch, e != ep { return false }
        if let d = direction {
            let want: UInt8 = d == .inbound ? RecordKind.inboundFrame.rawValue : RecordKind.outboundFrame.rawValue
            if kindByte != want { return false }
        }
        if let ks = kinds {
            guard let k = RecordKind(rawValue: kindByte), ks.contains(k) else { return false }
        }
        return true
    }
}

/// What a reader does when it meets a damaged block in the middle of a journal.
public enum CorruptionPolicy: Sendable, Hashable {
    /// Throw a ``JournalError`` naming the segment file and byte offset.
    case stop
    /// Skip the damaged bytes, record a ``JournalProblem`` and go on with the next valid block.
    case skip
}

/// Options for reading a journal.
public struct ReadOptions: Sendable {
    /// Which records to yield.
    public var filter: RecordFilter
    /// What to do at a damaged block.
    public var onCorruption: CorruptionPolicy
    /// When true, an incomplete block at the end of the newest segment is treated as "not
    /// written yet" (the writer is live) instead of a torn tail.
    public var follow: Bool
    /// Whether to use the SQLite index to seek (falls back to a scan when it is missing).
    public var useIndex: Bool

    /// Creates options.
    public init(filter: RecordFilter = .init(), onCorruption: CorruptionPolicy = .skip, follow: Bool = false, useIndex: Bool = true) {
        self.filter = filter
        self.onCorruption = onCorruption
        self.follow = follow
        self.useIndex = useIndex
    }
}
