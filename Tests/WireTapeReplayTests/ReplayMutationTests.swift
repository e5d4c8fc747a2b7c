import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
import WireTapeResilience
@testable import WireTapeReplay

/// One epoch of ten frames f0..f9, 100 ms apart, then a clean close.
func tenFrames() throws -> String {
    var t = Tape()
    t.connected(epoch: 1, at: 0)
    for i in 0..<10 { t.text("f\(i)", epoch: 1, at: Double(i + 1) * 100) }
    t.edge(.reconnecting, epoch: 1, at: 1_100, code: 1000)
    t.connected(epoch: 2, at: 1_200)
    t.text("g0", epoch: 2, at: 1_300)
    t.edge(.closed, epoch: 2, at: 1_400, code: 1000)
    return try t.write()
}

func replayed(_ mutations: [String], seed: UInt64 = 7) async throws -> (first: Drained, replay: ReplayConnector) {
    let ms = try mutations.map { s throws(ReplayError) in try ReplayMutation.parse(s) }
    let replay = try ReplayConnector(
        directory: try tenFrames(), options: ReplayOptions(pacing: .asFastAsPossible, mutations: ms, seed: seed))
    var first: Drained?
    while true {
        do {
            let d = await drain(try await replay.connect(request))
            if first == nil { first = d }
        } catch let e as WSError where ReplayError.isEndOfRecording(e) {
            break
        } catch {
            if first == nil { continue }  // a refusal before the first epoch
        }
    }
    return (first!, replay)
}

@Suite("Replay mutations")
struct ReplayMutationTests {
    @Test("specs parse, print back, and bad ones say what is wrong", arguments: [
        "drop-frames:1:2:3", "duplicate-frames:2:0:1", "reorder-frames:1:0:4", "disconnect:1:5:1006",
        "refuse:2:3:503", "stall:1:2:45.0", "zombie:1:2:60.0", "stretch:1:2.5",
    ])
    func parse(_ spec: String) throws {
        #expect(try ReplayMutation.parse(spec).description == spec)
    }

    @Test("bad specs are rejected with a message naming the field", arguments: [
        ("explode:1", "unknown mutation"), ("drop-frames:1:2", "expected drop-frames:EPOCH:FROM:COUNT"),
        ("drop-frames:0:2:1", "EPOCH"), ("disconnect:1:2:999", "CODE"), ("refuse:1:1:101", "STATUS"),
        ("stretch:1:-2", "FACTOR"), ("stall:1:x:4", "AFTER"),
    ])
    func parseErrors(_ spec: String, _ mentions: String) {
        do {
            _ = try ReplayMutation.parse(spec)
            Issue.record("\(spec) must not parse")
        } catch {
            #expect(error.code == .invalidMutation)
            #expect(error.message.contains(mentions), "\(error.message)")
        }
    }

