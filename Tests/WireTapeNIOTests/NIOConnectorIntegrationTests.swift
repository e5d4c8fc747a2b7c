import Foundation
import Testing
import WireTapeCore
import WireTapeNIO
import WireTapeTestSupport

/// The NIO connector against a real peer: Python's `websockets` server on 127.0.0.1.
@Suite(.serialized)
struct NIOConnectorIntegrationTests {
    let peer: PythonPeer
    let connector = NIOConnector()

    init() throws { peer = try PythonPeer() }

    func connect(_ path: String, _ configure: (inout ConnectRequest) -> Void = { _ in }) async throws -> WSConnection {
        var request = ConnectRequest(url: try WSURL(peer.url(path)))
        configure(&request)
        return try await connector.connect(request)
    }

    /// Reads the whole stream: the frames, and the error that ended it (nil for a clean end).
    func drain(_ c: WSConnection) async -> ([InboundFrame], WSError?) {
        var frames: [InboundFrame] = []
        do {
            for try await f in c.inbound { frames.append(f) }
            return (frames, nil)
        } catch {
            return (frames, error as? WSError)
        }
    }

    func connectError(_ path: String, _ configure: (inout ConnectRequest) -> Void = { _ in }) async -> WSError? {
        do {
            let c = try await connect(path, configure)
            await c.sink.close()
            return nil
        } catch {
            return error as? WSError
        }
    }

    @Test func textMessagesArriveInOrderWithTimestampsThenCleanClose() async throws {
        let before = ReceiveTimestamp.now()
        let c = try await connect("/text?n=5")
        let (frames, error) = await drain(c)
        #expect(error == nil)
        #expect(frames.map(\.frame) == (0..<5).map { .text("msg-\($0)") })
        #expect(frames.allSatisfy { $0.epoch == 1 })
        #expect(frames.allSatisfy { $0.received.wallNanos >= before.wallNanos && $0.received.monotonicNanos >= before.monotonicNanos })
        for await _ in c.lifecycle.updates() {}
        let final = c.lifecycle.current
        #expect(final.state == .closed)
        guard case .peerClosed(let code, let reason) = final.lastDisconnect else {
            Issue.record("expected a peer close, got \(String(describing: final.lastDisconnect))")
            return
        }
        #expect(code == .normalClosure && reason == "done")
    }

    @Test func binaryMessageIsByteExact() async throws {
        let (frames, error) = await drain(try await connect("/binary?size=70000"))
        #expect(error == nil)
        #expect(frames.map(\.frame) == [.binary((0..<70000).map { UInt8($0 % 251) })])
    }

    @Test func fragmentedMessageIsReassembled() async throws {
        let (frames, _) = await drain(try await connect("/fragmented?parts=7"))
        #expect(frames.map(\.frame) == [.text((0..<7).map { "part\($0)-" }.joined())])
    }

    @Test func eightMebibyteMessage() async throws {
        let size = 8 << 20
        let (frames, error) = await drain(try await connect("/big?size=\(size)"))
        #expect(error == nil)
        #expect(frames.count == 1)
        if case .text(let s) = frames.first?.frame {
            #expect(s.utf8.count == size && s.utf8.allSatisfy { $0 == UInt8(ascii: "x") })
        } else {
            Issue.record("expected one text frame")
        }
    }

    @Test func oversizedMessageClosesWith1009AndAClearError() async throws {
        let c = try await connect("/big?size=200000") { $0.config.maxMessageSize = 100_000 }
        let (frames, error) = await drain(c)
        #expect(frames.isEmpty)
        #expect(error?.code == .messageTooLarge)
        #expect(error?.closeCode == .messageTooBig)
        #expect(error?.message.contains("100000") == true)
    }

    @Test func pingPayloadIsEchoedInThePong() async throws {
        let c = try await connect("/ping?payload=echo-me")
        let (frames, _) = await drain(c)
        #expect(frames.map(\.frame) == [.text("pong-ok:echo-me")])
        #expect(c.activity.pingsReceived == 1 && c.activity.pongsSent == 1)
    }

