/// A cap on connection attempts per sliding time window.
///
/// Venues limit connection attempts per IP (Binance: 300 per 5 minutes); exceeding that gets
/// the IP banned, which hurts every process behind it. The default, 60 per 5 minutes, leaves
/// room for other clients on the same address.
public struct AttemptWindowPolicy: Sendable, Hashable {
    /// The most attempts allowed in any window of length ``window``.
    public var maxAttempts: Int
    /// The window length.
    public var window: Duration

    /// Creates a policy. Default: 60 attempts per 5 minutes.
    public init(maxAttempts: Int = 60, window: Duration = .seconds(300)) {
        self.maxAttempts = Swift.max(1, maxAttempts)
        self.window = window
    }
}

/// The sliding window of recent attempt times for an ``AttemptWindowPolicy``.
///
/// Times are plain durations on one monotonic time line (e.g. elapsed since start).
public struct AttemptWindow: Sendable {
    /// The outcome of ``admit(at:)``.
    public enum Decision: Sendable, Equatable {
        /// An attempt may start now.
        case proceed
        /// The window is full; the next attempt may start at this time.
        case waitUntil(Duration)
    }

    /// The policy.
    public let policy: AttemptWindowPolicy
    private var times: [Duration] = []

    /// Creates an empty window.
    public init(policy: AttemptWindowPolicy) { self.policy = policy }

    /// Attempts currently inside the window ending at the last call.
    public var recentAttempts: Int { times.count }

    /// Whether an attempt may start at `now`, and if not, when.
    public mutating func admit(at now: Duration) -> Decision {
        times.removeAll { $0 <= now - policy.window }
        guard times.count >= policy.maxAttempts else { return .proceed }
        // The oldest attempt in the window must leave it before another may start.
        return .waitUntil(times[times.count - policy.maxAttempts] + policy.window)
    }

    /// Records an attempt that started at `now`.
    public mutating func record(at now: Duration) {
        times.append(now)
        if times.count > policy.maxAttempts * 2 { times.removeFirst(times.count - policy.maxAttempts) }
    }
}
