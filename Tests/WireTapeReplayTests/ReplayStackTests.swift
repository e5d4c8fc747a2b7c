import Synchronization
import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
import WireTapeResilience
@testable import WireTapeReplay

/// Notes the replay-clock time of every connect.
struct TimedConnector: WSConnector {
    let inner: ReplayConnector
    final class Box: Sendable { let times = Mutex<[Duration]>([]) }
    let box = Box()
    func connect(_ request: ConnectRequest) async throws -> WSConnection {
        box.times.withLock { $0.append(inner.clock.now.offset) }
        return try await inner.connect(request)
    }
    var connectTimes: [Duration] { box.times.withLock { $0 } }
}

/// An adapter: re-subscribes on every new epoch, collects frames.
func runAdapter(_ session: ReconnectingConnection, subscribe: @escaping @Sendable (UInt64) -> String?) async -> [InboundFrame] {
    let follower = Task {
        var sent: UInt64 = 0
        for await s in session.lifecycle.updates() where s.state == .connected && s.epoch > sent {
            sent = s.epoch
            if let m = subscribe(s.epoch) { try? await session.sink.send(.text(m)) }
        }
    }
    var frames: [InboundFrame] = []
    do { for try await f in session.inbound { frames.append(f) } } catch {}
    _ = await session.waitUntilEnded()
    await follower.value
    return frames
}

func config(idle: Duration? = nil, pong: Duration = .seconds(5)) -> ReconnectConfig {
    var c = ReconnectConfig()
    c.keepalive = KeepalivePolicy(idleTimeout: idle, pongTimeout: pong)
    c.rateLimit = nil
    c.backoff = BackoffPolicy(initial: .milliseconds(500), jitter: 0)
    return c
}

@Suite("Replay under ReconnectingConnector, on the replay's clock")
struct ReplayStackTests {
    @Test("every outage replays as an event; frames of every epoch arrive in order; the session ends at the end of the recording")
    func wholeSession() async throws {
        let dir = try Tape.threeOutages().write()
        let replay = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .asFastAsPossible))
        let session = ReconnectingConnector(wrapping: replay, config: config(), clock: replay.clock, random: SeededRandom(seed: 1))
            .connect(request)
        let frames = await runAdapter(session) { #"{"op":"sub","id":\#($0)}"# }
        #expect(texts(frames) == ["e1-0", "e1-1", "e1-2", "e1-3", "e1-4", "bin:0,1,2,255", "e2-0", "e2-1", "e2-2", "e3-0", "e3-1", "e3-2", "e3-3"])
        #expect(frames.map(\.epoch) == [1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3])
        let final = session.snapshot
        #expect(final.state == .unrecoverable)
        #expect(final.reconnects == 2)
        #expect(ReplayError.isEndOfRecording(final.lastDisconnect))
        let report = replay.outboundReport()
        #expect(report.isClean, "\(report.problems)")
        #expect(report.matched == 3)
    }

    @Test("a recorded 503 with Retry-After holds the reconnecting stack back that long on the replay clock")
    func retryAfterHonoured() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 5)
        t.edge(.reconnecting, epoch: 1, at: 10, code: 1006, error: "connectionLost")
        t.failed(epoch: 1, at: 20, status: 503, error: "handshakeRejected", message: "HTTP 503", retryAfter: 20)
        t.connected(epoch: 2, at: 30_000)
        t.text("b", epoch: 2, at: 30_005)
        let recording = try Recording.load(directory: try t.write())
        guard case .failed(let f) = recording.attempts[1] else { Issue.record("expected a failure"); return }
        #expect(f.wsError.retryAfterSeconds == 20)
        #expect(f.wsError.httpStatus == 503)

        let replay = try ReplayConnector(recording: recording, options: ReplayOptions(pacing: .asFastAsPossible))
        let timed = TimedConnector(inner: replay)
        let session = ReconnectingConnector(wrapping: timed, config: config(), clock: replay.clock, random: SeededRandom(seed: 1))
            .connect(request)
        let frames = await runAdapter(session) { _ in nil }
        #expect(texts(frames) == ["a", "b"])
        let times = timed.connectTimes
        #expect(times.count == 3)  // epoch 1, the 503, epoch 2 (whose end is the end of the recording)
        #expect(times[2] - times[1] >= .seconds(20))
        #expect(times[2] - times[1] < .seconds(21))
        #expect(session.snapshot.failedAttempts >= 1)
    }

    @Test("a recorded liveness timeout replays as silence without pongs: the adapter's liveness fires and it reconnects")
    func silenceTripsLiveness() async throws {
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        t.text("a", epoch: 1, at: 100)
        t.edge(.stale, epoch: 1, at: 30_100)
        t.edge(.reconnecting, epoch: 1, at: 40_100, error: "livenessTimeout", message: "no pong")
        t.connected(epoch: 2, at: 40_600)
        t.text("b", epoch: 2, at: 40_700)
        t.edge(.closed, epoch: 2, at: 41_000, code: 1000)
        let replay = try ReplayConnector(directory: try t.write(), options: ReplayOptions(pacing: .asFastAsPossible))
        #expect(replay.recording.epochs[0].end == .silence(message: "no pong"))
        let timed = TimedConnector(inner: replay)
        let session = ReconnectingConnector(
            wrapping: timed, config: config(idle: .seconds(10), pong: .seconds(5)), clock: replay.clock, random: SeededRandom(seed: 1)
        ).connect(request)
        let frames = await runAdapter(session) { _ in nil }
        #expect(texts(frames) == ["a", "b"])
        #expect(replay.statistics.pingsUnanswered >= 1)
        #expect(replay.statistics.pingsAnswered == 0)
        let times = timed.connectTimes
        #expect(times.count == 2)
        // The adapter's own liveness (10 s idle + 5 s pong) ended epoch 1, not the recorder's 40 s.
        #expect(times[1] >= .milliseconds(100) + .seconds(15))
        #expect(times[1] < .seconds(17))
        #expect(session.snapshot.reconnects == 1)
    }

    @Test("×N paces on a clock whose waits last 1/N of the recorded gaps")
    func speedFactor() async throws {
        // The frames' delivery waits on replay.clock (ReplayConnection sleeps until each frame's
        // recorded offset); what ×N changes is how long that clock's waits last in real time.
        // Checked without measuring wall time.
        var t = Tape()
        t.connected(epoch: 1, at: 0)
        for i in 0..<3 { t.text("f\(i)", epoch: 1, at: Double(i) * 30) }
        t.edge(.closed, epoch: 1, at: 100, code: 1000)
        let dir = try t.write()
        for (speed, real) in [(1.0, Duration.seconds(10)), (10, .seconds(1)), (0.5, .seconds(20))] {
            let replay = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .speed(speed)))
            #expect(replay.clock.realDuration(of: .seconds(10)) == real, "×\(speed)")
            #expect(replay.clock.manualClock == nil)
            let d = await drain(try await replay.connect(request))
            #expect(d.frames.count == 3)
        }
        let virtual = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .asFastAsPossible))
        #expect(virtual.clock.realDuration(of: .seconds(10)) == .zero && virtual.clock.manualClock != nil)
    }
}
