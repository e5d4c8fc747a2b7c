import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

@Suite("ReconnectingConnector over MockConnector", .timeLimit(.minutes(1)))
struct ReconnectingConnectorTests {
    @Test func reconnectsAfter1006And1011WithOneEpochPerConnect() async throws {
        let h = Harness([
            .accept([.send(.text("a")), .drop]),
            .accept([.send(.text("b")), .close(.internalError, reason: "boom")]),
            .accept([.send(.text("c"))]),
        ])
        let seen = SnapshotRecorder(h.connection.lifecycle)
        var it = h.connection.inbound.makeAsyncIterator()
        let a = try await it.next()
        #expect(a?.frame == .text("a") && a?.epoch == 1)

        var s = await h.waitFor { $0.state == .reconnecting }
        #expect(s.lastDisconnect?.errorCode == .connectionLost)
        #expect(s.lastDisconnect?.closeCode == .abnormalClosure)
        #expect(s.epoch == 1)
        let d1 = await h.pendingDelay()
        #expect(d1 >= .milliseconds(500) && d1 <= .seconds(1))
        h.clock.advanceToNextDeadline()
        // Epoch 2 ends as soon as it starts: a reader of the watch may skip its `connected`.
        s = await h.waitFor { $0.epoch == 2 }
        #expect(s.reconnects == 1)
        let b = try await it.next()
        #expect(b?.frame == .text("b") && b?.epoch == 2)

        s = await h.waitFor { $0.state == .reconnecting && $0.epoch == 2 }
        #expect(s.lastDisconnect?.errorCode == .closedByPeer)
        #expect(s.lastDisconnect?.closeCode == .internalError)
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        s = await h.waitForEpoch(3)
        #expect(s.reconnects == 2)
        #expect(s.failedAttempts == 0)
        let c = try await it.next()
        #expect(c?.frame == .text("c") && c?.epoch == 3)

        #expect(h.mock.attemptCount == 3)
        #expect(h.mock.maxOpenConnections == 1)
        await h.connection.shutdown()
        #expect(h.connection.snapshot.state == .closed)
        #expect(try await it.next() == nil)
        // Epoch never skipped or went back in anything a reader saw.
        let epochs = seen.values.map(\.epoch)
        #expect(zip(epochs, epochs.dropFirst()).allSatisfy { $1 == $0 || $1 == $0 + 1 })
        #expect(epochs.last == 3)
    }

