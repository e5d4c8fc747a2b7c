import WireTapeCore

/// When to stop reconnecting.
///
/// Transient loss (refused, reset, timeouts, 1006, 1011, 5xx, 429) is retried forever.
/// A failure that is permanent on its face (``WSError/failureClass`` is `.permanent`:
/// handshake 401/403/404, TLS verification failure, an invalid upgrade) stops after that one
/// attempt. Policy-violation closes (1008) are how venues say "you are rate-limited or
/// banned"; one may be a fluke, so the breaker opens only after ``policyCloseLimit`` of them
/// within ``policyCloseWindow``.
public struct CircuitBreakerPolicy: Sendable, Hashable {
    /// How many 1008 closes within ``policyCloseWindow`` make the failure permanent.
    public var policyCloseLimit: Int
    /// The window for counting 1008 closes.
    public var policyCloseWindow: Duration
    /// The longest `Retry-After` honoured; a larger value is capped to this.
    public var maximumRetryAfter: Duration

    /// Creates a policy. Defaults: 3 policy closes within 5 minutes; `Retry-After` up to 10 minutes.
    public init(
        policyCloseLimit: Int = 3, policyCloseWindow: Duration = .seconds(300),
        maximumRetryAfter: Duration = .seconds(600)
    ) {
        self.policyCloseLimit = Swift.max(1, policyCloseLimit)
        self.policyCloseWindow = policyCloseWindow
        self.maximumRetryAfter = maximumRetryAfter
    }
}

/// The state of a ``CircuitBreakerPolicy``: recent policy closes.
public struct CircuitBreaker: Sendable {
    /// What to do after a failure.
    public enum Decision: Sendable, Equatable {
        /// Retry after the backoff, but not sooner than `minimumDelay` (from `Retry-After`).
        case retry(minimumDelay: Duration?)
        /// Stop: the failure will not go away by retrying. The string says why.
        case unrecoverable(String)
    }

    /// The policy.
    public let policy: CircuitBreakerPolicy
    private var policyCloses: [Duration] = []

    /// Creates a closed breaker.
    public init(policy: CircuitBreakerPolicy) { self.policy = policy }

    /// Policy closes counted in the current window.
    public var recentPolicyCloses: Int { policyCloses.count }

    /// Judges a failed connection attempt at time `now`.
    public mutating func attemptFailed(_ error: any Error, at now: Duration) -> Decision {
        guard let ws = error as? WSError else { return .retry(minimumDelay: nil) }
        if ws.failureClass == .permanent {
            return .unrecoverable("\(ws.code) is permanent: \(ws.message)")
        }
        if let closeCode = ws.closeCode, closeCode == .policyViolation {
            return policyClose(at: now)
        }
        return .retry(minimumDelay: retryAfter(ws))
    }

    /// Judges the end of an established connection at time `now`.
    public mutating func connectionEnded(_ cause: DisconnectCause, at now: Duration) -> Decision {
        switch cause {
        case .localClose:
            return .retry(minimumDelay: nil)
        case .peerClosed(let code, _):
            return code == .policyViolation ? policyClose(at: now) : .retry(minimumDelay: nil)
        case .error(let e):
            if e.closeCode == .policyViolation { return policyClose(at: now) }
            if e.failureClass == .permanent { return .unrecoverable("\(e.code) is permanent: \(e.message)") }
            return .retry(minimumDelay: nil)
        }
    }

    private mutating func policyClose(at now: Duration) -> Decision {
        policyCloses.removeAll { $0 <= now - policy.policyCloseWindow }
        policyCloses.append(now)
        if policyCloses.count >= policy.policyCloseLimit {
            return .unrecoverable(
                "the server closed with 1008 (policy violation) \(policyCloses.count) times within "
                    + "\(policy.policyCloseWindow); retrying risks a ban")
        }
        return .retry(minimumDelay: nil)
    }

    private func retryAfter(_ e: WSError) -> Duration? {
        guard let s = e.retryAfterSeconds, s > 0 else { return nil }
        return Swift.min(.seconds(s), policy.maximumRetryAfter)
    }
}
