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
            try channel.writeInbound(
                channel.allocator.buffer(bytes: WireFrames.frame(UInt8(webSocketOpcode: opcode), bytes, fin: fin)))
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
            try channel.writeInbound(channel.allocator.buffer(bytes: WireFrames.frame(0x9, [UInt8(i)])))
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

/// A protocol failure on a thread-safe test channel (the consumer taking the stream's end
/// calls back into the event loop from its own thread).
struct ConnectionHandlerFailureTests {
    struct Rig {
        let channel: NIOAsyncTestingChannel
        let stream: InboundStream
        let lifecycle = LifecycleWatch(LifecycleSnapshot(epoch: 1, state: .connected))

        init() async throws {
            let (stream, producer) = InboundStream.makeStream()
            self.stream = stream
            let lifecycle = self.lifecycle
            channel = try await NIOAsyncTestingChannel { channel in
                try channel.pipeline.syncOperations.addHandler(
                    WebSocketConnectionHandler(
                        maxMessageSize: 1 << 20, producer: producer, lifecycle: lifecycle, activity: ConnectionActivity(),
                        closeTimeout: .seconds(5)))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        }

        func receive(_ bytes: [UInt8]) async throws {
            try await channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        }

        func send(_ frame: Frame) async throws {
            let channel = self.channel
            try await channel.testingEventLoop.executeInContext {
                let handler = try channel.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
                #expect(handler.send(frame) != nil, "sends go out until the close is sent")
            }
        }

        struct Written {
            var opcode: WebSocketOpcode
            var payload: [UInt8]
        }

        func written() async throws -> [Written] {
            var out: [Written] = []
            while let f = try await channel.readOutbound(as: WebSocketFrame.self) {
                out.append(Written(opcode: f.opcode, payload: Array(f.data.readableBytesView)))  // masked later, by the encoder
            }
            return out
        }
    }

    /// Autobahn 3.2, 4.1.3, 5.15: what arrived valid before the violation, in the same read, is
    /// delivered, and the consumer's replies to it go out before the close.
    @Test func messagesBeforeAFailureAreDeliveredAndRepliesPrecedeTheClose() async throws {
        let rig = try await Rig()
        try await rig.receive(
            WireFrames.text("one") + WireFrames.frame(0x2, [1]) + WireFrames.frame(0x1, Array("bad".utf8), rsv: 1)
                + WireFrames.frame(0x9, [7]))
        #expect(try await rig.written().isEmpty, "no close before the consumer took the messages")
        var iterator = rig.stream.makeAsyncIterator()
        let first = try await iterator.next()
        #expect(first?.frame == .text("one"))
        try await rig.send(.text("one"))
        let second = try await iterator.next()
        #expect(second?.frame == .binary([1]))
        try await rig.send(.binary([1]))
        do {
            _ = try await iterator.next()
            Issue.record("expected the protocol error")
        } catch {
            #expect((error as? WSError)?.code == .protocolViolation)
        }
        await rig.channel.testingEventLoop.run()
        let out = try await rig.written()
        #expect(out.map(\.opcode) == [.text, .binary, .connectionClose], "the echoes, then the close; no pong after the failure")
        #expect(out.last?.payload == [0x03, 0xEA], "1002")
        #expect(rig.lifecycle.isFinished)
        guard case .error(let e)? = rig.lifecycle.current.lastDisconnect else {
            Issue.record("expected the error as the cause")
            return
        }
        #expect(e.code == .protocolViolation)
        // The peer answers the close; the connection ends.
        try await rig.receive(WireFrames.frame(0x8, [0x03, 0xEA]))
        await rig.channel.testingEventLoop.run()
        #expect(!(try await rig.channel.testingEventLoop.executeInContext { rig.channel.isActive }))
    }

    /// Autobahn 6.4.3: invalid UTF-8 inside one frame that is still arriving fails at once.
    @Test func invalidUTF8FailsBeforeTheFrameIsComplete() async throws {
        let rig = try await Rig()
        let frame = WireFrames.frame(0x1, [0x61, 0x62, 0xF4, 0x90, 0x80] + [UInt8](repeating: 0x61, count: 100))
        try await rig.receive(Array(frame.prefix(6)))  // the header, "ab", F4 90: no valid code point starts F4 90
        var iterator = rig.stream.makeAsyncIterator()
        do {
            _ = try await iterator.next()
            Issue.record("expected the UTF-8 error")
        } catch {
            #expect((error as? WSError)?.code == .invalidUTF8)
        }
        await rig.channel.testingEventLoop.run()
        let out = try await rig.written()
        #expect(out.map(\.opcode) == [.connectionClose])
        #expect(out.first?.payload == [0x03, 0xEF], "1007")
    }

    @Test func aConsumerThatNeverReadsGetsTheCloseAfterTheCloseTimeout() async throws {
        let rig = try await Rig()
        try await rig.receive(WireFrames.text("one") + WireFrames.frame(0x0, [1]))
        await rig.channel.testingEventLoop.advanceTime(by: .seconds(4))
        #expect(try await rig.written().isEmpty)
        await rig.channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await rig.written().map(\.opcode) == [.connectionClose])
        await rig.channel.testingEventLoop.advanceTime(by: .seconds(5))
        #expect(!(try await rig.channel.testingEventLoop.executeInContext { rig.channel.isActive }), "then the close timeout")
        var frames: [Frame] = []
        do {
            for try await f in rig.stream { frames.append(f.frame) }
        } catch {}
        #expect(frames == [.text("one")])
    }
}
