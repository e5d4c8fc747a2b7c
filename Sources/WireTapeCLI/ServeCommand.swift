import ArgumentParser
import Synchronization
import WireTapeCore
import WireTapeNIO
import WireTapeReplay

/// `wiretape serve DIR --listen HOST:PORT`: plays a journal to WebSocket clients in any
/// language, on the package's one WebSocket server (``WireTapeNIO/WSServer``).
public struct ServeCommand: AsyncParsableCommand {
    /// The command's description.
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a journal on a real WebSocket server: each client connection plays the next recorded attempt.",
        discussion: """
            The first line on stdout is the URL it listens on (ws://127.0.0.1:PORT/; --listen \
            127.0.0.1:0 picks a free port). Each incoming connection gets the next recorded attempt \
            (or, with --by-time, what the venue did at that moment), through the same replay connector \
            as `replay`: a recorded refusal is answered with its HTTP status and Retry-After (a failure \
            without a status, such as a refused or timed-out connect, resets the TCP connection); a \
            recorded epoch is upgraded and its inbound frames are sent at their recorded offsets \
            (scaled by --speed), then it ends as it ended: a close frame with the recorded code and \
            reason, a TCP reset for a lost connection (1006), or silence in which pings get no pong \
            until the client gives up. Everywhere else pings are answered. The recorder's own shutdown \
            ends an epoch with 1001 "the recording is over".

            What clients send is checked against the recorded outbound frames of each epoch \
            (differences go to stderr; counts in the summary). When the recording is exhausted the next \
            connection is answered 410 Gone, a {"type":"summary",...} line is printed (replay's \
            fields), and serve exits 0 — unless --loop, which starts again from the first attempt. \
            Mutations (--mutate, --seed) apply as in replay.
            """)

    @OptionGroup var journal: JournalDirectoryArgument
    @OptionGroup var playback: PlaybackOptions

    @Option(help: ArgumentHelp("The address to listen on; port 0 picks a free port.", valueName: "HOST:PORT"))
    var listen: String = "127.0.0.1:0"

    @Flag(help: "When the recording is exhausted, print the summary and start again instead of exiting.")
    var loop = false

    /// Creates the command (used by the argument parser).
    public init() {}

    /// `listen` as host and port, or nil when malformed. `[::1]:0` and `::1:0` are both accepted.
    var address: (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65_535).contains(port)
        else { return nil }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Checks the options before running.
    public func validate() throws {
        if address == nil { throw ValidationError("--listen must be HOST:PORT (e.g. 127.0.0.1:0), not \"\(listen)\"") }
    }

    /// Serves until the recording is exhausted (or, with `--loop`, until SIGINT/SIGTERM).
    public func run() async throws {
        let directory = try await journal.readable()
        let playback = self.playback
        let out = JournalOutput.current
        let player = try ServePlayer(loop: loop, out: out) {
            try playback.connector(directory: directory, silenceEnd: .whenClosed)
        }
        let (host, port) = address!
        let server = try await WSServer.start(host: host, port: port) { await player.answer($0) }
        out.line(server.url)
        out.warn("wiretape: serving \(TerminalText.safe(directory)) on \(server.url)")
        let signals = ShutdownSignals { sig in player.stop(because: ShutdownSignals.name(sig)) }
        let reason = await player.finished()
        signals.cancel()
        await server.stop()
        if let reason { out.warn("wiretape: stopped by \(reason)") }
    }
}

/// The logic of `serve`, apart from argument parsing: each connection's answer from the
/// replay connector, the frames pumped to the client and the end played on the wire.
final class ServePlayer: Sendable {
    private struct State {
        var replay: ReplayConnector
        var frames = 0
        var connections = 0
        var finished = false
        var stopReason: String?
        var waiter: CheckedContinuation<String?, Never>?
    }
    private let state: Mutex<State>
    private let loop: Bool
    private let out: JournalOutput
    private let make: @Sendable () throws -> ReplayConnector

    init(loop: Bool, out: JournalOutput, make: @escaping @Sendable () throws -> ReplayConnector) throws {
        self.loop = loop
        self.out = out
        self.make = make
        state = Mutex(State(replay: try make()))
    }

