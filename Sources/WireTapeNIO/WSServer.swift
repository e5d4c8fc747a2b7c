import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import WireTapeCore

#if canImport(Glibc)
import Glibc
#endif

/// The package's one WebSocket server: it accepts connections on a loopback (or any) address
/// and asks a ``Responder`` what to do with each upgrade request — accept it and run a
/// session, refuse it with an HTTP status, or reset the TCP connection. `wiretape serve`
/// (a journal played to clients in any language) and the demo feed both run on it.
///
/// An accepted client is a `WSConnection`, the same type a ``NIOConnector`` returns, run by
/// the same protocol engine in the server role: its `inbound` holds the messages the client
/// sent (with read backpressure), its `sink` sends to the client (`close(code:reason:)` runs
/// the close handshake, `abort()` resets the TCP connection, as a crashed venue does), and
/// pings are answered as ``PongPolicy`` says. When the session returns, the connection is
/// closed (1000) if it is still open.
///
/// ```swift
/// let server = try await WSServer.start(port: 0) { request in
///     if request.uri.hasPrefix("/busy") {
///         return .reject(status: 503, headers: [HTTPHeaderField("Retry-After", "1")])
///     }
///     return .accept { client in
///         try? await client.sink.send(.text("hello"))
///         await client.sink.close(code: .goingAway, reason: "bye")
///     }
/// }
/// print(server.url)   // ws://127.0.0.1:PORT/
/// ```
public final class WSServer: Sendable {
    /// An upgrade request as the responder sees it.
    public struct Request: Sendable {
        /// The request target, e.g. `/ws/btcusdt@trade`.
        public var uri: String
        /// The request headers, as sent.
        public var headers: [HTTPHeaderField]
        /// The client's address, e.g. `127.0.0.1:53122`.
        public var remoteAddress: String?
    }

    /// How pings from a client are answered.
    public enum PongPolicy: Sendable {
        /// Every ping gets a pong (RFC 6455).
        case always
        /// The closure decides per ping (given its payload); `false` leaves it unanswered, as a
        /// half-open socket or a replayed silence does.
        case ask(@Sendable ([UInt8]) async -> Bool)
    }

    /// What to do with an upgrade request.
    public enum Answer: Sendable {
        /// Complete the upgrade and run `session` with the client's connection.
        case accept(pongs: PongPolicy, session: @Sendable (WSConnection) async -> Void)
        /// Refuse the upgrade with this HTTP status, headers (e.g. `Retry-After`) and body.
        case reject(status: Int, headers: [HTTPHeaderField], body: String)
        /// Reset the TCP connection without answering (the client sees the connection lost
        /// during the handshake).
        case reset

        /// Accept, answering every ping.
        public static func accept(_ session: @escaping @Sendable (WSConnection) async -> Void) -> Answer {
            .accept(pongs: .always, session: session)
        }

        /// Refuse with `status`, `headers` and an empty body.
        public static func reject(status: Int, headers: [HTTPHeaderField] = []) -> Answer {
            .reject(status: status, headers: headers, body: "")
        }
    }

    /// Decides what to do with each upgrade request; called once per incoming connection, in
    /// the order the requests arrive. It may take its time: the client waits for the answer.
    public typealias Responder = @Sendable (Request) async -> Answer

    /// The address the server listens on.
    public let host: String
    /// The port it listens on (the one the system picked when started with port 0).
    public let port: Int
    private let channel: any Channel
    private let clients: ClientChannels

    private init(host: String, channel: any Channel, clients: ClientChannels) {
        self.host = host
        self.port = channel.localAddress?.port ?? 0
        self.channel = channel
        self.clients = clients
    }

    /// The URL clients connect to: `ws://HOST:PORT/`.
    public var url: String { "ws://\(host.contains(":") ? "[\(host)]" : host):\(port)/" }

