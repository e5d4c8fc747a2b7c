import NIOCore
import NIOHTTP1
import NIOPosix
import WireTapeCore

/// A small HTTP/1.1 server for a metrics scrape: `GET /metrics` answers with the text that
/// `render` produces at that moment (the Prometheus text format, for `wiretape record
/// --metrics-listen`).
///
/// Anything else gets `404` (another path) or `405` (another method). Each response closes its
/// connection (`Connection: close`): a scraper asks every few seconds, so keep-alive buys
/// nothing, and no idle connection can pile up. `render` runs on the event loop: it must be
/// quick (read counters, format text), never block.
///
/// ```swift
/// let endpoint = try await MetricsEndpoint.start(host: "127.0.0.1", port: 9464) {
///     Array("wiretape_up 1\n".utf8)
/// }
/// print("scrape http://127.0.0.1:\(endpoint.port)/metrics")
/// await endpoint.stop()
/// ```
public final class MetricsEndpoint: Sendable {
    /// The port the server listens on (the kernel's choice when started with port 0).
    public let port: Int
    /// The host it listens on.
    public let host: String
    private let channel: any Channel

    private init(channel: any Channel, host: String, port: Int) {
        self.channel = channel
        self.host = host
        self.port = port
    }

    /// The path that is served.
    public static let path = "/metrics"
    /// The content type of the Prometheus text exposition format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Binds `host:port` (port 0: any free port) and starts serving.
    ///
    /// - Throws: ``MetricsEndpointError`` (`bindFailed`) when the address cannot be bound
    ///   (in use, not a local address, no permission).
    public static func start(
        host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        render: @escaping @Sendable () -> [UInt8]
    ) async throws(MetricsEndpointError) -> MetricsEndpoint {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(render: render))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: host, port: port).get()
            return MetricsEndpoint(channel: channel, host: host, port: channel.localAddress?.port ?? port)
        } catch {
            throw MetricsEndpointError(
                .bindFailed, "cannot listen for metrics on \(host):\(port): \(error)", underlying: error)
        }
    }

    /// Stops listening. Scrapes in progress finish on their own connections.
    public func stop() async {
        try? await channel.close()
    }
}

/// A failure of ``MetricsEndpoint``: what went wrong, a message a person can act on, the cause.
public struct MetricsEndpointError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The listening address could not be bound.
        public static let bindFailed = Code("bindFailed")
        /// The stable name.
        public var description: String { name }
    }
    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The lower-level cause.
    public var underlying: (any Error & Sendable)?

    init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message.
    public var description: String { message }
}

/// Answers one request per connection, then closes it.
private final class MetricsRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () -> [UInt8]) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let path = h.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? h.uri
            if h.method != .GET && h.method != .HEAD {
                respond(context, .methodNotAllowed, Array("only GET \(MetricsEndpoint.path)\n".utf8), head: false)
            } else if path != MetricsEndpoint.path {
                respond(context, .notFound, Array("not found; metrics are at \(MetricsEndpoint.path)\n".utf8), head: false)
            } else {
                respond(context, .ok, render(), head: h.method == .HEAD)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ status: HTTPResponseStatus, _ body: [UInt8], head: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: status == .ok ? MetricsEndpoint.contentType : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !head {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            bound.value.close(promise: nil)
        }
    }
}
