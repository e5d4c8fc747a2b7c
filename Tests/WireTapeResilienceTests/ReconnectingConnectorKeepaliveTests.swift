import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

@Suite("ReconnectingConnector keepalive and rate limit over MockConnector", .timeLimit(.minutes(1)))
struct ReconnectingConnectorKeepaliveTests {
    let keepalive = KeepalivePolicy(idleTimeout: .seconds(10), pongTimeout: .seconds(4))

    @Test func idleGoesStaleThenReconnectsWhenNoPongArrives() async throws {
        let h = Harness(
            [.accept(MockScript([.send(.text("a"))], answersPings: false))], fallback: .accept([]),
            config: quietConfig(keepalive: keepalive))
        await h.waitForEpoch(1)
        #expect(await h.pendingDelay() == .seconds(10))
        h.clock.advanceToNextDeadline()
        let stale = await h.waitFor { $0.state == .stale }
        #expect(stale.epoch == 1)
        #expect(h.clock.now.offset == .seconds(10))
        let peer = h.mock.peers[0]
        _ = await h.safetyNet("the probe ping") { await peer.waitForPings(1) }
        // Probe polls every pongTimeout/4 until the pong timeout.
        for _ in 0..<4 {
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        let s = await h.waitFor { $0.state == .reconnecting }
        #expect(h.clock.now.offset == .seconds(14))
        #expect(s.lastDisconnect?.errorCode == .livenessTimeout)
        #expect(h.mock.peers[0].ending == .clientAborted)  // dropped at once, no close handshake
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        await h.waitForEpoch(2)
        await h.connection.shutdown()
    }

    @Test func livenessTimeoutOnABlackholedPeerReconnectsWithoutWaitingTheCloseTimeout() async throws {
        // The peer answers neither pings nor close frames: a graceful close would wait the
        // request's close timeout (5 s) on the clock before the reconnect could start.
        let h = Harness(
            [.accept(MockScript([], answersPings: false, answersClose: false))], fallback: .accept([]),
            config: quietConfig(keepalive: keepalive))
        await h.waitForEpoch(1)
        for _ in 0..<5 {  // the idle check, then four probe polls
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        let s = await h.waitFor { $0.state == .reconnecting }
        #expect(s.lastDisconnect?.errorCode == .livenessTimeout)
        #expect(h.clock.now.offset == .seconds(14))
        #expect(h.mock.peers[0].ending == .clientAborted)
        let d = await h.pendingDelay()  // the backoff, starting at the expiry
        #expect(d >= .milliseconds(500) && d <= .seconds(1))
        h.clock.advanceToNextDeadline()
        await h.waitForEpoch(2)
        #expect(h.mock.attempts.dropFirst(1).first?.at == .seconds(14) + d)
        await h.connection.shutdown()
    }

    @Test func aGracefulCloseOfABlackholedPeerWaitsTheCloseTimeout() async throws {
        // The counterpart of the test above: the mock models the wait that an abort avoids.
        let h = Harness([.accept(MockScript([], answersPings: false, answersClose: false))])
        await h.waitForEpoch(1)
        let closing = Task { await h.connection.shutdown() }
        let d = await h.pendingDelay()
        #expect(d == ConnectRequest(url: testURL).config.closeTimeout)
        #expect(h.connection.snapshot.state == .connected)
        h.clock.advanceToNextDeadline()
        await closing.value
        #expect(h.connection.snapshot.state == .closed)
        #expect(h.mock.peers[0].clientClose?.code == .normalClosure)
    }

    @Test func pongDuringTheProbeResumes() async throws {
        let h = Harness([.accept(MockScript([], answersPings: true))], config: quietConfig(keepalive: keepalive))
        await h.waitForEpoch(1)
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        await h.waitFor { $0.state == .stale }
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()  // first probe poll sees the pong
        let s = await h.waitFor { $0.state == .resumed }
        #expect(s.epoch == 1)
        #expect(h.clock.now.offset == .seconds(11))
        await h.connection.shutdown()
    }

    @Test func dataDuringTheProbeResumesAtOnce() async throws {
        let h = Harness(
            [.accept(MockScript([.wait(.seconds(11)), .send(.text("late"))], answersPings: false))],
            config: quietConfig(keepalive: keepalive))
        await h.waitForEpoch(1)
        await h.sleepers(2)  // script wait + liveness check
        h.clock.advance(by: .seconds(10))
        await h.waitFor { $0.state == .stale }
        await h.sleepers(2)  // script wait + probe poll
        h.clock.advance(by: .milliseconds(1000))  // t = 11: the script sends
        let s = await h.waitFor { $0.state == .resumed }
        #expect(s.epoch == 1)
        await h.connection.shutdown()
    }

    @Test func aLargeMessageStillArrivingKeepsTheConnectionLive() async throws {
        var steps: [MockStep] = []
        for _ in 0..<8 { steps += [.wait(.seconds(5)), .trickle(bytes: 64 << 10)] }
        let h = Harness([.accept(MockScript(steps, answersPings: false))], config: quietConfig(keepalive: keepalive))
        await h.waitForEpoch(1)
        for _ in 0..<8 {
            await h.sleepers(2)
            h.clock.advance(by: .seconds(5))
        }
        await h.mock.peers[0].waitForScript()
        #expect(h.mock.peers[0].connection.activity.bytesRead >= 8 * (64 << 10))
        #expect(h.connection.snapshot.state == .connected)
        #expect(h.mock.peers[0].pingsReceived == 0)
        await h.connection.shutdown()
    }

    @Test func sendsAreSpacedByTheRateLimitAndPongsCount() async throws {
        let h = Harness(
            [.accept([.ping, .ping])],
            config: quietConfig(rateLimit: SendRateLimit(messagesPerSecond: 5, burst: 3)))
        await h.waitForEpoch(1)
        let peer = await h.mock.peer(1)
        await peer.waitForScript()
        #expect(peer.connection.activity.pongsSent == 2)
        let sink = h.connection.sink
        let sender = Task {
            for i in 0..<4 { try await sink.send(.text("m\(i)")) }
        }
        // Burst 3, minus the two pongs: one send goes at once, then one per 200 ms.
        await peer.waitForReceived(1)
        var times: [Duration] = [h.clock.now.offset]
        for n in 2...4 {
            let d = await h.pendingDelay()
            #expect(d == .milliseconds(200))
            h.clock.advanceToNextDeadline()
            await peer.waitForReceived(n)
            times.append(h.clock.now.offset)
        }
        try await sender.value
        #expect(times == [.zero, .milliseconds(200), .milliseconds(400), .milliseconds(600)])
        #expect(sink.stats.pongsCharged == 2)
        #expect(sink.stats.sent == 4)
        await h.connection.shutdown()
    }
}
