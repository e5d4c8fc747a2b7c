/// Bounds of the inbound buffer between the socket and a possibly slow consumer.
///
/// The buffer holds at most ``maxFrames`` frames and, softly, ``maxBytes`` bytes: when either
/// is exceeded the *oldest* frames are dropped, never the newest, and the drop is counted in
/// ``WireTapeCore/LifecycleSnapshot/totalLagged``. One frame larger than the byte budget is
/// still kept (and delivered): the budget is a backlog budget, not a hard memory cap.
///
/// Dropping the oldest keeps the socket read promptly (so liveness and the venue's own
/// keepalive keep working) and keeps the freshest market state, which is what a lagging
/// adapter needs to resynchronise.
public struct InboundBufferPolicy: Sendable, Hashable {
    /// The most frames held.
    public var maxFrames: Int
    /// The soft byte budget of the frames held.
    public var maxBytes: Int

    /// Creates a policy. Defaults: 16,384 frames, 32 MiB (two maximum-size messages).
    public init(maxFrames: Int = 16_384, maxBytes: Int = 32 << 20) {
        self.maxFrames = Swift.max(1, maxFrames)
        self.maxBytes = Swift.max(1, maxBytes)
    }
}

/// A FIFO bounded by count and bytes that drops the oldest elements to make room.
///
/// A pure state machine: no locks, no waiting. The shell calls ``push(_:bytes:)`` and
/// ``popFirst()`` and acts on the returned drop counts.
public struct DropOldestBuffer<Element>: Sendable where Element: Sendable {
    /// What a push dropped to make room.
    public struct Dropped: Sendable, Equatable {
        /// Frames dropped.
        public var count: Int
        /// Their bytes.
        public var bytes: Int
        /// Nothing dropped.
        public static var nothing: Dropped { Dropped(count: 0, bytes: 0) }
    }

    /// The bounds.
    public let policy: InboundBufferPolicy
    private var items: [(element: Element, bytes: Int)] = []
    private var head = 0
    /// Bytes currently held.
    public private(set) var bytes = 0
    /// The most bytes ever held at once (a measure of the real memory used by the backlog).
    public private(set) var peakBytes = 0

    /// Creates an empty buffer.
    public init(policy: InboundBufferPolicy) { self.policy = policy }

    /// Elements currently held.
    public var count: Int { items.count - head }

    /// Whether the buffer is empty.
    public var isEmpty: Bool { head == items.count }

    /// Appends `element` (of `bytes` bytes) and drops the oldest elements until both bounds
    /// hold again, or only `element` is left.
    public mutating func push(_ element: Element, bytes size: Int) -> Dropped {
        items.append((element, size))
        bytes += size
        var dropped = Dropped.nothing
        while count > 1 && (count > policy.maxFrames || bytes > policy.maxBytes) {
            let old = items[head]
            head += 1
            bytes -= old.bytes
            dropped.count += 1
            dropped.bytes += old.bytes
        }
        peakBytes = Swift.max(peakBytes, bytes)
        compact()
        return dropped
    }

    /// Removes and returns the oldest element.
    public mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let e = items[head]
        head += 1
        bytes -= e.bytes
        compact()
        return e.element
    }

    /// Removes everything, returning what was removed.
    public mutating func removeAll() -> Dropped {
        let d = Dropped(count: count, bytes: bytes)
        items.removeAll()
        head = 0
        bytes = 0
        return d
    }

    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
