import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
import WireTapeCore

@testable import WireTapeNIO

/// The connection handler on an `EmbeddedChannel`: pongs, the close handshake, failures.
struct ConnectionHandlerTests {
    struct Rig {
        let channel = EmbeddedChannel()
        let stream: InboundStream
        let lifecycle = LifecycleWatch(LifecycleSnapshot(epoch: 1, state: .connected))
        let activity = ConnectionActivity()
        let handler: WebSocketConnectionHandler

        init(maxMessageSize: Int = 1 << 20) throws {
            let (stream, producer) = InboundStream.makeStream()
            self.stream = stream
            handler = WebSocketConnectionHandler(
                maxMessageSize: maxMessageSize, producer: producer, lifecycle: lifecycle, activity: activity,
                closeTimeout: .seconds(5))
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func receive(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) throws {
            try channel.writeInbound(WebSocketFrame(fin: fin, opcode: opcode, data: channel.allocator.buffer(bytes: bytes)))
        }

        func written() throws -> WebSocketFrame? { try channel.readOutbound(as: WebSocketFrame.self) }
    }

    @Test func pingIsAnsweredWithAMaskedPongEchoingThePayload() throws {
        let rig = try Rig()
        try rig.receive(.ping, [1, 2, 3])
        let pong = try #require(try rig.written())
        #expect(pong.opcode == .pong)
        #expect(pong.maskKey != nil, "client frames are masked")
        #expect(Array(pong.data.readableBytesView) == [1, 2, 3])
        #expect(rig.activity.pingsReceived == 1 && rig.activity.pongsSent == 1)
    }

    @Test func peerCloseIsEchoedAndEndsCleanly() async throws {
        let rig = try Rig()
        try rig.receive(.text, Array("last".utf8))
        try rig.receive(.connectionClose, [0x03, 0xE8] + Array("done".utf8))
        let echo = try #require(try rig.written())
        #expect(echo.opcode == .connectionClose)
        #expect(Array(echo.data.readableBytesView.prefix(2)) == [0x03, 0xE8])
        rig.channel.embeddedEventLoop.run()
        #expect(!rig.channel.isActive)
        var frames: [Frame] = []
        for try await f in rig.stream { frames.append(f.frame) }
        #expect(frames == [.text("last")])
        #expect(rig.lifecycle.isFinished && rig.lifecycle.current.state == .closed)
    }

    @Test func localCloseWaitsForThePeersClose() throws {
        let rig = try Rig()
        rig.handler.startClose(code: .goingAway, reason: "bye")
        let close = try #require(try rig.written())
        #expect(close.opcode == .connectionClose)
        #expect(rig.channel.isActive, "the socket stays open until the peer answers")
        #expect(rig.handler.send(.text("late")) == nil, "close is terminal for sends")
        try rig.receive(.connectionClose, [0x03, 0xE9])
        rig.channel.embeddedEventLoop.run()
        #expect(!rig.channel.isActive)
        guard case .localClose(let code, let reason) = rig.lifecycle.current.lastDisconnect else {
            Issue.record("expected a local close")
            return
        }
        #expect(code == .goingAway && reason == "bye")
    }

    @Test func localCloseTimesOutWhenThePeerNeverAnswers() throws {
        let rig = try Rig()
        rig.handler.startClose(code: .normalClosure, reason: "")
        rig.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(rig.channel.isActive)
        rig.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!rig.channel.isActive)
    }

    @Test func protocolErrorSendsTheCloseCodeAndFailsTheStream() async throws {
        let rig = try Rig()
        try rig.receive(.text, [0xFF])
        let close = try #require(try rig.written())
        #expect(close.opcode == .connectionClose)
        #expect(Array(close.data.readableBytesView.prefix(2)) == [0x03, 0xEF], "1007")
        try rig.receive(.connectionClose, [0x03, 0xEF])
        rig.channel.embeddedEventLoop.run()
        do {
            for try await _ in rig.stream {}
            Issue.record("expected an error")
        } catch {
            #expect((error as? WSError)?.code == .invalidUTF8)
        }
    }

    @Test func transportLossWithoutCloseIs1006() async throws {
        let rig = try Rig()
        try rig.receive(.binary, [1])
        rig.channel.pipeline.fireChannelInactive()
        var got: [Frame] = []
        do {
            for try await f in rig.stream { got.append(f.frame) }
            Issue.record("expected an error")
        } catch {
            #expect((error as? WSError)?.code == .connectionLost)
            #expect((error as? WSError)?.closeCode == .abnormalClosure)
        }
        #expect(got == [.binary([1])])
    }
}

extension ConnectionHandlerTests {
    @Test func pingFloodIsAnsweredWithBoundedPongsForTheLatestPing() throws {
        let channel = EmbeddedChannel()
        let (_, producer) = InboundStream.makeStream()
        let activity = ConnectionActivity()
        let handler = WebSocketConnectionHandler(
            maxMessageSize: 1 << 20, producer: producer, lifecycle: LifecycleWatch(LifecycleSnapshot(state: .connected)),
            activity: activity, closeTimeout: .seconds(5), pongMinInterval: .seconds(3600))
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for i in 0..<100 {
            try channel.writeInbound(WebSocketFrame(fin: true, opcode: .ping, data: channel.allocator.buffer(bytes: [UInt8(i)])))
        }
        var pongs: [[UInt8]] = []
        while let f = try channel.readOutbound(as: WebSocketFrame.self) { pongs.append(Array(f.data.readableBytesView)) }
        #expect(pongs == [[0]], "the first ping is answered at once; the rest wait for the interval")
        #expect(activity.pingsReceived == 100 && activity.pongsSent == 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(3600))
        let late = try #require(try channel.readOutbound(as: WebSocketFrame.self))
        #expect(Array(late.data.readableBytesView) == [99], "then only the latest ping is answered")
        #expect(try channel.readOutbound(as: WebSocketFrame.self) == nil)
        #expect(activity.pongsSent == 2)
    }
}
