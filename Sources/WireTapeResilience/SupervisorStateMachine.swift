import WireTapeCore

/// The decisions of a ``ReconnectingConnection``'s supervisor, as a pure state machine.
///
/// Events go in (an attempt is due, a connect succeeded or failed, an attempt timed out, an
/// epoch's inbound ended, a liveness check is due, a message arrived while stale, a forced
/// reconnect, a shutdown, a transport finished closing); ``Action`` values come out (start
/// or cancel an attempt, adopt or release a transport, close or abort it, probe it, publish
/// the status, schedule or cancel a timer, end the session). The machine combines the
/// policies ``Backoff``, ``AttemptWindow``, ``CircuitBreaker`` and ``LivenessMachine``,
/// owns the generation counters that make stale timer events harmless, never reads a clock
/// (`now` is a parameter of every event) and draws jitter from the generator it was given.
/// The supervisor task only carries actions out, in order.
///
/// Transports are named by attempt number (before they are adopted) and by epoch (after);
/// the shell keeps the objects. Closing a transport is the one action whose completion the
/// machine waits for: the shell reports it with ``transportClosed(epoch:now:)``.
struct SupervisorStateMachine<Random: RandomNumberGenerator> {
    /// The part of the lifecycle snapshot the machine decides (the lag counters are the
    /// inbound buffer's).
    struct Status: Sendable, Equatable, CustomStringConvertible {
        var epoch: UInt64 = 0
        var state: ConnState = .connecting
        var reconnects: UInt64 = 0
        var failedAttempts: UInt64 = 0
        /// Why the last connection or attempt ended; set only on `reconnecting`,
        /// `unrecoverable` and `closed`, where it is what the edge is about.
        var cause: DisconnectCause?

        static func == (a: Status, b: Status) -> Bool {
            a.epoch == b.epoch && a.state == b.state && a.reconnects == b.reconnects
                && a.failedAttempts == b.failedAttempts && a.cause?.description == b.cause?.description
        }

        var description: String {
            "\(state.rawValue)@\(epoch) r\(reconnects) f\(failedAttempts)" + (cause.map { " (\($0))" } ?? "")
        }
    }

    /// A timer the shell runs; one of each kind at a time (scheduling replaces the old one).
    enum Timer: Sendable, Hashable, CaseIterable {
        case attemptDue
        case attemptTimeout
        case liveness
    }

    /// The event a timer delivers when it fires.
    enum TimerEvent: Sendable, Hashable {
        case attemptDue(generation: UInt64)
        case attemptTimedOut(attempt: Int)
        case livenessCheck(epoch: UInt64, generation: UInt64)

        /// The timer slot this event belongs to.
        var timer: Timer {
            switch self {
            case .attemptDue: return .attemptDue
            case .attemptTimedOut: return .attemptTimeout
            case .livenessCheck: return .liveness
            }
        }
    }

