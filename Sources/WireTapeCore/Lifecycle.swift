import Synchronization

/// The phase of a connection, as published on its lifecycle watch.
///
/// Lag is not a phase (a connection can be connected *and* lagging): it is the cumulative
/// ``LifecycleSnapshot/totalLagged`` counter.
public enum ConnState: String, Sendable, Hashable, CaseIterable {
    /// A connection attempt is in progress (the first one, or any attempt after a failure).
    case connecting
    /// The WebSocket handshake completed; frames flow. The epoch was just incremented.
    case connected
    /// Nothing arrived within the idle timeout; a liveness probe (ping) is outstanding.
    case stale
    /// Data arrived again after ``stale``, in the same epoch.
    case resumed
    /// The connection was lost; a new attempt is scheduled (backoff in progress).
    case reconnecting
    /// A permanent failure: no further attempts will be made. Terminal.
    case unrecoverable
    /// Shut down: by the peer's clean close, or by the local side. Terminal.
    case closed

    /// Whether no further state can follow.
    public var isTerminal: Bool { self == .unrecoverable || self == .closed }
}

/// Why a connection (one epoch) ended, or why an attempt failed.
public enum DisconnectCause: Sendable, CustomStringConvertible {
    /// The peer sent a close frame.
    case peerClosed(code: WSCloseCode, reason: String)
    /// This side closed (`close(code:reason:)`, shutdown, or a forced reconnect).
    case localClose(code: WSCloseCode, reason: String)
    /// A transport, handshake or protocol error.
    case error(WSError)

    /// The close code involved, if any.
    public var closeCode: WSCloseCode? {
        switch self {
        case .peerClosed(let code, _), .localClose(let code, _): return code
        case .error(let e): return e.closeCode
        }
    }

    /// A one-line account, e.g. `peer closed 1001 "restart"` or `handshakeRejected: HTTP 503 …`.
    public var description: String {
        switch self {
        case .peerClosed(let code, let reason):
            return reason.isEmpty ? "peer closed \(code)" : "peer closed \(code) \"\(reason)\""
        case .localClose(let code, let reason):
            return reason.isEmpty ? "closed locally \(code)" : "closed locally \(code) \"\(reason)\""
        case .error(let e): return e.description
        }
    }
}

/// The state of a connection at one moment. Every field is a level or a cumulative count,
/// so a reader that skipped intermediate snapshots still knows what happened.
public struct LifecycleSnapshot: Sendable, CustomStringConvertible {
    /// The canonical epoch: incremented exactly once per successful (re)connect; 0 before the
    /// first. Frames are stamped with the epoch they arrived in.
    public var epoch: UInt64
    /// The current phase.
    public var state: ConnState
    /// Frames received but not delivered (dropped by a bounded buffer), cumulative.
    public var totalLagged: UInt64
    /// Bytes of the frames counted in ``totalLagged``, cumulative.
    public var totalLaggedBytes: UInt64
    /// Successful reconnects (connects after the first), cumulative.
    public var reconnects: UInt64
    /// Connection attempts that failed, cumulative.
    public var failedAttempts: UInt64
    /// The cause of this edge: set only on the edges a disconnect causes — `reconnecting`
    /// (why the connection or attempt ended), `unrecoverable` and `closed` (why it all
    /// ended) — and nil on `connecting`, `connected`, `stale` and `resumed`, which no
    /// disconnect caused.
    public var lastDisconnect: DisconnectCause?
    /// When this snapshot was published.
    public var at: ReceiveTimestamp

    /// Creates a snapshot.
    public init(
        epoch: UInt64 = 0, state: ConnState, totalLagged: UInt64 = 0, totalLaggedBytes: UInt64 = 0,
        reconnects: UInt64 = 0, failedAttempts: UInt64 = 0, lastDisconnect: DisconnectCause? = nil,
        at: ReceiveTimestamp = .now()
    ) {
        self.epoch = epoch
        self.state = state
        self.totalLagged = totalLagged
        self.totalLaggedBytes = totalLaggedBytes
        self.reconnects = reconnects
        self.failedAttempts = failedAttempts
        self.lastDisconnect = lastDisconnect
        self.at = at
    }

    /// `state@epoch`, plus the cause when there is one.
    public var description: String {
        var s = "\(state.rawValue)@\(epoch)"
        if let c = lastDisconnect, state != .connected { s += " (\(c))" }
        return s
    }
}

