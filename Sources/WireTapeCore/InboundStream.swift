import Synchronization

/// The inbound half of a connection: an asynchronous sequence of frames with backpressure.
///
/// A single consumer iterates it. The producer (a connector) calls ``Producer/yield(_:)``
/// for each frame; when the frames waiting for the consumer reach the high-water mark (by
/// count or by bytes), `yield` returns `false` and the producer must stop reading its source
/// (the socket) until the stream calls the producer's demand handler, which it does once the
/// consumer has drained the queue to half the mark. Nothing is ever dropped here: bounded
/// memory comes from pausing the source, not from discarding.
///
/// The sequence ends (`nil`) after ``Producer/finish()`` and throws the error given to
/// ``Producer/finish(throwing:)``, in both cases after every queued frame was delivered.
/// Cancelling the consuming task ends the iteration and tells the producer through its
/// termination handler.
public final class InboundStream: AsyncSequence, Sendable {
    /// The frames.
    public typealias Element = InboundFrame
    /// The error a failed stream throws.
    public typealias Failure = any Error

    private enum Terminal {
        case finished
        case failed(WSError)
        case cancelled
    }

    private struct State {
        var queue: [InboundFrame] = []
        var head = 0
        var queuedBytes = 0
        var paused = false
        var terminal: Terminal?
        var terminalDelivered = false
        var waiter: CheckedContinuation<InboundFrame?, any Error>?
        var onDemand: (@Sendable () -> Void)?
        var onTermination: (@Sendable () -> Void)?
        /// Called once when the consumer has taken the end (see ``Producer/setEndHandler(_:)``).
        var onEnd: (@Sendable () -> Void)?
        /// Set by ``InboundStream/divert(to:onEnd:)`` or ``InboundStream/divert(toViews:onEnd:)``:
        /// frames go here instead of the queue.
        var divert: Divert?
        /// Set by ``InboundStream/observe(_:)``: called for every frame before it is queued
        /// or diverted.
        var observers: [@Sendable (InboundFrame) -> Void] = []

        var queuedCount: Int { queue.count - head }

        /// The end handler, removed (it is called once).
        mutating func takeOnEnd() -> (@Sendable () -> Void)? {
            defer { onEnd = nil }
            return onEnd
        }

        mutating func popFirst() -> InboundFrame {
            let f = queue[head]
            head += 1
            queuedBytes -= f.frame.byteCount
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 4096 && head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return f
        }
    }

    /// Where a diverted stream sends its frames and its end.
    private struct Divert {
        enum Target {
            case frames(@Sendable (UnsafeBufferPointer<InboundFrame>) -> Void)
            case views(@Sendable (UnsafeBufferPointer<InboundFrameView>) -> Void)
        }
        let target: Target
        let end: @Sendable (WSError?) -> Void

        /// Hands owned frames over in the form the consumer takes.
        func hand<C: Collection>(_ frames: C) where C.Element == InboundFrame {
            switch target {
            case .frames(let f):
                if frames.withContiguousStorageIfAvailable({ f($0) }) == nil {
                    Array(frames).withUnsafeBufferPointer { f($0) }
                }
            case .views(let v):
                InboundFrameView.withViews(of: frames) { v($0) }
            }
        }
    }

    private let state = Mutex(State())
    private let highWaterFrames: Int
    private let highWaterBytes: Int

    /// Creates a stream whose producer pauses at `highWaterFrames` frames or
    /// `highWaterBytes` bytes waiting, whichever comes first.
    public init(highWaterFrames: Int, highWaterBytes: Int) {
        self.highWaterFrames = Swift.max(1, highWaterFrames)
        self.highWaterBytes = Swift.max(1, highWaterBytes)
    }

    /// Creates a stream and its producer with the inbound limits of `config`.
    public static func makeStream(config: WSConfig = WSConfig()) -> (InboundStream, Producer) {
        let stream = InboundStream(
            highWaterFrames: config.inboundHighWaterFrames, highWaterBytes: config.inboundHighWaterBytes)
        return (stream, Producer(stream: stream))
    }

