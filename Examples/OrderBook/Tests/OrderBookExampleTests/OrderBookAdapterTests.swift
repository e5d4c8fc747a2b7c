import Foundation
import OrderBookExample
import Testing
import WireTapeCore
import WireTapeReplay
import WireTapeResilience

/// The example adapter against a recorded outage: `Fixtures/depth-outage` (made by
/// `Fixtures/make-fixture.sh` from `depth-outage.jsonl` with `wiretape import`) replayed through
/// `ReplayConnector` under the adapter's own `ReconnectingConnector`, on virtual time.
@Suite struct OrderBookAdapterTests {
    /// A private copy of the fixture journal (readers may add SQLite files beside the index).
    static func fixture() throws -> String {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/depth-outage")
        let copy = FileManager.default.temporaryDirectory
            .appendingPathComponent("orderbook-fixture-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: copy)
        return copy.path
    }

    static let url = try! WSURL("wss://depth.venue.test/ws")

    /// The books the recorded messages add up to, worked out by hand from `depth-outage.jsonl`.
    static let afterEpoch1 = OrderBook(
        bids: ["64000.00": "1.200", "64000.25": "0.500"], asks: ["64000.75": "0.800", "64001.00": "3.000"], seq: 105)
    static let afterEpoch2 = OrderBook(
        bids: ["64000.00": "0.900", "64000.25": "0.500", "63998.00": "3.000"],
        asks: ["64000.75": "0.800", "64002.00": "1.000"], seq: 113)
    static let afterEpoch3 = OrderBook(
        bids: ["64000.00": "0.900", "64000.25": "0.700", "63998.00": "3.000", "64000.50": "0.100"],
        asks: ["64002.00": "1.000", "64001.50": "2.000"], seq: 117)

    @Test("after each recorded outage the adapter resumes or resyncs, and ends with the expected book")
    func survivesTheRecordedOutages() async throws {
        let replay = try ReplayConnector(directory: try Self.fixture(), options: ReplayOptions(pacing: .asFastAsPossible))
        let adapter = OrderBookAdapter(symbol: "BTCUSDT")
        let final = await adapter.run(connector: replay, url: Self.url, clock: replay.clock)

        // The session met every recorded outage and ended with the recording.
        #expect(final.state == .unrecoverable)
        #expect(ReplayError.isEndOfRecording(final.lastDisconnect))
        #expect(final.reconnects == 2)
        #expect(final.failedAttempts >= 1, "the recorded 503 was met")
        #expect(replay.statistics.refused == 1)

        let t = adapter.tracker
        #expect(t.events == [
            .snapshot(epoch: 1, seq: 100),
            // After the 1011 close and the 503, the feed went on at 109: 106-108 were missed.
            .gap(epoch: 2, expected: 106, got: 109),
            .snapshot(epoch: 2, seq: 110),
            // After the 1006 the feed continued at 114: nothing to resync.
            .resumed(epoch: 3, seq: 114),
        ])
        #expect(t.bookAtEndOfEpoch[1] == Self.afterEpoch1)
        #expect(t.bookAtEndOfEpoch[2] == Self.afterEpoch2)
        #expect(t.bookAtEndOfEpoch[3] == Self.afterEpoch3)
        #expect(t.synced)
        #expect(t.book.bestBid == "64000.50")
        #expect(t.book.bestAsk == "64001.50")

        // It sent what production sent: a subscription per epoch, and the snapshot request in epoch 2.
        let report = replay.outboundReport()
        #expect(report.isClean, "\(report.problems)")
        #expect(report.matched == 4)
    }

    @Test("a frame dropped mid-epoch (a mutation of the same recording) is caught as a gap and a resync request")
    func droppedUpdateIsAGap() async throws {
        let options = ReplayOptions(pacing: .asFastAsPossible, mutations: [try ReplayMutation.parse("drop-frames:3:1:1")])
        let replay = try ReplayConnector(directory: try Self.fixture(), options: options)
        let adapter = OrderBookAdapter(symbol: "BTCUSDT")
        _ = await adapter.run(connector: replay, url: Self.url, clock: replay.clock)

        let t = adapter.tracker
        #expect(t.events.last == .gap(epoch: 3, expected: 115, got: 116))
        #expect(!t.synced, "no snapshot came after the request: the book is known to be incomplete")
        #expect(replay.statistics.framesDropped == 1)
        let report = replay.outboundReport()
        #expect(report.extra == 1, "the snapshot request production never had to send: \(report.problems)")
        #expect(report.problems.first?.actual == .text(#"{"op":"snapshot","symbol":"BTCUSDT"}"#))
    }
}
