import WireTapeCore

/// What the stable sink of a ``ReconnectingConnection`` does with a send while no
/// connection is up (between epochs).
///
/// Either way nothing is lost silently: a send either returns after the frame was handed to
/// a live transport, or throws; the outcome is counted in ``SendStats``.
public enum DisconnectedSendPolicy: Sendable, Hashable {
    /// Throw ``WireTapeCore/WSError/Code/notConnected`` at once. Suits adapters that replay
    /// their state after each reconnect anyway.
    case reject
    /// Suspend the sender until the next connection is up, then send (waiters are resumed in
    /// order of arrival).
    /// At most `maxWaiting` senders wait; one more is rejected with
    /// ``WireTapeCore/WSError/Code/sendQueueFull``. Waiting senders fail with
    /// ``WireTapeCore/WSError/Code/sinkClosed`` when the connection shuts down or becomes
    /// unrecoverable, and with ``WireTapeCore/WSError/Code/cancelled`` if their task is cancelled.
    case wait(maxWaiting: Int)
}

/// The policies of a ``ReconnectingConnector``. Every field has a documented default; see
/// each policy type for why.
///
/// ```swift
/// var config = ReconnectConfig()
/// config.keepalive = KeepalivePolicy(idleTimeout: .seconds(15), pongTimeout: .seconds(5))
/// config.rateLimit = SendRateLimit(messagesPerSecond: 5, burst: 5)
/// let connector = ReconnectingConnector(wrapping: NIOConnector(), config: config)
/// ```
public struct ReconnectConfig: Sendable, Hashable {
    /// Delay between attempts, and when it resets.
    public var backoff: BackoffPolicy
    /// The cap on attempts per window.
    public var attemptWindow: AttemptWindowPolicy
    /// When to give up.
    public var breaker: CircuitBreakerPolicy
    /// Idle detection and the ping probe.
    public var keepalive: KeepalivePolicy
    /// The inbound drop-oldest buffer.
    public var buffer: InboundBufferPolicy
    /// The send-side rate limit; `nil` for none.
    public var rateLimit: SendRateLimit?
    /// What sends do while disconnected.
    public var whileDisconnected: DisconnectedSendPolicy
    /// The longest one attempt (connect + handshake, including the ``AuthSource``) may take
    /// before it is abandoned and counted as a failed attempt; `nil` to rely on the wrapped
    /// connector's own timeouts.
    public var attemptTimeout: Duration?

    /// Creates a configuration with the documented defaults.
    public init(
        backoff: BackoffPolicy = BackoffPolicy(),
        attemptWindow: AttemptWindowPolicy = AttemptWindowPolicy(),
        breaker: CircuitBreakerPolicy = CircuitBreakerPolicy(),
        keepalive: KeepalivePolicy = KeepalivePolicy(),
        buffer: InboundBufferPolicy = InboundBufferPolicy(),
        rateLimit: SendRateLimit? = SendRateLimit(),
        whileDisconnected: DisconnectedSendPolicy = .wait(maxWaiting: 1024),
        attemptTimeout: Duration? = .seconds(30)
    ) {
        self.backoff = backoff
        self.attemptWindow = attemptWindow
        self.breaker = breaker
        self.keepalive = keepalive
        self.buffer = buffer
        self.rateLimit = rateLimit
        self.whileDisconnected = whileDisconnected
        self.attemptTimeout = attemptTimeout
    }
}