    /// Frames queued and not yet taken by the consumer.
    public var queuedFrameCount: Int { state.withLock { $0.queuedCount } }

    /// Installs an observer that sees every frame of the stream exactly once, in order, on the
    /// producer's thread, without a task hop: first (synchronously, before this returns) each
    /// frame already queued and not yet consumed, then every frame yielded later, before that
    /// frame is queued or handed to anyone else. Frames the consumer already took are not
    /// replayed.
    ///
    /// The observer runs under the stream's lock: it must be quick and must not call back into
    /// this stream (a recorder's tee copies a reference into its own bounded queue). Frames
    /// yielded after the stream ended are not observed.
    public func observe(_ observer: @escaping @Sendable (InboundFrame) -> Void) {
        state.withLock { s in
            var i = s.head
            while i < s.queue.count {
                observer(s.queue[i])
                i += 1
            }
            s.observers.append(observer)
        }
    }

    /// The producing side of an ``InboundStream``.
    public struct Producer: Sendable {
        let stream: InboundStream

        /// Creates the producer of `stream`.
        public init(stream: InboundStream) { self.stream = stream }

        /// Queues a frame. Returns `true` while the producer may continue, `false` when it
        /// should pause until the demand handler is called. Frames yielded after the stream
        /// ended are discarded and `false` is returned.
        @discardableResult
        public func yield(_ frame: InboundFrame) -> Bool { stream.yield(CollectionOfOne(frame)) }

        /// Queues several frames at once (one lock, at most one consumer wake-up); the
        /// connector batches the frames of one socket read this way. Returns like ``yield(_:)``.
        @discardableResult
        public func yield<C: Collection>(contentsOf frames: C) -> Bool where C.Element == InboundFrame {
            stream.yield(frames)
        }

        /// Queues frames lent as views (a replay lends its decoded journal blocks this way).
        ///
        /// A consumer that diverted with ``InboundStream/divert(toViews:onEnd:)`` receives the
        /// views as they are, synchronously, nothing copied; for any other consumer (an
        /// iterator, ``InboundStream/divert(to:onEnd:)``, an observer) each view becomes an owned
        /// ``InboundFrame`` (``InboundFrameView/frame``), queued or handed over as
        /// ``yield(contentsOf:)`` does. Either way the views are not used after this returns.
        /// Returns like ``yield(_:)``.
        @discardableResult
        public func yield(views: UnsafeBufferPointer<InboundFrameView>) -> Bool { stream.yield(views: views) }

        /// Ends the stream normally, after the queued frames.
        public func finish() { stream.terminate(.finished) }

        /// Ends the stream with `error`, after the queued frames.
        public func finish(throwing error: WSError) { stream.terminate(.failed(error)) }

        /// Sets the handler called (on the consumer's thread, outside any lock) when the
        /// producer was paused and the consumer drained the queue to half the high-water mark.
        public func setDemandHandler(_ handler: @escaping @Sendable () -> Void) {
            stream.state.withLock { $0.onDemand = handler }
        }

        /// Sets the handler called once when the consumer stops iterating (its task was cancelled).
        public func setTerminationHandler(_ handler: @escaping @Sendable () -> Void) {
            stream.state.withLock { $0.onTermination = handler }
        }

        /// Sets the handler called once when the consumer has taken the stream's end (`nil` or
        /// the error), after every frame: from an iterator's `next()`, from a diverted stream's
        /// end handler, or when the consumer stops iterating. A connection that failed the
        /// protocol sends its close frame then, so a consumer's replies to the frames received
        /// before the failure (an echo) precede the close on the wire. Called on the consumer's
        /// thread, outside any lock; at once if the end was already taken. `nil` removes it.
        public func setEndHandler(_ handler: (@Sendable () -> Void)?) {
            let now: (@Sendable () -> Void)? = stream.state.withLock { s in
                if s.terminalDelivered { return handler }
                s.onEnd = handler
                return nil
            }
            now?()
        }

        /// Whether the producer is currently paused.
        public var isPaused: Bool { stream.state.withLock { $0.paused } }
    }

