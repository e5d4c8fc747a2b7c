import Foundation
import Testing
import WireTapeCore
import WireTapeNIO
import WireTapeResilience
import WireTapeTestSupport

/// More of the fault matrix, against the Python peer directly (no proxy needed): close codes,
/// an accept-then-close loop, and a paused consumer under a burst.
@Suite("Fault matrix: NIOConnector against the Python peer", .serialized, .timeLimit(.minutes(2)))
struct PeerMatrixTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    func session(_ path: String, _ configure: (inout ReconnectConfig) -> Void = { _ in }) throws -> ReconnectingConnection {
        var config = fastConfig()
        configure(&config)
        return ReconnectingConnector(wrapping: NIOConnector(), config: config)
            .connect(ConnectRequest(url: try WSURL(peer.url(path))))
    }

    @Test(arguments: [1000, 1001, 1011])
    func serverCloseCodesReconnectWithTheCodeAsCause(code: Int) async throws {
        let c = try session("/close?code=\(code)&reason=bye")
        let reconnecting = await waitFor(c, "reconnecting after close \(code)") {
            $0.state == .reconnecting && $0.epoch == 1
        }
        #expect(reconnecting?.lastDisconnect?.closeCode == WSCloseCode(UInt16(code)))
        // Epoch 2 is closed as soon as it opens: a reader of the watch may skip its `connected`.
        let second = await waitFor(c, "epoch 2") { $0.epoch == 2 }
        #expect(second?.reconnects == 1)
        await c.shutdown()
        #expect(c.snapshot.state == .closed)
    }

    @Test func acceptThenCloseLoopIsPacedByTheBackoff() async throws {
        // The server accepts and closes at once; the backoff must not reset (minimum uptime),
        // so the connects spread out instead of looping tightly.
        let c = try session("/close?code=1000")
        // Each epoch closes as soon as it opens, so a reader of the watch may skip its
        // `connected` edge: note when each epoch was first seen in any state instead.
        var firstSeen: [UInt64: UInt64] = [:]
        for await s in c.lifecycle.updates() where s.epoch >= 1 {
            if firstSeen[s.epoch] == nil { firstSeen[s.epoch] = s.at.monotonicNanos }
            if s.epoch >= 5 { break }
        }
        await c.shutdown()
        // fastConfig: initial 50 ms, doubling, capped at 400 ms, jitter 0.5: the four delays
        // between epoch 1's connect and epoch 5's add up to at least 25 + 50 + 100 + 200 ms.
        let span = Double(firstSeen[5, default: 0] &- firstSeen[1, default: 0]) / 1e6
        #expect(firstSeen[1] != nil && firstSeen[5] != nil)
        #expect(span >= 50 + 100 + 200, "attempts are spaced by a growing backoff: \(span) ms from epoch 1 to 5")
        #expect(c.snapshot.epoch == 5)
    }

    @Test func pausedConsumerUnderABurstKeepsTheNewestAndCountsTheRest() async throws {
        let n = 100_000
        let c = try session("/flood?n=\(n)&size=100&numbered=1&hold=1") {
            $0.buffer = InboundBufferPolicy(maxFrames: 1_000, maxBytes: 1 << 20)
            $0.keepalive = .disabled
        }
        // The consumer reads nothing until everything arrived (delivered-or-dropped == sent).
        let done = await waitFor(c, "all \(n) frames buffered or counted as lagged") { s in
            s.totalLagged + UInt64(c.inbound.bufferedCount) >= UInt64(n)
        }
        #expect(done != nil)
        #expect(c.inbound.bufferedCount <= 1_000, "bounded by count")
        #expect(c.inbound.peakBufferedBytes <= 1 << 20, "bounded by bytes")
        await c.shutdown()
        var delivered: [String] = []
        for try await f in c.inbound {
            if case .text(let s) = f.frame { delivered.append(s) }
        }
        let lagged = c.snapshot.totalLagged
        #expect(lagged == UInt64(n - delivered.count), "totalLagged == sent - delivered")
        #expect(delivered.last?.hasPrefix("f-\(n - 1)-") == true, "the newest frame is kept")
        // Delivered frames are the newest ones, contiguous and in order.
        let numbers = delivered.compactMap { Int($0.split(separator: "-")[1]) }
        #expect(numbers == Array((n - numbers.count)..<n))
    }

    @Test func shutdownDuringBackoffEndsAtOnceInClosed() async throws {
        // 503 with Retry-After: 7 puts the session into a 7 s backoff.
        let c = try session("/status/503")
        let waiting = await waitFor(c, "reconnecting after the 503") { $0.state == .reconnecting }
        #expect(waiting?.lastDisconnect.map { "\($0)" }?.contains("503") == true)
        let before = ContinuousClock.now
        await c.shutdown()
        #expect(c.snapshot.state == .closed)
        #expect(c.snapshot.failedAttempts == 1, "no attempt was made after the shutdown")
        // Not a timing assertion on the machine's speed: only that it did not sit out the 7 s backoff.
        #expect(ContinuousClock.now - before < .seconds(7))
    }
}
