/// Capped exponential backoff with jitter: how long to wait before the next attempt.
///
/// The *base* delay of the n-th consecutive failure is `initial × multiplier^(n-1)`, capped at
/// ``maximum``. The delay actually used is drawn uniformly from
/// `[base × (1 − jitter), base]`, so many clients that lost the same venue at the same moment
/// do not come back in lock-step, and a delay is never shorter than half its base with the
/// default jitter of 0.5 (no tight loop even on an unlucky draw).
///
/// The backoff resets only when a connection *stayed up* for ``minimumUptimeForReset``: a
/// server that accepts and closes at once keeps the client backing off.
///
/// ```swift
/// var backoff = Backoff(policy: BackoffPolicy())
/// var rng = SystemRandomNumberGenerator()
/// let d1 = backoff.nextDelay(using: &rng)   // 0.25 s … 0.5 s
/// let d2 = backoff.nextDelay(using: &rng)   // 0.5 s … 1 s
/// ```
public struct BackoffPolicy: Sendable, Hashable {
    /// The base delay after the first failure.
    public var initial: Duration
    /// The factor applied to the base delay after each further failure.
    public var multiplier: Double
    /// The largest base delay.
    public var maximum: Duration
    /// The fraction of the base delay that is random, in `0...1`: the delay lies in
    /// `[base × (1 − jitter), base]`. 0 is no jitter, 1 is "full jitter".
    public var jitter: Double
    /// How long a connection must stay up before the backoff starts again from ``initial``.
    public var minimumUptimeForReset: Duration

    /// Creates a policy. Defaults: 0.5 s doubling to 30 s, jitter 0.5, reset after 10 s up.
    public init(
        initial: Duration = .milliseconds(500), multiplier: Double = 2, maximum: Duration = .seconds(30),
        jitter: Double = 0.5, minimumUptimeForReset: Duration = .seconds(10)
    ) {
        self.initial = initial
        self.multiplier = Swift.max(1, multiplier)
        self.maximum = Swift.max(initial, maximum)
        self.jitter = Swift.min(1, Swift.max(0, jitter))
        self.minimumUptimeForReset = minimumUptimeForReset
    }
}

/// The state of a ``BackoffPolicy``: how many consecutive failures there were.
public struct Backoff: Sendable {
    /// The policy.
    public let policy: BackoffPolicy
    /// Consecutive failures since the last reset.
    public private(set) var failures: Int = 0

    /// Creates a backoff with no failures.
    public init(policy: BackoffPolicy) { self.policy = policy }

    /// The base (un-jittered) delay that the next call to ``nextDelay(using:)`` will use.
    ///
    /// Computed exactly (integer arithmetic) when the multiplier is a whole number.
    public var nextBase: Duration {
        let factor = pow(policy.multiplier, failures)
        guard factor.isFinite, policy.initial.seconds * factor < policy.maximum.seconds else { return policy.maximum }
        if factor == factor.rounded(), factor < 9.0e15 {
            return policy.initial * Int64(factor)
        }
        return policy.initial * factor
    }

    /// Records a failure and returns how long to wait before the next attempt: uniform in
    /// `(base × (1 − jitter), base]`.
    public mutating func nextDelay<R: RandomNumberGenerator>(using rng: inout R) -> Duration {
        let base = nextBase
        failures += 1
        guard policy.jitter > 0 else { return base }
        // A unit draw in [0, 1) from the top 53 bits; no rejection loop, so any generator
        // (including a constant one in tests) terminates.
        let unit = Double(rng.next() >> 11) * 0x1p-53
        let cut = policy.jitter * unit
        return cut == 0 ? base : base - base * cut
    }

    /// Starts again from ``BackoffPolicy/initial``.
    public mutating func reset() { failures = 0 }

    /// Resets if a connection that stayed up for `uptime` earns it
    /// (``BackoffPolicy/minimumUptimeForReset``); returns whether it did.
    @discardableResult
    public mutating func connectionEnded(afterUptime uptime: Duration) -> Bool {
        guard uptime >= policy.minimumUptimeForReset else { return false }
        reset()
        return true
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// `base^exponent` for a small non-negative integer exponent, without Foundation.
func pow(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0
    for _ in 0..<Swift.min(exponent, 2048) {
        result *= base
        if !result.isFinite { break }
    }
    return result
}
