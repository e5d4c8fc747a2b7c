import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
@testable import WireTapeReplay

@Suite("ReplayConnector")
struct ReplayConnectorTests {
    @Test("each connect plays the next epoch: frames byte-exact with recorded times, ends as recorded")
    func epochsByteExact() async throws {
        let dir = try Tape.threeOutages().write()
        let replay = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .asFastAsPossible))
        #expect(replay.recording.epochs.count == 3)

        let c1 = try await replay.connect(request)
        let d1 = await drain(c1)
        #expect(texts(d1.frames) == ["e1-0", "e1-1", "e1-2", "e1-3", "e1-4", "bin:0,1,2,255"])
        #expect(d1.frames.allSatisfy { $0.epoch == 1 })
        #expect(d1.frames[0].received == Tape.at(20))
        #expect(d1.frames[5].received == Tape.at(70))
        #expect(d1.wsError?.code == .closedByPeer)
        #expect(d1.wsError?.closeCode == WSCloseCode(1011))
        #expect(d1.wsError?.closeReason == "overloaded")
        #expect(c1.lifecycle.current.state == .closed)

        let c2 = try await replay.connect(request)
        let d2 = await drain(c2)
        #expect(texts(d2.frames) == ["e2-0", "e2-1", "e2-2"])
        #expect(d2.frames.allSatisfy { $0.epoch == 2 })
        #expect(d2.wsError?.code == .connectionLost)
        #expect(d2.wsError?.closeCode == .abnormalClosure)

        let c3 = try await replay.connect(request)
        let d3 = await drain(c3)
        #expect(texts(d3.frames) == ["e3-0", "e3-1", "e3-2", "e3-3"])
        #expect(ReplayError.isEndOfRecording(d3.error!))

        await #expect(throws: WSError.self) { _ = try await replay.connect(request) }
        do {
            _ = try await replay.connect(request)
            Issue.record("connect after the end must throw")
        } catch let e as WSError {
            #expect(ReplayError.isEndOfRecording(e))
            #expect(e.failureClass == .permanent)
            #expect(e.httpStatus == 410)
        }
        #expect(replay.statistics.framesDelivered == 13)
    }

    @Test("a clean peer close (1000/1001) ends the sequence without an error")
    func cleanClose() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 5)
        t.edge(.reconnecting, epoch: 1, at: 10, code: 1001, reason: "restart")
        t.connected(epoch: 2, at: 20)
        t.text("b", epoch: 2, at: 25)
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .asFastAsPossible))
        let c1 = try await replay.connect(request)
        let d1 = await drain(c1)
        #expect(texts(d1.frames) == ["a"])
        #expect(d1.error == nil)
        guard case .peerClosed(let code, let reason)? = c1.lifecycle.current.lastDisconnect else {
            Issue.record("expected a peer close, got \(String(describing: c1.lifecycle.current.lastDisconnect))")
            return
        }
        #expect(code == .goingAway)
        #expect(reason == "restart")
        let d2 = await drain(try await replay.connect(request))
        #expect(texts(d2.frames) == ["b"])
    }

    @Test("a recorded failed attempt is thrown as the same classified error")
    func failedAttempt() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 5)
        t.edge(.reconnecting, epoch: 1, at: 10, code: 1006, error: "connectionLost")
        t.failed(epoch: 1, at: 50, status: 503, error: "handshakeRejected", message: "HTTP 503")
        t.failed(epoch: 1, at: 80, status: 401, error: "handshakeRejected", message: "HTTP 401")
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .asFastAsPossible))
        _ = await drain(try await replay.connect(request))
        do {
            _ = try await replay.connect(request)
            Issue.record("expected the recorded 503")
        } catch let e as WSError {
            #expect(e.code == .handshakeRejected)
            #expect(e.httpStatus == 503)
            #expect(e.failureClass == .transient)
        }
        do {
            _ = try await replay.connect(request)
            Issue.record("expected the recorded 401")
        } catch let e as WSError {
            #expect(e.httpStatus == 401)
            #expect(e.failureClass == .permanent)
            #expect(!ReplayError.isEndOfRecording(e))
        }
    }

    @Test("a journal of imported frames (no lifecycle) replays as one connection")
    func plainFrames() async throws {
        var t = Tape()
        for i in 0..<10 { t.text("f\(i)", epoch: 0, at: Double(i)) }
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .asFastAsPossible))
        #expect(replay.recording.attempts.count == 1)
        let d = await drain(try await replay.connect(request))
        #expect(texts(d.frames) == (0..<10).map { "f\($0)" })
        #expect(ReplayError.isEndOfRecording(d.error!))
        await #expect(throws: WSError.self) { _ = try await replay.connect(request) }
    }

    @Test("pacing on a ManualClock: frames arrive only when the test moves time")
    func manualPacing() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 1000)
        t.text("b", epoch: 1, at: 3000)
        t.edge(.closed, epoch: 1, at: 4000, code: 1000)
        let clock = ManualClock()
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .manual(clock)))
        let c = try await replay.connect(request)
        var it = c.inbound.makeAsyncIterator()
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .seconds(1))
        #expect(c.inbound.queuedFrameCount == 0)
        clock.advance(by: .seconds(1))
        let a = try await it.next()
        #expect(a.map { texts([$0]) } == ["a"])
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .seconds(3))
        clock.advance(to: ManualClock.Instant(offset: .seconds(3)))
        let b = try await it.next()
        #expect(b.map { texts([$0]) } == ["b"])
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .seconds(4))
        clock.advance(by: .seconds(1))
        await #expect(throws: WSError.self) { _ = try await it.next() }
    }

    @Test("a local close stops delivery and makes the sink terminal")
    func localClose() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 1000)
        t.edge(.closed, epoch: 1, at: 4000, code: 1000)
        let clock = ManualClock()
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .manual(clock)))
        let c = try await replay.connect(request)
        await clock.waitForSleepers(count: 1)
        await c.sink.close(code: .normalClosure, reason: "bye")
        let d = await drain(c)
        #expect(d.frames.isEmpty)
        #expect(d.error == nil)
        await #expect(throws: WSError.self) { try await c.sink.send(.text("x")) }
        guard case .localClose(let code, _)? = c.lifecycle.current.lastDisconnect else {
            Issue.record("expected a local close")
            return
        }
        #expect(code == .normalClosure)
    }

    @Test("a recorded silence without an adapter that closes ends at its recorded time with livenessTimeout (.atRecordedEnd)")
    func silenceAtRecordedEnd() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 100)
        t.edge(.reconnecting, epoch: 1, at: 40_100, error: "livenessTimeout", message: "no pong")
        let clock = ManualClock()
        let replay = try ReplayConnector(
            directory: try t.write(), options: ReplayOptions(pacing: .manual(clock), silenceEnd: .atRecordedEnd))
        let c = try await replay.connect(request)
        var it = c.inbound.makeAsyncIterator()
        await clock.waitForSleepers(count: 1)
        clock.advance(by: .milliseconds(100))
        #expect(try await it.next().map { texts([$0]) } == ["a"])
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .milliseconds(40_100))
        try await c.sink.sendPing([1])
        #expect(c.activity.pongsReceived == 0)
        #expect(replay.statistics.pingsUnanswered == 1)
        clock.advance(by: .seconds(40))
        do {
            _ = try await it.next()
            Issue.record("the silence must end with an error")
        } catch let e as WSError {
            #expect(e.code == .livenessTimeout)
        }
    }

    @Test("pings are answered outside a silence; a recorder's local close mid-session replays as a clean close")
    func pongsAndLocalClose() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 10)
        t.edge(.reconnecting, epoch: 1, at: 20, code: 4000, reason: "forced", by: .local)
        t.connected(epoch: 2, at: 30)
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .asFastAsPossible))
        #expect(replay.recording.epochs[0].end == .localClose(code: 4000, reason: "forced"))
        let c = try await replay.connect(request)
        try await c.sink.sendPing([])
        #expect(c.activity.pongsReceived == 1)
        let d = await drain(c)
        #expect(texts(d.frames) == ["a"])
        #expect(d.error == nil)
    }

    @Test("an attempt the recorder's client abandoned (the venue accepted it) is not replayed as a failure")
    func abandonedAttemptIsNotAFailure() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 10)
        t.text("a", epoch: 1, at: 20)
        t.edge(.reconnecting, epoch: 1, at: 30, code: 1001, reason: "restart", by: .peer)
        t.failed(epoch: 1, at: 50, status: nil, error: "attemptAbandoned", message: "closed unused")
        t.edge(.closed, epoch: 1, at: 60, code: 1000, reason: "shutdown", by: .local)
        let recording = try Recording.load(directory: try t.write())
        #expect(recording.attempts == [.connected(0)])
        let replay = try ReplayConnector(recording: recording, options: ReplayOptions(pacing: .asFastAsPossible))
        _ = await drain(try await replay.connect(request))
        await #expect { _ = try await replay.connect(request) } throws: { ReplayError.isEndOfRecording($0) }
        #expect(replay.statistics.refused == 0)
    }
}
