import Synchronization
import WireTapeCore

/// The inbound frames of a ``ReconnectingConnection``: one sequence that stays valid across
/// reconnects.
///
/// Frames are stamped with the epoch they arrived in. Between the socket and the consumer
/// sits a drop-oldest buffer (``InboundBufferPolicy``): a slow consumer never slows the
/// socket; instead the oldest frames are dropped and counted in
/// ``WireTapeCore/LifecycleSnapshot/totalLagged``.
///
/// The sequence ends (`nil`) after ``ReconnectingConnection/shutdown(code:reason:)`` and
/// throws the cause after the connection became `unrecoverable`, in both cases after every
/// buffered frame was delivered. A single consumer iterates it; if that consumer's task is
/// cancelled, its iteration ends and frames that arrive later are counted as lagged.
public final class ReconnectingInbound: AsyncSequence, Sendable {
    /// The frames.
    public typealias Element = InboundFrame
    /// The error an unrecoverable connection throws.
    public typealias Failure = any Error

    private struct State {
        var buffer: DropOldestBuffer<InboundFrame>
        var waiter: CheckedContinuation<InboundFrame?, any Error>?
        var terminal: WSError??  // nil: open; .some(nil): finished; .some(e): failed
        var terminalDelivered = false
        var consumerGone = false
        var delivered: UInt64 = 0
    }

    private let state: Mutex<State>
    private let onLag: @Sendable (_ frames: Int, _ bytes: Int) -> Void

    init(policy: InboundBufferPolicy, onLag: @escaping @Sendable (_ frames: Int, _ bytes: Int) -> Void) {
        state = Mutex(State(buffer: DropOldestBuffer(policy: policy)))
        self.onLag = onLag
    }

    /// Frames handed to the consumer's iterator so far (it takes up to 64 ready frames at a
    /// time, so this can run ahead of the frames the consumer has looked at by that many).
    public var deliveredCount: UInt64 { state.withLock { $0.delivered } }

    /// Frames buffered and not yet taken.
    public var bufferedCount: Int { state.withLock { $0.buffer.count } }

    /// The most bytes ever buffered at once.
    public var peakBufferedBytes: Int { state.withLock { $0.buffer.peakBytes } }

    /// Adds the frames of epoch `epoch` in order, under one lock, stamping each with the
    /// epoch. A waiting consumer gets the first frame directly; the others go to the
    /// drop-oldest buffer, which drops the oldest to make room. When the consumer is gone or
    /// the sequence ended, the frames themselves are dropped. Every drop is reported to `onLag`.
    func push(contentsOf frames: UnsafeBufferPointer<InboundFrame>, epoch: UInt64) {
        guard !frames.isEmpty else { return }
        var first = frames[0]
        first.epoch = epoch
        let (waiter, dropped): (CheckedContinuation<InboundFrame?, any Error>?, DropOldestBuffer<InboundFrame>.Dropped) =
            state.withLock { s in
                if s.terminal != nil || s.consumerGone {
                    return (nil, .init(count: frames.count, bytes: frames.reduce(0) { $0 + $1.frame.byteCount }))
                }
                var rest = frames[...]
                var w: CheckedContinuation<InboundFrame?, any Error>? = nil
                if let waiting = s.waiter, s.buffer.isEmpty {
                    s.waiter = nil
                    s.delivered += 1
                    w = waiting
                    rest = rest.dropFirst()
                }
                var dropped = DropOldestBuffer<InboundFrame>.Dropped.nothing
                for var f in rest {
                    f.epoch = epoch
                    let d = s.buffer.push(f, bytes: f.frame.byteCount)
                    dropped.count += d.count
                    dropped.bytes += d.bytes
                }
                return (w, dropped)
            }
        waiter?.resume(returning: first)
        if dropped.count > 0 { onLag(dropped.count, dropped.bytes) }
    }