    /// What the shell must do, in order.
    enum Action: Sendable, Equatable {
        /// Start connection attempt number `attempt` (a task that reports
        /// ``connectSucceeded(attempt:now:observation:)`` or ``connectFailed(attempt:error:now:)``).
        case startAttempt(Int)
        /// Cancel the task of attempt `attempt`; its result still arrives.
        case cancelAttempt(Int)
        /// Close the socket of attempt `attempt`, which will not be used (abandoned, or
        /// finished during shutdown).
        case discard(attempt: Int, code: WSCloseCode, reason: String)
        /// Make attempt `attempt`'s connection epoch `epoch`: note its info and attach the
        /// stable sink to it (before `connected` is published).
        case adopt(attempt: Int, epoch: UInt64)
        /// Start moving the epoch's frames into the stable inbound buffer (after `connected`
        /// is published); its end arrives as ``inboundEnded(epoch:cause:now:)``.
        case startInbound(epoch: UInt64)
        /// Detach the stable sink from the epoch's transport: senders wait or are rejected.
        case detach(epoch: UInt64)
        /// Close the epoch's transport with a handshake, wait until it and its inbound ended,
        /// then report ``transportClosed(epoch:now:)``.
        case closeTransport(epoch: UInt64, code: WSCloseCode, reason: String)
        /// Drop the epoch's transport at once (the peer is dead), wait until its inbound
        /// ended, then report ``transportClosed(epoch:now:)``.
        case abortTransport(epoch: UInt64)
        /// Set or clear the epoch's "probe outstanding" flag, which makes the next message
        /// report ``messageWhileStale(epoch:now:)``.
        case setStale(epoch: UInt64, Bool)
        /// Send one liveness ping on the epoch's transport.
        case probe(epoch: UInt64)
        /// Publish this status on the lifecycle watch (terminal states finish it).
        case publish(Status)
        /// Run a timer that delivers `event` at `deadline`, replacing the timer of its kind.
        case schedule(TimerEvent, at: Duration)
        /// Cancel the timer of this kind.
        case cancelTimer(Timer)
        /// Fail every waiting and later send with `error`.
        case terminateSink(WSError)
        /// End the stable inbound sequence after its buffered frames (throwing `error`, if
        /// any) and fail the sink with `sinkError`; the session is over.
        case finish(inboundError: WSError?, sinkError: WSError)

        static func == (a: Action, b: Action) -> Bool {
            switch (a, b) {
            case (.startAttempt(let x), .startAttempt(let y)), (.cancelAttempt(let x), .cancelAttempt(let y)):
                return x == y
            case (.discard(let a1, let c1, let r1), .discard(let a2, let c2, let r2)):
                return a1 == a2 && c1 == c2 && r1 == r2
            case (.adopt(let a1, let e1), .adopt(let a2, let e2)): return a1 == a2 && e1 == e2
            case (.startInbound(let x), .startInbound(let y)), (.detach(let x), .detach(let y)),
                (.abortTransport(let x), .abortTransport(let y)), (.probe(let x), .probe(let y)):
                return x == y
            case (.closeTransport(let e1, let c1, let r1), .closeTransport(let e2, let c2, let r2)):
                return e1 == e2 && c1 == c2 && r1 == r2
            case (.setStale(let e1, let s1), .setStale(let e2, let s2)): return e1 == e2 && s1 == s2
            case (.publish(let x), .publish(let y)): return x == y
            case (.schedule(let e1, let t1), .schedule(let e2, let t2)): return e1 == e2 && t1 == t2
            case (.cancelTimer(let x), .cancelTimer(let y)): return x == y
            case (.terminateSink(let x), .terminateSink(let y)): return same(x, y)
            case (.finish(let i1, let s1), .finish(let i2, let s2)):
                return (i1 == nil) == (i2 == nil) && (i1 == nil || same(i1!, i2!)) && same(s1, s2)
            default: return false
            }
        }

        private static func same(_ a: WSError, _ b: WSError) -> Bool {
            a.code == b.code && a.message == b.message && a.closeCode == b.closeCode
        }
    }

    /// One established connection.
    struct Epoch {
        let epoch: UInt64
        let connectedAt: Duration
        var liveness: LivenessMachine?
    }

    /// What follows once a closing transport is released.
    enum AfterClose {
        /// The epoch ended by itself (peer, transport, liveness): ask the breaker, back off.
        case retry(DisconnectCause)
        /// A forced reconnect: publish `reconnecting` and start an attempt at once.
        case reconnectNow(DisconnectCause)
        /// A shutdown: end in `closed`.
        case shutdown(WSCloseCode, String)
    }

    enum Phase {
        /// Waiting for the next attempt (initial, backoff, attempt-window wait, or for an
        /// abandoned attempt to finish).
        case idle
        /// Attempt `attempt` is in flight.
        case connecting(attempt: Int)
        /// An epoch is up.
        case connected(Epoch)
        /// The epoch's transport is being closed or aborted.
        case closing(Epoch, then: AfterClose)
        /// Shutting down; waiting for the result of attempt `attempt` to release its socket.
        case shuttingDown(attempt: Int, code: WSCloseCode, reason: String)
        /// The session is over.
        case ended
    }

