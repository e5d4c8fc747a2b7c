/// A send-side rate limit, counting every frame the client puts on the wire: data messages,
/// its own pings, and the pongs the transport sends automatically.
///
/// Venues disconnect or ban fast senders and count control frames too (Binance: 5 messages
/// per second, pings and pongs included). The limit is a token bucket: ``burst`` frames may go
/// at once, then one every `1 / messagesPerSecond` seconds. A `burst` of 1 is fixed spacing.
public struct SendRateLimit: Sendable, Hashable {
    /// The sustained rate.
    public var messagesPerSecond: Double
    /// How many frames may be sent back-to-back after a quiet period.
    public var burst: Int

    /// Creates a limit. Default: 5 per second, burst 5 (Binance's documented limit).
    public init(messagesPerSecond: Double = 5, burst: Int = 5) {
        self.messagesPerSecond = Swift.max(0.001, messagesPerSecond)
        self.burst = Swift.max(1, burst)
    }

    /// Fixed spacing: one frame every `interval`, no bursts.
    public static func spacing(_ interval: Duration) -> SendRateLimit {
        SendRateLimit(messagesPerSecond: 1 / interval.seconds, burst: 1)
    }

    /// The time one token takes to refill.
    public var interval: Duration { .seconds(1 / messagesPerSecond) }
}

/// A token bucket with reservations: each frame takes a token now, and if the bucket was
/// empty the caller learns how long to wait for its reserved slot.
///
/// Implemented as the generic cell rate algorithm (GCRA) in integer nanoseconds, so spacing
/// is exact: a *theoretical arrival time* advances by one interval per frame, and a frame may
/// go once that time is no more than `(burst − 1)` intervals ahead of now. Reserving (letting
/// it run ahead) means concurrent senders queue up in order of arrival without a lock held
/// while waiting. Frames sent without asking (automatic pongs) are charged with
/// ``charge(_:at:)`` and delay later senders the same way.
public struct TokenBucket: Sendable {
    /// The limit.
    public let limit: SendRateLimit
    private let intervalNanos: Int64
    private let toleranceNanos: Int64
    private var theoreticalArrival: Int64

    /// Creates a full bucket at time `now`.
    public init(limit: SendRateLimit, now: Duration) {
        self.limit = limit
        intervalNanos = Swift.max(1, Int64((1e9 / limit.messagesPerSecond).rounded()))
        toleranceNanos = intervalNanos * Int64(limit.burst - 1)
        theoreticalArrival = now.nanoseconds
    }

    /// Frames that could be sent at `now` without waiting.
    public func available(at now: Duration) -> Int {
        let ahead = Swift.max(0, theoreticalArrival - now.nanoseconds)
        return Swift.max(0, limit.burst - Int((ahead + intervalNanos - 1) / intervalNanos))
    }

    /// Takes one token at `now` and returns how long the caller must wait before sending
    /// (`.zero` to send at once).
    public mutating func reserve(at now: Duration) -> Duration {
        let t = now.nanoseconds
        let tat = Swift.max(theoreticalArrival, t)
        let allowedAt = tat - toleranceNanos
        theoreticalArrival = tat + intervalNanos
        return allowedAt > t ? .nanoseconds(allowedAt - t) : .zero
    }

    /// Charges `count` frames that were already sent (e.g. automatic pongs) at `now`.
    public mutating func charge(_ count: Int, at now: Duration) {
        theoreticalArrival = Swift.max(theoreticalArrival, now.nanoseconds) + intervalNanos * Int64(count)
    }
}
