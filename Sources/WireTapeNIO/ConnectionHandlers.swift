import NIOCore
import NIOHTTP1
import NIOWebSocket
import WireTapeCore

/// First handler of the pipeline: stamps every socket read with wall and monotonic time
/// before TLS or WebSocket decoding, and counts the bytes for liveness.
///
/// Frames completed by a read carry that read's timestamp: they arrived in the same
/// `read(2)`, which is as close to the socket as user space gets.
final class ReceiveTimestampHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var lastRead = ReceiveTimestamp(wallNanos: 0, monotonicNanos: 0)
    private let activity: ConnectionActivity

    init(activity: ConnectionActivity) {
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = ReceiveTimestamp.now()
        lastRead = now
        activity.recordRead(bytes: unwrapInboundIn(data).readableBytes, at: now.monotonicNanos)
        context.fireChannelRead(data)
    }
}

/// Catches the end of a failed upgrade: a non-101 response (status, headers, the start of the
/// body), a transport error, or the connection closing during the handshake. Removed once
/// the upgrade succeeds.
final class HandshakeResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<HTTPResponseHead>
    private let url: WSURL
    private var rejected: HTTPResponseHead?
    private var body = ByteBuffer()
    private static let bodyLimit = 512

    init(promise: EventLoopPromise<HTTPResponseHead>, url: WSURL) {
        self.promise = promise
        self.url = url
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            rejected = head
        case .body(var part):
            if body.readableBytes < Self.bodyLimit {
                var slice = part.readSlice(length: min(part.readableBytes, Self.bodyLimit - body.readableBytes))!
                body.writeBuffer(&slice)
            }
        case .end:
            failRejected()
            context.close(promise: nil)
        }
    }

    private func failRejected() {
        guard let head = rejected else { return }
        rejected = nil
        promise.fail(Self.rejection(head, body: body, url: url))
    }

    /// The error for a non-101 answer, with the status and the headers worth showing.
    static func rejection(_ head: HTTPResponseHead, body: ByteBuffer, url: WSURL) -> WSError {
        let interesting: Set<String> = [
            "retry-after", "www-authenticate", "content-type", "server", "date", "location",
            "x-mbx-used-weight", "x-mbx-used-weight-1m", "ratelimit-reset", "x-ratelimit-reset",
        ]
        let headers = Redaction.redact(
            head.headers.filter { interesting.contains($0.name.lowercased()) }.map { HTTPHeaderField($0.name, $0.value) })
        var text = String(buffer: body).filter { !$0.isNewline }
        if text.count > 200 { text = String(text.prefix(200)) + "…" }
        let status = Int(head.status.code)
        var message = "the server answered HTTP \(status) \(head.status.reasonPhrase) to the WebSocket upgrade of \(url.redactedDescription)"
        if let retry = headers.first(where: { $0.name.lowercased() == "retry-after" }) {
            message += "; Retry-After: \(retry.value)"
        }
        if !text.isEmpty { message += "; body: \(text)" }
        return WSError(.handshakeRejected, message, httpStatus: status, responseHeaders: headers)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(ConnectErrorMapper.map(error, url: url, phase: .handshake))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failRejected()
        promise.fail(
            WSError(
                .connectionLost,
                "the server closed the connection during the WebSocket handshake with \(url.redactedDescription)",
                closeCode: .abnormalClosure))
        context.fireChannelInactive()
    }
}

