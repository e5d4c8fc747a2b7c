import Synchronization
import WireTapeCore

/// Wraps any ``WireTapeCore/WSConnector`` and keeps a session alive across disconnects.
///
/// ``connect(_:)`` returns a ``ReconnectingConnection`` at once, in state `connecting`; a
/// supervisor task owned by that connection then connects, reconnects with capped
/// exponential backoff, gives up on permanent failures, probes idle connections, bounds the
/// inbound backlog and paces sends, all as configured in ``ReconnectConfig``. Everything
/// that waits goes through the injected clock, and jitter draws from the injected random
/// number generator, so tests with a manual clock and a seeded generator are exact.
///
/// ```swift
/// let connector = ReconnectingConnector(wrapping: NIOConnector(), config: ReconnectConfig())
/// let connection = connector.connect(ConnectRequest(url: try WSURL("wss://stream.binance.com:9443/ws")))
/// for try await frame in connection.inbound { handle(frame) }
/// await connection.shutdown()
/// ```
public struct ReconnectingConnector: Sendable {
    /// The wrapped connector; called once per attempt.
    public let inner: any WSConnector
    /// The policies.
    public let config: ReconnectConfig
    private let time: TimeSource
    private let random: RandomSource

    /// Creates a reconnecting connector.
    /// - Parameters:
    ///   - inner: The connector that opens each transport (NIO, mock, replay).
    ///   - config: The policies.
    ///   - clock: The clock every wait uses (`ContinuousClock()` in production).
    ///   - random: The source of backoff jitter.
    public init<C: Clock, R: RandomNumberGenerator & Sendable>(
        wrapping inner: any WSConnector, config: ReconnectConfig = ReconnectConfig(), clock: C, random: R
    ) where C.Duration == Duration {
        self.inner = inner
        self.config = config
        self.time = TimeSource(clock)
        self.random = RandomSource(random)
    }

    /// Creates a reconnecting connector with jitter from the system generator.
    public init<C: Clock>(wrapping inner: any WSConnector, config: ReconnectConfig = ReconnectConfig(), clock: C)
    where C.Duration == Duration {
        self.init(wrapping: inner, config: config, clock: clock, random: SystemRandomNumberGenerator())
    }

    /// Creates a reconnecting connector on a `ContinuousClock` with system jitter.
    public init(wrapping inner: any WSConnector, config: ReconnectConfig = ReconnectConfig()) {
        self.init(wrapping: inner, config: config, clock: ContinuousClock())
    }

    /// Starts a session to `request.url` and returns its connection at once.
    ///
    /// The request, including its ``WireTapeCore/AuthSource``, is passed to the wrapped
    /// connector on every attempt, so credentials are fetched afresh each time. Call
    /// ``ReconnectingConnection/shutdown(code:reason:)`` when done: it ends the supervisor
    /// task that this call starts.
    public func connect(_ request: ConnectRequest) -> ReconnectingConnection {
        ReconnectingConnection(inner: inner, request: request, config: config, time: time, random: random)
    }
}

/// A session that survives reconnects: one inbound sequence, one sink, one lifecycle watch,
/// and a control handle.
///
/// - ``inbound``: frames from every epoch, in order, each stamped with its epoch.
/// - ``sink``: sends on the current connection (see ``DisconnectedSendPolicy`` for the gaps).
/// - ``lifecycle``: snapshots whose ``WireTapeCore/LifecycleSnapshot/epoch`` grows by one per
///   successful connect and whose ``WireTapeCore/LifecycleSnapshot/lastDisconnect`` says why
///   the last connection or attempt ended. Ends at `closed` or `unrecoverable`.
/// - ``forceReconnect()`` and ``shutdown(code:reason:)``.
///
/// Adapters replay their subscriptions when a new epoch appears:
/// ```swift
/// for await s in connection.lifecycle.updates() where s.state == .connected {
///     try await connection.sink.send(.text(#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#))
/// }
/// ```
public final class ReconnectingConnection: Sendable {
    /// The inbound frames of every epoch.
    public let inbound: ReconnectingInbound
    /// The stable sink.
    public let sink: ReconnectingSink
    /// The lifecycle watch.
    public let lifecycle: LifecycleWatch