/// A *watch* of a value: readers see the latest value, a slow reader never blocks the
/// producer, and the final value is never missed.
///
/// The producer calls ``publish(_:)`` as often as it likes and ``finish(_:)`` once with the
/// terminal value. Each reader iterates ``updates()``: it gets the current value at once, then
/// the latest value whenever it changed since the reader last looked (intermediate values may
/// be skipped), and after the terminal value the iteration ends.
///
/// ```swift
/// for await snapshot in connection.lifecycle.updates() {
///     print(snapshot.state, snapshot.epoch)
/// }   // ends after `closed` or `unrecoverable`
/// ```
///
/// A recorder that must see *every* value, not only the latest, installs an observer with
/// ``observe(_:)`` instead.
public final class Watch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value
        var version: UInt64 = 1
        var finished = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID: UInt64 = 0
        var observers: [@Sendable (Value) -> Void] = []
    }
    private let state: Mutex<State>

    /// Creates a watch holding `initial`.
    public init(_ initial: Value) {
        state = Mutex(State(value: initial))
    }

    /// The latest value.
    public var current: Value { state.withLock { $0.value } }

    /// Whether the terminal value has been published.
    public var isFinished: Bool { state.withLock { $0.finished } }

    /// Replaces the value and wakes waiting readers. Ignored after ``finish(_:)``.
    /// Never blocks and never waits for readers.
    public func publish(_ value: Value) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.finished else { return [] }
            s.value = value
            s.version &+= 1
            for o in s.observers { o(value) }
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Calls `observer` with the current value at once, then with every value published after
    /// it — none skipped, in publication order — until the terminal value, which is the last.
    ///
    /// Unlike ``updates()``, nothing is coalesced: two values published a microsecond apart
    /// are both observed. The price is that `observer` runs synchronously on the publisher's
    /// thread, under the watch's lock (that is what orders the calls), so it must be quick, must
    /// not block, and must not call back into this watch: hand the value to a queue and return.
    /// A recorder uses this to write every lifecycle edge.
    ///
    /// ```swift
    /// connection.lifecycle.observe { snapshot in queue.push(snapshot) }
    /// ```
    public func observe(_ observer: @escaping @Sendable (Value) -> Void) {
        state.withLock { s in
            observer(s.value)
            if !s.finished { s.observers.append(observer) }
        }
    }

    /// Publishes the terminal value; readers see it and then their iteration ends.
    /// Later calls to ``publish(_:)`` and ``finish(_:)`` are ignored.
    public func finish(_ value: Value) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard !s.finished else { return [] }
            s.value = value
            s.version &+= 1
            s.finished = true
            for o in s.observers { o(value) }
            s.observers = []
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for w in waiters { w.resume() }
    }

    /// Waits until the value's version differs from `seen`; returns the value, its version and
    /// whether it is terminal, or `nil` when the watch finished and `seen` is its last version.
    fileprivate func next(after seen: UInt64, isolation actor: isolated (any Actor)?) async -> (Value, UInt64)? {
        while true {
            let ready: (Value, UInt64)?? = state.withLock { s in
                if s.version != seen { return .some((s.value, s.version)) }
                if s.finished { return .some(nil) }
                return nil
            }
            if let ready { return ready }
            let id = state.withLock { s -> UInt64 in
                s.nextWaiterID &+= 1
                return s.nextWaiterID
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation(isolation: actor) { (c: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.version != seen || s.finished || Task.isCancelled { return true }
                        s.waiters[id] = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                let c = state.withLock { $0.waiters.removeValue(forKey: id) }
                c?.resume()
            }
            if Task.isCancelled { return nil }
        }
    }

    /// An asynchronous sequence of the latest values, ending after the terminal value.
    public func updates() -> Updates { Updates(watch: self) }

    /// The latest-value sequence of a ``Watch``.
    public struct Updates: AsyncSequence, Sendable {
        let watch: Watch<Value>
        /// Creates the iterator.
        public func makeAsyncIterator() -> Iterator { Iterator(watch: watch) }

        /// Iterates the latest values.
        public struct Iterator: AsyncIteratorProtocol {
            let watch: Watch<Value>
            var seen: UInt64 = 0
            /// The next value that differs from the last one seen, or `nil` after the terminal one.
            /// Runs on the caller's actor.
            public mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> Value? {
                guard let (value, version) = await watch.next(after: seen, isolation: actor) else { return nil }
                seen = version
                return value
            }

            /// The next value (the isolation-inheriting `next(isolation:)` is preferred by `for await`).
            public mutating func next() async -> Value? { await next(isolation: nil) }
        }
    }
}

/// The lifecycle watch of a connection.
public typealias LifecycleWatch = Watch<LifecycleSnapshot>

extension Watch where Value == LifecycleSnapshot {
    /// Calls `observer` with every lifecycle *edge*, none skipped, in order: the current
    /// snapshot at once, then each published snapshot whose state, epoch, failed attempts or
    /// reconnects differ from the previous edge's. Snapshots that only advance the lag counters
    /// (a buffer shedding) are not edges; the next edge carries the counters.
    ///
    /// The same rules as ``Watch/observe(_:)`` apply: `observer` runs on the publisher's
    /// thread under the watch's lock; hand the edge on and return.
    public func observeEdges(_ observer: @escaping @Sendable (LifecycleSnapshot) -> Void) {
        let last = Mutex<(ConnState, UInt64, UInt64, UInt64)?>(nil)
        observe { s in
            let key = (s.state, s.epoch, s.failedAttempts, s.reconnects)
            let isEdge = last.withLock { l -> Bool in
                defer { l = key }
                guard let l else { return true }
                return l != key
            }
            if isEdge { observer(s) }
        }
    }

    /// Every lifecycle edge (see ``observeEdges(_:)``) as an asynchronous sequence that ends
    /// after the terminal edge. Unlike ``Watch/updates()`` nothing is skipped: edges wait in an
    /// unbounded buffer (they are few) until the reader takes them.
    ///
    /// ```swift
    /// for await edge in connection.lifecycle.edges() { log(edge) }   // every stale, every resumed
    /// ```
    public func edges() -> AsyncStream<LifecycleSnapshot> {
        AsyncStream { continuation in
            observeEdges { s in
                continuation.yield(s)
                if s.state.isTerminal { continuation.finish() }
            }
        }
    }
}