    private func yield<C: Collection>(_ frames: C) -> Bool where C.Element == InboundFrame {
        guard let first = frames.first else { return true }
        let (waiter, keepGoing): (CheckedContinuation<InboundFrame?, any Error>?, Bool) = state.withLock { s in
            guard s.terminal == nil else { return (nil, false) }
            // Observers (a recorder's tee) see every frame first, as the transport delivered it.
            if !s.observers.isEmpty {
                for f in frames {
                    for o in s.observers { o(f) }
                }
            }
            if let divert = s.divert {
                // Handed over under the lock, so no frame can follow the end (see divert).
                divert.hand(frames)
                return (nil, true)
            }
            var rest = frames[...]
            var waiter: CheckedContinuation<InboundFrame?, any Error>? = nil
            if let w = s.waiter {
                // The consumer is parked on an empty queue: hand it the first frame directly.
                s.waiter = nil
                waiter = w
                rest = rest.dropFirst()
            }
            for f in rest {
                s.queue.append(f)
                s.queuedBytes += f.frame.byteCount
            }
            if s.queuedCount >= highWaterFrames || s.queuedBytes >= highWaterBytes {
                s.paused = true
                return (waiter, false)
            }
            return (waiter, true)
        }
        waiter?.resume(returning: first)
        return keepGoing
    }

    private func yield(views: UnsafeBufferPointer<InboundFrameView>) -> Bool {
        guard !views.isEmpty else { return true }
        // nil: the consumer does not take views (or observers want frames).
        let lent: Bool? = state.withLock { s in
            guard s.terminal == nil else { return false }
            guard s.observers.isEmpty, let divert = s.divert, case .views(let take) = divert.target else { return nil }
            take(views)
            return true
        }
        if let lent { return lent }
        // Copied outside the lock; a consumer that diverts meanwhile gets them from the frame path.
        return yield(views.map(\.frame))
    }

    private func terminate(_ t: Terminal) {
        let (waiter, divert, onEnd): (CheckedContinuation<InboundFrame?, any Error>?, Divert?, (@Sendable () -> Void)?) =
            state.withLock { s in
                guard s.terminal == nil else { return (nil, nil, nil) }
                s.terminal = t
                s.onDemand = nil
                if let d = s.divert {
                    s.terminalDelivered = true
                    return (nil, d, s.takeOnEnd())
                }
                guard s.queuedCount == 0, let w = s.waiter else { return (nil, nil, nil) }
                s.waiter = nil
                s.terminalDelivered = true
                return (w, nil, s.takeOnEnd())
            }
        defer { onEnd?() }
        if let divert {
            if case .failed(let e) = t { divert.end(e) } else { divert.end(nil) }
            return
        }
        guard let waiter else { return }
        switch t {
        case .finished, .cancelled: waiter.resume(returning: nil)
        case .failed(let e): waiter.resume(throwing: e)
        }
    }

    /// Hands every frame from now on to `frames` instead of queueing it for an iterator, and
    /// the stream's end to `onEnd` (`nil` for a normal end, or the error it failed with).
    ///
    /// Use it instead of iterating when the consumer only moves frames into a buffer of its
    /// own (the reconnecting layer does): it saves the task hop per frame. Frames already
    /// queued are handed over first, in order, then each batch the producer yields is handed
    /// over synchronously, on the producer's thread and under the stream's lock, so `frames`
    /// must be quick and must not call back into this stream. `onEnd` is called exactly once,
    /// after the last frame (at once if the stream already ended). The producer is never
    /// paused again, and a pause in effect is lifted. Call it at most once, and never while
    /// iterating.
    /// - Parameters:
    ///   - frames: Receives each batch of frames, in order; the buffer is valid only during
    ///     the call (copy what you keep).
    ///   - onEnd: Receives the end: `nil` after ``Producer/finish()``, the error after
    ///     ``Producer/finish(throwing:)``.
    public func divert(
        to frames: @escaping @Sendable (UnsafeBufferPointer<InboundFrame>) -> Void,
        onEnd: @escaping @Sendable (WSError?) -> Void
    ) {
        install(Divert(target: .frames(frames), end: onEnd))
    }

