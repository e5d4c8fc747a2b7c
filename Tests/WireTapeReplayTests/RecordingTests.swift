import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeReplay

/// `Recording.load` counts runs of frame-only blocks from the index instead of decoding them;
/// the timeline must be the one a full pass builds (a copy of the journal without its index).
@Suite struct RecordingTests {
    /// Three long epochs (many blocks each), a refusal, a selection that starts mid-epoch.
    static func longTape() -> Tape {
        var t = Tape()
        t.records.append((.session(SessionEvent(phase: .start, url: "ws://venue/feed")), 0, 0))
        var ms = 10.0
        for epoch in UInt64(1)...3 {
            t.connected(epoch: epoch, at: ms)
            t.text(#"{"op":"sub"}"#, epoch: epoch, at: ms + 0.5, out: true)
            for i in 0..<3000 {
                t.text(String(repeating: "x", count: 200) + " \(epoch)-\(i)", epoch: epoch, at: ms + 1 + Double(i) * 0.01)
            }
            ms += 100
            if epoch == 1 {
                t.edge(.reconnecting, epoch: 1, at: ms, code: 1011, reason: "overloaded", by: .peer)
                t.failed(epoch: 1, at: ms + 20, status: 503, error: "handshakeRejected", retryAfter: 1)
            } else if epoch == 2 {
                t.edge(.reconnecting, epoch: 2, at: ms, code: 1006, error: "connectionLost")
            }
            ms += 50
        }
        return t
    }

    func withoutIndex(_ dir: String) throws -> String {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("replay-noindex-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasPrefix("seg-") {
            try FileManager.default.copyItem(atPath: dir + "/" + f, toPath: copy + "/" + f)
        }
        return copy
    }

    @Test("the timeline from the index equals a full pass", arguments: [
        ReplaySelection(),
        ReplaySelection(fromWall: Tape.wallBase + 40_000_000),  // inside epoch 1
        ReplaySelection(fromWall: Tape.wallBase + 40_000_000, toWall: Tape.wallBase + 280_000_000),
    ])
    func indexEqualsFullPass(selection: ReplaySelection) throws {
        let dir = try Self.longTape().write()
        var blocks = 0
        try JournalIndexQuery(directory: dir).forEachBlock { _ in blocks += 1 }
        #expect(blocks > 10, "the tape spans many blocks")
        let runs = try JournalIndexQuery(directory: dir).inboundFrameRuns(fromWall: selection.fromWall, toWall: selection.toWall)
        #expect(runs.reduce(0) { $0 + $1.count } > 1000, "the index lets most frames go unread")
        let fast = try Recording.load(directory: dir, selection: selection)
        let full = try Recording.load(directory: try withoutIndex(dir), selection: selection)
        #expect(fast.epochs == full.epochs)
        #expect(fast.attempts == full.attempts)
        #expect(fast.startMono == full.startMono)
        #expect(fast.framesOutsideEpochs == full.framesOutsideEpochs)
        #expect(fast.inboundCount == full.inboundCount)
        #expect(fast.inboundCount > 0)
    }

    @Test("imported frames (no lifecycle) replay as one connection either way")
    func importedFrames() throws {
        var t = Tape()
        for i in 0..<5000 { t.text(String(repeating: "y", count: 300) + "\(i)", epoch: 0, at: Double(i) * 0.1) }
        let dir = try t.write()
        #expect(!(try JournalIndexQuery(directory: dir).inboundFrameRuns()).isEmpty)
        let fast = try Recording.load(directory: dir)
        let full = try Recording.load(directory: try withoutIndex(dir))
        #expect(fast.epochs == full.epochs)
        #expect(fast.epochs.first?.inboundCount == 5000)
        #expect(fast.epochs.first?.connectedWall == Tape.wallBase, "it connected when its first frame arrived")
        #expect(fast.epochs.first?.endMono == Tape.monoBase + UInt64(4999.0 * 0.1 * 1_000_000))
    }
}