    private let supervisor: Supervisor
    private let task: Mutex<Task<Void, Never>?>

    init(inner: any WSConnector, request: ConnectRequest, config: ReconnectConfig, time: TimeSource, random: RandomSource) {
        let book = LifecycleBook()
        let mailbox = Mailbox<Supervisor.Event>()
        let inbound = ReconnectingInbound(policy: config.buffer) { frames, bytes in
            book.addLag(frames: frames, bytes: bytes)
        }
        let sink = ReconnectingSink(policy: config.whileDisconnected, rateLimit: config.rateLimit, time: time) {
            code, reason in
            mailbox.post(.shutdown(code, reason))
            // Waiting for the end is done by the connection's shutdown(); a sink close only
            // needs to have been requested and then observed as terminal.
            for await s in book.watch.updates() where s.state.isTerminal { break }
        }
        self.inbound = inbound
        self.sink = sink
        self.lifecycle = book.watch
        let supervisor = Supervisor(
            inner: inner, request: request, config: config, time: time, random: random, book: book,
            mailbox: mailbox, inbound: inbound, sink: sink)
        self.supervisor = supervisor
        self.task = Mutex(Task { await supervisor.run() })
    }

    /// Releasing the connection without ``shutdown(code:reason:)`` still stops its
    /// supervisor (closing with 1001 "going away"); call `shutdown` to wait for that.
    deinit {
        supervisor.mailbox.post(.shutdown(.goingAway, "connection released"))
    }

    /// The latest lifecycle snapshot.
    public var snapshot: LifecycleSnapshot { lifecycle.current }

    /// What the sink did with every send so far.
    public var sendStats: SendStats { sink.stats }

    /// What the current connection's handshake negotiated; `nil` while disconnected.
    public var currentInfo: ConnectionInfo? { supervisor.currentInfo }

    /// Ends the current connection (or the current backoff wait) and connects again.
    ///
    /// The old socket is closed (1000, "forced reconnect") and its close completes before the
    /// new attempt starts, so two sockets are never live at once; the epoch advances exactly
    /// once, when the new connection is up. While an attempt is already in flight this does
    /// nothing (that attempt is the reconnect). The attempt-window cap still applies.
    /// Returns at once; watch ``lifecycle`` for the new epoch.
    public func forceReconnect() {
        supervisor.mailbox.post(.forceReconnect)
    }

    /// Closes the connection gracefully and stops reconnecting; returns when the final state
    /// `closed` is published (or at once if the session already ended).
    ///
    /// An attempt in flight is cancelled, a backoff wait ends at once, waiting sends throw
    /// ``WireTapeCore/WSError/Code/sinkClosed``, and ``inbound`` ends after the buffered frames.
    public func shutdown(code: WSCloseCode = .normalClosure, reason: String = "") async {
        supervisor.mailbox.post(.shutdown(code, reason))
        let t = task.withLock { $0 }
        await t?.value
    }

    /// Waits until the session ended (`closed` or `unrecoverable`) and returns the terminal snapshot.
    @discardableResult
    public func waitUntilEnded() async -> LifecycleSnapshot {
        let t = task.withLock { $0 }
        await t?.value
        return lifecycle.current
    }
}

/// The thin effectful shell: one loop over a mailbox of events, applying the pure policies
/// (``Backoff``, ``AttemptWindow``, ``CircuitBreaker``, ``LivenessMachine``) and doing what
/// they decide. Only the loop mutates its `Loop` state; other tasks only post events.
final class Supervisor: Sendable {
    enum Event: Sendable {
        case attemptDue(generation: UInt64)
        case connectResult(attempt: Int, Result<WSConnection, any Error>)
        case attemptTimedOut(attempt: Int)
        case inboundEnded(epoch: UInt64, DisconnectCause)
        case livenessCheck(epoch: UInt64, generation: UInt64)
        case messageWhileStale(epoch: UInt64)
        case forceReconnect
        case shutdown(WSCloseCode, String)
    }