    /// Starts listening.
    /// - Parameters:
    ///   - host: The address to bind; loopback by default.
    ///   - port: The port; 0 picks a free one (read it from ``port``).
    ///   - config: Limits of accepted connections (maximum message size, inbound high-water
    ///     marks, close timeout).
    ///   - group: The event loops.
    ///   - responder: What to do with each upgrade request.
    /// - Throws: ``WireTapeCore/WSError`` `ioError` when the address cannot be bound.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, config: WSConfig = WSConfig(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        responder: @escaping Responder
    ) async throws -> WSServer {
        let clients = ClientChannels()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let slot = AnswerSlot()
                clients.add(channel, slot)
                let activity = ConnectionActivity()
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: min(config.maxMessageSize, Int(UInt32.max)), automaticErrorHandling: false,
                    shouldUpgrade: { channel, head in
                        Self.decide(channel: channel, head: head, slot: slot, responder: responder)
                    },
                    upgradePipelineHandler: { channel, _ in
                        Self.upgraded(channel: channel, slot: slot, activity: activity, config: config)
                    })
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ReceiveTimestampHandler(activity: activity))
                    try sync.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try sync.addHandler(RefusalHandler(slot: slot))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            return WSServer(host: host, channel: channel, clients: clients)
        } catch {
            throw WSError(.ioError, "cannot listen on \(host):\(port): \(error)", underlying: error)
        }
    }

    /// Stops listening, then ends every open client connection and waits until they are closed:
    /// a WebSocket client gets a close frame (1001 "server stopping") and at most
    /// `WSConfig.closeTimeout` to answer; a request the responder is deciding on is answered
    /// first (a refusal is written, then the connection closes); a connection that has sent no
    /// upgrade request yet is closed at once.
    public func stop() async {
        try? await channel.close()
        for (client, slot) in clients.all() {
            switch slot.answer {
            case .accept?:
                client.eventLoop.execute {
                    let handler = try? client.pipeline.syncOperations.handler(type: WebSocketConnectionHandler.self)
                    if let handler { handler.startClose(code: .goingAway, reason: "server stopping") } else { client.close(promise: nil) }
                }
            case .reject?, .reset?:
                break  // it closes itself once answered
            case nil:
                if !slot.asked { client.close(promise: nil) }
            }
            try? await client.closeFuture.get()
        }
    }

    /// Asks the responder, on a task, and answers the upgrader: headers to accept, `nil` to
    /// let the request through to ``RefusalHandler``.
    private static func decide(
        channel: any Channel, head: HTTPRequestHead, slot: AnswerSlot, responder: @escaping Responder
    ) -> EventLoopFuture<HTTPHeaders?> {
        let request = Request(
            uri: head.uri, headers: head.headers.map { HTTPHeaderField($0.name, $0.value) },
            remoteAddress: channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" })
        let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
        slot.startDeciding()
        Task {
            let answer = await responder(request)
            slot.set(answer)
            switch answer {
            case .accept: promise.succeed(HTTPHeaders())
            case .reject: promise.succeed(nil)
            case .reset:
                promise.succeed(nil)
                reset(channel)
            }
        }
        return promise.futureResult
    }

    /// Installs the protocol engine on an upgraded channel and starts the session.
    private static func upgraded(
        channel: any Channel, slot: AnswerSlot, activity: ConnectionActivity, config: WSConfig
    ) -> EventLoopFuture<Void> {
        guard case .accept(let pongs, let session)? = slot.answer else {
            return channel.eventLoop.makeFailedFuture(WSError(.ioError, "upgraded without an accepting answer"))
        }
        let (inbound, producer) = InboundStream.makeStream(config: config)
        let lifecycle = LifecycleWatch(LifecycleSnapshot(epoch: WebSocketConnectionHandler.epoch, state: .connected))
        let handler = WebSocketConnectionHandler(
            maxMessageSize: config.maxMessageSize, producer: producer, lifecycle: lifecycle, activity: activity,
            closeTimeout: config.closeTimeout, role: .server, pongs: pongs)
        return channel.eventLoop.makeCompletedFuture {
            let sync = channel.pipeline.syncOperations
            // WebSocket frames now; the HTTP refusal path is gone with the HTTP handlers.
            if let refusal = try? sync.handler(type: RefusalHandler.self) { sync.removeHandler(refusal, promise: nil) }
            try WebSocketConnectionHandler.install(handler, on: sync)
            let address = channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" }
            let peer = address.map { "the client \($0)" } ?? "the client"
            let info = ConnectionInfo(remoteAddress: address, connectedAt: .now())
            let connection = NIOWebSocketSink.connection(
                channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), peer: peer,
                inbound: inbound, producer: producer, lifecycle: lifecycle, info: info, activity: activity)
            Task {
                await session(connection)
                await connection.sink.close(code: .normalClosure, reason: "")
            }
        }
    }

    /// Drops the TCP connection with a reset (SO_LINGER 0).
    static func reset(_ channel: any Channel) {
        guard let socket = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// The responder's answer for one connection, handed from the deciding task to the pipeline.
private final class AnswerSlot: Sendable {
    private let value = Mutex<(deciding: Bool, answer: WSServer.Answer?)>((false, nil))
    var answer: WSServer.Answer? { value.withLock { $0.answer } }
    /// Whether the responder was asked (it may not have answered yet).
    var asked: Bool { value.withLock { $0.deciding || $0.answer != nil } }
    func startDeciding() { value.withLock { $0.deciding = true } }
    func set(_ answer: WSServer.Answer) { value.withLock { $0 = (false, answer) } }
}

/// The open client channels and their answers, so ``WSServer/stop()`` can end them.
private final class ClientChannels: Sendable {
    private let channels = Mutex<[ObjectIdentifier: (any Channel, AnswerSlot)]>([:])

    func add(_ channel: any Channel, _ slot: AnswerSlot) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = (channel, slot) }
        channel.closeFuture.whenComplete { [weak self] _ in _ = self?.channels.withLock { $0.removeValue(forKey: id) } }
    }

    func all() -> [(any Channel, AnswerSlot)] { channels.withLock { Array($0.values) } }
}

/// Answers an HTTP request that was not upgraded: the responder's refusal (status, headers,
/// body), or 426 for a request that did not ask for a WebSocket; then closes the connection.
private final class RefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let slot: AnswerSlot

    init(slot: AnswerSlot) { self.slot = slot }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var status = 426
        var fields = [HTTPHeaderField("Upgrade", "websocket")]
        var body = "this server only speaks WebSocket\n"
        switch slot.answer {
        case .reject(let s, let h, let b)?: (status, fields, body) = (s, h, b)
        case .reset?: return
        case .accept?, nil: break
        }
        var headers = HTTPHeaders(fields.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(body.utf8.count))
        headers.replaceOrAdd(name: "Connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused upgrade reaches here as this error, just before the request itself: the
        // request is answered with the refusal.
        if let e = error as? NIOWebSocketUpgradeError, e == .unsupportedWebSocketTarget { return }
        context.close(promise: nil)
    }
}
