import Synchronization
import WireTapeCore
import WireTapeNIO

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
        /// The TCP connection is reset with no close frame (the client sees 1006).
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

    private let server: WSServer
    /// The port the server listens on (127.0.0.1).
    public var port: Int { server.port }

    private init(server: WSServer) { self.server = server }

    /// Starts the feed on 127.0.0.1, port 0, on the package's ``WireTapeNIO/WSServer``.
    public static func start(steps: [Step] = defaultSteps) async throws -> DemoFeedServer {
        let counter = ConnectionCounter()
        let server = try await WSServer.start { _ in
            let n = counter.next()
            let step = steps[(n - 1) % steps.count]
            return .accept { client in await DemoFeedScript(step: step, connection: n).play(to: client) }
        }
        return DemoFeedServer(server: server)
    }

    /// The URL clients connect to.
    public var url: String { "ws://127.0.0.1:\(port)/ws/btcusdt@trade" }

    /// Stops listening.
    public func stop() async {
        await server.stop()
    }
}

/// Counts connections across event loops.
private final class ConnectionCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// Plays one ``DemoFeedServer/Step`` to a client: trades `interval` apart, then the ending.
private struct DemoFeedScript {
    let step: DemoFeedServer.Step
    let connection: Int

    func play(to client: WSConnection) async {
        var price = 64_000.0
        var tradeID = 3_100_000_000 + connection * 1_000_000
        var rng = SeededRandom(seed: 42)
        for _ in 0..<step.frames {
            do { try await Task.sleep(for: step.interval) } catch { return }
            tradeID += 1
            price += (Double(rng.next() % 11) - 5) * 0.01
            let qty = Double(rng.next() % 100_000) / 100_000
            let ms = ReceiveTimestamp.now().wallNanos / 1_000_000
            let text =
                #"{"e":"trade","E":\#(ms),"s":"BTCUSDT","t":\#(tradeID),"p":"\#(format(price))","q":"\#(format(qty, digits: 5))","T":\#(ms),"m":\#(rng.next() % 2 == 0)}"#
            do { try await client.sink.send(.text(text)) } catch { return }
        }
        switch step.ending {
        case .close(let code, let reason): await client.sink.close(code: code, reason: reason)
        case .drop: await client.sink.abort()
        }
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
