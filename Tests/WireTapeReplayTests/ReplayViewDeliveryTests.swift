import Synchronization
import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
@testable import WireTapeReplay

/// The replay lends a consumer that diverts with `divert(toViews:)` its frames as views of the
/// decoded journal block; an iterator or a frame consumer gets owned frames. Whatever the
/// consumer, the same frames (bytes, opcode, epoch, recorded times) and the same ends.
@Suite struct ReplayViewDeliveryTests {
    /// What a consumer saw of one frame, copied while it was valid.
    struct Seen: Equatable, Sendable {
        var binary: Bool
        var bytes: [UInt8]
        var epoch: UInt64
        var wall: Int64
        var mono: UInt64

        init(_ f: InboundFrame) {
            switch f.frame {
            case .text(let s): binary = false; bytes = Array(s.utf8)
            case .binary(let b): binary = true; bytes = b
            }
            epoch = f.epoch
            wall = f.received.wallNanos
            mono = f.received.monotonicNanos
        }

        init(_ v: InboundFrameView) {
            binary = v.isBinary
            bytes = Array(v.payload)
            epoch = v.epoch
            wall = v.received.wallNanos
            mono = v.received.monotonicNanos
        }
    }

    /// One replayed connection: its frames and the code of the error that ended it (nil: clean).
    struct Played: Equatable, Sendable {
        var frames: [Seen] = []
        var end: WSError.Code?
    }

    enum Consumer: String, CaseIterable, Sendable {
        case iterator, frames, views
    }

    static let framesPerEpoch = 400
    /// When each epoch connected (ms on the tape).
    static let connectedAt: [Double] = [10, 160, 310]

    /// Three epochs of varied frames (text with multi-byte UTF-8, binary, empty), in 1 KiB
    /// blocks so that each epoch spans dozens of blocks: 1 ends with a peer close 1011, 2 with
    /// a lost transport, 3 with the recorder's shutdown.
    static func journal() throws -> String { try tape().write(blockSize: 1024) }

    /// The inbound frames of recorded epoch `e` as a connection numbered `replayed` delivers
    /// them, straight from the tape (not through the journal's reader).
    static func recorded(epoch e: UInt64, as replayed: UInt64) -> [Seen] {
        tape().records.sorted { $0.ms < $1.ms }.compactMap { r -> Seen? in
            guard r.epoch == e, case .frame(direction: .inbound, opcode: let opcode, payload: let payload) = r.body else { return nil }
            let at = Tape.at(r.ms)
            return Seen(InboundFrame(
                frame: opcode == .binary ? .binary(payload) : .text(String(decoding: payload, as: UTF8.self)),
                epoch: replayed, received: at))
        }
    }

    static func tape() -> Tape {
        var t = Tape()
        t.records.append((.session(SessionEvent(phase: .start, url: "ws://venue/feed")), 0, 0))
        for (n, start) in connectedAt.enumerated() {
            let e = UInt64(n + 1)
            t.connected(epoch: e, at: start)
            for i in 0..<framesPerEpoch {
                let at = start + 1 + Double(i) * 0.25
                if i % 7 == 3 {
                    t.binary((0..<(i % 50)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }, epoch: e, at: at)
                } else {
                    t.text(i % 11 == 0 ? "" : "e\(e)-\(i) " + String(repeating: "é✓x", count: i % 40), epoch: e, at: at)
                }
            }
            let end = start + 120
            switch e {
            case 1: t.edge(.reconnecting, epoch: e, at: end, code: 1011, reason: "overloaded", error: "closedByPeer", message: "closed 1011", by: .peer)
            case 2: t.edge(.reconnecting, epoch: e, at: end, code: 1006, error: "connectionLost", message: "lost")
            default: t.edge(.closed, epoch: e, at: end, code: 1000, reason: "shutdown", by: .local)
            }
            if e < 3 { t.edge(.connecting, epoch: e, at: end + 10) }
        }
        return t
    }

