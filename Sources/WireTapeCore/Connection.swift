import Synchronization

/// Opens WebSocket connections.
///
/// The one seam every layer shares: the NIO client, the mock, the replayer and the
/// reconnecting wrapper are all `WSConnector`s, so an adapter cannot tell them apart.
public protocol WSConnector: Sendable {
    /// Opens a connection: TCP, TLS for `wss://`, then the HTTP upgrade.
    ///
    /// Returns once the handshake succeeded. The request's ``ConnectRequest/auth`` is asked
    /// for credentials on every call.
    /// - Throws: ``WSError`` classified by ``WSError/failureClass``.
    func connect(_ request: ConnectRequest) async throws -> WSConnection
}

/// The outbound half of a connection.
///
/// `close` is terminal: once it is called, every later `send` throws
/// ``WSError/Code/sinkClosed``. Shutdown is one-way.
public protocol WSSink: Sendable {
    /// Sends one data message. Suspends while the transport's outbound buffer is full.
    /// - Throws: ``WSError`` with ``WSError/Code/sinkClosed`` after `close` or after the
    ///   connection ended.
    func send(_ frame: Frame) async throws
    /// Sends a ping with `payload` (at most 125 bytes). Pongs are visible on
    /// ``WSConnection/activity``.
    func sendPing(_ payload: [UInt8]) async throws
    /// Starts the close handshake with `code` and `reason`, waits for the peer's close (at
    /// most ``WSConfig/closeTimeout``), then releases the socket. Idempotent; never throws.
    func close(code: WSCloseCode, reason: String) async
    /// Drops the transport at once, without a close handshake, and returns when it is
    /// released; for a peer known to be dead (e.g. after a liveness timeout), whose close
    /// frame could only be waited for in vain. Terminal and idempotent like `close`; the
    /// inbound stream ends after the frames already received. Never throws.
    ///
    /// The default implementation closes with 1001 "going away" (and so may wait up to
    /// ``WSConfig/closeTimeout``); connectors that own a socket drop it instead.
    func abort() async
}

extension WSSink {
    /// Closes normally (1000, no reason).
    public func close() async { await close(code: .normalClosure, reason: "") }

    /// Closes with 1001 "going away": the fallback for sinks that cannot drop their transport.
    public func abort() async { await close(code: .goingAway, reason: "aborted") }
}

/// What the handshake negotiated.
public struct ConnectionInfo: Sendable {
    /// The subprotocol the server selected, if any.
    public var subprotocol: String?
    /// The server's 101 response headers, with secrets redacted.
    public var responseHeaders: [HTTPHeaderField]
    /// The peer's address, e.g. `127.0.0.1:8080`.
    public var remoteAddress: String?
    /// When the handshake completed.
    public var connectedAt: ReceiveTimestamp

    /// Creates connection info.
    public init(
        subprotocol: String? = nil, responseHeaders: [HTTPHeaderField] = [],
        remoteAddress: String? = nil, connectedAt: ReceiveTimestamp = .now()
    ) {
        self.subprotocol = subprotocol
        self.responseHeaders = responseHeaders
        self.remoteAddress = remoteAddress
        self.connectedAt = connectedAt
    }
}

/// Transport-level activity counters of one connection, updated by the connector as bytes and
/// control frames move; read by liveness policies.
///
/// Every field is cumulative or a level, readable from any thread without blocking.
public final class ConnectionActivity: Sendable {
    private let _bytesRead = Atomic<UInt64>(0)
    private let _lastReadMonotonic = Atomic<UInt64>(0)
    private let _pingsReceived = Atomic<UInt64>(0)
    private let _pongsSent = Atomic<UInt64>(0)
    private let _pongsReceived = Atomic<UInt64>(0)
    private let _lastPongMonotonic = Atomic<UInt64>(0)

    /// Creates zeroed counters.
    public init() {}

    /// Bytes read from the socket (after TLS), including partial messages.
    public var bytesRead: UInt64 { _bytesRead.load(ordering: .relaxed) }
    /// Monotonic nanoseconds of the last socket read; 0 before any.
    public var lastReadMonotonicNanos: UInt64 { _lastReadMonotonic.load(ordering: .relaxed) }
    /// Pings received from the peer.
    public var pingsReceived: UInt64 { _pingsReceived.load(ordering: .relaxed) }
    /// Pongs sent (automatic answers to pings).
    public var pongsSent: UInt64 { _pongsSent.load(ordering: .relaxed) }
    /// Pongs received (answers to our pings, or unsolicited).
    public var pongsReceived: UInt64 { _pongsReceived.load(ordering: .relaxed) }
    /// Monotonic nanoseconds of the last pong received; 0 before any.
    public var lastPongMonotonicNanos: UInt64 { _lastPongMonotonic.load(ordering: .relaxed) }

    /// Records `count` bytes read at monotonic time `at`.
    public func recordRead(bytes count: Int, at monotonicNanos: UInt64) {
        _bytesRead.add(UInt64(count), ordering: .relaxed)
        _lastReadMonotonic.store(monotonicNanos, ordering: .relaxed)
    }
    /// Records a ping received.
    public func recordPingReceived() { _pingsReceived.add(1, ordering: .relaxed) }
    /// Records a pong sent.
    public func recordPongSent() { _pongsSent.add(1, ordering: .relaxed) }
    /// Records a pong received at monotonic time `at`.
    public func recordPongReceived(at monotonicNanos: UInt64) {
        _pongsReceived.add(1, ordering: .relaxed)
        _lastPongMonotonic.store(monotonicNanos, ordering: .relaxed)
    }
}

/// An open WebSocket connection, as split owned halves plus its lifecycle.
///
/// - ``inbound``: the frames, in order; the sequence ends when the peer closes cleanly
///   (1000/1001) and throws a classified ``WSError`` otherwise.
/// - ``sink``: sends, and the terminal close.
/// - ``lifecycle``: a watch of ``LifecycleSnapshot``, ending at `closed` or `unrecoverable`.
public struct WSConnection: Sendable {
    /// The inbound frames.
    public var inbound: InboundStream
    /// The outbound half.
    public var sink: any WSSink
    /// The lifecycle watch.
    public var lifecycle: LifecycleWatch
    /// What the handshake negotiated.
    public var info: ConnectionInfo
    /// Transport activity counters (bytes read, pings and pongs).
    public var activity: ConnectionActivity

    /// Assembles a connection from its parts.
    public init(
        inbound: InboundStream, sink: any WSSink, lifecycle: LifecycleWatch, info: ConnectionInfo,
        activity: ConnectionActivity
    ) {
        self.inbound = inbound
        self.sink = sink
        self.lifecycle = lifecycle
        self.info = info
        self.activity = activity
    }
}