    let inner: any WSConnector
    let request: ConnectRequest
    let config: ReconnectConfig
    let time: TimeSource
    let random: RandomSource
    let book: LifecycleBook
    let mailbox: Mailbox<Event>
    let inbound: ReconnectingInbound
    let sink: ReconnectingSink
    private let info = Mutex<ConnectionInfo?>(nil)

    init(
        inner: any WSConnector, request: ConnectRequest, config: ReconnectConfig, time: TimeSource,
        random: RandomSource, book: LifecycleBook, mailbox: Mailbox<Event>, inbound: ReconnectingInbound,
        sink: ReconnectingSink
    ) {
        self.inner = inner
        self.request = request
        self.config = config
        self.time = time
        self.random = random
        self.book = book
        self.mailbox = mailbox
        self.inbound = inbound
        self.sink = sink
    }

    var currentInfo: ConnectionInfo? { info.withLock { $0 } }

    /// One established connection (one epoch).
    struct Live {
        let epoch: UInt64
        let connection: WSConnection
        let pump: Task<Void, Never>
        let connectedAt: Duration
        let progress: ProgressTracker
        var liveness: LivenessMachine?
        var target: ReconnectingSink.Target
    }

    enum Phase {
        /// Waiting for the next attempt (initial, backoff, or attempt-window wait).
        case idle
        case connecting(attempt: Int)
        case connected(Live)
        case ended
    }

    /// The loop's private state: owned by the one task running ``run()``.
    struct Loop {
        var phase: Phase = .idle
        var backoff: Backoff
        var window: AttemptWindow
        var breaker: CircuitBreaker
        var attempt = 0
        var epoch: UInt64 = 0
        /// The task of the attempt in flight or abandoned but not yet finished.
        var connectTask: Task<Void, Never>?
        var connectTaskAttempt = 0
        var attemptWanted = false
        var dueTimer: Task<Void, Never>?
        var dueGeneration: UInt64 = 0
        var timeoutTimer: Task<Void, Never>?
        var livenessTimer: Task<Void, Never>?
        var livenessGeneration: UInt64 = 0
    }

    func run() async {
        var loop = Loop(
            backoff: Backoff(policy: config.backoff), window: AttemptWindow(policy: config.attemptWindow),
            breaker: CircuitBreaker(policy: config.breaker))
        startAttempt(&loop)
        while true {
            if case .ended = loop.phase { break }
            let event = await mailbox.next()
            await handle(event, &loop)
        }
        loop.dueTimer?.cancel()
        loop.timeoutTimer?.cancel()
        loop.livenessTimer?.cancel()
        for t in [loop.dueTimer, loop.timeoutTimer, loop.livenessTimer] { await t?.value }
    }

    // MARK: Events

