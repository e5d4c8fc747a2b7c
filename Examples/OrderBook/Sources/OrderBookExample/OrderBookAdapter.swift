import Synchronization
import WireTapeCore
import WireTapeResilience

/// A small depth-feed adapter written against `WSConnector`, as a venue adapter would be: it
/// runs a `ReconnectingConnector` over whatever connector it is given (`NIOConnector` in
/// production, a `ReplayConnector` in a test), subscribes in every new epoch, and keeps an
/// ``OrderBook`` through ``OrderBookTracker`` (sequence gaps → snapshot requests).
///
/// ```swift
/// let adapter = OrderBookAdapter(symbol: "BTCUSDT")
/// let final = await adapter.run(connector: NIOConnector(), url: try WSURL("wss://venue/ws"), clock: ContinuousClock())
/// print(adapter.tracker.book.bestBid ?? "-")
/// ```
public final class OrderBookAdapter: Sendable {
    private let state: Mutex<OrderBookTracker>
    /// The reconnect policies.
    public let config: ReconnectConfig

    /// Creates an adapter for `symbol`.
    public init(symbol: String, config: ReconnectConfig = ReconnectConfig()) {
        state = Mutex(OrderBookTracker(symbol: symbol))
        self.config = config
    }

    /// The tracker: book, sync state and events so far.
    public var tracker: OrderBookTracker { state.withLock { $0 } }

    /// Runs a session over `connector` until it ends (shut down, unrecoverable, or the end of a
    /// replayed recording); returns the final lifecycle snapshot.
    /// - Parameters:
    ///   - connector: The leaf connector.
    ///   - url: The feed.
    ///   - clock: The clock of backoff and liveness: `ContinuousClock()` live, `replay.clock`
    ///     under a replay.
    public func run<C: Clock>(connector: any WSConnector, url: WSURL, clock: C) async -> LifecycleSnapshot
    where C.Duration == Duration {
        let session = ReconnectingConnector(wrapping: connector, config: config, clock: clock)
            .connect(ConnectRequest(url: url))
        let subscription = state.withLock { $0.subscription }
        // Subscribe in every new epoch, as soon as it is up.
        let subscriber = Task {
            var subscribed: UInt64 = 0
            for await s in session.lifecycle.updates() where s.state == .connected && s.epoch > subscribed {
                subscribed = s.epoch
                try? await session.sink.send(.text(subscription))
            }
        }
        do {
            for try await f in session.inbound {
                guard case .text(let text) = f.frame else { continue }
                let replies = state.withLock { $0.receive(text, epoch: f.epoch) }
                for r in replies { try? await session.sink.send(.text(r)) }
            }
        } catch {
            // The session ended; its cause is in the final snapshot.
        }
        let final = await session.waitUntilEnded()
        await subscriber.value
        state.withLock { $0.finish() }
        return final
    }
}
