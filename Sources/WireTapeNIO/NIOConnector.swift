import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import WireTapeCore

/// The real ``WSConnector``: WebSocket over TCP (and TLS for `wss://`) on SwiftNIO.
///
/// - TLS verifies the certificate chain and the host name against the system trust store;
///   ``TLSOptions/extraTrustRootsPEMFile`` adds roots. There is no accept-all mode.
/// - The handshake sends the request's headers, the subprotocols and the credentials from
///   the ``AuthSource`` (asked on every connect); failures are classified (``WSError/Code``):
///   HTTP status with `Retry-After`, DNS, refused, connect and handshake timeouts, TLS.
/// - RFC 6455 client rules: masked frames, reassembled fragments, fail-fast UTF-8 checks
///   (1007), automatic pongs echoing the ping payload, the close handshake with codes and
///   reasons, the maximum message size (1009), reserved bits and opcodes rejected (1002).
/// - Backpressure: when the consumer stops reading the inbound stream, socket reads stop.
///
/// ```swift
/// let connector = NIOConnector()
/// let conn = try await connector.connect(ConnectRequest(url: try WSURL("wss://example.com/feed")))
/// try await conn.sink.send(.text(#"{"op":"subscribe"}"#))
/// for try await frame in conn.inbound { print(frame.frame) }
/// ```
public struct NIOConnector: WSConnector {
    private let group: any EventLoopGroup

    /// Creates a connector on `group` (by default NIO's shared singleton group).
    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    /// Opens a WebSocket connection; see the type's documentation.
    /// - Throws: ``WSError``.
    public func connect(_ request: ConnectRequest) async throws -> WSConnection {
        let url = request.url
        let credentials: Credentials
        do {
            credentials = try await request.auth?.credentials(for: url) ?? .none
        } catch {
            throw error as? WSError
                ?? WSError(.authFailed, "the AuthSource failed to provide credentials for \(url.redactedDescription)", underlying: error)
        }
        let head = Self.requestHead(request, credentials: credentials)
        let sslContext = try url.isSecure ? Self.makeSSLContext(request.tls) : nil
        let sniName: String? = request.tls.serverNameOverride ?? (url.hostIsIPAddress ? nil : url.host)

        let config = request.config
        let activity = ConnectionActivity()
        let (inbound, producer) = InboundStream.makeStream(config: config)
        let lifecycle = LifecycleWatch(LifecycleSnapshot(epoch: WebSocketConnectionHandler.epoch, state: .connected))
        let offered = request.subprotocols

        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: HTTPResponseHead.self)
        // The handler, and when the handshake completed: the timestamp of the socket read that
        // carried the 101 response. Frames decoded from the same read carry the same stamp and
        // later reads later ones, so `connectedAt` never follows the epoch's first frame.
        let upgraded = eventLoop.makePromise(of: (NIOLoopBound<WebSocketConnectionHandler>, ReceiveTimestamp).self)
        promise.futureResult.whenFailure { upgraded.fail($0) }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(config.connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ReceiveTimestampHandler(activity: activity))
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: sniName))
                    }
                    let upgrader = NIOWebSocketClientUpgrader(
                        maxFrameSize: min(config.maxMessageSize, Int(UInt32.max)),
                        automaticErrorHandling: false
                    ) { channel, response in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            if let h = try? sync.handler(type: HandshakeResponseHandler.self) {
                                sync.removeHandler(h, promise: nil)
                            }
                            if let problem = Self.validate(response, offered: offered, url: url) {
                                promise.fail(problem)
                                channel.close(promise: nil)
                                return
                            }
                            let handler = WebSocketConnectionHandler(
                                maxMessageSize: config.maxMessageSize, producer: producer,
                                lifecycle: lifecycle, activity: activity, closeTimeout: config.closeTimeout,
                                pongMinInterval: config.pongMinInterval)
                            let readAt = (try? sync.handler(type: ReceiveTimestampHandler.self))?.lastRead
                            let connectedAt = readAt.flatMap { $0.monotonicNanos == 0 ? nil : $0 } ?? .now()
                            try WebSocketConnectionHandler.install(handler, on: sync)
                            upgraded.succeed((NIOLoopBound(handler, eventLoop: channel.eventLoop), connectedAt))
                            promise.succeed(response)
                        }
                    }
                    try sync.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try sync.addHandler(HandshakeResponseHandler(promise: promise, url: url))
                }
            }

        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: url.host, port: url.port).get()
        } catch {
            let mapped = ConnectErrorMapper.map(error, url: url, phase: .connect)
            promise.fail(mapped)
            throw mapped
        }

        let handshake = try await channel.eventLoop.flatSubmit {
            let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(config.handshakeTimeout)) {
                promise.fail(
                    WSError(
                        .handshakeTimeout,
                        "the WebSocket handshake with \(url.redactedDescription) did not complete within \(config.handshakeTimeout)"))
                channel.close(promise: nil)
            }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
            channel.writeAndFlush(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return promise.futureResult
        }.map { response -> Result<HTTPResponseHead, WSError> in .success(response) }
            .recover { error in .failure(ConnectErrorMapper.map(error, url: url, phase: .handshake)) }
            .get()

        let response: HTTPResponseHead
        switch handshake {
        case .success(let r): response = r
        case .failure(let e):
            channel.close(promise: nil)
            throw e
        }

        let (handler, connectedAt) = try await upgraded.futureResult.get()
        let info = ConnectionInfo(
            subprotocol: response.headers.first(name: "Sec-WebSocket-Protocol"),
            responseHeaders: Redaction.redact(response.headers.map { HTTPHeaderField($0.name, $0.value) }),
            remoteAddress: channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" },
            connectedAt: connectedAt)
        return NIOWebSocketSink.connection(
            channel: channel, handler: handler, peer: url.redactedDescription,
            inbound: inbound, producer: producer, lifecycle: lifecycle, info: info, activity: activity)
    }

    /// The upgrade request: the URL's target plus credential query parameters, then `Host`,
    /// the caller's headers, credential headers, cookies and the subprotocols.
    static func requestHead(_ request: ConnectRequest, credentials: Credentials) -> HTTPRequestHead {
        var target = request.url.requestTarget
        if !credentials.query.isEmpty {
            let extra = credentials.query.map { "\(percentEncode($0.name))=\(percentEncode($0.value))" }
                .joined(separator: "&")
            target += (target.contains("?") ? "&" : "?") + extra
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: request.url.hostHeader)
        if !request.headers.contains(where: { $0.name.lowercased() == "user-agent" }) {
            headers.add(name: "User-Agent", value: "WireTape/0.1")
        }
        for h in request.headers { headers.add(name: h.name, value: h.value) }
        for h in credentials.headers { headers.add(name: h.name, value: h.value) }
        if !credentials.cookies.isEmpty {
            headers.add(name: "Cookie", value: credentials.cookies.map { "\($0.name)=\($0.value)" }.joined(separator: "; "))
        }
        if !request.subprotocols.isEmpty {
            headers.add(name: "Sec-WebSocket-Protocol", value: request.subprotocols.joined(separator: ", "))
        }
        headers.add(name: "Content-Length", value: "0")
        return HTTPRequestHead(version: .http1_1, method: .GET, uri: target, headers: headers)
    }

    /// Checks the negotiated subprotocol and extensions of a 101 response.
    static func validate(_ response: HTTPResponseHead, offered: [String], url: WSURL) -> WSError? {
        if let chosen = response.headers.first(name: "Sec-WebSocket-Protocol"), !offered.contains(chosen) {
            return WSError(
                .handshakeInvalid,
                "\(url.redactedDescription) selected the subprotocol '\(chosen)', which was not offered (offered: \(offered))")
        }
        if let ext = response.headers.first(name: "Sec-WebSocket-Extensions"), !ext.isEmpty {
            return WSError(
                .handshakeInvalid, "\(url.redactedDescription) negotiated the extension '\(ext)', which was not offered")
        }
        return nil
    }

    static func makeSSLContext(_ options: TLSOptions) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if let file = options.extraTrustRootsPEMFile {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(file))]
            } catch {
                throw WSError(
                    .tlsFailure, "could not load the CA file '\(file)': \(error)", underlying: error)
            }
        }
        do {
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw WSError(.tlsFailure, "could not set up TLS: \(error)", underlying: error)
        }
    }

    private static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(b))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// The outbound half of a connection run by ``WebSocketConnectionHandler`` (an ``NIOConnector``
