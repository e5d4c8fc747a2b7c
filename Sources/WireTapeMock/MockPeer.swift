import Synchronization
import WireTapeCore

/// The server side of one connection accepted by a ``MockConnector``.
///
/// The peer plays its ``MockScript`` on the mock's clock, and a test can also drive it
/// directly (``send(_:)``, ``close(_:reason:)``, ``drop()``) and inspect what the client did
/// (``received``, ``pingsReceived``, ``clientClose``).
public final class MockPeer: Sendable {
    /// How the connection ended.
    public enum Ending: Sendable, Equatable {
        /// The client closed it with this code and reason.
        case clientClosed(WSCloseCode, String)
        /// The peer closed it with this code and reason.
        case peerClosed(WSCloseCode, String)
        /// The transport was lost (1006).
        case dropped
        /// The inbound stream failed with an error of this code.
        case failed(WSError.Code)
        /// The client dropped the transport without a close handshake (``WireTapeCore/WSSink/abort()``).
        case clientAborted
    }

    private struct State {
        var received: [Frame] = []
        var pingsReceived = 0
        var ending: Ending?
        var answersPings: Bool
        let answersClose: Bool
        var script: Task<Void, Never>?
        var receivedWaiters: [(count: Int, c: CheckedContinuation<Void, Never>)] = []
        var pingWaiters: [(count: Int, c: CheckedContinuation<Void, Never>)] = []
    }

    /// The attempt number (1-based) that produced this connection.
    public let attempt: Int
    /// The request the client made.
    public let request: ConnectRequest
    /// The client-side connection handed to the code under test.
    public let connection: WSConnection

    private let state: Mutex<State>
    private let played = Mutex<Task<Void, Never>?>(nil)
    private let producer: InboundStream.Producer
    private let steps: [MockStep]
    private let clock: ElapsedClock
    private let onEnd: @Sendable () -> Void

    init(
        attempt: Int, request: ConnectRequest, script: MockScript, clock: ElapsedClock,
        onEnd: @escaping @Sendable () -> Void
    ) {
        self.attempt = attempt
        self.request = request
        self.steps = script.steps
        self.clock = clock
        self.onEnd = onEnd
        self.state = Mutex(State(answersPings: script.answersPings, answersClose: script.answersClose))
        let (stream, producer) = InboundStream.makeStream(config: request.config)
        self.producer = producer
        let lifecycle = LifecycleWatch(LifecycleSnapshot(epoch: 1, state: .connected))
        let activity = ConnectionActivity()
        let sink = MockSink()
        self.connection = WSConnection(
            inbound: stream, sink: sink, lifecycle: lifecycle,
            info: ConnectionInfo(remoteAddress: "mock:\(attempt)"), activity: activity)
        sink.peer.withLock { $0 = WeakPeer(self) }
    }

    func start() {
        guard !steps.isEmpty else { return }
        let task = Task { [self] in await self.play() }
        state.withLock { $0.script = task }
        played.withLock { $0 = task }
    }

    private func play() async {
        for step in steps {
            if isEnded { return }
            switch step {
            case .wait(let d):
                do { try await clock.sleepFor(d) } catch { return }
            case .send(let f): send(f)
            case .burst(let f, let n): for _ in 0..<n { send(f) }
            case .trickle(let bytes): trickle(bytes: bytes)
            case .ping: ping()
            case .close(let code, let reason): close(code, reason: reason)
            case .drop: drop()
            case .fail(let e): fail(e)
            }
        }
    }

    // MARK: - Driving the peer

    /// Whether the connection has ended (by either side).
    public var isEnded: Bool { state.withLock { $0.ending != nil } }

    /// How the connection ended, or `nil` while it is open.
    public var ending: Ending? { state.withLock { $0.ending } }

    /// Whether the peer answers pings with pongs; can be changed mid-connection.
    public var answersPings: Bool {
        get { state.withLock { $0.answersPings } }
        set { state.withLock { $0.answersPings = newValue } }
    }

    /// Delivers a data message to the client (ignored after the connection ended).
    public func send(_ frame: Frame) {
        guard !isEnded else { return }
        connection.activity.recordRead(bytes: frame.byteCount + 2, at: clock.nowNanos)
        producer.yield(InboundFrame(frame: frame, epoch: 1, received: .now()))
    }

    /// Records `bytes` of a message still arriving: activity without a delivered frame.
    public func trickle(bytes: Int) {
        guard !isEnded else { return }
        connection.activity.recordRead(bytes: bytes, at: clock.nowNanos)
    }

    /// Sends a ping; the client side answers with a pong (counted on its activity).
    public func ping() {
        guard !isEnded else { return }
        connection.activity.recordRead(bytes: 2, at: clock.nowNanos)
        connection.activity.recordPingReceived()
        connection.activity.recordPongSent()
    }