    private static let request = ConnectRequest(url: try! WSURL("ws://serve.invalid/"))

    private func note(_ s: String) { out.warn("wiretape: " + TerminalText.safe(s)) }

    /// What to do with one incoming connection.
    func answer(_ request: WSServer.Request) async -> WSServer.Answer {
        let (replay, n) = state.withLock { s in
            s.connections += 1
            return (s.replay, s.connections)
        }
        let client = request.remoteAddress ?? "?"
        do {
            let replayed = try await replay.connect(Self.request)
            note("connection \(n) from \(client): epoch \(replay.statistics.epochs)")
            return .accept(
                pongs: .ask { payload in
                    // The replay answers unless it is in a recorded silence or a stall.
                    let before = replayed.activity.pongsReceived
                    try? await replayed.sink.sendPing(payload)
                    return replayed.activity.pongsReceived > before
                },
                session: { [self] client in await play(replayed, to: client) })
        } catch {
            let e = error as? WSError ?? WSError(.ioError, "\(error)")
            if ReplayError.isEndOfRecording(e) {
                note("connection \(n) from \(client): the recording is over (410)")
                exhausted(replay)
                return .reject(status: 410, headers: [], body: "the recording is over\n")
            }
            if let status = e.httpStatus {
                note("connection \(n) from \(client): refused with HTTP \(status) as recorded")
                return .reject(status: status, headers: e.responseHeaders, body: "\(e.message)\n")
            }
            note("connection \(n) from \(client): reset as recorded (\(e.code))")
            return .reset
        }
    }

    /// Sends the replayed epoch to the client, forwards the client's sends to the replay (for
    /// the outbound check), then ends the client's connection as the epoch ended.
    private func play(_ replayed: WSConnection, to client: WSConnection) async {
        let forward = Task {
            do {
                for try await f in client.inbound { try? await replayed.sink.send(f.frame) }
            } catch {
                // The client's connection ended; its cause does not matter to the replay.
            }
            await replayed.sink.close(code: .goingAway, reason: "the client left")
        }
        var sent = 0
        do {
            for try await f in replayed.inbound {
                try await client.sink.send(f.frame)
                sent += 1
            }
        } catch {
            // The replayed epoch's end (below) or a client that went away.
        }
        state.withLock { $0.frames += sent }
        switch replayed.lifecycle.current.lastDisconnect {
        case .peerClosed(let code, let reason)?:
            await client.sink.close(code: code, reason: reason)
        case .error(let e)? where ReplayError.isEndOfRecording(e):
            await client.sink.close(code: .goingAway, reason: "the recording is over")
        case .error(let e)? where e.code == .connectionLost || e.code == .livenessTimeout:
            await client.sink.abort()
        case .error(let e)?:
            await client.sink.close(code: e.closeCode ?? .internalError, reason: e.closeReason ?? e.code.rawValue)
        case .localClose?, nil:
            // The client left, or a send to it failed.
            await client.sink.abort()
        }
        await forward.value
    }

    /// The recording of `replay` is exhausted: print its summary, then stop or start again.
    private func exhausted(_ replay: ReplayConnector) {
        let report = replay.outboundReport()
        let frames = state.withLock { s -> Int in
            defer { s.frames = 0 }
            return s.frames
        }
        out.line(ReplaySession.summary(replay, report: report, frames: frames, ended: true))
        ReplaySession.warnOutbound(report, out: out)
        if loop, let fresh = try? make() {
            state.withLock { $0.replay = fresh }
            return
        }
        finish(nil)
    }

    /// Ends serving because of a signal.
    func stop(because reason: String) { finish(reason) }

    private func finish(_ reason: String?) {
        let w = state.withLock { s -> CheckedContinuation<String?, Never>? in
            guard !s.finished else { return nil }
            s.finished = true
            s.stopReason = reason
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: reason)
    }

    /// Waits until the recording is exhausted (without `--loop`) or a signal arrived; returns
    /// the signal's name, or nil.
    func finished() async -> String? {
        await withCheckedContinuation { (c: CheckedContinuation<String?, Never>) in
            let done = state.withLock { s -> String?? in
                if s.finished { return .some(s.stopReason) }
                s.waiter = c
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }
}
