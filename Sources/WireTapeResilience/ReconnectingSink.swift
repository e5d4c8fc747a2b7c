import Synchronization
import WireTapeCore

/// What happened to the frames given to a ``ReconnectingSink``; every send is in exactly one
/// of these counters once it returned or threw.
public struct SendStats: Sendable, Hashable {
    /// Data messages handed to a live transport.
    public var sent: UInt64 = 0
    /// Pings handed to a live transport (the adapter's and the liveness probes).
    public var pingsSent: UInt64 = 0
    /// Sends that failed in the transport (the connection broke during the send).
    public var failed: UInt64 = 0
    /// Sends rejected while disconnected (``DisconnectedSendPolicy``), or after shutdown.
    public var rejected: UInt64 = 0
    /// Sends that waited for a connection and were then failed (shutdown, unrecoverable) or cancelled.
    public var abandoned: UInt64 = 0
    /// Sends currently waiting for a connection.
    public var waiting: Int = 0
    /// Automatic pongs sent by the transport and charged to the rate limit.
    public var pongsCharged: UInt64 = 0
    /// Total time senders spent waiting for the rate limit.
    public var rateLimitDelay: Duration = .zero
}

/// The outbound half of a ``ReconnectingConnection``: one sink that stays valid across
/// reconnects.
///
/// While connected, sends go to the current transport after the rate limit
/// (``SendRateLimit``) allows them. While disconnected they follow the
/// ``DisconnectedSendPolicy``. `close` is terminal and shuts the whole connection down.
public final class ReconnectingSink: WSSink {
    struct Target: Sendable {
        let sink: any WSSink
        let activity: ConnectionActivity
        let epoch: UInt64
    }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Target, any Error>
    }

    private struct State {
        var current: Target?
        var terminal: WSError?
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var stats = SendStats()
        var bucket: TokenBucket?
        var pongsSeen: UInt64 = 0
        /// Who waits for a number of waiting senders (``waitForWaitingSenders(_:)``).
        var watchers: [(count: Int, c: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>
    private let policy: DisconnectedSendPolicy
    private let time: TimeSource
    private let closeHandler: @Sendable (WSCloseCode, String) async -> Void

    init(
        policy: DisconnectedSendPolicy, rateLimit: SendRateLimit?, time: TimeSource,
        close: @escaping @Sendable (WSCloseCode, String) async -> Void
    ) {
        self.policy = policy
        self.time = time
        self.closeHandler = close
        self.state = Mutex(State(bucket: rateLimit.map { TokenBucket(limit: $0, now: time.now()) }))
    }

    /// The counters.
    public var stats: SendStats { state.withLock { s in var st = s.stats; st.waiting = s.waiters.count; return st } }

    // MARK: WSSink

    /// Sends one data message on the current connection.
    ///
    /// While disconnected, waits for the next connection or throws, as the
    /// ``DisconnectedSendPolicy`` says. Then waits for the rate limit.
    /// - Throws: ``WireTapeCore/WSError`` — `sinkClosed` after shutdown, `notConnected` or
    ///   `sendQueueFull` by the disconnected policy, `cancelled`, or the transport's error if
    ///   the connection broke during the send (the frame may or may not have left).
    public func send(_ frame: Frame) async throws {
        let target = try await acquireTarget()
        try await throttle()
        do {
            try await target.sink.send(frame)
            state.withLock { $0.stats.sent += 1 }
        } catch {
            state.withLock { $0.stats.failed += 1 }
            throw error
        }
    }

    /// Sends a ping on the current connection, under the same policies as ``send(_:)``.
    public func sendPing(_ payload: [UInt8]) async throws {
        let target = try await acquireTarget()
        try await throttle()
        do {
            try await target.sink.sendPing(payload)
            state.withLock { $0.stats.pingsSent += 1 }
        } catch {
            state.withLock { $0.stats.failed += 1 }
            throw error
        }
    }

    /// Shuts the connection down (see ``ReconnectingConnection/shutdown(code:reason:)``).
    /// Terminal and idempotent.
    public func close(code: WSCloseCode, reason: String) async {
        await closeHandler(code, reason)
    }

    // MARK: Shell side

    /// A liveness probe: charged to the rate limit but never delayed by it.
    func probe(_ target: Target) async {
        state.withLock { s in s.bucket?.charge(1, at: time.now()) }
        do {
            try await target.sink.sendPing([])
            state.withLock { $0.stats.pingsSent += 1 }
        } catch {
            // The transport is going away; the pump reports the cause. Counted, not hidden.
            state.withLock { $0.stats.failed += 1 }
        }
    }

    /// A connection is up: senders go to it.
    func attach(_ target: Target) {
        let waiters: [Waiter] = state.withLock { s in
            guard s.terminal == nil else { return [] }
            s.current = target
            s.pongsSeen = 0  // a new connection: every pong it sent counts
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.continuation.resume(returning: target) }
    }

    /// The connection went down: senders wait or are rejected.
    func detach() {
        state.withLock { $0.current = nil }
    }

    /// The connection ended for good: every waiting and later send throws `error`.
    func terminate(_ error: WSError) {
        let waiters: [Waiter] = state.withLock { s in
            guard s.terminal == nil else { return [] }
            s.terminal = error
            s.current = nil
            s.stats.abandoned += UInt64(s.waiters.count)
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.continuation.resume(throwing: error) }
    }

    private enum Acquire {
        case ready(Target)
        case fail(WSError)
        case wait
    }

    /// Whether a sender got its answer at once or now waits (waking these watchers).
    private enum WaitOutcome {
        case some(Result<Target, WSError>)
        case none([CheckedContinuation<Void, Never>])
    }

    /// Returns once at least `count` senders wait for a connection (tests use it to wait for
    /// a sender to be parked, instead of polling ``stats``).
    func waitForWaitingSenders(_ count: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.waiters.count >= count { return true }
                s.watchers.append((count, c))
                return false
            }
            if now { c.resume() }
        }
    }

    private func acquireTarget() async throws -> Target {
        let immediate: Acquire = state.withLock { s in
            if let t = s.terminal {
                s.stats.rejected += 1
                return .fail(t)
            }
            if let c = s.current { return .ready(c) }
            switch policy {
            case .reject:
                s.stats.rejected += 1
                return .fail(WSError(
                    .notConnected,
                    "not connected: the send was rejected while reconnecting (policy: reject); "
                        + "resend after the lifecycle shows a new epoch"))
            case .wait(let max):
                if s.waiters.count >= max {
                    s.stats.rejected += 1
                    return .fail(WSError(
                        .sendQueueFull,
                        "not connected and \(max) sends are already waiting for a connection; "
                            + "raise DisconnectedSendPolicy.wait(maxWaiting:) or send less while reconnecting"))
                }
                return .wait
            }
        }
        switch immediate {
        case .ready(let t): return t
        case .fail(let e): throw e
        case .wait: break
        }
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Target, any Error>) in
                let now: WaitOutcome = state.withLock { s in
                    if let t = s.terminal {
                        s.stats.abandoned += 1
                        return .some(.failure(t))
                    }
                    if let cur = s.current { return .some(.success(cur)) }
                    if Task.isCancelled {
                        s.stats.abandoned += 1
                        return .some(.failure(WSError(.cancelled, "the send was cancelled while waiting for a connection")))
                    }
                    s.waiters.append(Waiter(id: id, continuation: c))
                    var ready: [CheckedContinuation<Void, Never>] = []
                    s.watchers.removeAll { w in
                        if s.waiters.count >= w.count { ready.append(w.c); return true }
                        return false
                    }
                    return .none(ready)
                }
                switch now {
                case .some(let result): c.resume(with: result)
                case .none(let ready): for w in ready { w.resume() }
                }
            }
        } onCancel: {
            let w: Waiter? = state.withLock { s in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                s.stats.abandoned += 1
                return s.waiters.remove(at: i)
            }
            w?.continuation.resume(throwing: WSError(.cancelled, "the send was cancelled while waiting for a connection"))
        }
    }

    /// Waits for the rate limit, charging the automatic pongs sent since the last look.
    private func throttle() async throws {
        let (now, wait): (Duration, Duration) = state.withLock { s in
            let now = time.now()
            guard s.bucket != nil else { return (now, .zero) }
            if let t = s.current {
                let pongs = t.activity.pongsSent
                if pongs > s.pongsSeen {
                    let n = pongs - s.pongsSeen
                    s.pongsSeen = pongs
                    s.stats.pongsCharged += n
                    s.bucket!.charge(Int(n), at: now)
                }
            }
            let w = s.bucket!.reserve(at: now)
            s.stats.rateLimitDelay += w
            return (now, w)
        }
        guard wait > .zero else { return }
        do { try await time.sleepUntil(now + wait) } catch {
            state.withLock { $0.stats.abandoned += 1 }
            throw WSError(.cancelled, "the send was cancelled while waiting for the rate limit", underlying: error)
        }
    }
}