    @Test("an edge observer given to connect() sees every edge from connecting@0, even edges no reader could catch")
    func edgeObserverSeesEveryEdge() async throws {
        let edges = Mutex<[String]>([])
        let h = Harness(
            [.reject(status: 503), .accept([.send(.text("a")), .close(.internalError, reason: "boom")])],
            fallback: .reject(status: 401),
            observingEdges: { s in edges.withLock { $0.append("\(s.state)@\(s.epoch)") } })
        for _ in 0..<2 {
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        let end = await h.ended()
        #expect(end.state == .unrecoverable)
        // Epoch 1 ends as soon as it starts, and nothing read the watch while it ran.
        #expect(edges.withLock { $0 } == [
            "connecting@0", "reconnecting@0", "connecting@0", "connected@1", "reconnecting@1", "connecting@1",
            "unrecoverable@1",
        ])
    }

    @Test func unrecoverableAfterExactlyOne401() async throws {
        let h = Harness([.reject(status: 401)], fallback: .accept([]))
        let end = await h.ended()
        #expect(end.state == .unrecoverable)
        #expect(end.epoch == 0)
        #expect(end.failedAttempts == 1)
        if case .error(let e) = end.lastDisconnect {
            #expect(e.code == .handshakeRejected)
            #expect(e.httpStatus == 401)
        } else {
            Issue.record("expected the 401 as the cause, got \(String(describing: end.lastDisconnect))")
        }
        #expect(h.mock.attemptCount == 1)
        #expect(h.clock.sleeperCount == 0)
        await #expect { for try await _ in h.connection.inbound {} } throws: { ($0 as? WSError)?.httpStatus == 401 }
        await #expect { try await h.connection.sink.send(.text("x")) } throws: { ($0 as? WSError)?.code == .sinkClosed }
        #expect(h.connection.sendStats.rejected == 1)
        await h.connection.shutdown()  // no-op after the end
        #expect(h.connection.snapshot.state == .unrecoverable)
    }

    @Test func repeatedPolicyClosesEndInUnrecoverable() async throws {
        let close = MockAttempt.accept([.close(.policyViolation, reason: "too many requests")])
        let h = Harness([close, close, close], fallback: .accept([]))
        for epoch in 1...2 {
            await h.waitFor { $0.epoch == UInt64(epoch) && $0.state == .reconnecting }
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        let end = await h.ended()
        #expect(end.state == .unrecoverable)
        #expect(end.epoch == 3)
        #expect(end.lastDisconnect?.closeCode == .policyViolation)
        #expect(h.mock.attemptCount == 3)
        await #expect { for try await _ in h.connection.inbound {} } throws: {
            ($0 as? WSError)?.closeCode == .policyViolation
        }
    }

    @Test func framesArrivingAfterTheConsumerWasCancelledAreCountedAsLag() async throws {
        let h = Harness([.accept([.wait(.seconds(5)), .send(.text("a")), .send(.text("b"))])])
        await h.waitForEpoch(1)
        let inbound = h.connection.inbound
        let consumer = Task { for try await _ in inbound {} }
        consumer.cancel()
        try await consumer.value  // the iteration ends quietly
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        let s = await h.waitFor { $0.totalLagged == 2 }
        #expect(s.totalLaggedBytes == 2)
        #expect(inbound.deliveredCount == 0)
        await h.connection.shutdown()
    }

    @Test func tlsFailureIsUnrecoverableAfterOneAttempt() async throws {
        let h = Harness([.fail(WSError(.tlsFailure, "certificate verify failed"))], fallback: .accept([]))
        let end = await h.ended()
        #expect(end.state == .unrecoverable)
        #expect(h.mock.attemptCount == 1)
    }

    @Test func status503IsRetriedWithinBackoffBoundsAndRetryAfterHonoured() async throws {
        let h = Harness([
            .reject(status: 503),
            .reject(status: 503),
            .reject(status: 429, headers: [HTTPHeaderField("Retry-After", "20")]),
            .accept([]),
        ])
        var s = await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        #expect(s.lastDisconnect?.errorCode == .handshakeRejected)
        let d1 = await h.pendingDelay()
        #expect(d1 >= .milliseconds(500) && d1 <= .seconds(1))
        h.clock.advanceToNextDeadline()
        s = await h.waitFor { $0.failedAttempts == 2 && $0.state == .reconnecting }
        let d2 = await h.pendingDelay()
        #expect(d2 >= .seconds(1) && d2 <= .seconds(2))
        h.clock.advanceToNextDeadline()
        s = await h.waitFor { $0.failedAttempts == 3 && $0.state == .reconnecting }
        let d3 = await h.pendingDelay()
        #expect(d3 == .seconds(20))  // Retry-After beats the 2…4 s backoff
        h.clock.advanceToNextDeadline()
        s = await h.waitForEpoch(1)
        #expect(s.failedAttempts == 3)
        #expect(s.reconnects == 0)
        #expect(h.mock.attempts.map(\.at) == [.zero, d1, d1 + d2, d1 + d2 + d3])
        await h.connection.shutdown()
    }

    @Test func acceptThenCloseAtOnceCannotCauseATightLoop() async throws {
        // A server that accepts and closes immediately, forever.
        let h = Harness([], fallback: .accept([.close(.normalClosure)]))
        var delays: [Duration] = []
        for epoch in 1...7 {
            await h.waitFor { $0.epoch == UInt64(epoch) && $0.state == .reconnecting }
            delays.append(await h.pendingDelay())
            h.clock.advanceToNextDeadline()
        }
        // Each delay is at least half its doubling base: no reset, because no connection
        // stayed up for the minimum uptime.
        let lowerBounds: [Duration] = [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(15), .seconds(15)]
        for (d, lo) in zip(delays, lowerBounds) { #expect(d >= lo) }
        let gaps = zip(h.mock.attempts.dropFirst(), h.mock.attempts).map { $0.at - $1.at }
        #expect(gaps.count >= 6)
        #expect(gaps.allSatisfy { $0 >= .milliseconds(500) })
        #expect(h.mock.maxOpenConnections == 1)
        await h.connection.shutdown()
    }

    @Test func backoffResetsAfterAConnectionStayedUp() async throws {
        let h = Harness([.refuse, .refuse, .refuse, .accept([.wait(.seconds(15)), .drop])], fallback: .accept([]))
        for n in 1...3 {
            await h.waitFor { $0.failedAttempts == UInt64(n) && $0.state == .reconnecting }
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        await h.waitForEpoch(1)
        _ = await h.pendingDelay()  // the script's 15 s wait
        h.clock.advanceToNextDeadline()
        await h.waitFor { $0.state == .reconnecting && $0.epoch == 1 }
        let d = await h.pendingDelay()
        #expect(d >= .milliseconds(500) && d <= .seconds(1))  // back to the first step
        await h.connection.shutdown()
    }

    @Test func attemptCapDelaysTheAttemptBeyondTheWindowLimit() async throws {
        let config = quietConfig(
            backoff: BackoffPolicy(initial: .milliseconds(10), maximum: .milliseconds(10), jitter: 0),
            attemptWindow: AttemptWindowPolicy(maxAttempts: 3, window: .seconds(60)))
        let h = Harness([], fallback: .refuse, config: config)
        for n in 1...3 {
            await h.waitFor { $0.failedAttempts == UInt64(n) && $0.state == .reconnecting }
            let d = await h.pendingDelay()
            if n < 3 { #expect(d == .milliseconds(10)) }
            h.clock.advanceToNextDeadline()
        }
        // The 4th attempt is due at 30 ms but the window holds 3 attempts since t=0.
        let d = await h.pendingDelay()
        #expect(h.clock.nextDeadline == ManualClock.Instant(offset: .seconds(60)))
        #expect(d > .seconds(59))
        #expect(h.mock.attemptCount == 3)
        h.clock.advanceToNextDeadline()
        await h.mock.waitForAttempts(4)
        #expect(h.mock.attempts.dropFirst(3).first?.at == .seconds(60))
        await h.connection.shutdown()
    }

    @Test func pausedConsumerUnderABurstKeepsTheNewestAndCountsTheRest() async throws {
        let steps: [MockStep] = (0..<100).map { .send(.text(String(format3($0)))) }
        let h = Harness([.accept(steps)], config: quietConfig(buffer: InboundBufferPolicy(maxFrames: 10, maxBytes: 1 << 20)))
        let s = await h.waitFor { $0.totalLagged == 90 }
        #expect(s.totalLaggedBytes == 90 * 3)
        var got: [String] = []
        var it = h.connection.inbound.makeAsyncIterator()
        for _ in 0..<10 {
            if case .text(let t)? = try await it.next()?.frame { got.append(t) }
        }
        #expect(got == (90..<100).map(format3))
        #expect(h.connection.inbound.deliveredCount == 10)
        #expect(UInt64(100) - h.connection.inbound.deliveredCount == h.connection.snapshot.totalLagged)
        await h.connection.shutdown()
        #expect(try await it.next() == nil)
    }

    @Test func oversizedFrameIsStillDelivered() async throws {
        let big = Frame.binary([UInt8](repeating: 7, count: 5000))
        let h = Harness(
            [.accept([.send(.text("x")), .send(.text("y")), .send(big)])],
            config: quietConfig(buffer: InboundBufferPolicy(maxFrames: 100, maxBytes: 1000)))
        let s = await h.waitFor { $0.totalLagged == 2 }
        #expect(s.totalLaggedBytes == 2)
        var it = h.connection.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == big)
        #expect(h.connection.inbound.peakBufferedBytes == 5000)
        await h.connection.shutdown()
    }

    @Test func forceReconnectWhileConnectingOpensOneSocketAndAdvancesTheEpochOnce() async throws {
        let h = Harness([.accept(after: .seconds(5), MockScript())], fallback: .accept([]))
        await h.mock.waitForAttempts(1)
        await h.sleepers(1)  // the handshake is in flight
        h.connection.forceReconnect()
        h.connection.forceReconnect()
        h.clock.advance(by: .seconds(5))
        let s = await h.waitForEpoch(1)
        #expect(s.reconnects == 0)
        #expect(h.mock.attemptCount == 1)
        #expect(h.mock.maxOpenConnections == 1)

        // Forced while connected: the old socket is closed before the new one opens.
        h.connection.forceReconnect()
        let s2 = await h.waitForEpoch(2)
        #expect(s2.reconnects == 1)
        #expect(h.mock.attemptCount == 2)
        #expect(h.mock.maxOpenConnections == 1)
        #expect(h.mock.peers[0].clientClose?.reason == "forced reconnect")
        await h.connection.shutdown()
        #expect(h.connection.snapshot.epoch == 2)
    }

    @Test func forceReconnectDuringBackoffSkipsTheWait() async throws {
        let h = Harness([.refuse], fallback: .accept([]))
        await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        _ = await h.pendingDelay()
        h.connection.forceReconnect()
        await h.waitForEpoch(1)
        #expect(h.clock.now == ManualClock.Instant(offset: .zero))
        await h.connection.shutdown()
    }

    @Test func shutdownDuringBackoffEndsPromptlyInClosed() async throws {
        let h = Harness([], fallback: .refuse, config: quietConfig(backoff: BackoffPolicy(initial: .seconds(30))))
        await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        let d = await h.pendingDelay()
        #expect(d >= .seconds(15))
        await h.connection.shutdown(code: .goingAway, reason: "done")
        let s = h.connection.snapshot
        #expect(s.state == .closed)
        if case .localClose(let code, let reason)? = s.lastDisconnect {
            #expect(code == .goingAway && reason == "done")
        } else {
            Issue.record("expected localClose, got \(String(describing: s.lastDisconnect))")
        }
        #expect(h.clock.sleeperCount == 0)
        #expect(h.clock.now == ManualClock.Instant(offset: .zero))
        #expect(h.mock.attemptCount == 1)
        #expect(h.connection.lifecycle.isFinished)
    }

    @Test func shutdownWhileConnectedClosesTheSocketGracefully() async throws {
        let h = Harness([.accept([.send(.text("hi"))])])
        await h.waitForEpoch(1)
        await h.connection.shutdown()
        let peer = h.mock.peers[0]
        #expect(peer.clientClose?.code == .normalClosure)
        #expect(h.mock.openConnections == 0)
        var frames: [Frame] = []
        for try await f in h.connection.inbound { frames.append(f.frame) }
        #expect(frames == [.text("hi")])
        // The sink's close is terminal too.
        await h.connection.sink.close()
        await #expect(throws: WSError.self) { try await h.connection.sink.send(.text("late")) }
    }

    @Test func shutdownDuringAStalledAttemptCancelsIt() async throws {
        let h = Harness([.stall])
        await h.mock.waitForAttempts(1)
        await h.connection.shutdown()
        #expect(h.connection.snapshot.state == .closed)
        #expect(h.mock.maxOpenConnections == 0)
    }

    @Test func attemptTimeoutAbandonsAStalledAttempt() async throws {
        let h = Harness([.stall], fallback: .accept([]), config: quietConfig(attemptTimeout: .seconds(10)))
        await h.mock.waitForAttempts(1)
        let t = await h.pendingDelay()
        #expect(t == .seconds(10))
        h.clock.advanceToNextDeadline()
        let s = await h.waitFor { $0.failedAttempts == 1 }
        #expect(s.lastDisconnect?.errorCode == .connectTimeout)
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        await h.waitForEpoch(1)
        #expect(h.mock.attemptCount == 2)
        #expect(h.mock.maxOpenConnections == 1)
        await h.connection.shutdown()
    }

    @Test func waitingSendsAreDeliveredAfterReconnectAndNeverLostSilently() async throws {
        let h = Harness([.refuse, .accept([])], config: quietConfig(whileDisconnected: .wait(maxWaiting: 2)))
        await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        let sink = h.connection.sink
        let first = Task { try await sink.send(.text("one")) }
        await sink.waitForWaitingSenders(1)
        let second = Task { try await sink.send(.text("two")) }
        await sink.waitForWaitingSenders(2)
        await #expect { try await sink.send(.text("three")) } throws: { ($0 as? WSError)?.code == .sendQueueFull }
        _ = await h.pendingDelay()
        h.clock.advanceToNextDeadline()
        try await first.value
        try await second.value
        let peer = await h.mock.peer(1)
        // Two senders on two tasks: both delivered; their relative order is not specified.
        #expect(Set(peer.received) == [.text("one"), .text("two")])
        let stats = sink.stats
        #expect(stats.sent == 2 && stats.rejected == 1 && stats.waiting == 0 && stats.abandoned == 0)
        await h.connection.shutdown()
    }

    @Test func rejectPolicyThrowsNotConnected() async throws {
        let h = Harness([.refuse], fallback: .accept([]), config: quietConfig(whileDisconnected: .reject))
        await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        await #expect { try await h.connection.sink.send(.text("x")) } throws: { ($0 as? WSError)?.code == .notConnected }
        #expect(h.connection.sendStats.rejected == 1)
        await h.connection.shutdown()
    }

    @Test func waitingSendFailsVisiblyOnShutdown() async throws {
        let h = Harness([], fallback: .refuse)
        await h.waitFor { $0.failedAttempts == 1 && $0.state == .reconnecting }
        let sink = h.connection.sink
        let pending = Task { try await sink.send(.text("never")) }
        await sink.waitForWaitingSenders(1)
        await h.connection.shutdown()
        await #expect { try await pending.value } throws: { ($0 as? WSError)?.code == .sinkClosed }
        #expect(sink.stats.abandoned == 1)
    }

    @Test func authSourceIsAskedAfreshOnEveryAttempt() async throws {
        let auth = CountingAuth()
        let h = Harness([.refuse, .accept([.drop]), .accept([])], auth: auth)
        for n in 1...2 {
            await h.waitFor { $0.state == .reconnecting && $0.failedAttempts + $0.epoch == UInt64(n) }
            _ = await h.pendingDelay()
            h.clock.advanceToNextDeadline()
        }
        await h.waitForEpoch(2)
        #expect(h.mock.attempts.map { $0.credentials?.headers.first?.value } == ["Bearer token-1", "Bearer token-2", "Bearer token-3"])
        await h.connection.shutdown()
    }
}