    /// Ends the sequence after the buffered frames; with an error, the sequence throws it.
    func finish(throwing error: WSError? = nil) {
        let waiter: CheckedContinuation<InboundFrame?, any Error>? = state.withLock { s in
            guard s.terminal == nil else { return nil }
            s.terminal = .some(error)
            guard s.buffer.isEmpty, let w = s.waiter else { return nil }
            s.waiter = nil
            s.terminalDelivered = true
            return w
        }
        guard let waiter else { return }
        if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
    }

    private enum Immediate {
        case frame(InboundFrame)
        case end
        case fail(WSError)
        case wait
    }

    private func take(_ s: inout State) -> Immediate {
        if let f = s.buffer.popFirst() {
            s.delivered += 1
            return .frame(f)
        }
        if s.consumerGone { return .end }
        if let t = s.terminal {
            if s.terminalDelivered { return .end }
            s.terminalDelivered = true
            if let e = t { return .fail(e) }
            return .end
        }
        return .wait
    }

    /// Moves up to `maxFrames` frames (and about `maxBytes`, at least one frame) that are
    /// ready into `batch`, under one lock; returns whether it moved any.
    fileprivate func takeReady(into batch: inout [InboundFrame], maxFrames: Int, maxBytes: Int) -> Bool {
        state.withLock { s in
            guard !s.consumerGone else { return false }
            var bytes = 0
            while batch.count < maxFrames, bytes < maxBytes, let f = s.buffer.popFirst() {
                s.delivered += 1
                bytes += f.frame.byteCount
                batch.append(f)
            }
            return !batch.isEmpty
        }
    }

    fileprivate func next(isolation actor: isolated (any Actor)?) async throws -> InboundFrame? {
        switch state.withLock({ take(&$0) }) {
        case .frame(let f): return f
        case .end: return nil
        case .fail(let e): throw e
        case .wait: break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: actor) { (c: CheckedContinuation<InboundFrame?, any Error>) in
                let immediate: Immediate = state.withLock { s in
                    if Task.isCancelled { s.consumerGone = true; return .end }
                    let i = take(&s)
                    if case .wait = i { s.waiter = c }
                    return i
                }
                switch immediate {
                case .frame(let f): c.resume(returning: f)
                case .end: c.resume(returning: nil)
                case .fail(let e): c.resume(throwing: e)
                case .wait: break
                }
            }
        } onCancel: {
            let (w, dropped): (CheckedContinuation<InboundFrame?, any Error>?, DropOldestBuffer<InboundFrame>.Dropped) =
                state.withLock { s in
                    s.consumerGone = true
                    defer { s.waiter = nil }
                    return (s.waiter, s.buffer.removeAll())
                }
            w?.resume(returning: nil)
            if dropped.count > 0 { onLag(dropped.count, dropped.bytes) }
        }
    }

    /// Creates the iterator. Only one consumer may iterate.
    public func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    /// Iterates a ``ReconnectingInbound``.
    ///
    /// Takes the frames that are ready in small batches (at most 64 frames or 64 KiB, so at
    /// most that much leaves the drop-oldest budget early), which keeps the buffer's lock out
    /// of the per-frame path when the consumer keeps up.
    public struct Iterator: AsyncIteratorProtocol {
        let stream: ReconnectingInbound
        private var batch: [InboundFrame] = []
        private var index = 0

        init(stream: ReconnectingInbound) { self.stream = stream }

        /// The next frame, `nil` after shutdown, or the error that made the connection unrecoverable.
        /// Runs on the caller's actor: no executor hop per frame.
        public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async throws -> InboundFrame? {
            if index < batch.count {
                defer { index += 1 }
                return batch[index]
            }
            batch.removeAll(keepingCapacity: true)
            index = 0
            if stream.takeReady(into: &batch, maxFrames: 64, maxBytes: 64 << 10) {
                index = 1
                return batch[0]
            }
            return try await stream.next(isolation: actor)
        }

        /// The next frame (the isolation-inheriting `next(isolation:)` is preferred by `for await`).
        public mutating func next() async throws -> InboundFrame? { try await next(isolation: nil) }
    }
}
