import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeNIO
import WireTapeResilience

/// `wiretape tap URL`: connect, print every frame and lifecycle edge as JSON lines.
public struct TapCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "tap",
        abstract: "Connect to a WebSocket feed and print every frame and lifecycle edge as JSON lines.",
        discussion: """
            Each line on stdout is one JSON object. Frames: {"type":"frame","epoch":1,"wall_ns":…,\
            "mono_ns":…,"dir":"in","opcode":"text","data":"…"} (binary payloads as "data_b64"). \
            Lifecycle edges: {"type":"lifecycle","state":"connected","epoch":1,…}; the final edge \
            carries close_code and close_reason, or error and message.

            Exit status: 0 when the server closes with 1000/1001 or --count/--duration is reached; \
            1 otherwise, with a one-line error on stderr. A --send message that cannot be sent is a \
            warning on stderr, is not printed as sent, and makes the exit status 1.

            With --reconnect the tap runs on the resilient stack: it reconnects with backoff after \
            every disconnect, re-sends the --send messages in each new epoch (as an adapter \
            re-subscribes), prints each lifecycle edge with the cause of each disconnect, and ends \
            at --count/--duration (exit 0) or when the session becomes unrecoverable (exit 1).
            """)

    /// The server URL.
    @Argument(help: "The ws:// or wss:// URL.")
    var url: String

    /// Headers, subprotocols, limits, TLS roots and keepalive timing (shared with `record`).
    @OptionGroup var connection: ConnectionOptions

    /// Messages sent after connecting.
    @Option(name: .customLong("send"), help: ArgumentHelp("A text message to send after connecting, repeatable.", valueName: "TEXT"))
    var messages: [String] = []

    /// Stop after this many received frames.
    @Option(help: "Stop (exit 0) after this many received frames.", transform: NumericOption.integer(in: 1...Int.max))
    var count: Int?

    /// Stop after this many seconds.
    @Option(help: "Stop (exit 0) after this many seconds.", transform: NumericOption.seconds(above: 0))
    var duration: Double?

    /// Whether to reconnect.
    @Flag(help: "Reconnect after disconnects (backoff, circuit breaker, keepalive).")
    var reconnect = false

    /// Creates the command (used by the argument parser).
    public init() {}

    /// Checks the options before running.
    public func validate() throws {
        try connection.validate(url: url)
    }

    /// Builds the connect request from the options.
    func makeRequest() throws -> ConnectRequest { try connection.request(url: url) }

    /// Connects and prints until the end; see the command's discussion.
    public func run() async throws {
        let out = StandardOutput()
        let outcome: TapSession.Outcome
        if reconnect {
            let config = connection.reconnectConfig()
            outcome = try await ReconnectingTapSession(
                request: makeRequest(), messages: messages, count: count, duration: duration
            ).run(connector: ReconnectingConnector(wrapping: NIOConnector(), config: config))
        } else {
            outcome = try await TapSession(request: makeRequest(), messages: messages, count: count, duration: duration)
                .run(connector: NIOConnector(), out: out)
        }
        out.flush()
        if let failure = outcome.failure {
            StandardOutput.warn("error: \(failure)")
            throw ExitCode(1)
        }
    }
}

/// The logic of `tap`, separate from argument parsing so tests can drive it with any connector.
struct TapSession {
    /// How a tap ended.
    struct Outcome {
        /// Frames printed.
        var frames = 0
        /// A one-line failure when the tap did not end cleanly.
        var failure: String?
    }

    var request: ConnectRequest
    var messages: [String]
    var count: Int?
    var duration: Double?