    /// Hands every frame from now on to `views` as borrowed views, and the stream's end to
    /// `onEnd`: ``divert(to:onEnd:)`` for a consumer that only reads each payload once (writes
    /// it out, counts it) and so needs no owned copy.
    ///
    /// A producer that lends views (``Producer/yield(views:)``, the replay) hands them over as
    /// they are: no `String` or `[UInt8]` per frame. Owned frames (queued before this call, or
    /// yielded by a producer that has only those) are lent as views of one copy per batch.
    /// Everything else is as ``divert(to:onEnd:)``: in order, synchronously on the producer's
    /// thread and under the stream's lock, never paused, `onEnd` exactly once, at most one
    /// divert per stream and never while iterating.
    /// - Parameters:
    ///   - views: Receives each batch, in order; the views and their payloads are valid only
    ///     during the call (``InboundFrameView/frame`` copies one).
    ///   - onEnd: Receives the end: `nil` after ``Producer/finish()``, the error after
    ///     ``Producer/finish(throwing:)``.
    public func divert(
        toViews views: @escaping @Sendable (UnsafeBufferPointer<InboundFrameView>) -> Void,
        onEnd: @escaping @Sendable (WSError?) -> Void
    ) {
        install(Divert(target: .views(views), end: onEnd))
    }

    private func install(_ divert: Divert) {
        let onEnd = divert.end
        let (demand, ended, endTaken): ((@Sendable () -> Void)?, Terminal?, (@Sendable () -> Void)?) = state.withLock { s in
            precondition(s.divert == nil && s.waiter == nil, "InboundStream.divert: the stream already has a consumer")
            if s.queuedCount > 0 {
                divert.hand(s.queue[s.head...])
                s.queue.removeAll()
                s.head = 0
                s.queuedBytes = 0
            }
            if let t = s.terminal {
                guard !s.terminalDelivered else { return (nil, .finished, nil) }
                s.terminalDelivered = true
                return (nil, t, s.takeOnEnd())
            }
            s.divert = divert
            defer { s.paused = false }
            return (s.paused ? s.onDemand : nil, nil, nil)
        }
        demand?()
        defer { endTaken?() }
        switch ended {
        case .failed(let e): onEnd(e)
        case .finished, .cancelled: onEnd(nil)
        case nil: break
        }
    }

    private enum Immediate {
        case frame(InboundFrame, demand: (@Sendable () -> Void)?)
        case end(onEnd: (@Sendable () -> Void)?)
        case fail(WSError, onEnd: (@Sendable () -> Void)?)
        case wait
    }

    private func takeImmediate(_ s: inout State) -> Immediate {
        if s.queuedCount > 0 {
            let f = s.popFirst()
            var demand: (@Sendable () -> Void)? = nil
            if s.paused && s.queuedCount <= highWaterFrames / 2 && s.queuedBytes <= highWaterBytes / 2 {
                s.paused = false
                demand = s.onDemand
            }
            return .frame(f, demand: demand)
        }
        if let t = s.terminal {
            if s.terminalDelivered { return .end(onEnd: nil) }
            s.terminalDelivered = true
            if case .failed(let e) = t { return .fail(e, onEnd: s.takeOnEnd()) }
            return .end(onEnd: s.takeOnEnd())
        }
        return .wait
    }

    /// The most frames (and, past the first, bytes) an iterator takes from the queue at once.
    static let iteratorBatchFrames = 256
    static let iteratorBatchBytes = 1 << 20