    @Test func echoRoundTripAndTerminalClose() async throws {
        let c = try await connect("/echo")
        try await c.sink.send(.text("hello"))
        try await c.sink.send(.binary([1, 2, 3]))
        var it = c.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == .text("hello"))
        #expect(try await it.next()?.frame == .binary([1, 2, 3]))
        await c.sink.close(code: .normalClosure, reason: "bye")
        #expect(try await it.next() == nil)
        await #expect {
            try await c.sink.send(.text("after close"))
        } throws: { e in
            (e as? WSError)?.code == .sinkClosed
        }
        guard case .localClose(let code, let reason) = c.lifecycle.current.lastDisconnect else {
            Issue.record("expected a local close")
            return
        }
        #expect(code == .normalClosure && reason == "bye")
    }

    @Test func abortDropsTheSocketAndEndsTheStreamAfterTheFramesReceived() async throws {
        let c = try await connect("/echo") { $0.config.closeTimeout = .seconds(60) }
        try await c.sink.send(.text("hello"))
        var it = c.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == .text("hello"))
        await c.sink.abort()
        #expect(try await it.next() == nil)
        guard case .localClose(let code, let reason) = c.lifecycle.current.lastDisconnect else {
            Issue.record("expected a local abort, got \(String(describing: c.lifecycle.current.lastDisconnect))")
            return
        }
        #expect(code == .abnormalClosure && reason == "aborted")
        await #expect { try await c.sink.send(.text("after abort")) } throws: { ($0 as? WSError)?.code == .sinkClosed }
        await c.sink.abort()  // idempotent
        await c.sink.close()
    }

    @Test(arguments: [(1000, true), (1001, true), (1011, false), (4000, false)])
    func serverCloseCodesAreSurfaced(code: Int, clean: Bool) async throws {
        let c = try await connect("/close?code=\(code)&reason=r\(code)")
        let (_, error) = await drain(c)
        if clean {
            #expect(error == nil)
        } else {
            #expect(error?.code == .closedByPeer)
            #expect(error?.closeCode == WSCloseCode(UInt16(code)))
            #expect(error?.closeReason == "r\(code)")
            #expect(error?.failureClass == .transient)
        }
        for await _ in c.lifecycle.updates() {}
        #expect(c.lifecycle.current.lastDisconnect?.closeCode == WSCloseCode(UInt16(code)))
    }

    @Test func droppedTransportIsAConnectionLostError() async throws {
        let (frames, error) = await drain(try await connect("/drop"))
        #expect(frames.map(\.frame) == [.text("before-drop")])
        #expect(error?.code == .connectionLost)
        #expect(error?.closeCode == .abnormalClosure)
    }

    @Test func handshake401IsPermanent() async throws {
        let error = await connectError("/status/401")
        #expect(error?.code == .handshakeRejected)
        #expect(error?.httpStatus == 401)
        #expect(error?.failureClass == .permanent)
    }

    @Test func handshake503IsTransientWithRetryAfter() async throws {
        let error = await connectError("/status/503")
        #expect(error?.code == .handshakeRejected)
        #expect(error?.httpStatus == 503)
        #expect(error?.retryAfterSeconds == 7)
        #expect(error?.failureClass == .transient)
        #expect(error?.message.contains("Retry-After: 7") == true)
    }

    @Test func headersSubprotocolAndCredentialsAreSent() async throws {
        let auth = StaticAuthSource(
            Credentials(headers: [HTTPHeaderField("Authorization", "Bearer T0K3N")], cookies: [("session", "abc")]))
        let c = try await connect("/headers") {
            $0.headers = [HTTPHeaderField("X-Test", "one")]
            $0.subprotocols = ["v2.feed", "v1.feed"]
            $0.auth = auth
        }
        #expect(c.info.subprotocol == "v2.feed")
        let (frames, _) = await drain(c)
        guard case .text(let json) = frames.first?.frame,
            let headers = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]
        else {
            Issue.record("expected the headers as JSON")
            return
        }
        #expect(headers["x-test"] == "one")
        #expect(headers["authorization"] == "Bearer T0K3N")
        #expect(headers["cookie"] == "session=abc")
        #expect(headers["sec-websocket-protocol"] == "v2.feed, v1.feed")
        #expect(headers["host"] == "127.0.0.1:\(peer.port)")
    }

    @Test func refusedConnectionIsClassified() async throws {
        // Port 1 on loopback: nothing listens there.
        let error = await { () async -> WSError? in
            do {
                _ = try await connector.connect(ConnectRequest(url: try WSURL("ws://127.0.0.1:1/")))
                return nil
            } catch { return error as? WSError }
        }()
        #expect(error?.code == .connectionRefused)
        #expect(error?.failureClass == .transient)
    }

    /// The consumer reads nothing while the peer floods 20 MiB: the connector must stop
    /// reading the socket near the high-water mark. Waits on the event (the queue reaching
    /// the mark, generous bound), then checks bounds that hold however slow the machine is:
    /// whatever time passes, a paused connector cannot read more than the queue's worth plus
    /// the reads in flight, far below the 20 MiB sent.
    @Test(.timeLimit(.minutes(2)))
    func backpressureStopsSocketReads() async throws {
        let c = try await connect("/flood?n=20000&size=1024") {
            $0.config.inboundHighWaterFrames = 100
            $0.config.inboundHighWaterBytes = 1 << 30
        }
        // The event: the queue reached the high-water mark (bounded at 60 s for a loaded machine).
        let deadline = ContinuousClock.now + .seconds(60)
        while c.inbound.queuedFrameCount < 100 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(c.inbound.queuedFrameCount >= 100, "the queue never reached the high-water mark")
        // Give a connector that ignores the pause every chance to read on: the peer keeps
        // sending, and 20 MiB over loopback takes far less than this.
        try await Task.sleep(for: .milliseconds(500))
        // NIO reads up to 4 x 64 KiB per wake-up before it sees the pause.
        #expect(c.inbound.queuedFrameCount <= 100 + 4 * 64, "the queue stops near the high-water mark")
        #expect(c.activity.bytesRead < 2 << 20, "at most the queue's and the in-flight reads' worth of the 20 MiB was read")
        let (frames, error) = await drain(c)
        #expect(error == nil)
        #expect(frames.count == 20000, "nothing was dropped: the rest arrives once the consumer reads")
    }
}

