import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import WireTapeCore

/// The built-in demo feed: a WebSocket server on 127.0.0.1 (port 0) that plays a synthetic
/// Binance-style trade stream and stages outages, so `wiretape demo` can show what the tool
/// records without any network.
///
/// Connection *n* (counting from 1) follows ``DemoFeedServer/Script/steps`` entry
/// `(n - 1) % steps.count`: send `frames` messages `interval` apart, then end with the step's
/// ``DemoFeedServer/Ending`` (a close code, or a dropped TCP connection with no close frame).
public final class DemoFeedServer: Sendable {
    /// How a scripted connection ends.
    public enum Ending: Sendable {
        /// A close frame with this code and reason.
        case close(WSCloseCode, String)
        /// The TCP connection is dropped with no close frame (the client sees 1006).
        case drop
    }

    /// One connection's behaviour.
    public struct Step: Sendable {
        /// How many messages to send.
        public var frames: Int
        /// The spacing between messages.
        public var interval: Duration
        /// How the connection ends.
        public var ending: Ending
        /// Creates a step.
        public init(frames: Int, interval: Duration, ending: Ending) {
            self.frames = frames
            self.interval = interval
            self.ending = ending
        }
    }

    /// The default script: an overload close (1011), a dropped connection, a clean 1001.
    public static let defaultSteps: [Step] = [
        Step(frames: 300, interval: .milliseconds(4), ending: .close(.internalError, "demo outage: matching engine overloaded")),
        Step(frames: 200, interval: .milliseconds(4), ending: .drop),
        Step(frames: 200, interval: .milliseconds(4), ending: .close(.goingAway, "demo: server restart")),
    ]

    private let channel: any Channel
    /// The port the server listens on (127.0.0.1).
    public let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts the server on 127.0.0.1, port 0.
    public static func start(
        steps: [Step] = defaultSteps, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DemoFeedServer {
        let counter = ConnectionCounter()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, _ in
                        let n = counter.next()
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                DemoFeedHandler(step: steps[(n - 1) % steps.count], connection: n))
                        }
                    })
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DemoFeedServer(channel: channel)
    }

    /// The URL clients connect to.
    public var url: String { "ws://127.0.0.1:\(port)/ws/btcusdt@trade" }

    /// Stops listening.
    public func stop() async {
        try? await channel.close()
    }
}

/// Counts connections across event loops.
private final class ConnectionCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// Plays one ``DemoFeedServer/Step`` on an upgraded connection.
private final class DemoFeedHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let step: DemoFeedServer.Step
    private let connection: Int
    private var sent = 0
    private var price = 64_000.0
    private var tradeID = 3_100_000_000
    private var rng = SeededRandom(seed: 42)
    private var timer: Scheduled<Void>?

    init(step: DemoFeedServer.Step, connection: Int) {
        self.step = step
        self.connection = connection
        self.tradeID += connection * 1_000_000
    }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleNext(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    private func scheduleNext(context: ChannelHandlerContext) {
        let delay = TimeAmount(step.interval)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            tick(context: context)
        }
    }

    private func tick(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if sent < step.frames {
            sent += 1
            tradeID += 1
            price += (Double(rng.next() % 11) - 5) * 0.01
            let qty = Double(rng.next() % 100_000) / 100_000
            let ms = ReceiveTimestamp.now().wallNanos / 1_000_000
            let text =
                #"{"e":"trade","E":\#(ms),"s":"BTCUSDT","t":\#(tradeID),"p":"\#(format(price))","q":"\#(format(qty, digits: 5))","T":\#(ms),"m":\#(rng.next() % 2 == 0)}"#
            let frame = WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: text))
            context.writeAndFlush(NIOAny(frame), promise: nil)
            scheduleNext(context: context)
            return
        }
        switch step.ending {
        case .close(let code, let reason):
            var data = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
            data.writeInteger(code.rawValue)
            data.writeString(reason)
            let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
            context.writeAndFlush(NIOAny(frame)).assumeIsolated().whenComplete { _ in
                // Give the client a moment to answer, then close the TCP connection.
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(200)) { context.close(promise: nil) }
            }
        case .drop:
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.opcode == .connectionClose { context.close(promise: nil) }
    }

    private func format(_ x: Double, digits: Int = 2) -> String {
        let scale = digits == 2 ? 100.0 : 100_000.0
        let v = Int((x * scale).rounded())
        let whole = v / Int(scale)
        var frac = String(v % Int(scale))
        while frac.count < digits { frac = "0" + frac }
        return "\(whole).\(frac)"
    }
}