    private(set) var phase: Phase = .idle
    /// The status last published (the watch starts at `connecting@0`).
    private(set) var status = Status()
    private var backoff: Backoff
    private var window: AttemptWindow
    private var breaker: CircuitBreaker
    private var random: Random
    private let keepalive: KeepalivePolicy
    private let attemptTimeout: Duration?
    private let url: String
    /// The last attempt number handed out.
    private(set) var attempt = 0
    /// The attempt whose task has not reported yet (in flight, or abandoned by a timeout).
    private(set) var attemptInFlight: Int?
    /// An attempt is due but waits for the abandoned one to finish (never two sockets at once).
    private(set) var attemptWanted = false
    /// Bumped on every (re)scheduled or cancelled attempt timer; an `attemptDue` event of an
    /// older generation is stale and ignored.
    private(set) var dueGeneration: UInt64 = 0
    /// The same for liveness checks.
    private(set) var livenessGeneration: UInt64 = 0

    /// Creates the machine in phase `idle`; call ``start(now:)`` next.
    /// - Parameters:
    ///   - config: The policies.
    ///   - url: The redacted URL, for error messages.
    ///   - random: The source of backoff jitter.
    init(config: ReconnectConfig, url: String, random: Random) {
        backoff = Backoff(policy: config.backoff)
        window = AttemptWindow(policy: config.attemptWindow)
        breaker = CircuitBreaker(policy: config.breaker)
        keepalive = config.keepalive
        attemptTimeout = config.attemptTimeout
        self.url = url
        self.random = random
    }

    /// Whether the session is over (the shell's loop stops).
    var isEnded: Bool {
        if case .ended = phase { return true }
        return false
    }

    // MARK: Events

    /// The session starts: the first attempt.
    mutating func start(now: Duration) -> [Action] {
        var actions: [Action] = []
        startAttempt(now: now, &actions)
        return actions
    }

    /// The attempt timer of `generation` fired.
    mutating func attemptDue(generation: UInt64, now: Duration) -> [Action] {
        guard case .idle = phase, generation == dueGeneration else { return [] }
        var actions: [Action] = []
        startAttempt(now: now, &actions)
        return actions
    }

    /// Attempt `attempt` connected; `observation` is its transport's activity at that moment.
    mutating func connectSucceeded(attempt: Int, now: Duration, observation: LivenessMachine.Observation) -> [Action] {
        var actions: [Action] = []
        guard connectFinished(attempt: attempt, succeeded: true, now: now, &actions) else { return actions }
        let epoch = status.epoch + 1
        actions.append(.adopt(attempt: attempt, epoch: epoch))
        var next = status
        next.epoch = epoch
        next.state = .connected
        if epoch > 1 { next.reconnects += 1 }
        publish(next, &actions)
        actions.append(.startInbound(epoch: epoch))
        let liveness = keepalive.idleTimeout.map {
            LivenessMachine(idleTimeout: $0, pongTimeout: keepalive.pongTimeout, start: now, observation: observation)
        }
        phase = .connected(Epoch(epoch: epoch, connectedAt: now, liveness: liveness))
        if let liveness { scheduleLiveness(at: liveness.firstCheck, epoch: epoch, &actions) }
        return actions
    }

    /// Attempt `attempt` failed with `error`.
    mutating func connectFailed(attempt: Int, error: any Error, now: Duration) -> [Action] {
        var actions: [Action] = []
        guard connectFinished(attempt: attempt, succeeded: false, now: now, &actions) else { return actions }
        attemptFailed(error, now: now, &actions)
        return actions
    }