    /// Moves queued frames into an iterator's `buffer` under one lock (at most
    /// ``iteratorBatchFrames``, and past the first at most ``iteratorBatchBytes`` bytes);
    /// false when fewer than two are queued (the single-frame path takes those).
    fileprivate func takeQueued(into buffer: inout [InboundFrame]) -> Bool {
        let taken: (@Sendable () -> Void)?? = state.withLock { s in
            guard s.queuedCount > 1 else { return nil }
            var bytes = 0
            let end = Swift.min(s.queue.count, s.head + Self.iteratorBatchFrames)
            var i = s.head
            while i < end && (i == s.head || bytes < Self.iteratorBatchBytes) {
                bytes += s.queue[i].frame.byteCount
                buffer.append(s.queue[i])
                i += 1
            }
            s.head = i
            s.queuedBytes -= bytes
            if s.head == s.queue.count {
                s.queue.removeAll(keepingCapacity: true)
                s.head = 0
            } else if s.head >= 4096 && s.head * 2 >= s.queue.count {
                s.queue.removeFirst(s.head)
                s.head = 0
            }
            if s.paused && s.queuedCount <= highWaterFrames / 2 && s.queuedBytes <= highWaterBytes / 2 {
                s.paused = false
                return .some(s.onDemand)
            }
            return .some(nil)
        }
        guard let demand = taken else { return false }
        demand?()
        return true
    }

    fileprivate func next(isolation actor: isolated (any Actor)?) async throws -> InboundFrame? {
        switch state.withLock({ takeImmediate(&$0) }) {
        case .frame(let f, let demand):
            demand?()
            return f
        case .end(let onEnd):
            onEnd?()
            return nil
        case .fail(let e, let onEnd):
            onEnd?()
            throw e
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: actor) { (c: CheckedContinuation<InboundFrame?, any Error>) in
                let immediate: Immediate = state.withLock { s in
                    if Task.isCancelled && s.terminal == nil { s.terminal = .cancelled }
                    let i = takeImmediate(&s)
                    if case .wait = i { s.waiter = c }
                    return i
                }
                switch immediate {
                case .frame(let f, let demand):
                    demand?()
                    c.resume(returning: f)
                case .end(let onEnd):
                    onEnd?()
                    c.resume(returning: nil)
                case .fail(let e, let onEnd):
                    onEnd?()
                    c.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            let (waiter, onTermination, onEnd) = state.withLock { s in
                let w = s.waiter
                s.waiter = nil
                if s.terminal == nil { s.terminal = .cancelled }
                let e = s.terminalDelivered ? nil : s.takeOnEnd()
                s.terminalDelivered = true
                let t = s.onTermination
                s.onTermination = nil
                return (w, t, e)
            }
            waiter?.resume(returning: nil)
            onTermination?()
            onEnd?()
        }
    }

    /// Creates the iterator. Only one consumer may iterate a stream.
    public func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    /// Iterates the frames of an ``InboundStream``.
    ///
    /// When several frames are queued the iterator takes a batch of them under one lock
    /// (at most 256, and past the first at most 1 MiB) and hands them out one by one without
    /// locking; those frames no longer count in ``InboundStream/queuedFrameCount`` or toward
    /// the high-water mark, so the memory held is the mark plus one batch.
    public struct Iterator: AsyncIteratorProtocol {
        let stream: InboundStream
        private var taken: [InboundFrame] = []
        private var nextTaken = 0

        init(stream: InboundStream) { self.stream = stream }

        /// The next frame, `nil` at the end, or the error that ended the connection.
        ///
        /// Runs on the caller's actor (no executor hop per frame when frames are queued).
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async throws -> InboundFrame? {
            if let f = takeNext() { return f }
            return try await stream.next(isolation: actor)
        }

        /// The next frame (the isolation-inheriting `next(isolation:)` is preferred by `for await`).
        public mutating func next() async throws -> InboundFrame? {
            if let f = takeNext() { return f }
            return try await stream.next(isolation: nil)
        }

        /// A frame of the batch taken, taking a new batch when it is used up; nil when fewer
        /// than two frames are queued.
        private mutating func takeNext() -> InboundFrame? {
            if nextTaken == taken.count {
                taken.removeAll(keepingCapacity: true)
                nextTaken = 0
                guard stream.takeQueued(into: &taken) else { return nil }
            }
            defer { nextTaken += 1 }
            return taken[nextTaken]
        }
    }
}