    @Test("a mutation naming an epoch the recording lacks is refused")
    func epochOutOfRange() throws {
        #expect(throws: ReplayError.self) {
            try ReplayConnector(directory: try tenFrames(), options: ReplayOptions(mutations: [.dropFrames(epoch: 3, from: 0, count: 1)]))
        }
    }

    @Test("drop-frames skips and counts")
    func drop() async throws {
        let (d, replay) = try await replayed(["drop-frames:1:2:3"])
        #expect(texts(d.frames) == ["f0", "f1", "f5", "f6", "f7", "f8", "f9"])
        #expect(replay.statistics.framesDropped == 3)
    }

    @Test("duplicate-frames delivers twice")
    func duplicate() async throws {
        let (d, _) = try await replayed(["duplicate-frames:1:8:2"])
        #expect(texts(d.frames) == ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f8", "f9", "f9"])
    }

    @Test("reorder-frames permutes the window, the same way for the same seed")
    func reorder() async throws {
        let (a, _) = try await replayed(["reorder-frames:1:2:5"], seed: 42)
        let (b, _) = try await replayed(["reorder-frames:1:2:5"], seed: 42)
        let window = Array(texts(a.frames)[2..<7])
        #expect(texts(a.frames) == texts(b.frames))
        #expect(Set(window) == ["f2", "f3", "f4", "f5", "f6"])
        #expect(window != ["f2", "f3", "f4", "f5", "f6"])
        #expect(Array(texts(a.frames)[7...]) == ["f7", "f8", "f9"])
        // Slots keep their times: received timestamps are the frames' own.
        #expect(a.frames.count == 10)
    }

    @Test("disconnect ends the epoch after AFTER frames: 1006 loses the transport, another code is a peer close")
    func disconnect() async throws {
        let (lost, _) = try await replayed(["disconnect:1:4:1006"])
        #expect(texts(lost.frames) == ["f0", "f1", "f2", "f3"])
        #expect(lost.wsError?.code == .connectionLost)
        let (closed, _) = try await replayed(["disconnect:1:0:4001"])
        #expect(closed.frames.isEmpty)
        #expect(closed.wsError?.code == .closedByPeer)
        #expect(closed.wsError?.closeCode == WSCloseCode(4001))
    }

    @Test("refuse adds refused attempts before the epoch")
    func refuse() async throws {
        let replay = try ReplayConnector(
            directory: try tenFrames(),
            options: ReplayOptions(pacing: .asFastAsPossible, mutations: [try ReplayMutation.parse("refuse:2:2:503")]))
        _ = await drain(try await replay.connect(request))
        for _ in 0..<2 {
            do {
                _ = try await replay.connect(request)
                Issue.record("expected a refusal")
            } catch let e as WSError {
                #expect(e.httpStatus == 503)
                #expect(e.code == .handshakeRejected)
            }
        }
        let d = await drain(try await replay.connect(request))
        #expect(texts(d.frames) == ["g0"])
        #expect(replay.statistics.refused == 2)
    }

    @Test("stretch spreads the frames over FACTOR times the time (ManualClock)")
    func stretch() async throws {
        let clock = ManualClock()
        let replay = try ReplayConnector(
            directory: try tenFrames(), options: ReplayOptions(pacing: .manual(clock), mutations: [.stretch(epoch: 1, factor: 3)]))
        let c = try await replay.connect(request)
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .milliseconds(300))
        clock.advance(to: .init(offset: .milliseconds(300)))
        var it = c.inbound.makeAsyncIterator()
        #expect(try await it.next().map { texts([$0]) } == ["f0"])
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .milliseconds(600))
        await c.sink.close()
    }

    @Test("stall: silence without pongs, so the adapter's liveness ends the epoch")
    func stall() async throws {
        let replay = try ReplayConnector(
            directory: try tenFrames(),
            options: ReplayOptions(pacing: .asFastAsPossible, mutations: [try ReplayMutation.parse("stall:1:3:120")]))
        let session = ReconnectingConnector(
            wrapping: replay, config: config(idle: .seconds(10), pong: .seconds(5)), clock: replay.clock, random: SeededRandom(seed: 1)
        ).connect(request)
        let frames = await runAdapter(session) { _ in nil }
        #expect(Array(texts(frames).prefix(3)) == ["f0", "f1", "f2"])
        #expect(texts(frames).last == "g0")
        #expect(!texts(frames).contains("f3"))
        #expect(replay.statistics.pingsUnanswered >= 1)
        #expect(session.snapshot.reconnects == 1)
    }

    @Test("zombie: no data but pings answered, so liveness alone keeps the connection")
    func zombie() async throws {
        let replay = try ReplayConnector(
            directory: try tenFrames(),
            options: ReplayOptions(pacing: .asFastAsPossible, mutations: [try ReplayMutation.parse("zombie:1:3:120")]))
        let session = ReconnectingConnector(
            wrapping: replay, config: config(idle: .seconds(10), pong: .seconds(5)), clock: replay.clock, random: SeededRandom(seed: 1)
        ).connect(request)
        let frames = await runAdapter(session) { _ in nil }
        #expect(texts(frames) == (0..<10).map { "f\($0)" } + ["g0"])
        #expect(replay.statistics.pingsAnswered >= 1)
        #expect(replay.statistics.pingsUnanswered == 0)
        #expect(session.snapshot.reconnects == 1)  // only the recorded one
    }
}