    /// The attempt timeout of attempt `attempt` fired.
    mutating func attemptTimedOut(attempt: Int, now: Duration) -> [Action] {
        guard case .connecting(let current) = phase, current == attempt else { return [] }
        var actions: [Action] = [.cancelAttempt(attempt)]
        let limit = attemptTimeout.map { "\($0)" } ?? "?"
        attemptFailed(
            WSError(.connectTimeout, "no connection to \(url) within the attempt timeout of \(limit)"), now: now,
            &actions)
        return actions
    }

    /// The inbound stream of `epoch` ended with `cause`.
    mutating func inboundEnded(epoch: UInt64, cause: DisconnectCause, now: Duration) -> [Action] {
        guard case .connected(let live) = phase, live.epoch == epoch else { return [] }
        var actions: [Action] = []
        endEpoch(live, abort: false, code: .normalClosure, reason: "", then: .retry(cause), &actions)
        return actions
    }

    /// The liveness timer of `generation` fired for `epoch`; `observation` is the transport's
    /// activity now.
    mutating func livenessCheck(
        epoch: UInt64, generation: UInt64, observation: LivenessMachine.Observation, now: Duration
    ) -> [Action] {
        guard case .connected(var live) = phase, live.epoch == epoch, generation == livenessGeneration,
            var machine = live.liveness
        else { return [] }
        let decision = machine.check(now: now, observation: observation)
        live.liveness = machine
        phase = .connected(live)
        var actions: [Action] = []
        switch decision {
        case .checkAt(let t):
            scheduleLiveness(at: t, epoch: epoch, &actions)
        case .markStaleAndPing(let t):
            actions.append(.setStale(epoch: epoch, true))
            var next = status
            next.state = .stale
            publish(next, &actions)
            actions.append(.probe(epoch: epoch))
            scheduleLiveness(at: t, epoch: epoch, &actions)
        case .markResumed(let t):
            actions.append(.setStale(epoch: epoch, false))
            var next = status
            next.state = .resumed
            publish(next, &actions)
            scheduleLiveness(at: t, epoch: epoch, &actions)
        case .expire:
            let error = WSError(
                .livenessTimeout,
                "nothing arrived from \(url) for \(machine.idleTimeout) and the ping probe got no answer within "
                    + "\(machine.pongTimeout); reconnecting")
            // The peer is known dead: its close frame would only be waited for in vain.
            endEpoch(live, abort: true, code: .goingAway, reason: "liveness timeout", then: .retry(.error(error)), &actions)
        }
        return actions
    }

    /// A message of `epoch` arrived while its probe was outstanding.
    mutating func messageWhileStale(epoch: UInt64, now: Duration) -> [Action] {
        guard case .connected(var live) = phase, live.epoch == epoch, var machine = live.liveness else { return [] }
        var actions: [Action] = []
        if machine.messageArrived(at: now) {
            actions.append(.setStale(epoch: epoch, false))
            var next = status
            next.state = .resumed
            publish(next, &actions)
        }
        live.liveness = machine
        phase = .connected(live)
        return actions
    }