    private func handle(_ event: Event, _ loop: inout Loop) async {
        switch event {
        case .attemptDue(let generation):
            guard case .idle = loop.phase, generation == loop.dueGeneration else { return }
            loop.dueTimer = nil
            startAttempt(&loop)

        case .connectResult(let attempt, let result):
            if attempt == loop.connectTaskAttempt { loop.connectTask = nil }
            guard case .connecting(let current) = loop.phase, current == attempt else {
                // An abandoned attempt (timed out) finished after all: never keep its socket.
                if case .success(let c) = result {
                    await c.sink.close(code: .goingAway, reason: "attempt abandoned")
                }
                if loop.attemptWanted, case .idle = loop.phase {
                    loop.attemptWanted = false
                    startAttempt(&loop)
                }
                return
            }
            loop.timeoutTimer?.cancel()
            loop.timeoutTimer = nil
            switch result {
            case .success(let connection): connected(connection, &loop)
            case .failure(let error): attemptFailed(error, &loop)
            }

        case .attemptTimedOut(let attempt):
            guard case .connecting(let current) = loop.phase, current == attempt else { return }
            loop.timeoutTimer = nil
            loop.connectTask?.cancel()
            let limit = config.attemptTimeout.map { "\($0)" } ?? "?"
            attemptFailed(
                WSError(
                    .connectTimeout,
                    "no connection to \(request.url.redactedDescription) within the attempt timeout of \(limit)"),
                &loop)

        case .inboundEnded(let epoch, let cause):
            guard case .connected(let live) = loop.phase, live.epoch == epoch else { return }
            await endEpoch(live, cause: cause, closeWith: nil, &loop)
            afterEpoch(cause: cause, &loop)

        case .livenessCheck(let epoch, let generation):
            guard case .connected(var live) = loop.phase, live.epoch == epoch,
                generation == loop.livenessGeneration, var machine = live.liveness
            else { return }
            loop.livenessTimer = nil
            let action = machine.check(now: time.now(), observation: live.progress.observation(live.connection.activity))
            live.liveness = machine
            loop.phase = .connected(live)
            switch action {
            case .checkAt(let t):
                scheduleLiveness(at: t, epoch: epoch, &loop)
            case .markStaleAndPing(let t):
                live.progress.stale.store(true, ordering: .releasing)
                book.update { $0.state = .stale }
                await sink.probe(live.target)
                scheduleLiveness(at: t, epoch: epoch, &loop)
            case .markResumed(let t):
                live.progress.stale.store(false, ordering: .releasing)
                book.update { $0.state = .resumed }
                scheduleLiveness(at: t, epoch: epoch, &loop)
            case .expire:
                let error = WSError(
                    .livenessTimeout,
                    "nothing arrived from \(request.url.redactedDescription) for \(machine.idleTimeout) and the ping "
                        + "probe got no answer within \(machine.pongTimeout); reconnecting")
                let cause = DisconnectCause.error(error)
                await endEpoch(live, cause: cause, closeWith: (.goingAway, "liveness timeout"), &loop)
                afterEpoch(cause: cause, &loop)
            }

        case .messageWhileStale(let epoch):
            guard case .connected(var live) = loop.phase, live.epoch == epoch, var machine = live.liveness else {
                return
            }
            if machine.messageArrived(at: time.now()) {
                live.progress.stale.store(false, ordering: .releasing)
                book.update { $0.state = .resumed }
            }
            live.liveness = machine
            loop.phase = .connected(live)

        case .forceReconnect:
            switch loop.phase {
            case .connected(let live):
                let cause = DisconnectCause.localClose(code: .normalClosure, reason: "forced reconnect")
                await endEpoch(live, cause: cause, closeWith: (.normalClosure, "forced reconnect"), &loop)
                book.update {
                    $0.state = .reconnecting
                    $0.lastDisconnect = cause
                }
                startAttempt(&loop)
            case .idle:
                loop.dueTimer?.cancel()
                loop.dueTimer = nil
                loop.dueGeneration += 1
                startAttempt(&loop)
            case .connecting, .ended:
                break  // the attempt in flight is the reconnect; or nothing left to do
            }

        case .shutdown(let code, let reason):
            await shutdown(code: code, reason: reason, &loop)
        }
    }

    // MARK: Attempts

    private func startAttempt(_ loop: inout Loop) {
        guard case .idle = loop.phase else { return }
        if loop.connectTask != nil {
            // The previous (abandoned) attempt has not finished: wait for it, so that two
            // sockets are never open at once.
            loop.attemptWanted = true
            return
        }
        let now = time.now()
        if case .waitUntil(let t) = loop.window.admit(at: now) {
            scheduleDue(at: t, &loop)
            return
        }
        loop.window.record(at: now)
        loop.attempt += 1
        let attempt = loop.attempt
        loop.phase = .connecting(attempt: attempt)
        book.update { $0.state = .connecting }
        let inner = self.inner
        let request = self.request
        let mailbox = self.mailbox
        loop.connectTaskAttempt = attempt
        loop.connectTask = Task {
            let result: Result<WSConnection, any Error>
            do { result = .success(try await inner.connect(request)) } catch { result = .failure(error) }
            mailbox.post(.connectResult(attempt: attempt, result))
        }
        if let limit = config.attemptTimeout {
            loop.timeoutTimer = timer(at: now + limit, .attemptTimedOut(attempt: attempt))
        }
    }

    private func attemptFailed(_ error: any Error, _ loop: inout Loop) {
        let wsError = (error as? WSError)
            ?? WSError(.ioError, "connecting to \(request.url.redactedDescription) failed: \(error)", underlying: error)
        let decision = loop.breaker.attemptFailed(wsError, at: time.now())
        loop.phase = .idle
        retry(decision, cause: .error(wsError), failedAttempt: true, &loop)
    }