    /// Plays one connection to its end through `consumer`.
    static func consume(_ c: WSConnection, _ consumer: Consumer) async -> Played {
        switch consumer {
        case .iterator:
            let d = await drain(c)
            return Played(frames: d.frames.map(Seen.init), end: d.wsError?.code)
        case .frames, .views:
            let played = Mutex(Played())
            await withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
                let onEnd: @Sendable (WSError?) -> Void = { error in
                    played.withLock { $0.end = error?.code }
                    ended.resume()
                }
                if consumer == .frames {
                    c.inbound.divert(to: { batch in played.withLock { $0.frames += batch.map(Seen.init) } }, onEnd: onEnd)
                } else {
                    c.inbound.divert(toViews: { batch in played.withLock { $0.frames += batch.map(Seen.init) } }, onEnd: onEnd)
                }
            }
            return played.withLock { $0 }
        }
    }

    /// Every connection of a replay, in order, until the end of the recording.
    static func replayAll(
        _ dir: String, _ selection: ReplaySelection, _ options: ReplayOptions, _ consumer: Consumer
    ) async throws -> (played: [Played], stats: ReplayStatistics) {
        let replay = try ReplayConnector(directory: dir, selection: selection, options: options)
        var played: [Played] = []
        while true {
            let c: WSConnection
            do {
                c = try await replay.connect(request)
            } catch let e as WSError where ReplayError.isEndOfRecording(e) {
                break
            } catch {
                continue  // a refused attempt (recorded or mutated)
            }
            played.append(await consume(c, consumer))
        }
        return (played, replay.statistics)
    }

    enum Scenario: String, CaseIterable, Sendable {
        case plain, mutated, epochs, timeRange
    }

    @Test("each consumer gets the same frames and ends", arguments: Scenario.allCases)
    func sameFramesWhateverTheConsumer(_ scenario: Scenario) async throws {
        let dir = try Self.journal()
        var selection = ReplaySelection()
        var options = ReplayOptions(pacing: .asFastAsPossible)
        var expectedFrames = 3 * Self.framesPerEpoch
        switch scenario {
        case .plain:
            break
        case .mutated:
            options.mutations = try ["drop-frames:1:5:3", "duplicate-frames:2:10:4", "reorder-frames:3:100:20", "disconnect:2:300:1006", "refuse:3:1:503"]
                .map { s throws(ReplayError) in try ReplayMutation.parse(s) }
            options.seed = 42
            expectedFrames = 400 - 3 + 300 + 4 + 400
        case .epochs:
            selection = ReplaySelection(epochs: [2])
            expectedFrames = Self.framesPerEpoch
        case .timeRange:
            // From the middle of epoch 1 to the middle of epoch 3.
            selection = ReplaySelection(fromWall: Tape.at(60).wallNanos, toWall: Tape.at(360).wallNanos)
            expectedFrames = 0  // counted below from the recording
        }
        var results: [Consumer: (played: [Played], stats: ReplayStatistics)] = [:]
        for consumer in Consumer.allCases {
            results[consumer] = try await Self.replayAll(dir, selection, options, consumer)
        }
        let reference = try #require(results[.iterator])
        let total = reference.played.reduce(0) { $0 + $1.frames.count }
        if scenario == .timeRange {
            let recording = try Recording.load(directory: dir, selection: selection)
            expectedFrames = recording.inboundCount
            #expect(expectedFrames > Self.framesPerEpoch && expectedFrames < 3 * Self.framesPerEpoch)
        }
        #expect(total == expectedFrames)
        #expect(reference.played.count == (scenario == .epochs ? 1 : 3))
        // Byte-exact against the tape itself, so that a fault every consumer shares (the
        // producer's) cannot hide behind the comparison between consumers.
        switch scenario {
        case .plain:
            for e in 1...3 {
                #expect(reference.played[e - 1].frames == Self.recorded(epoch: UInt64(e), as: UInt64(e)), "epoch \(e)")
            }
        case .epochs:
            #expect(reference.played.first?.frames == Self.recorded(epoch: 2, as: 1))
        case .mutated, .timeRange:
            break
        }
        for consumer in [Consumer.frames, .views] {
            let r = try #require(results[consumer])
            #expect(r.played.count == reference.played.count, "\(consumer)")
            for (i, (got, want)) in zip(r.played, reference.played).enumerated() {
                #expect(got.end == want.end, "\(consumer) connection \(i)")
                #expect(got.frames.count == want.frames.count, "\(consumer) connection \(i)")
                if let k = (0..<min(got.frames.count, want.frames.count)).first(where: { got.frames[$0] != want.frames[$0] }) {
                    Issue.record("\(consumer) connection \(i): frame \(k) differs: \(got.frames[k]) vs \(want.frames[k])")
                }
            }
            #expect(r.stats == reference.stats, "\(consumer)")
        }
    }

    @Test("by time on a test's clock: a connect that joins an epoch in progress misses the same frames whatever the consumer")
    func byTimeJoin() async throws {
        let dir = try Self.journal()
        var results: [Consumer: (Played, ReplayStatistics)] = [:]
        for consumer in Consumer.allCases {
            let clock = ManualClock()
            let replay = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .manual(clock), mapping: .byTime))
            // 50 ms into epoch 2 (replay time zero is the session start at 0 ms).
            clock.advance(to: .init(offset: .milliseconds(Int64(Self.connectedAt[1]) + 50)))
            let c = try await replay.connect(request)
            clock.advance(to: .init(offset: .seconds(3600)))
            results[consumer] = (await Self.consume(c, consumer), replay.statistics)
        }
        let (reference, stats) = try #require(results[.iterator])
        #expect(stats.framesMissed > 100)
        #expect(reference.frames.count == Self.framesPerEpoch - stats.framesMissed)
        #expect(reference.end == .connectionLost)
        for consumer in [Consumer.frames, .views] {
            let (got, gotStats) = try #require(results[consumer])
            #expect(got == reference, "\(consumer)")
            #expect(gotStats == stats, "\(consumer)")
        }
    }
}
