import Synchronization
import WireTapeCore

/// A scriptable ``WSConnector`` for tests: each attempt accepts, fails with a chosen
/// classified error or handshake status, or stalls; accepted connections play a script of
/// frames, pauses, pings, closes and drops on an injected clock.
///
/// Everything the client did is recorded: the attempts (with their time and the credentials
/// the ``AuthSource`` returned), the frames and pings it sent, how it closed, and how many
/// connections were open at once (``maxOpenConnections``), so a test can assert "never two
/// live sockets".
///
/// ```swift
/// let clock = ManualClock()
/// let mock = MockConnector(clock: clock, attempts: [
///     .accept([.send(.text("a")), .close(.abnormalClosure)]),
///     .reject(status: 401),
/// ])
/// let conn = try await mock.connect(ConnectRequest(url: try WSURL("ws://mock/")))
/// ```
///
/// Inbound frames go through a normal ``InboundStream``; the mock does not pause when the
/// stream reports backpressure (it is a test peer, not a socket), so frames queue there.
public final class MockConnector: WSConnector, Sendable {
    private struct State {
        var queue: [MockAttempt]
        var records: [MockAttemptRecord] = []
        var peers: [MockPeer] = []
        var open = 0
        var maxOpen = 0
        var attemptWaiters: [(count: Int, c: CheckedContinuation<Void, Never>)] = []
        var peerWaiters: [(count: Int, c: CheckedContinuation<Void, Never>)] = []

        static func ready(_ waiters: inout [(count: Int, c: CheckedContinuation<Void, Never>)], _ n: Int)
            -> [CheckedContinuation<Void, Never>]
        {
            var out: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { w in
                if n >= w.count { out.append(w.c); return true }
                return false
            }
            return out
        }
    }

    private let state: Mutex<State>
    private let fallback: MockAttempt
    let clock: ElapsedClock

    /// Creates a mock connector.
    /// - Parameters:
    ///   - clock: The clock that scripts, delays and records use (a ``ManualClock`` in tests).
    ///   - attempts: What the first attempts do, in order.
    ///   - fallback: What every attempt does once `attempts` is used up (default: refuse).
    public init<C: Clock>(clock: C, attempts: [MockAttempt] = [], fallback: MockAttempt = .refuse)
    where C.Duration == Duration {
        self.clock = ElapsedClock(clock)
        self.state = Mutex(State(queue: attempts))
        self.fallback = fallback
    }

    /// Appends attempts to the queue.
    public func enqueue(_ attempts: MockAttempt...) {
        state.withLock { $0.queue.append(contentsOf: attempts) }
    }

    /// The attempts made so far, in order.
    public var attempts: [MockAttemptRecord] { state.withLock { $0.records } }

    /// The number of attempts made so far.
    public var attemptCount: Int { state.withLock { $0.records.count } }

    /// The server side of every accepted connection, in order.
    public var peers: [MockPeer] { state.withLock { $0.peers } }

    /// Connections currently open (accepted and not yet closed, dropped or failed).
    public var openConnections: Int { state.withLock { $0.open } }

    /// The most connections that were ever open at the same time.
    public var maxOpenConnections: Int { state.withLock { $0.maxOpen } }

    /// Suspends until at least `count` attempts were made.
    public func waitForAttempts(_ count: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.records.count >= count { return true }
                s.attemptWaiters.append((count, c))
                return false
            }
            if now { c.resume() }
        }
    }

    /// Suspends until at least `number` connections were accepted, and returns the peer of
    /// the `number`-th (1-based).
    public func peer(_ number: Int) async -> MockPeer {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.peers.count >= number { return true }
                s.peerWaiters.append((number, c))
                return false
            }
            if now { c.resume() }
        }
        return state.withLock { $0.peers[number - 1] }
    }

    /// Plays the next scripted attempt.
    ///
    /// Asks `request.auth` for credentials first (and records them); an error from the
    /// ``AuthSource`` is rethrown as the attempt's failure.
    public func connect(_ request: ConnectRequest) async throws -> WSConnection {
        let at = clock.now()
        var credentials: Credentials? = nil
        var authError: (any Error)? = nil
        if let auth = request.auth {
            do { credentials = try await auth.credentials(for: request.url) } catch { authError = error }
        }
        let (attempt, index, waiters) = state.withLock { s in
            let a = s.queue.isEmpty ? fallback : s.queue.removeFirst()
            s.records.append(MockAttemptRecord(
                index: s.records.count + 1, at: at, url: request.url, credentials: credentials))
            let n = s.records.count
            return (a, n, State.ready(&s.attemptWaiters, n))
        }
        for w in waiters { w.resume() }
        if let authError { throw authError }

        func pause(_ d: Duration) async throws {
            guard d > .zero else { return }
            do { try await clock.sleepFor(d) } catch {
                throw WSError(.cancelled, "mock: attempt \(index) to \(request.url) was cancelled", underlying: error)
            }
        }
        switch attempt {
        case .fail(let error, let after):
            try await pause(after)
            throw error
        case .reject(let status, let headers, let after):
            try await pause(after)
            throw WSError(
                .handshakeRejected, "mock: \(request.url) answered the upgrade with HTTP \(status)",
                httpStatus: status, responseHeaders: headers)
        case .stall:
            await suspendUntilCancelled()
            throw WSError(.cancelled, "mock: attempt \(index) to \(request.url) stalled and was cancelled")
        case .accept(let after, let script):
            try await pause(after)
            try Task.checkCancellation()
            return accept(index: index, request: request, script: script)
        }
    }

    private func accept(index: Int, request: ConnectRequest, script: MockScript) -> WSConnection {
        let peer = MockPeer(attempt: index, request: request, script: script, clock: clock) { [weak self] in
            self?.state.withLock { $0.open -= 1 }
        }
        let waiters = state.withLock { s in
            s.peers.append(peer)
            s.open += 1
            s.maxOpen = max(s.maxOpen, s.open)
            let n = s.peers.count
            return State.ready(&s.peerWaiters, n)
        }
        for w in waiters { w.resume() }
        peer.start()
        return peer.connection
    }
}

/// Suspends until the current task is cancelled; backs ``MockAttempt/stall``.
func suspendUntilCancelled() async {
    let slot = Mutex<(cancelled: Bool, c: CheckedContinuation<Void, Never>?)>((false, nil))
    await withTaskCancellationHandler {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = slot.withLock { s -> Bool in
                if s.cancelled { return true }
                s.c = c
                return false
            }
            if resumeNow { c.resume() }
        }
    } onCancel: {
        let c = slot.withLock { s -> CheckedContinuation<Void, Never>? in
            s.cancelled = true
            defer { s.c = nil }
            return s.c
        }
        c?.resume()
    }
}
