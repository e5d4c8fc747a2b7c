import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

@Suite(.serialized)
struct TapReconnectTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    @Test func keepsGoingAcrossReconnectsWithTheEpochOnEveryFrame() throws {
        // The peer sends two frames per connection and closes; five frames need three epochs.
        let run = try CLIRun.wiretape(["tap", peer.url("/text?n=2"), "--reconnect", "--count", "5"])
        #expect(run.status == 0)
        let frames = run.lines.filter { $0["type"] as? String == "frame" }
        #expect(frames.count == 5)
        #expect(frames.map { $0["epoch"] as? Int } == [1, 1, 2, 2, 3])
        let edges = run.lines.filter { $0["type"] as? String == "lifecycle" }
        #expect(edges.contains { $0["state"] as? String == "reconnecting" && $0["close_code"] as? Int == 1000 })
        #expect(edges.last?["state"] as? String == "closed")
        // The first `connecting` edge is printed once, and an edge carries a cause only when
        // the cause is what it is about (not on connecting/connected/stale/resumed).
        #expect(edges.filter { $0["state"] as? String == "connecting" && $0["epoch"] as? Int == 0 }.count <= 1)
        let live = edges.filter { ["connecting", "connected", "stale", "resumed"].contains($0["state"] as? String ?? "") }
        #expect(!live.isEmpty)
        #expect(live.allSatisfy { $0["close_code"] == nil && $0["error"] == nil }, "\(live)")
    }

    @Test func unrecoverableAfterOne401AttemptExitsNonZero() throws {
        let run = try CLIRun.wiretape(["tap", peer.url("/status/401"), "--reconnect"], timeout: .seconds(30))
        #expect(run.status == 1)
        let final = try #require(run.lines.last)
        #expect(final["state"] as? String == "unrecoverable")
        #expect(final["failed_attempts"] as? Int == 1)
        #expect(final["http_status"] as? Int == 401)
        #expect(run.stderr.contains("unrecoverable") && run.stderr.contains("401"))
    }
}