/// connection, or a client's connection to a ``WSServer``).
struct NIOWebSocketSink: WSSink {
    let channel: any Channel
    let handler: NIOLoopBound<WebSocketConnectionHandler>
    /// The peer as messages name it (a redacted URL, or a client's address).
    let peer: String

    /// Wires an upgraded channel's handler to its inbound stream (read backpressure, the
    /// consumer stopping) and returns the connection.
    static func connection(
        channel: any Channel, handler: NIOLoopBound<WebSocketConnectionHandler>, peer: String,
        inbound: InboundStream, producer: InboundStream.Producer, lifecycle: LifecycleWatch,
        info: ConnectionInfo, activity: ConnectionActivity
    ) -> WSConnection {
        producer.setDemandHandler { channel.eventLoop.execute { handler.value.resumeReading() } }
        producer.setTerminationHandler {
            channel.eventLoop.execute { handler.value.startClose(code: .goingAway, reason: "consumer stopped") }
        }
        return WSConnection(
            inbound: inbound, sink: NIOWebSocketSink(channel: channel, handler: handler, peer: peer),
            lifecycle: lifecycle, info: info, activity: activity)
    }

    private func closedError() -> WSError {
        WSError(.sinkClosed, "cannot send on the connection to \(peer): it is closing or closed")
    }

    func send(_ frame: Frame) async throws {
        let future = try await channel.eventLoop.submit { handler.value.send(frame) }.get()
        guard let future else { throw closedError() }
        do { try await future.get() } catch { throw closedError() }
    }

    func sendPing(_ payload: [UInt8]) async throws {
        guard payload.count <= 125 else {
            throw WSError(.protocolViolation, "a ping payload is limited to 125 bytes; got \(payload.count)")
        }
        let future = try await channel.eventLoop.submit { handler.value.sendPing(payload) }.get()
        guard let future else { throw closedError() }
        do { try await future.get() } catch { throw closedError() }
    }

    func close(code: WSCloseCode, reason: String) async {
        channel.eventLoop.execute { handler.value.startClose(code: code, reason: reason) }
        try? await channel.closeFuture.get()
    }

    func abort() async {
        channel.eventLoop.execute { handler.value.abort() }
        try? await channel.closeFuture.get()
    }
}
