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
/// Reserving (letting the balance go negative) means concurrent senders queue up in order of
/// arrival without a lock held while waiting. Frames sent without asking (automatic pongs)
/// are charged with ``charge(_:at:)`` and delay later senders the same way.
public struct TokenBucket: Sendable {
    /// The limit.
    public let limit: SendRateLimit
    /// Tokens available; negative when slots are reserved ahead.
    public private(set) var tokens: Double
    private var updatedAt: Duration

    /// Creates a full bucket at time `now`.
    public init(limit: SendRateLimit, now: Duration) {
        self.limit = limit
        self.tokens = Double(limit.burst)
        self.updatedAt = now
    }

    private mutating func refill(_ now: Duration) {
        guard now > updatedAt else { return }
        tokens = Swift.min(Double(limit.burst), tokens + (now - updatedAt).seconds * limit.messagesPerSecond)
        updatedAt = now
    }

    /// Takes one token at `now` and returns how long the caller must wait before sending
    /// (`.zero` to send at once).
    public mutating func reserve(at now: Duration) -> Duration {
        refill(now)
        tokens -= 1
        // Small epsilon so that float rounding never turns an exact slot into a wait.
        guard tokens < -1e-9 else { return .zero }
        return .seconds(-tokens / limit.messagesPerSecond)
    }

    /// Charges `count` frames that were already sent (e.g. automatic pongs) at `now`.
    public mutating func charge(_ count: Int, at now: Duration) {
        refill(now)
        tokens -= Double(count)
    }
}