    private func connected(_ connection: WSConnection, _ loop: inout Loop) {
        loop.epoch += 1
        let epoch = loop.epoch
        let now = time.now()
        let progress = ProgressTracker()
        let target = ReconnectingSink.Target(sink: connection.sink, activity: connection.activity, epoch: epoch)
        info.withLock { $0 = connection.info }
        // The sink is attached before `connected` is published, so an adapter that reacts
        // to the new epoch by resubscribing finds it ready.
        sink.attach(target)
        book.update {
            $0.epoch = epoch
            $0.state = .connected
            if epoch > 1 { $0.reconnects += 1 }
        }
        let pump = startPump(connection, epoch: epoch, progress: progress)
        var liveness: LivenessMachine? = nil
        if let idle = config.keepalive.idleTimeout {
            liveness = LivenessMachine(
                idleTimeout: idle, pongTimeout: config.keepalive.pongTimeout, start: now,
                observation: progress.observation(connection.activity))
        }
        loop.phase = .connected(Live(
            epoch: epoch, connection: connection, pump: pump, connectedAt: now, progress: progress,
            liveness: liveness, target: target))
        if let liveness { scheduleLiveness(at: liveness.firstCheck, epoch: epoch, &loop) }
    }

    /// Moves frames from one transport into the stable inbound buffer, stamping the epoch.
    private func startPump(_ connection: WSConnection, epoch: UInt64, progress: ProgressTracker) -> Task<Void, Never> {
        let inbound = self.inbound
        let mailbox = self.mailbox
        let time = self.time
        let url = request.url.redactedDescription
        return Task {
            let source = connection.inbound
            var frames = source.makeAsyncIterator()
            // Frames already queued in the transport are moved in small batches: one clock
            // reading and one buffer lock per batch instead of per frame.
            var batch: [InboundFrame] = []
            batch.reserveCapacity(64)
            func flush() {
                guard !batch.isEmpty else { return }
                progress.messageArrived(at: time.now(), bytesRead: connection.activity.bytesRead)
                inbound.push(contentsOf: batch)
                batch.removeAll(keepingCapacity: true)
                if progress.stale.load(ordering: .relaxed),
                    progress.stale.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing)
                        .exchanged
                {
                    mailbox.post(.messageWhileStale(epoch: epoch))
                }
            }
            let cause: DisconnectCause
            do {
                while var frame = try await frames.next() {
                    frame.epoch = epoch
                    batch.append(frame)
                    while batch.count < 64, source.queuedFrameCount > 0, var more = try await frames.next() {
                        more.epoch = epoch
                        batch.append(more)
                    }
                    flush()
                }
                cause = connection.lifecycle.current.lastDisconnect
                    ?? .peerClosed(code: .normalClosure, reason: "")
            } catch let error as WSError {
                flush()
                cause = .error(error)
            } catch {
                flush()
                cause = .error(WSError(.ioError, "reading from \(url) failed: \(error)", underlying: error))
            }
            mailbox.post(.inboundEnded(epoch: epoch, cause))
        }
    }

    /// Ends the current epoch: senders go to waiting, the transport is closed and drained.
    private func endEpoch(
        _ live: Live, cause: DisconnectCause, closeWith: (WSCloseCode, String)?, _ loop: inout Loop
    ) async {
        sink.detach()
        info.withLock { $0 = nil }
        loop.livenessTimer?.cancel()
        loop.livenessTimer = nil
        loop.livenessGeneration += 1
        if let (code, reason) = closeWith {
            await live.connection.sink.close(code: code, reason: reason)
        } else {
            await live.connection.sink.close(code: .normalClosure, reason: "")  // idempotent release
        }
        await live.pump.value  // every frame of this epoch is buffered before the next epoch's
        loop.backoff.connectionEnded(afterUptime: time.now() - live.connectedAt)
        loop.phase = .idle
    }

    /// After an epoch ended on its own (peer, transport, liveness): decide and schedule.
    private func afterEpoch(cause: DisconnectCause, _ loop: inout Loop) {
        let decision = loop.breaker.connectionEnded(cause, at: time.now())
        retry(decision, cause: cause, failedAttempt: false, &loop)
    }

    /// Publishes the outcome of a failed attempt or ended epoch (state, cause and counter in
    /// one snapshot) and schedules the next attempt, or ends the session.
    private func retry(
        _ decision: CircuitBreaker.Decision, cause: DisconnectCause, failedAttempt: Bool, _ loop: inout Loop
    ) {
        switch decision {
        case .unrecoverable(let why):
            let error: WSError
            switch cause {
            case .error(let e): error = e
            case .peerClosed(let code, let reason):
                error = WSError(.closedByPeer, why, closeCode: code, closeReason: reason)
            case .localClose(let code, let reason):
                error = WSError(.closedByPeer, why, closeCode: code, closeReason: reason)
            }
            end(state: .unrecoverable, cause: cause, failedAttempt: failedAttempt, inboundError: error, sinkError: WSError(
                .sinkClosed, "the connection to \(request.url.redactedDescription) is unrecoverable: \(why)",
                underlying: error), &loop)
        case .retry(let minimum):
            var rng = RandomSource.Generator(source: random)
            var delay = loop.backoff.nextDelay(using: &rng)
            if let minimum, minimum > delay { delay = minimum }
            book.update {
                $0.state = .reconnecting
                $0.lastDisconnect = cause
                if failedAttempt { $0.failedAttempts += 1 }
            }
            scheduleDue(at: time.now() + delay, &loop)
        }
    }

    // MARK: Ending

    private func shutdown(code: WSCloseCode, reason: String, _ loop: inout Loop) async {
        let cause = DisconnectCause.localClose(code: code, reason: reason)
        let sinkError = WSError(.sinkClosed, "the connection to \(request.url.redactedDescription) was shut down")
        sink.terminate(sinkError)
        switch loop.phase {
        case .connected(let live):
            await endEpoch(live, cause: cause, closeWith: (code, reason), &loop)
        case .connecting:
            loop.connectTask?.cancel()
        case .idle, .ended:
            break
        }
        if case .ended = loop.phase { return }
        // An attempt in flight (or abandoned) may still produce a socket: close it before
        // declaring `closed`.
        if let t = loop.connectTask {
            t.cancel()
            await t.value
            loop.connectTask = nil
            while true {
                let e = await mailbox.next()
                if case .connectResult(let a, let result) = e, a == loop.connectTaskAttempt {
                    if case .success(let c) = result { await c.sink.close(code: code, reason: reason) }
                    break
                }
            }
        }
        end(state: .closed, cause: cause, failedAttempt: false, inboundError: nil, sinkError: sinkError, &loop)
    }

    private func end(
        state: ConnState, cause: DisconnectCause, failedAttempt: Bool, inboundError: WSError?, sinkError: WSError,
        _ loop: inout Loop
    ) {
        loop.dueTimer?.cancel()
        loop.timeoutTimer?.cancel()
        loop.livenessTimer?.cancel()
        loop.phase = .ended
        sink.terminate(sinkError)
        inbound.finish(throwing: inboundError)
        book.update {
            $0.state = state
            $0.lastDisconnect = cause
            if failedAttempt { $0.failedAttempts += 1 }
        }
    }

    // MARK: Timers

    private func timer(at deadline: Duration, _ event: Event) -> Task<Void, Never> {
        let time = self.time
        let mailbox = self.mailbox
        return Task {
            do {
                try await time.sleepUntil(deadline)
                mailbox.post(event)
            } catch {}  // cancelled: the event is no longer wanted
        }
    }

    private func scheduleDue(at t: Duration, _ loop: inout Loop) {
        loop.dueTimer?.cancel()
        loop.dueGeneration += 1
        loop.dueTimer = timer(at: t, .attemptDue(generation: loop.dueGeneration))
    }

    private func scheduleLiveness(at t: Duration, epoch: UInt64, _ loop: inout Loop) {
        loop.livenessTimer?.cancel()
        loop.livenessGeneration += 1
        loop.livenessTimer = timer(at: t, .livenessCheck(epoch: epoch, generation: loop.livenessGeneration))
    }
}