    /// Closes from the peer's side with a close frame.
    public func close(_ code: WSCloseCode, reason: String = "") {
        guard end(.peerClosed(code, reason)) else { return }
        // The lifecycle is final before the stream ends, so a reader of the ended stream
        // finds the cause there.
        connection.lifecycle.finish(LifecycleSnapshot(
            epoch: 1, state: .closed, lastDisconnect: .peerClosed(code: code, reason: reason)))
        if code.isClean {
            producer.finish()
        } else {
            producer.finish(throwing: WSError(
                .closedByPeer, "mock: peer closed with \(code)\(reason.isEmpty ? "" : " \"\(reason)\"")",
                closeCode: code, closeReason: reason))
        }
    }

    /// Drops the transport without a close frame (1006).
    public func drop() {
        let error = WSError(
            .connectionLost, "mock: connection \(attempt) lost without a close frame",
            closeCode: .abnormalClosure)
        guard end(.dropped) else { return }
        connection.lifecycle.finish(LifecycleSnapshot(epoch: 1, state: .closed, lastDisconnect: .error(error)))
        producer.finish(throwing: error)
    }

    /// Fails the inbound stream with `error`.
    public func fail(_ error: WSError) {
        guard end(.failed(error.code)) else { return }
        connection.lifecycle.finish(LifecycleSnapshot(epoch: 1, state: .closed, lastDisconnect: .error(error)))
        producer.finish(throwing: error)
    }

    // MARK: - What the client did

    /// The data messages the client sent, in order.
    public var received: [Frame] { state.withLock { $0.received } }

    /// The pings the client sent.
    public var pingsReceived: Int { state.withLock { $0.pingsReceived } }

    /// The code and reason the client closed with, if it did.
    public var clientClose: (code: WSCloseCode, reason: String)? {
        if case .clientClosed(let c, let r) = ending { return (c, r) }
        return nil
    }

    /// Suspends until the client has sent at least `count` data messages.
    public func waitForReceived(_ count: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.received.count >= count { return true }
                s.receivedWaiters.append((count, c))
                return false
            }
            if now { c.resume() }
        }
    }

    /// Suspends until the client has sent at least `count` pings.
    public func waitForPings(_ count: Int) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.pingsReceived >= count { return true }
                s.pingWaiters.append((count, c))
                return false
            }
            if now { c.resume() }
        }
    }

    /// Suspends until the script has played its last step (or stopped because the
    /// connection ended); returns at once for an empty script.
    public func waitForScript() async {
        await played.withLock { $0 }?.value
    }

    // MARK: - Client side (called by MockSink)

    fileprivate func clientSend(_ frame: Frame) throws {
        let waiters: [CheckedContinuation<Void, Never>]? = state.withLock { s in
            guard s.ending == nil else { return nil }
            s.received.append(frame)
            var ready: [CheckedContinuation<Void, Never>] = []
            s.receivedWaiters.removeAll { w in
                if s.received.count >= w.count { ready.append(w.c); return true }
                return false
            }
            return ready
        }
        guard let waiters else {
            throw WSError(.sinkClosed, "mock: send on connection \(attempt) after it ended")
        }
        for w in waiters { w.resume() }
    }

    fileprivate func clientPing() throws {
        let answer: (pong: Bool, ready: [CheckedContinuation<Void, Never>])? = state.withLock { s in
            guard s.ending == nil else { return nil }
            s.pingsReceived += 1
            var ready: [CheckedContinuation<Void, Never>] = []
            s.pingWaiters.removeAll { w in
                if s.pingsReceived >= w.count { ready.append(w.c); return true }
                return false
            }
            return (s.answersPings, ready)
        }
        guard let answer else {
            throw WSError(.sinkClosed, "mock: ping on connection \(attempt) after it ended")
        }
        for w in answer.ready { w.resume() }
        let pong = answer.pong
        if pong {
            connection.activity.recordRead(bytes: 2, at: clock.nowNanos)
            connection.activity.recordPongReceived(at: clock.nowNanos)
        }
    }

    /// The client's close: at once when the peer answers close frames, otherwise after the
    /// request's close timeout on the mock's clock (the peer is silent; a real client gives up
    /// waiting then). An abort during the wait ends the connection first.
    fileprivate func clientClose(_ code: WSCloseCode, _ reason: String) async {
        if !state.withLock({ $0.answersClose }), !isEnded {
            try? await clock.sleepFor(request.config.closeTimeout)
        }
        clientClosed(code, reason)
    }

    private func clientClosed(_ code: WSCloseCode, _ reason: String) {
        guard end(.clientClosed(code, reason)) else { return }
        connection.lifecycle.finish(LifecycleSnapshot(
            epoch: 1, state: .closed, lastDisconnect: .localClose(code: code, reason: reason)))
        producer.finish()
    }

    fileprivate func clientAbort() {
        guard end(.clientAborted) else { return }
        connection.lifecycle.finish(LifecycleSnapshot(
            epoch: 1, state: .closed, lastDisconnect: .localClose(code: .abnormalClosure, reason: "aborted")))
        producer.finish()
    }

    /// Marks the connection ended; returns `false` if it already was.
    private func end(_ how: Ending) -> Bool {
        let (first, script): (Bool, Task<Void, Never>?) = state.withLock { s in
            guard s.ending == nil else { return (false, nil) }
            s.ending = how
            defer { s.script = nil }
            return (true, s.script)
        }
        guard first else { return false }
        script?.cancel()
        onEnd()
        return true
    }
}

/// Breaks the reference cycle peer → connection → sink → peer.
struct WeakPeer: Sendable {
    weak var peer: MockPeer?
    init(_ peer: MockPeer) { self.peer = peer }
}

/// The client-side sink of a mock connection.
final class MockSink: WSSink {
    let peer = Mutex<WeakPeer?>(nil)

    private func target() throws -> MockPeer {
        guard let p = peer.withLock({ $0?.peer }) else {
            throw WSError(.sinkClosed, "mock: the connection no longer exists")
        }
        return p
    }

    func send(_ frame: Frame) async throws { try target().clientSend(frame) }

    func sendPing(_ payload: [UInt8]) async throws { try target().clientPing() }

    func close(code: WSCloseCode, reason: String) async {
        await (try? target())?.clientClose(code, reason)
    }

    func abort() async {
        (try? target())?.clientAbort()
    }
}
