import WireTapeCore
import WireTapeJournal

/// A ``WireTapeCore/WSConnector`` that records what its inner (leaf) connector does: every
/// connect attempt and its outcome, every inbound data frame as the socket delivered it, and
/// every send.
///
/// Put it directly over the real connector and *under* `ReconnectingConnector`, so it sees each
/// attempt and every frame before any adapter-side buffer can shed it:
///
/// ```swift
/// let stack = ReconnectingConnector(wrapping: recorder.connector(wrapping: NIOConnector()))
/// ```
///
/// Inbound frames are teed with ``WireTapeCore/InboundStream/observe(_:)`` — synchronously on
/// the socket's thread, no task hop — into the recorder's bounded queue. The request's
/// `AuthSource` is wrapped so that every credential value it hands out is registered with the
/// recorder's scrubber before the attempt uses it.
public struct RecordingConnector: WSConnector {
    /// The leaf connector.
    public let inner: any WSConnector
    /// The recorder that receives everything.
    public let recorder: Recorder

    /// Wraps `inner`, recording into `recorder`.
    public init(inner: any WSConnector, recorder: Recorder) {
        self.inner = inner
        self.recorder = recorder
    }

    /// Connects through the inner connector, recording the attempt and its outcome.
    public func connect(_ request: ConnectRequest) async throws -> WSConnection {
        var request = request
        if let auth = request.auth { request.auth = RecordingAuthSource(inner: auth, recorder: recorder) }
        let queue = recorder.queue
        queue.pushControl(.attempt(url: request.url.description, at: .now()))
        var connection: WSConnection
        do {
            connection = try await inner.connect(request)
        } catch {
            let e = error as? WSError
                ?? WSError(.ioError, "connecting to \(request.url.redactedDescription) failed: \(error)", underlying: error)
            queue.pushControl(.failed(e, at: .now()))
            throw error
        }
        let id = recorder.newConnectionID()
        queue.pushControl(.connected(connection: id, info: connection.info, followed: recorder.followedSnapshot != nil))
        connection.inbound.observe { frame in
            queue.pushData(
                .frame(.inbound, frame.frame, connection: id, at: frame.received), bytes: frame.frame.byteCount,
                at: frame.received)
        }
        connection.sink = RecordingSink(inner: connection.sink, connection: id, recorder: recorder)
        return connection
    }
}

/// Records every frame sent on one leaf connection, and tells the recorder when the layer above
/// closes it.
struct RecordingSink: WSSink {
    let inner: any WSSink
    let connection: UInt64
    let recorder: Recorder

    func send(_ frame: Frame) async throws {
        let at = ReceiveTimestamp.now()
        try await inner.send(frame)
        recorder.queue.pushData(
            .frame(.outbound, frame, connection: connection, at: at), bytes: frame.byteCount, at: at)
    }

    func sendPing(_ payload: [UInt8]) async throws {
        try await inner.sendPing(payload)
    }

    func close(code: WSCloseCode, reason: String) async {
        noteClosing()
        await inner.close(code: code, reason: reason)
    }

    /// Forwarded, not left to the protocol's default (a close handshake): after a liveness
    /// timeout the resilient layer drops a dead socket at once instead of waiting
    /// `closeTimeout` for a close frame that cannot come.
    func abort() async {
        noteClosing()
        await inner.abort()
    }

    private func noteClosing() {
        let snapshot = recorder.followedSnapshot
        recorder.queue.pushControl(
            .closing(connection: connection, epochAtClose: snapshot?.epoch, snapshot: snapshot, at: .now()))
    }
}

/// Passes credentials through and registers their values with the recorder's scrubber first.
struct RecordingAuthSource: AuthSource {
    let inner: any AuthSource
    let recorder: Recorder

    func credentials(for url: WSURL) async throws -> Credentials {
        let c = try await inner.credentials(for: url)
        var values: [String] = []
        values += c.headers.map(\.value)
        values += c.cookies.map(\.value)
        values += c.query.map(\.value)
        recorder.registerSecrets(values)
        return c
    }
}