extension NIOConnectorIntegrationTests {
    @Test func pingFloodIsAnsweredWithBoundedPongsAndTheConnectionStaysUp() async throws {
        let c = try await connect("/pingflood?n=1000") { $0.config.pongMinInterval = .milliseconds(200) }
        var it = c.inbound.makeAsyncIterator()
        #expect(try await it.next()?.frame == .text("sent"))
        // Every ping was read before "sent"; at most the first one and one coalesced pong went out.
        #expect(c.activity.pingsReceived == 1000)
        #expect(c.activity.pongsSent >= 1 && c.activity.pongsSent <= 2, "the first ping is answered at once, then at most one coalesced pong")
        #expect(!c.lifecycle.isFinished, "no close was provoked")
        await c.sink.close()
    }
}

struct FailingAuthSource: AuthSource {
    struct Outage: Error {}
    func credentials(for url: WSURL) async throws -> Credentials { throw Outage() }
}

@Test func aFailingAuthSourceIsAClassifiedError() async throws {
    let request = ConnectRequest(url: try WSURL("ws://127.0.0.1:1/?token=secret"), auth: FailingAuthSource())
    do {
        _ = try await NIOConnector().connect(request)
        Issue.record("expected an error")
    } catch let e as WSError {
        #expect(e.code == .authFailed && e.failureClass == .transient)
        #expect(e.underlying is FailingAuthSource.Outage)
        #expect(!e.message.contains("secret"), "the URL in the message is redacted")
    }
}