    func run(connector: any WSConnector, out: StandardOutput) async throws -> Outcome {
        var outcome = Outcome()
        out.line(RecordJSON.line(LifecycleSnapshot(epoch: 0, state: .connecting)))
        out.flush()
        let connection: WSConnection
        do {
            connection = try await connector.connect(request)
        } catch {
            let e = error as? WSError ?? WSError(.ioError, "\(error)")
            out.line(RecordJSON.line(LifecycleSnapshot(epoch: 0, state: .closed, failedAttempts: 1, lastDisconnect: .error(e))))
            outcome.failure = e.message
            return outcome
        }
        // The watch may already hold a later state (a fast peer); the connected edge is printed as of the handshake.
        out.line(RecordJSON.line(LifecycleSnapshot(epoch: 1, state: .connected, at: connection.info.connectedAt)))
        // A message that could not be sent is a warning now and a failure at the end (exit 1):
        // the tap did not do what it was asked, even if the server then closed cleanly.
        var unsent = 0
        let epoch = connection.lifecycle.current.epoch
        await sendSubscriptions(messages, via: connection.sink, epoch: epoch) { m in
            out.line(RecordJSON.line(.text(m), direction: .outbound, epoch: epoch, at: .now()))
        } failed: { m, error in
            unsent += 1
            out.flush()
            StandardOutput.warn("could not send '\(m)': \(error)")
        }
        out.flush()
        let sendFailure = unsent > 0 ? "\(unsent) of \(messages.count) --send message(s) could not be sent" : nil

        let timer: Task<Void, Never>? = duration.map { seconds in
            Task {
                try? await ContinuousClock().sleep(for: .seconds(seconds))
                if !Task.isCancelled { await connection.sink.close(code: .normalClosure, reason: "duration reached") }
            }
        }
        defer { timer?.cancel() }

        var limitReached = false
        do {
            for try await frame in connection.inbound {
                out.line(RecordJSON.line(frame.frame, direction: .inbound, epoch: frame.epoch, at: frame.received))
                outcome.frames += 1
                if let count, outcome.frames >= count {
                    limitReached = true
                    await connection.sink.close(code: .normalClosure, reason: "count reached")
                    break
                }
                if connection.inbound.queuedFrameCount == 0 { out.flush() }
            }
        } catch {
            // The stream's error is also the final lifecycle edge's cause, printed below.
        }
        await connection.sink.close()
        for await _ in connection.lifecycle.updates() {}
        let final = connection.lifecycle.current
        out.line(RecordJSON.line(final))
        if limitReached {
            outcome.failure = sendFailure
            return outcome
        }
        switch final.lastDisconnect {
        case .peerClosed(let code, _) where code.isClean:
            break
        case .localClose:
            break
        case .peerClosed(let code, let reason):
            outcome.failure = "the server closed the connection with code \(code)\(reason.isEmpty ? "" : " \"\(reason)\"")"
        case .error(let e):
            outcome.failure = e.message
        case nil:
            outcome.failure = "the connection ended without a cause"
        }
        // The disconnect's cause explains a failed send best; otherwise the send is the failure.
        if outcome.failure == nil { outcome.failure = sendFailure }
        return outcome
    }
}

/// `tap --reconnect`: the same output on a ``ReconnectingConnection``.
///
/// Frames and lifecycle edges come from two sources (the inbound stream and the lifecycle
/// watch), so lines go through one lock-protected writer.
struct ReconnectingTapSession {
    var request: ConnectRequest
    var messages: [String]
    var count: Int?
    var duration: Double?

    /// Runs the tap, writing to stdout.
    func run(connector: ReconnectingConnector) async throws -> TapSession.Outcome {
        let shared = Mutex(StandardOutput())
        // Lifecycle edges; the --send messages again in every new epoch (re-subscribe).
        let (connection, follower) = followLifecycle(
            connecting: request, through: connector, sending: messages,
            edge: { snapshot in
                shared.withLock {
                    $0.line(RecordJSON.line(snapshot))
                    $0.flush()
                }
            },
            sent: { m, epoch in
                shared.withLock { $0.line(RecordJSON.line(.text(m), direction: .outbound, epoch: epoch, at: .now())) }
            })
        let timer: Task<Void, Never>? = duration.map { seconds in
            Task {
                try? await ContinuousClock().sleep(for: .seconds(seconds))
                if !Task.isCancelled { await connection.shutdown(code: .normalClosure, reason: "duration reached") }
            }
        }
        defer { timer?.cancel() }

        var outcome = TapSession.Outcome()
        do {
            for try await frame in connection.inbound {
                outcome.frames += 1
                let reachedCount = count.map { outcome.frames >= $0 } ?? false
                shared.withLock {
                    $0.line(RecordJSON.line(frame.frame, direction: .inbound, epoch: frame.epoch, at: frame.received))
                    if reachedCount || connection.inbound.bufferedCount == 0 { $0.flush() }
                }
                if reachedCount {
                    await connection.shutdown(code: .normalClosure, reason: "count reached")
                    break
                }
            }
        } catch {
            // An unrecoverable session ends the stream with its cause; reported below.
        }
        let final = await connection.waitUntilEnded()
        await follower.value
        shared.withLock { $0.flush() }
        if final.state == .unrecoverable {
            outcome.failure = "unrecoverable: \(final.lastDisconnect.map { "\($0)" } ?? "no cause recorded")"
        }
        return outcome
    }
}