    /// The user asked for a reconnect.
    mutating func forceReconnect(now: Duration) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case .connected(let live):
            let cause = DisconnectCause.localClose(code: .normalClosure, reason: "forced reconnect")
            endEpoch(live, abort: false, code: .normalClosure, reason: "forced reconnect", then: .reconnectNow(cause), &actions)
        case .idle:
            actions.append(.cancelTimer(.attemptDue))
            dueGeneration += 1
            startAttempt(now: now, &actions)
        case .connecting, .closing, .shuttingDown, .ended:
            break  // the attempt in flight is the reconnect; or nothing left to do
        }
        return actions
    }

    /// The user shut the session down.
    mutating func shutdown(code: WSCloseCode, reason: String, now: Duration) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case .ended, .shuttingDown:
            return []
        case .closing(let live, _):
            actions.append(.terminateSink(shutdownSinkError))
            phase = .closing(live, then: .shutdown(code, reason))
        case .connected(let live):
            actions.append(.terminateSink(shutdownSinkError))
            endEpoch(live, abort: false, code: code, reason: reason, then: .shutdown(code, reason), &actions)
        case .idle, .connecting:
            actions.append(.terminateSink(shutdownSinkError))
            finishShutdown(code: code, reason: reason, &actions)
        }
        return actions
    }

    /// The transport of `epoch` was closed or aborted and its inbound ended.
    mutating func transportClosed(epoch: UInt64, now: Duration) -> [Action] {
        guard case .closing(let live, let then) = phase, live.epoch == epoch else { return [] }
        backoff.connectionEnded(afterUptime: now - live.connectedAt)
        phase = .idle
        var actions: [Action] = []
        switch then {
        case .retry(let cause):
            retry(breaker.connectionEnded(cause, at: now), cause: cause, failedAttempt: false, now: now, &actions)
        case .reconnectNow(let cause):
            var next = status
            next.state = .reconnecting
            next.cause = cause
            publish(next, &actions)
            startAttempt(now: now, &actions)
        case .shutdown(let code, let reason):
            finishShutdown(code: code, reason: reason, &actions)
        }
        return actions
    }

    // MARK: Steps

    private var shutdownSinkError: WSError {
        WSError(.sinkClosed, "the connection to \(url) was shut down")
    }

    private mutating func startAttempt(now: Duration, _ actions: inout [Action]) {
        guard case .idle = phase else { return }
        if attemptInFlight != nil {
            // The previous (abandoned) attempt has not finished: wait for it, so that two
            // sockets are never open at once.
            attemptWanted = true
            return
        }
        if case .waitUntil(let t) = window.admit(at: now) {
            scheduleDue(at: t, &actions)
            return
        }
        window.record(at: now)
        attempt += 1
        phase = .connecting(attempt: attempt)
        attemptInFlight = attempt
        var next = status
        next.state = .connecting
        publish(next, &actions)
        actions.append(.startAttempt(attempt))
        if let limit = attemptTimeout {
            actions.append(.schedule(.attemptTimedOut(attempt: attempt), at: now + limit))
        }
    }

    /// The common part of a connect result; returns whether the result is the current
    /// attempt's (in phase `connecting`) and should be acted on.
    private mutating func connectFinished(attempt: Int, succeeded: Bool, now: Duration, _ actions: inout [Action]) -> Bool {
        if attempt == attemptInFlight { attemptInFlight = nil }
        switch phase {
        case .connecting(let current) where current == attempt:
            actions.append(.cancelTimer(.attemptTimeout))
            return true
        case .shuttingDown(let waiting, let code, let reason) where waiting == attempt:
            if succeeded { actions.append(.discard(attempt: attempt, code: code, reason: reason)) }
            end(state: .closed, cause: .localClose(code: code, reason: reason), failedAttempt: false,
                inboundError: nil, sinkError: shutdownSinkError, &actions)
            return false
        default:
            // An abandoned attempt (timed out) finished after all: never keep its socket.
            if succeeded { actions.append(.discard(attempt: attempt, code: .goingAway, reason: "attempt abandoned")) }
            if attemptWanted, case .idle = phase {
                attemptWanted = false
                startAttempt(now: now, &actions)
            }
            return false
        }
    }

    private mutating func attemptFailed(_ error: any Error, now: Duration, _ actions: inout [Action]) {
        let wsError = (error as? WSError)
            ?? WSError(.ioError, "connecting to \(url) failed: \(error)", underlying: error)
        let decision = breaker.attemptFailed(wsError, at: now)
        phase = .idle
        retry(decision, cause: .error(wsError), failedAttempt: true, now: now, &actions)
    }

    /// Ends an epoch: senders go to waiting, liveness stops, the transport is closed (or
    /// aborted); the rest follows in ``transportClosed(epoch:now:)``.
    private mutating func endEpoch(
        _ live: Epoch, abort: Bool, code: WSCloseCode, reason: String, then: AfterClose, _ actions: inout [Action]
    ) {
        actions.append(.detach(epoch: live.epoch))
        actions.append(.cancelTimer(.liveness))
        livenessGeneration += 1
        actions.append(abort ? .abortTransport(epoch: live.epoch) : .closeTransport(epoch: live.epoch, code: code, reason: reason))
        phase = .closing(live, then: then)
    }

    /// Publishes the outcome of a failed attempt or ended epoch (state, cause and counter in
    /// one status) and schedules the next attempt, or ends the session.
    private mutating func retry(
        _ decision: CircuitBreaker.Decision, cause: DisconnectCause, failedAttempt: Bool, now: Duration,
        _ actions: inout [Action]
    ) {
        switch decision {
        case .unrecoverable(let why):
            let error = Self.unrecoverableError(for: cause, why: why)
            end(state: .unrecoverable, cause: cause, failedAttempt: failedAttempt, inboundError: error,
                sinkError: WSError(.sinkClosed, "the connection to \(url) is unrecoverable: \(why)", underlying: error),
                &actions)
        case .retry(let minimum):
            var delay = backoff.nextDelay(using: &random)
            if let minimum, minimum > delay { delay = minimum }
            var next = status
            next.state = .reconnecting
            next.cause = cause
            if failedAttempt { next.failedAttempts += 1 }
            publish(next, &actions)
            scheduleDue(at: now + delay, &actions)
        }
    }

    /// The error the inbound sequence throws when `cause` made the session unrecoverable:
    /// the cause's own error, or one that says who closed.
    static func unrecoverableError(for cause: DisconnectCause, why: String) -> WSError {
        switch cause {
        case .error(let e): return e
        case .peerClosed(let code, let reason):
            return WSError(.closedByPeer, why, closeCode: code, closeReason: reason)
        case .localClose(let code, let reason):
            // Closed by this side, not by the peer.
            return WSError(.sinkClosed, why, closeCode: code, closeReason: reason)
        }
    }

    private mutating func finishShutdown(code: WSCloseCode, reason: String, _ actions: inout [Action]) {
        if let a = attemptInFlight {
            // An attempt in flight (or abandoned) may still produce a socket: close it before
            // declaring `closed`.
            actions.append(.cancelAttempt(a))
            phase = .shuttingDown(attempt: a, code: code, reason: reason)
            return
        }
        end(state: .closed, cause: .localClose(code: code, reason: reason), failedAttempt: false, inboundError: nil,
            sinkError: shutdownSinkError, &actions)
    }

    private mutating func end(
        state: ConnState, cause: DisconnectCause, failedAttempt: Bool, inboundError: WSError?, sinkError: WSError,
        _ actions: inout [Action]
    ) {
        for t in Timer.allCases { actions.append(.cancelTimer(t)) }
        phase = .ended
        actions.append(.finish(inboundError: inboundError, sinkError: sinkError))
        var next = status
        next.state = state
        next.cause = cause
        if failedAttempt { next.failedAttempts += 1 }
        publish(next, &actions)
    }

    /// Publishes `next` if it differs from the last status published; the cause is kept only
    /// on the edges it explains.
    private mutating func publish(_ next: Status, _ actions: inout [Action]) {
        var next = next
        switch next.state {
        case .reconnecting, .unrecoverable, .closed: break
        case .connecting, .connected, .stale, .resumed: next.cause = nil
        }
        guard next != status else { return }
        status = next
        actions.append(.publish(next))
    }

    private mutating func scheduleDue(at t: Duration, _ actions: inout [Action]) {
        dueGeneration += 1
        actions.append(.schedule(.attemptDue(generation: dueGeneration), at: t))
    }

    private mutating func scheduleLiveness(at t: Duration, epoch: UInt64, _ actions: inout [Action]) {
        livenessGeneration += 1
        actions.append(.schedule(.livenessCheck(epoch: epoch, generation: livenessGeneration), at: t))
    }
}
