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
    ///
    /// - Parameter observer: Called with every lifecycle edge (see
    ///   ``WireTapeCore/Watch/observeEdges(_:)``: none skipped, in order, on the publisher's
    ///   thread, so hand each edge on and return). It is registered before the session starts,
    ///   so its first edge is `connecting` in epoch 0, whatever the session does next; observing
    ///   ``ReconnectingConnection/lifecycle`` after this returns may miss edges published in
    ///   between.
    public func connect(
        _ request: ConnectRequest, observingEdges observer: (@Sendable (LifecycleSnapshot) -> Void)? = nil
    ) -> ReconnectingConnection {
        ReconnectingConnection(
            inner: inner, request: request, config: config, time: time, random: random, observer: observer)
    }
}

/// A session that survives reconnects: one inbound sequence, one sink, one lifecycle watch,
/// and a control handle.
///
/// - ``inbound``: frames from every epoch, in order, each stamped with its epoch.
/// - ``sink``: sends on the current connection (see ``DisconnectedSendPolicy`` for the gaps).
/// - ``lifecycle``: snapshots whose ``WireTapeCore/LifecycleSnapshot/epoch`` grows by one per
///   successful connect. ``WireTapeCore/LifecycleSnapshot/lastDisconnect`` is set on
///   `reconnecting` (why the last connection or attempt ended) and on the terminal `closed`
///   or `unrecoverable` (why the session ended), and is `nil` on the other states. Ends at
///   `closed` or `unrecoverable`.
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

    init(
        inner: any WSConnector, request: ConnectRequest, config: ReconnectConfig, time: TimeSource,
        random: RandomSource, observer: (@Sendable (LifecycleSnapshot) -> Void)? = nil
    ) {
        let book = LifecycleBook()
        if let observer { book.watch.observeEdges(observer) }
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

/// The thin effectful shell around ``SupervisorStateMachine``: one loop over a mailbox of
/// events that asks the machine what to do and carries its actions out. It holds the
/// objects the machine names by number (attempt tasks, transports, timers); only the loop
/// touches them, other tasks only post events.
final class Supervisor: Sendable {
    typealias Machine = SupervisorStateMachine<RandomSource.Generator>

    enum Event: Sendable {
        case timer(Machine.TimerEvent)
        case connectResult(attempt: Int, Result<WSConnection, any Error>)
        case inboundEnded(epoch: UInt64, DisconnectCause)
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

    /// One adopted transport (one epoch).
    struct Live {
        let connection: WSConnection
        let progress: ProgressTracker
        let target: ReconnectingSink.Target
        /// Signalled when the transport's inbound stream ended (its last frame is buffered).
        let ended: OneShot
    }

    /// The loop's private state: owned by the one task running ``run()``.
    struct Loop {
        var machine: Machine
        var connectTasks: [Int: Task<Void, Never>] = [:]
        /// Connections of finished attempts, until the machine adopts or discards them.
        var finished: [Int: WSConnection] = [:]
        var live: [UInt64: Live] = [:]
        var timers: [Machine.Timer: Task<Void, Never>] = [:]
    }

    func run() async {
        var loop = Loop(machine: Machine(
            config: config, url: request.url.redactedDescription, random: RandomSource.Generator(source: random)))
        await perform(loop.machine.start(now: time.now()), &loop)
        while !loop.machine.isEnded {
            let event = await mailbox.next()
            await perform(decide(event, &loop), &loop)
        }
        for t in loop.timers.values { t.cancel() }
        for t in loop.timers.values { await t.value }
    }

    /// Feeds one event to the machine.
    private func decide(_ event: Event, _ loop: inout Loop) -> [Machine.Action] {
        let now = time.now()
        switch event {
        case .timer(.attemptDue(let generation)):
            return loop.machine.attemptDue(generation: generation, now: now)
        case .timer(.attemptTimedOut(let attempt)):
            return loop.machine.attemptTimedOut(attempt: attempt, now: now)
        case .timer(.livenessCheck(let epoch, let generation)):
            guard let live = loop.live[epoch] else { return [] }
            return loop.machine.livenessCheck(
                epoch: epoch, generation: generation, observation: live.progress.observation(live.connection.activity),
                now: now)
        case .connectResult(let attempt, .success(let connection)):
            loop.connectTasks[attempt] = nil
            loop.finished[attempt] = connection
            let activity = connection.activity
            return loop.machine.connectSucceeded(
                attempt: attempt, now: now,
                observation: LivenessMachine.Observation(
                    bytesRead: activity.bytesRead, pongsReceived: activity.pongsReceived))
        case .connectResult(let attempt, .failure(let error)):
            loop.connectTasks[attempt] = nil
            return loop.machine.connectFailed(attempt: attempt, error: error, now: now)
        case .inboundEnded(let epoch, let cause):
            return loop.machine.inboundEnded(epoch: epoch, cause: cause, now: now)
        case .messageWhileStale(let epoch):
            return loop.machine.messageWhileStale(epoch: epoch, now: now)
        case .forceReconnect:
            return loop.machine.forceReconnect(now: now)
        case .shutdown(let code, let reason):
            return loop.machine.shutdown(code: code, reason: reason, now: now)
        }
    }

    /// Carries actions out in order; a finished close feeds the machine, whose actions follow.
    private func perform(_ actions: [Machine.Action], _ loop: inout Loop) async {
        var queue = actions
        var i = 0
        while i < queue.count {
            let followUp = await perform(queue[i], &loop)
            queue.append(contentsOf: followUp)
            i += 1
        }
    }

    private func perform(_ action: Machine.Action, _ loop: inout Loop) async -> [Machine.Action] {
        switch action {
        case .startAttempt(let attempt):
            let inner = self.inner
            let request = self.request
            let mailbox = self.mailbox
            loop.connectTasks[attempt] = Task {
                let result: Result<WSConnection, any Error>
                do { result = .success(try await inner.connect(request)) } catch { result = .failure(error) }
                mailbox.post(.connectResult(attempt: attempt, result))
            }
        case .cancelAttempt(let attempt):
            loop.connectTasks[attempt]?.cancel()
        case .discard(let attempt, let code, let reason):
            if let c = loop.finished.removeValue(forKey: attempt) { await c.sink.close(code: code, reason: reason) }
        case .adopt(let attempt, let epoch):
            guard let c = loop.finished.removeValue(forKey: attempt) else { break }
            let target = ReconnectingSink.Target(sink: c.sink, activity: c.activity, epoch: epoch)
            info.withLock { $0 = c.info }
            // The sink is attached before `connected` is published, so an adapter that reacts
            // to the new epoch by resubscribing finds it ready.
            sink.attach(target)
            loop.live[epoch] = Live(connection: c, progress: ProgressTracker(), target: target, ended: OneShot())
        case .startInbound(let epoch):
            if let live = loop.live[epoch] { startInbound(live, epoch: epoch) }
        case .detach:
            sink.detach()
            info.withLock { $0 = nil }
        case .closeTransport(let epoch, let code, let reason):
            if let live = loop.live.removeValue(forKey: epoch) {
                await live.connection.sink.close(code: code, reason: reason)
                await live.ended.wait()  // every frame of this epoch is buffered before the next epoch's
            }
            return loop.machine.transportClosed(epoch: epoch, now: time.now())
        case .abortTransport(let epoch):
            if let live = loop.live.removeValue(forKey: epoch) {
                await live.connection.sink.abort()
                await live.ended.wait()
            }
            return loop.machine.transportClosed(epoch: epoch, now: time.now())
        case .setStale(let epoch, let stale):
            loop.live[epoch]?.progress.stale.store(stale, ordering: .releasing)
        case .probe(let epoch):
            if let live = loop.live[epoch] { await sink.probe(live.target) }
        case .publish(let status):
            book.update {
                $0.epoch = status.epoch
                $0.state = status.state
                $0.reconnects = status.reconnects
                $0.failedAttempts = status.failedAttempts
                $0.lastDisconnect = status.cause
            }
        case .schedule(let event, let deadline):
            loop.timers[event.timer]?.cancel()
            loop.timers[event.timer] = timer(at: deadline, .timer(event))
        case .cancelTimer(let kind):
            loop.timers[kind]?.cancel()
        case .terminateSink(let error):
            sink.terminate(error)
        case .finish(let inboundError, let sinkError):
            sink.terminate(sinkError)
            inbound.finish(throwing: inboundError)
        }
        return []
    }

    /// Lets the transport's inbound stream hand its frames straight to the stable buffer, on
    /// the transport's own thread (no task per epoch, no hop per frame), stamping the epoch
    /// and noting progress for the liveness check.
    private func startInbound(_ live: Live, epoch: UInt64) {
        let inbound = self.inbound
        let mailbox = self.mailbox
        let time = self.time
        let progress = live.progress
        let connection = live.connection
        let ended = live.ended
        connection.inbound.divert(
            to: { frames in
                progress.messageArrived(at: time.now(), bytesRead: connection.activity.bytesRead)
                inbound.push(contentsOf: frames, epoch: epoch)
                if progress.stale.load(ordering: .relaxed),
                    progress.stale.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing)
                        .exchanged
                {
                    mailbox.post(.messageWhileStale(epoch: epoch))
                }
            },
            onEnd: { error in
                let cause: DisconnectCause =
                    error.map { .error($0) } ?? connection.lifecycle.current.lastDisconnect
                    ?? .peerClosed(code: .normalClosure, reason: "")
                ended.signal()
                mailbox.post(.inboundEnded(epoch: epoch, cause))
            })
    }

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
}
