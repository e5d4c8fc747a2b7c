import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeReplay

@Suite("By-time attempt mapping")
struct AttemptMappingTests {
    @Test("a connect at time t gets what the venue did at t: joins epochs in progress, refused in outages, missed frames counted")
    func byTime() async throws {
        var t = Tape.threeOutages()
        t.failed(epoch: 1, at: 200, status: 503, error: "handshakeRejected", message: "HTTP 503")
        let clock = ManualClock()
        let replay = try ReplayConnector(
            directory: try t.write(), options: ReplayOptions(pacing: .manual(clock), mapping: .byTime, silenceEnd: .whenClosed))

        // t = 50 ms: inside epoch 1; frames at 20, 30, 40 ms were missed.
        clock.advance(to: .init(offset: .milliseconds(50)))
        let c1 = try await replay.connect(request)
        var it = c1.inbound.makeAsyncIterator()
        let first = try await it.next()
        #expect(first.map { texts([$0]) } == ["e1-3"])
        #expect(replay.statistics.framesMissed == 3)
        await c1.sink.close()

        // t = 150 ms: the outage after epoch 1, where a 503 was recorded.
        clock.advance(to: .init(offset: .milliseconds(150)))
        do {
            _ = try await replay.connect(request)
            Issue.record("expected the recorded 503")
        } catch let e as WSError {
            #expect(e.httpStatus == 503)
        }

        // t = 335 ms: inside epoch 2 (frames at 320, 330 missed).
        clock.advance(to: .init(offset: .milliseconds(335)))
        let c2 = try await replay.connect(request)
        var it2 = c2.inbound.makeAsyncIterator()
        await clock.waitForSleepers(count: 1)
        #expect(clock.nextDeadline?.offset == .milliseconds(340))
        clock.advance(to: .init(offset: .milliseconds(340)))
        let f2 = try await it2.next()
        #expect(f2.map { texts([$0]) } == ["e2-2"])
        await c2.sink.close()
        #expect(replay.statistics.framesMissed == 5)

        // After the last epoch: the end of the recording.
        clock.advance(to: .init(offset: .seconds(5)))
        await #expect(throws: WSError.self) { _ = try await replay.connect(request) }
    }
}