/// The connection's protocol engine after the upgrade: parses the socket's bytes into messages
/// (through ``MessageAssembler``, in place of NIO's frame decoder), answers pings, runs the
/// close handshake, applies read backpressure from the inbound stream, and publishes the final
/// lifecycle edge. The same engine serves
/// both ends: ``NIOConnector`` runs it as the client (masked sends), ``WSServer`` as the server
/// (unmasked sends; pings may be answered by the application's ``WSServer/PongPolicy``, and
/// `abort` resets the TCP connection).
///
/// Every message of one socket read carries that read's ``ReceiveTimestamp``, and they reach
/// the inbound stream together at read-complete.
///
/// A protocol failure ends the inbound stream with the error *after* every message received
/// before it, and the close frame goes out when the consumer has taken that end (or after
/// the close timeout): a consumer's replies to those messages (an echo) precede the close on
/// the wire, and a recorder keeps the frames before a venue's protocol error.
///
/// All state lives on the channel's event loop; the sink reaches it through `NIOLoopBound`.
final class WebSocketConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum CloseState {
        case open
        /// The peer broke the protocol: the inbound stream ended with the error; sends still
        /// go out until the close frame is sent (when the consumer took the end).
        case failing(WSError)
        /// We sent a close frame (for a local close or a protocol failure) and wait for the peer's.
        case sentClose
        /// The close handshake is done or the transport is gone.
        case closed
    }

    static let epoch: UInt64 = 1

    private var assembler: MessageAssembler
    private let producer: InboundStream.Producer
    private let lifecycle: LifecycleWatch
    private let activity: ConnectionActivity
    private let closeTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var stamps: ReceiveTimestampHandler?
    /// Frames of the current socket read, handed to the stream together at read-complete.
    private var batch: [InboundFrame] = []
    private var readPaused = false
    private var readPending = false
    private var closeState = CloseState.open
    private var cause: DisconnectCause?
    private var closeTimer: Scheduled<Void>?
    private let pongMinInterval: TimeAmount
    private var lastPong: NIODeadline?
    private var pendingPong: ByteBuffer?
    private var pongTimer: Scheduled<Void>?
    private let role: WebSocketRole
    private let pongs: WSServer.PongPolicy

    init(
        maxMessageSize: Int, producer: InboundStream.Producer, lifecycle: LifecycleWatch,
        activity: ConnectionActivity, closeTimeout: Duration, pongMinInterval: Duration = .zero,
        role: WebSocketRole = .client, pongs: WSServer.PongPolicy = .always
    ) {
        self.role = role
        self.pongs = pongs
        self.pongMinInterval = TimeAmount(pongMinInterval)
        self.assembler = MessageAssembler(maxMessageSize: maxMessageSize, role: role)
        self.producer = producer
        self.lifecycle = lifecycle
        self.activity = activity
        self.closeTimeout = TimeAmount(closeTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        stamps = try? context.pipeline.syncOperations.handler(type: ReceiveTimestampHandler.self)
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        producer.setEndHandler { loop.execute { bound.value.consumerTookEnd() } }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Installs the engine on a channel the NIO upgrader just upgraded: in front of the frame
    /// decoder it added, which is removed (the engine parses the bytes itself, including any
    /// that followed the handshake response in the same read).
    static func install(_ handler: WebSocketConnectionHandler, on pipeline: ChannelPipeline.SynchronousOperations) throws {
        if let decoder = try? pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
            try pipeline.addHandler(handler, position: .before(decoder))
            pipeline.removeHandler(decoder, promise: nil)
        } else {
            try pipeline.addHandler(handler)
        }
    }

    // MARK: Inbound

    private var isOpen: Bool {
        if case .open = closeState { return true }
        return false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if case .closed = closeState { return }
        let received = stamps?.lastRead ?? .now()
        while let action = assembler.next(&input) {
            handle(action, received: received, context: context)
            if case .closed = closeState { return }
        }
    }

    private func handle(_ action: MessageAssembler.Action, received: ReceiveTimestamp, context: ChannelHandlerContext) {
        switch action {
        case .deliver(let message):
            guard isOpen else { return }
            batch.append(InboundFrame(frame: message, epoch: Self.epoch, received: received))
            if batch.count >= 512 { flushBatch() }
        case .pong(let payload):
            activity.recordPingReceived()
            guard isOpen else { return }
            switch pongs {
            case .always:
                answerPing(context: context, payload: payload)
            case .ask(let decide):
                // The application decides (a replayed silence leaves pings unanswered); the
                // answer comes back to the event loop.
                let loop = context.eventLoop
                let bound = NIOLoopBound((self, context), eventLoop: loop)
                let bytes = Array(payload.readableBytesView)
                Task {
                    guard await decide(bytes) else { return }
                    loop.execute {
                        let (handler, context) = bound.value
                        guard handler.isOpen else { return }
                        handler.answerPing(context: context, payload: payload)
                    }
                }
            }
        case .pongReceived:
            activity.recordPongReceived(at: ReceiveTimestamp.now().monotonicNanos)
        case .peerClose(let code, let reason):
            switch closeState {
            case .open:
                cause = .peerClosed(code: code, reason: reason)
                // Echo the code (RFC 6455 §5.5.1); 1005 means "none", answered with 1000.
                sendLastClose(context: context, code: code == .noStatusReceived ? .normalClosure : code)
            case .failing(let error):
                // The peer closed before the consumer took the failure: close now.
                sendLastClose(context: context, code: error.closeCode ?? .protocolError)
            case .sentClose:
                closeState = .closed
                context.close(promise: nil)
            case .closed:
                break
            }
        case .fail(let error):
            fail(context: context, error)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushBatch()
        context.fireChannelReadComplete()
    }

    /// Hands the batched frames to the stream; pauses socket reads when it is full.
    private func flushBatch() {
        guard !batch.isEmpty else { return }
        if !producer.yield(contentsOf: batch) { readPaused = true }
        batch.removeAll(keepingCapacity: true)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if cause == nil {
            cause = .error(
                WSError(
                    .connectionLost, "the connection failed: \(error)", underlying: error,
                    closeCode: .abnormalClosure))
        }
        closeState = .closed
        context.close(promise: nil)
    }

    /// Sends a pong now, or, within `pongMinInterval` of the last one, remembers the latest
    /// ping's payload and answers it when the interval has passed.
    private func answerPing(context: ChannelHandlerContext, payload: ByteBuffer) {
        let now = context.eventLoop.now
        if let last = lastPong, pongMinInterval > .zero, now < last + pongMinInterval {
            let waiting = pendingPong != nil
            pendingPong = payload
            if !waiting {
                pongTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: last + pongMinInterval) { [self] in
                    guard isOpen, let pending = pendingPong else { return }
                    pendingPong = nil
                    sendPong(context: context, payload: pending)
                }
            }
            return
        }
        sendPong(context: context, payload: payload)
    }

    private func sendPong(context: ChannelHandlerContext, payload: ByteBuffer) {
        lastPong = context.eventLoop.now
        write(context: context, opcode: .pong, data: payload, promise: nil)
        activity.recordPongSent()
    }

    func channelInactive(context: ChannelHandlerContext) {
        flushBatch()
        producer.setEndHandler(nil)
        closeTimer?.cancel()
        pongTimer?.cancel()
        closeState = .closed
        let final = cause ?? .error(
            WSError(
                .connectionLost, "the connection ended without a close handshake (1006)",
                closeCode: .abnormalClosure))
        // The lifecycle is final before the stream ends, so whoever sees the end (an
        // iterator, or a diverted stream's end handler, called synchronously) finds the cause.
        lifecycle.finish(LifecycleSnapshot(epoch: Self.epoch, state: .closed, lastDisconnect: final))
        switch final {
        case .peerClosed(let code, let reason):
            if code.isClean || code == .noStatusReceived {
                producer.finish()
            } else {
                producer.finish(
                    throwing: WSError(
                        .closedByPeer, "the server closed the connection with code \(code)\(reason.isEmpty ? "" : " \"\(reason)\"")",
                        closeCode: code, closeReason: reason))
            }
        case .localClose:
            producer.finish()
        case .error(let e):
            producer.finish(throwing: e)
        }
        context.fireChannelInactive()
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Called when the consumer drained the inbound queue.
    func resumeReading() {
        readPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: Outbound (called on the event loop by the sink)

    /// Sends a data frame; `nil` once the close frame was sent. After a protocol failure,
    /// sends still go out until the consumer took the failure (replies to the messages that
    /// preceded it).
    func send(_ frame: Frame) -> EventLoopFuture<Void>? {
        guard let context, canSend else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        switch frame {
        case .text(let s):
            write(context: context, opcode: .text, data: context.channel.allocator.buffer(string: s), promise: promise)
        case .binary(let b):
            write(context: context, opcode: .binary, data: context.channel.allocator.buffer(bytes: b), promise: promise)
        }
        return promise.futureResult
    }

    func sendPing(_ payload: [UInt8]) -> EventLoopFuture<Void>? {
        guard let context, canSend else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        write(context: context, opcode: .ping, data: context.channel.allocator.buffer(bytes: payload), promise: promise)
        return promise.futureResult
    }

    private var canSend: Bool {
        switch closeState {
        case .open, .failing: return true
        case .sentClose, .closed: return false
        }
    }

    /// Starts a local close; the channel closes when the peer answers or after the close timeout.
    func startClose(code: WSCloseCode, reason: String) {
        guard let context, isOpen else { return }
        cause = .localClose(code: code, reason: reason)
        beginClosing(context: context, code: code, reason: reason)
    }

    /// Drops the connection at once, without a close handshake (the peer is known dead, or
    /// a close already sent need not be answered). The inbound stream ends normally after the
    /// frames already received; the lifecycle shows a local close with 1006.
    func abort() {
        guard let context else { return }
        if cause == nil { cause = .localClose(code: .abnormalClosure, reason: "aborted") }
        closeState = .closed
        closeTimer?.cancel()
        if role == .server {
            // A server's abort is a TCP reset (SO_LINGER 0), as a crashed venue produces.
            WSServer.reset(context.channel)
            return
        }
        context.close(promise: nil)
    }

    /// A protocol failure: the messages before it go to the stream, then the error ends it;
    /// the close frame follows when the consumer took that end (``consumerTookEnd()``), or
    /// after the close timeout if it does not.
    private func fail(context: ChannelHandlerContext, _ error: WSError) {
        guard isOpen else { return }
        let final = DisconnectCause.error(error)
        cause = final
        closeState = .failing(error)
        flushBatch()
        // The lifecycle is final before the stream ends (see channelInactive).
        lifecycle.finish(LifecycleSnapshot(epoch: Self.epoch, state: .closed, lastDisconnect: final))
        producer.finish(throwing: error)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: closeTimeout) { [self] in
            consumerTookEnd()
        }
    }

    /// The consumer took the end of the inbound stream: after a protocol failure, the close
    /// frame goes out now. An oversized message is not read to its end, so the connection
    /// closes once the close frame is written; otherwise the peer's close is awaited.
    func consumerTookEnd() {
        guard let context, case .failing(let error) = closeState else { return }
        closeTimer?.cancel()
        let code = error.closeCode ?? .protocolError
        if error.code == .messageTooLarge {
            sendLastClose(context: context, code: code)
        } else {
            beginClosing(context: context, code: code, reason: "")
        }
    }

    private func beginClosing(context: ChannelHandlerContext, code: WSCloseCode, reason: String) {
        closeState = .sentClose
        // Frames already queued stay deliverable; data arriving while closing is ignored.
        _ = sendClose(context: context, code: code, reason: reason)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: closeTimeout) {
            context.close(promise: nil)
        }
    }

    /// Sends a close frame that ends the handshake on our side (nothing is awaited from the
    /// peer), then closes the channel once it is written.
    private func sendLastClose(context: ChannelHandlerContext, code: WSCloseCode) {
        closeState = .closed
        sendClose(context: context, code: code, reason: "").assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func sendClose(context: ChannelHandlerContext, code: WSCloseCode, reason: String) -> EventLoopFuture<Void> {
        var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code.rawValue)
        // Close reasons are limited to 123 bytes so the frame stays a valid control frame.
        data.writeString(String(decoding: reason.utf8.prefix(123), as: UTF8.self))
        let promise = context.eventLoop.makePromise(of: Void.self)
        write(context: context, opcode: .connectionClose, data: data, promise: promise)
        return promise.futureResult
    }

    private func write(
        context: ChannelHandlerContext, opcode: WebSocketOpcode, data: ByteBuffer, promise: EventLoopPromise<Void>?
    ) {
        let frame = WebSocketFrame(fin: true, opcode: opcode, maskKey: role == .client ? .random() : nil, data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: promise)
    }
}
