import Testing
import WireTapeCore
@testable import WireTapeResilience

/// A generator whose draws are all zero: jitter cuts nothing, so every delay is its base.
struct ZeroRandom: RandomNumberGenerator {
    mutating func next() -> UInt64 { 0 }
}

typealias SM = SupervisorStateMachine<ZeroRandom>

private let url = "ws://mock.test/feed"
private let idle0 = LivenessMachine.Observation(bytesRead: 0, pongsReceived: 0)

private func machine(
    keepalive: KeepalivePolicy = KeepalivePolicy(idleTimeout: .seconds(10), pongTimeout: .seconds(4)),
    attemptTimeout: Duration? = .seconds(10),
    attemptWindow: AttemptWindowPolicy = AttemptWindowPolicy(maxAttempts: 1000, window: .seconds(300))
) -> SM {
    let config = ReconnectConfig(
        backoff: BackoffPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0.5, minimumUptimeForReset: .seconds(10)),
        attemptWindow: attemptWindow, keepalive: keepalive, rateLimit: nil, attemptTimeout: attemptTimeout)
    return SM(config: config, url: url, random: ZeroRandom())
}

private func status(
    _ state: ConnState, epoch: UInt64 = 0, reconnects: UInt64 = 0, failed: UInt64 = 0, cause: DisconnectCause? = nil
) -> SM.Action {
    .publish(SM.Status(epoch: epoch, state: state, reconnects: reconnects, failedAttempts: failed, cause: cause))
}

private let refused = WSError(.connectionRefused, "refused")
private let shutdownError = WSError(.sinkClosed, "the connection to \(url) was shut down")
private let endTimers: [SM.Action] = [.cancelTimer(.attemptDue), .cancelTimer(.attemptTimeout), .cancelTimer(.liveness)]

private func s(_ seconds: Int) -> Duration { .seconds(seconds) }

/// A machine in phase `connected` with epoch 1 at t = 0.
private func connected() -> SM {
    var m = machine()
    _ = m.start(now: .zero)
    _ = m.connectSucceeded(attempt: 1, now: .zero, observation: idle0)
    return m
}

/// A machine in phase `idle`, backing off after one refused attempt (attempt due at 1 s, generation 1).
private func backingOff() -> SM {
    var m = machine()
    _ = m.start(now: .zero)
    _ = m.connectFailed(attempt: 1, error: refused, now: .zero)
    return m
}

@Suite("SupervisorStateMachine")
struct SupervisorStateMachineTests {
    // MARK: idle → connecting

    @Test func startBeginsAttemptOneWithoutRepublishingConnecting() {
        var m = machine()
        // The watch already starts at connecting@0: no second `connecting` edge.
        #expect(m.start(now: .zero) == [.startAttempt(1), .schedule(.attemptTimedOut(attempt: 1), at: s(10))])
        #expect(m.attemptInFlight == 1)
    }

    @Test func startWithoutAnAttemptTimeoutSchedulesNothing() {
        var m = machine(attemptTimeout: nil)
        #expect(m.start(now: .zero) == [.startAttempt(1)])
    }

