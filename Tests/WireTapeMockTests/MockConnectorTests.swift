import Synchronization
import Testing
import WireTapeCore
import WireTapeMock

private let url = try! WSURL("ws://mock.test/feed")

private final class CountingAuth: AuthSource {
    let calls = Mutex(0)
    func credentials(for url: WSURL) async throws -> Credentials {
        let n = calls.withLock { $0 += 1; return $0 }
        return Credentials(headers: [HTTPHeaderField("Authorization", "Bearer token-\(n)")])
    }
}

@Suite("MockConnector", .timeLimit(.minutes(1)))
struct MockConnectorTests {
    @Test func rejectCarriesStatusHeadersAndClassification() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [
            .reject(status: 401),
            .reject(status: 503, headers: [HTTPHeaderField("Retry-After", "7")]),
        ])
        do {
            _ = try await mock.connect(ConnectRequest(url: url))
            Issue.record("expected a rejection")
        } catch let e as WSError {
            #expect(e.code == .handshakeRejected)
            #expect(e.httpStatus == 401)
            #expect(e.failureClass == .permanent)
        }
        do {
            _ = try await mock.connect(ConnectRequest(url: url))
            Issue.record("expected a rejection")
        } catch let e as WSError {
            #expect(e.httpStatus == 503)
            #expect(e.retryAfterSeconds == 7)
            #expect(e.failureClass == .transient)
        }
        // The queue is used up: the fallback refuses.
        await #expect(throws: WSError.self) { _ = try await mock.connect(ConnectRequest(url: url)) }
        #expect(mock.attemptCount == 3)
        #expect(mock.openConnections == 0)
    }

    @Test func scriptDeliversFramesAtClockTimesThenFailsWithTheCloseCode() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [
            .accept([.send(.text("a")), .wait(.seconds(2)), .send(.binary([1, 2, 3])), .close(.internalError, reason: "oops")])
        ])
        let conn = try await mock.connect(ConnectRequest(url: url))
        var it = conn.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == .text("a"))
        await clock.waitForSleepers()
        #expect(conn.activity.bytesRead > 0)
        clock.advance(by: .seconds(2))
        #expect(try await it.next()?.frame == .binary([1, 2, 3]))
        do {
            _ = try await it.next()
            Issue.record("expected closedByPeer")
        } catch let e as WSError {
            #expect(e.code == .closedByPeer)
            #expect(e.closeCode == .internalError)
            #expect(e.closeReason == "oops")
        }
        #expect(conn.lifecycle.current.state == .closed)
        #expect(mock.openConnections == 0)
    }

    @Test func cleanCloseEndsTheStreamAndDropIsConnectionLost() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.accept([.close(.goingAway)]), .accept([.drop])])
        let a = try await mock.connect(ConnectRequest(url: url))
        for try await _ in a.inbound { Issue.record("no frames expected") }
        if case .peerClosed(let code, _) = a.lifecycle.current.lastDisconnect { #expect(code == .goingAway) } else {
            Issue.record("expected peerClosed")
        }
        let b = try await mock.connect(ConnectRequest(url: url))
        await #expect { for try await _ in b.inbound {} } throws: { e in
            (e as? WSError)?.code == .connectionLost && (e as? WSError)?.closeCode == .abnormalClosure
        }
        #expect(mock.peers[1].ending == .dropped)
    }

    @Test func clientSendsPingsAndCloseAreRecorded() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.accept([])])
        let conn = try await mock.connect(ConnectRequest(url: url))
        try await conn.sink.send(.text("subscribe"))
        try await conn.sink.sendPing([])
        let peer = await mock.peer(1)
        #expect(peer.received == [.text("subscribe")])
        #expect(peer.pingsReceived == 1)
        #expect(conn.activity.pongsReceived == 1)
        peer.answersPings = false
        try await conn.sink.sendPing([])
        #expect(conn.activity.pongsReceived == 1)
        await conn.sink.close(code: .normalClosure, reason: "bye")
        #expect(peer.clientClose?.code == .normalClosure)
        #expect(peer.clientClose?.reason == "bye")
        await #expect(throws: WSError.self) { try await conn.sink.send(.text("late")) }
        #expect(mock.maxOpenConnections == 1)
        #expect(mock.openConnections == 0)
    }

    @Test func stallHangsUntilCancelled() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.stall])
        let task = Task { try await mock.connect(ConnectRequest(url: url)) }
        await mock.waitForAttempts(1)
        task.cancel()
        await #expect { _ = try await task.value } throws: { ($0 as? WSError)?.code == .cancelled }
    }

    @Test func delayedAcceptUsesTheClock() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.accept(after: .seconds(3), MockScript())])
        let task = Task { try await mock.connect(ConnectRequest(url: url)) }
        await clock.waitForSleepers()
        #expect(mock.openConnections == 0)
        clock.advance(by: .seconds(3))
        _ = try await task.value
        #expect(mock.openConnections == 1)
    }

    @Test func authSourceIsAskedOnEveryAttempt() async throws {
        let clock = ManualClock()
        let auth = CountingAuth()
        let mock = MockConnector(clock: clock, attempts: [.refuse, .accept([])])
        let request = ConnectRequest(url: url, auth: auth)
        await #expect(throws: WSError.self) { _ = try await mock.connect(request) }
        _ = try await mock.connect(request)
        #expect(mock.attempts.map { $0.credentials?.headers.first?.value } == ["Bearer token-1", "Bearer token-2"])
    }

    @Test func trickleAndPeerPingsCountAsActivity() async throws {
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.accept([.trickle(bytes: 4096), .ping, .send(.text("end"))])])
        let conn = try await mock.connect(ConnectRequest(url: url))
        // Steps run in order on the peer's task: once "end" arrives, the trickle and the ping
        // have been played (waiting on that event, not spinning).
        var it = conn.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == .text("end"))
        #expect(conn.activity.bytesRead == 4096 + 2 + 5, "the trickle, the ping frame and the 3-byte message with its 2-byte header")
        #expect(conn.activity.pingsReceived == 1)
        #expect(conn.activity.pongsSent == 1)
        #expect(conn.inbound.queuedFrameCount == 0, "the trickle delivered no frame")
    }

    /// SplitMix64's reference outputs (Vigna's splitmix64.c): a generator that is constant,
    /// or that ignores its seed, fails this.
    @Test func seededRandomIsSplitMix64() {
        var a = SeededRandom(seed: 1_234_567)
        #expect((0..<3).map { _ in a.next() } == [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423])
        var z = SeededRandom(seed: 0)
        #expect((0..<3).map { _ in z.next() } == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var b = SeededRandom(seed: 7)
        var c = SeededRandom(seed: 7)
        #expect((0..<10).map { _ in b.next() } == (0..<10).map { _ in c.next() }, "equal seeds, equal sequences")
    }

    @Test func fixedRandomReturnsItsBitsForever() {
        var z = FixedRandom.zero
        var m = FixedRandom.max
        var x = FixedRandom(bits: 0xDEAD_BEEF)
        #expect((0..<3).map { _ in z.next() } == [0, 0, 0])
        #expect((0..<3).map { _ in m.next() } == [.max, .max, .max])
        #expect((0..<3).map { _ in x.next() } == [0xDEAD_BEEF, 0xDEAD_BEEF, 0xDEAD_BEEF])
    }
}