    @Test func attemptDueStartsTheNextAttemptAndPublishesConnecting() {
        var m = backingOff()
        #expect(m.attemptDue(generation: 1, now: s(1)) == [
            status(.connecting, failed: 1), .startAttempt(2), .schedule(.attemptTimedOut(attempt: 2), at: s(11)),
        ])
    }

    @Test func attemptDueOfAnOlderGenerationOrOutsideIdleIsIgnored() {
        var m = backingOff()
        #expect(m.attemptDue(generation: 0, now: s(1)).isEmpty)
        var c = connected()
        #expect(c.attemptDue(generation: c.dueGeneration, now: s(1)).isEmpty)
    }

    @Test func aFullAttemptWindowDefersTheAttempt() {
        var m = machine(attemptWindow: AttemptWindowPolicy(maxAttempts: 1, window: .seconds(60)))
        _ = m.start(now: .zero)
        _ = m.connectFailed(attempt: 1, error: refused, now: .zero)
        #expect(m.attemptDue(generation: 1, now: s(1)) == [.schedule(.attemptDue(generation: 2), at: s(60))])
        #expect(m.attempt == 1)
        #expect(m.attemptDue(generation: 2, now: s(60)).contains(.startAttempt(2)))
    }

    // MARK: connecting

    @Test func connectSucceededAdoptsPublishesThenStartsInboundAndLiveness() {
        var m = machine()
        _ = m.start(now: .zero)
        #expect(m.connectSucceeded(attempt: 1, now: s(2), observation: idle0) == [
            .cancelTimer(.attemptTimeout), .adopt(attempt: 1, epoch: 1), status(.connected, epoch: 1),
            .startInbound(epoch: 1), .schedule(.livenessCheck(epoch: 1, generation: 1), at: s(12)),
        ])
        #expect(m.attemptInFlight == nil)
    }

    @Test func connectSucceededWithoutKeepaliveSchedulesNoCheck() {
        var m = machine(keepalive: .disabled)
        _ = m.start(now: .zero)
        #expect(m.connectSucceeded(attempt: 1, now: .zero, observation: idle0) == [
            .cancelTimer(.attemptTimeout), .adopt(attempt: 1, epoch: 1), status(.connected, epoch: 1),
            .startInbound(epoch: 1),
        ])
    }

    @Test func aTransientFailureBacksOffWithTheCause() {
        var m = machine()
        _ = m.start(now: .zero)
        #expect(m.connectFailed(attempt: 1, error: refused, now: s(3)) == [
            .cancelTimer(.attemptTimeout), status(.reconnecting, failed: 1, cause: .error(refused)),
            .schedule(.attemptDue(generation: 1), at: s(4)),
        ])
        _ = m.attemptDue(generation: 1, now: s(4))
        // The second consecutive failure doubles the delay.
        #expect(m.connectFailed(attempt: 2, error: refused, now: s(4)).last == .schedule(.attemptDue(generation: 2), at: s(6)))
    }

    @Test func retryAfterBeatsAShorterBackoff() {
        var m = machine()
        _ = m.start(now: .zero)
        let e = WSError(.handshakeRejected, "429", httpStatus: 429, responseHeaders: [HTTPHeaderField("Retry-After", "20")])
        #expect(m.connectFailed(attempt: 1, error: e, now: .zero).last == .schedule(.attemptDue(generation: 1), at: s(20)))
    }

    @Test func aNonWSErrorIsWrappedAsIOError() {
        struct Odd: Error {}
        var m = machine()
        _ = m.start(now: .zero)
        let actions = m.connectFailed(attempt: 1, error: Odd(), now: .zero)
        guard case .publish(let st) = actions[1], case .error(let e)? = st.cause else {
            Issue.record("expected a publish with an error cause, got \(actions)")
            return
        }
        #expect(e.code == .ioError)
    }

    @Test func aPermanentFailureEndsUnrecoverable() {
        var m = machine()
        _ = m.start(now: .zero)
        let e = WSError(.handshakeRejected, "401", httpStatus: 401)
        let why = "\(e.code) is permanent: \(e.message)"
        #expect(m.connectFailed(attempt: 1, error: e, now: .zero) == [.cancelTimer(.attemptTimeout)] + endTimers + [
            .finish(inboundError: e, sinkError: WSError(.sinkClosed, "the connection to \(url) is unrecoverable: \(why)")),
            status(.unrecoverable, failed: 1, cause: .error(e)),
        ])
        #expect(m.isEnded)
    }

    @Test func attemptTimeoutCancelsTheAttemptAndBacksOff() {
        var m = machine()
        _ = m.start(now: .zero)
        let timeout = WSError(.connectTimeout, "no connection to \(url) within the attempt timeout of 10.0 seconds")
        #expect(m.attemptTimedOut(attempt: 1, now: s(10)) == [
            .cancelAttempt(1), status(.reconnecting, failed: 1, cause: .error(timeout)),
            .schedule(.attemptDue(generation: 1), at: s(11)),
        ])
        #expect(m.attemptInFlight == 1)  // its task has not reported yet
        #expect(m.attemptTimedOut(attempt: 1, now: s(10)).isEmpty)  // once only
    }

    @Test func anAbandonedAttemptIsDiscardedAndTheNextWaitsForIt() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.attemptTimedOut(attempt: 1, now: s(10))
        // Due before the abandoned attempt reported: wait, never two sockets at once.
        #expect(m.attemptDue(generation: 1, now: s(11)).isEmpty)
        #expect(m.attemptWanted)
        #expect(m.connectSucceeded(attempt: 1, now: s(12), observation: idle0) == [
            .discard(attempt: 1, code: .goingAway, reason: "attempt abandoned"), status(.connecting, failed: 1),
            .startAttempt(2), .schedule(.attemptTimedOut(attempt: 2), at: s(22)),
        ])
    }

    @Test func anAbandonedAttemptThatFailedOnlyClearsTheWay() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.attemptTimedOut(attempt: 1, now: s(10))
        #expect(m.connectFailed(attempt: 1, error: WSError(.cancelled, "cancelled"), now: s(10)).isEmpty)
        #expect(m.attemptInFlight == nil)
        #expect(m.attemptDue(generation: 1, now: s(11)).contains(.startAttempt(2)))
    }

    @Test func attemptTimeoutOfAnotherAttemptIsIgnored() {
        var m = machine()
        _ = m.start(now: .zero)
        #expect(m.attemptTimedOut(attempt: 7, now: s(10)).isEmpty)
        var c = connected()
        #expect(c.attemptTimedOut(attempt: 1, now: s(10)).isEmpty)
    }

    // MARK: connected → closing → idle

    @Test func inboundEndedClosesTheTransportThenBacksOff() {
        var m = connected()
        let cause = DisconnectCause.peerClosed(code: .internalError, reason: "boom")
        #expect(m.inboundEnded(epoch: 1, cause: cause, now: s(2)) == [
            .detach(epoch: 1), .cancelTimer(.liveness), .closeTransport(epoch: 1, code: .normalClosure, reason: ""),
        ])
        #expect(m.transportClosed(epoch: 1, now: s(2)) == [
            status(.reconnecting, epoch: 1, cause: cause), .schedule(.attemptDue(generation: 1), at: s(3)),
        ])
        // The next epoch counts a reconnect.
        _ = m.attemptDue(generation: 1, now: s(3))
        #expect(m.connectSucceeded(attempt: 2, now: s(3), observation: idle0).contains(
            status(.connected, epoch: 2, reconnects: 1)))
    }

    @Test func aConnectionThatStayedUpResetsTheBackoff() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.connectFailed(attempt: 1, error: refused, now: .zero)
        _ = m.attemptDue(generation: 1, now: s(1))
        _ = m.connectSucceeded(attempt: 2, now: s(1), observation: idle0)
        _ = m.inboundEnded(epoch: 1, cause: .error(refused), now: s(20))
        // Up 19 s ≥ 10 s: back to the initial 1 s (not 2 s).
        #expect(m.transportClosed(epoch: 1, now: s(20)).last == .schedule(.attemptDue(generation: 2), at: s(21)))
    }

    @Test func inboundEndedOfAnotherEpochIsIgnored() {
        var m = connected()
        #expect(m.inboundEnded(epoch: 2, cause: .error(refused), now: s(1)).isEmpty)
        var b = backingOff()
        #expect(b.inboundEnded(epoch: 0, cause: .error(refused), now: s(1)).isEmpty)
    }

    @Test func transportClosedOutsideClosingIsIgnored() {
        var m = connected()
        #expect(m.transportClosed(epoch: 1, now: s(1)).isEmpty)
    }

    @Test func threePolicyClosesEndUnrecoverableAsClosedByPeer() {
        var m = connected()
        let cause = DisconnectCause.peerClosed(code: .policyViolation, reason: "slow down")
        for epoch in 1...2 {
            _ = m.inboundEnded(epoch: UInt64(epoch), cause: cause, now: s(epoch))
            _ = m.transportClosed(epoch: UInt64(epoch), now: s(epoch))
            _ = m.attemptDue(generation: m.dueGeneration, now: s(epoch))
            _ = m.connectSucceeded(attempt: epoch + 1, now: s(epoch), observation: idle0)
        }
        _ = m.inboundEnded(epoch: 3, cause: cause, now: s(3))
        let actions = m.transportClosed(epoch: 3, now: s(3))
        guard case .finish(let inboundError?, _) = actions[3] else {
            Issue.record("expected finish, got \(actions)")
            return
        }
        #expect(inboundError.code == .closedByPeer)
        #expect(inboundError.closeCode == .policyViolation)
        #expect(actions.last == status(.unrecoverable, epoch: 3, reconnects: 2, cause: cause))
        #expect(m.isEnded)
    }

    @Test func aLocalCloseIsNeverReportedAsClosedByPeer() {
        let e = SM.unrecoverableError(for: .localClose(code: .goingAway, reason: "bye"), why: "why")
        #expect(e.code == .sinkClosed)
        #expect(e.closeCode == .goingAway)
        let p = SM.unrecoverableError(for: .peerClosed(code: .policyViolation, reason: "ban"), why: "why")
        #expect(p.code == .closedByPeer)
        #expect(SM.unrecoverableError(for: .error(refused), why: "why").code == .connectionRefused)
    }

    // MARK: liveness

    @Test func livenessGoesStaleProbesThenResumesOnAPong() {
        var m = connected()
        #expect(m.livenessCheck(epoch: 1, generation: 1, observation: idle0, now: s(10)) == [
            .setStale(epoch: 1, true), status(.stale, epoch: 1), .probe(epoch: 1),
            .schedule(.livenessCheck(epoch: 1, generation: 2), at: s(11)),
        ])
        let pong = LivenessMachine.Observation(bytesRead: 2, pongsReceived: 1)
        #expect(m.livenessCheck(epoch: 1, generation: 2, observation: pong, now: s(11)) == [
            .setStale(epoch: 1, false), status(.resumed, epoch: 1),
            .schedule(.livenessCheck(epoch: 1, generation: 3), at: s(21)),
        ])
    }

    @Test func livenessCheckBeforeTheDeadlineOnlyReschedules() {
        var m = connected()
        let message = LivenessMachine.Observation(bytesRead: 10, pongsReceived: 0, lastMessageAt: s(5), bytesReadAtLastMessage: 10)
        #expect(m.livenessCheck(epoch: 1, generation: 1, observation: message, now: s(10)) == [
            .schedule(.livenessCheck(epoch: 1, generation: 2), at: s(15)),
        ])
    }

    @Test func livenessExpiryAbortsTheDeadTransportAtOnce() {
        var m = connected()
        _ = m.livenessCheck(epoch: 1, generation: 1, observation: idle0, now: s(10))
        var generation: UInt64 = 2
        for t in 11...13 {
            _ = m.livenessCheck(epoch: 1, generation: generation, observation: idle0, now: s(t))
            generation += 1
        }
        // No close handshake with a dead peer: abort, and back off from the expiry.
        #expect(m.livenessCheck(epoch: 1, generation: generation, observation: idle0, now: s(14)) == [
            .detach(epoch: 1), .cancelTimer(.liveness), .abortTransport(epoch: 1),
        ])
        let actions = m.transportClosed(epoch: 1, now: s(14))
        guard case .publish(let st) = actions.first, case .error(let e)? = st.cause else {
            Issue.record("expected reconnecting with a liveness timeout, got \(actions)")
            return
        }
        #expect(st.state == .reconnecting)
        #expect(e.code == .livenessTimeout)
        #expect(actions.last == .schedule(.attemptDue(generation: 1), at: s(15)))
    }

    @Test func livenessCheckOfAnOlderGenerationOrEpochIsIgnored() {
        var m = connected()
        #expect(m.livenessCheck(epoch: 1, generation: 0, observation: idle0, now: s(10)).isEmpty)
        #expect(m.livenessCheck(epoch: 2, generation: 1, observation: idle0, now: s(10)).isEmpty)
        // After the epoch ended, its pending check is stale too.
        _ = m.inboundEnded(epoch: 1, cause: .error(refused), now: s(5))
        #expect(m.livenessCheck(epoch: 1, generation: m.livenessGeneration, observation: idle0, now: s(10)).isEmpty)
    }

    @Test func aMessageWhileStaleResumes() {
        var m = connected()
        #expect(m.messageWhileStale(epoch: 1, now: s(3)).isEmpty)  // not stale: nothing to say
        // ... but it counts as a sign of life: at 10 s the connection is not idle yet.
        #expect(m.livenessCheck(epoch: 1, generation: 1, observation: idle0, now: s(10)) == [
            .schedule(.livenessCheck(epoch: 1, generation: 2), at: s(13)),
        ])
        #expect(m.livenessCheck(epoch: 1, generation: 2, observation: idle0, now: s(13)).contains(status(.stale, epoch: 1)))
        #expect(m.messageWhileStale(epoch: 1, now: s(14)) == [.setStale(epoch: 1, false), status(.resumed, epoch: 1)])
        #expect(m.messageWhileStale(epoch: 2, now: s(14)).isEmpty)
    }

    // MARK: forced reconnect

    @Test func forceReconnectWhileConnectedClosesThenConnectsAtOnce() {
        var m = connected()
        #expect(m.forceReconnect(now: s(5)) == [
            .detach(epoch: 1), .cancelTimer(.liveness),
            .closeTransport(epoch: 1, code: .normalClosure, reason: "forced reconnect"),
        ])
        #expect(m.transportClosed(epoch: 1, now: s(5)) == [
            status(.reconnecting, epoch: 1, cause: .localClose(code: .normalClosure, reason: "forced reconnect")),
            status(.connecting, epoch: 1), .startAttempt(2), .schedule(.attemptTimedOut(attempt: 2), at: s(15)),
        ])
    }

    @Test func forceReconnectDuringBackoffSkipsTheWait() {
        var m = backingOff()
        #expect(m.forceReconnect(now: s(0)) == [
            .cancelTimer(.attemptDue), status(.connecting, failed: 1), .startAttempt(2),
            .schedule(.attemptTimedOut(attempt: 2), at: s(10)),
        ])
        #expect(m.attemptDue(generation: 1, now: s(1)).isEmpty)  // the cancelled timer's event, if it raced
    }

    @Test func forceReconnectWhileConnectingOrClosingDoesNothing() {
        var m = machine()
        _ = m.start(now: .zero)
        #expect(m.forceReconnect(now: .zero).isEmpty)
        var c = connected()
        _ = c.inboundEnded(epoch: 1, cause: .error(refused), now: .zero)
        #expect(c.forceReconnect(now: .zero).isEmpty)
    }

    // MARK: shutdown

    @Test func shutdownWhileIdleEndsClosedAtOnce() {
        var m = backingOff()
        let cause = DisconnectCause.localClose(code: .goingAway, reason: "done")
        #expect(m.shutdown(code: .goingAway, reason: "done", now: s(0)) == [.terminateSink(shutdownError)] + endTimers + [
            .finish(inboundError: nil, sinkError: shutdownError), status(.closed, failed: 1, cause: cause),
        ])
        #expect(m.isEnded)
    }

    @Test func shutdownWhileConnectingWaitsForTheAttemptAndDiscardsItsSocket() {
        var m = machine()
        _ = m.start(now: .zero)
        #expect(m.shutdown(code: .normalClosure, reason: "", now: .zero) == [.terminateSink(shutdownError), .cancelAttempt(1)])
        // While waiting, nothing else happens.
        #expect(m.forceReconnect(now: .zero).isEmpty)
        #expect(m.attemptTimedOut(attempt: 1, now: s(10)).isEmpty)
        #expect(m.shutdown(code: .normalClosure, reason: "", now: .zero).isEmpty)
        #expect(m.connectSucceeded(attempt: 1, now: s(1), observation: idle0) == [
            .discard(attempt: 1, code: .normalClosure, reason: ""),
        ] + endTimers + [
            .finish(inboundError: nil, sinkError: shutdownError),
            status(.closed, cause: .localClose(code: .normalClosure, reason: "")),
        ])
    }

    @Test func shutdownWhileAnAbandonedAttemptIsOutWaitsForItToo() {
        var m = machine()
        _ = m.start(now: .zero)
        _ = m.attemptTimedOut(attempt: 1, now: s(10))
        #expect(m.shutdown(code: .normalClosure, reason: "", now: s(10)) == [.terminateSink(shutdownError), .cancelAttempt(1)])
        let end = m.connectFailed(attempt: 1, error: WSError(.cancelled, "cancelled"), now: s(10))
        #expect(end.last == status(.closed, failed: 1, cause: .localClose(code: .normalClosure, reason: "")))
        #expect(m.isEnded)
    }

    @Test func shutdownWhileConnectedClosesGracefullyThenEnds() {
        var m = connected()
        #expect(m.shutdown(code: .normalClosure, reason: "bye", now: s(1)) == [
            .terminateSink(shutdownError), .detach(epoch: 1), .cancelTimer(.liveness),
            .closeTransport(epoch: 1, code: .normalClosure, reason: "bye"),
        ])
        #expect(m.transportClosed(epoch: 1, now: s(1)) == endTimers + [
            .finish(inboundError: nil, sinkError: shutdownError),
            status(.closed, epoch: 1, cause: .localClose(code: .normalClosure, reason: "bye")),
        ])
    }

    @Test func shutdownWhileClosingEndsOnceTheTransportIsClosed() {
        var m = connected()
        _ = m.inboundEnded(epoch: 1, cause: .error(refused), now: s(1))
        #expect(m.shutdown(code: .normalClosure, reason: "", now: s(1)) == [.terminateSink(shutdownError)])
        #expect(m.transportClosed(epoch: 1, now: s(1)).last
            == status(.closed, epoch: 1, cause: .localClose(code: .normalClosure, reason: "")))
    }

    // MARK: ended

    @Test func afterTheEndEveryEventDoesNothing() {
        var m = backingOff()
        _ = m.shutdown(code: .normalClosure, reason: "", now: .zero)
        #expect(m.isEnded)
        #expect(m.start(now: .zero).isEmpty)
        #expect(m.attemptDue(generation: m.dueGeneration, now: s(1)).isEmpty)
        // A socket that still turns up is released, nothing more.
        #expect(m.connectSucceeded(attempt: 1, now: s(1), observation: idle0) == [
            .discard(attempt: 1, code: .goingAway, reason: "attempt abandoned"),
        ])
        #expect(m.connectFailed(attempt: 1, error: refused, now: s(1)).isEmpty)
        #expect(m.attemptTimedOut(attempt: 1, now: s(1)).isEmpty)
        #expect(m.inboundEnded(epoch: 1, cause: .error(refused), now: s(1)).isEmpty)
        #expect(m.livenessCheck(epoch: 1, generation: m.livenessGeneration, observation: idle0, now: s(1)).isEmpty)
        #expect(m.messageWhileStale(epoch: 1, now: s(1)).isEmpty)
        #expect(m.forceReconnect(now: s(1)).isEmpty)
        #expect(m.shutdown(code: .normalClosure, reason: "", now: s(1)).isEmpty)
        #expect(m.transportClosed(epoch: 1, now: s(1)).isEmpty)
    }

    // MARK: published edges say only what is true of them

    @Test func theCauseIsPublishedOnlyOnReconnectingAndTerminalEdges() {
        var m = connected()
        _ = m.inboundEnded(epoch: 1, cause: .error(refused), now: s(1))
        _ = m.transportClosed(epoch: 1, now: s(1))
        var published: [SM.Status] = []
        func note(_ actions: [SM.Action]) {
            for case .publish(let st) in actions { published.append(st) }
        }
        note(m.attemptDue(generation: 1, now: s(2)))
        note(m.connectSucceeded(attempt: 2, now: s(2), observation: idle0))
        note(m.livenessCheck(epoch: 2, generation: m.livenessGeneration, observation: idle0, now: s(12)))
        note(m.messageWhileStale(epoch: 2, now: s(13)))
        #expect(published.map(\.state) == [.connecting, .connected, .stale, .resumed])
        #expect(published.allSatisfy { $0.cause == nil })
    }
}
