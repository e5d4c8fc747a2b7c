import Foundation
import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
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

    /// A lossless edge log under the reconnecting stack: every connect that succeeded, with
    /// the stack's (manual) clock time, in order. The lifecycle watch keeps only the latest
    /// value, so an epoch that opens and closes at once can vanish from it; this log cannot.
    final class ConnectLog: WSConnector {
        let inner = NIOConnector()
        let clock: ManualClock
        let connects = Mutex<[Duration]>([])
        init(clock: ManualClock) { self.clock = clock }

        func connect(_ request: ConnectRequest) async throws -> WSConnection {
            let connection = try await inner.connect(request)
            connects.withLock { $0.append(clock.now.offset) }
            return connection
        }
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
        // so the connects spread out instead of looping tightly. Time is a manual clock: it
        // moves only across each backoff (never during an attempt, whose timeout it would
        // fire), so every delay is exact.
        let clock = ManualClock()
        let log = ConnectLog(clock: clock)
        let c = ReconnectingConnector(wrapping: log, config: fastConfig(), clock: clock)
            .connect(ConnectRequest(url: try WSURL(peer.url("/close?code=1000"))))
        for epoch in UInt64(1)...4 {
            // Level state: once epoch N ended, the watch holds `reconnecting` until time moves.
            guard await waitFor(c, "the backoff after epoch \(epoch)", { $0.epoch == epoch && $0.state == .reconnecting }) != nil,
                await bounded("the backoff timer", { await clock.waitForSleepers(count: 1) })
            else { break }
            clock.advanceToNextDeadline()
        }
        await waitFor(c, "epoch 5") { $0.epoch == 5 }
        await c.shutdown()
        let connects = log.connects.withLock { $0 }
        #expect(connects.count == 5, "one logged connect per epoch: \(connects)")
        // fastConfig: initial 50 ms, doubling, capped at 400 ms, jitter 0.5: delay k is in
        // [50·2^k / 2, min(50·2^k, 400)] ms.
        for k in 0..<max(0, connects.count - 1) {
            let nominal = min(Duration.milliseconds(50 * (1 << k)), .milliseconds(400))
            let gap = connects[k + 1] - connects[k]
            #expect(gap >= nominal / 2 && gap <= nominal, "delay \(k + 1): \(gap), nominal \(nominal)")
        }
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
        // 503 with Retry-After: 7 puts the session into a 7 s backoff on a manual clock that
        // never moves: the shutdown can only end (bounded) if it does not sit the backoff out.
        let clock = ManualClock()
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig(), clock: clock)
            .connect(ConnectRequest(url: try WSURL(peer.url("/status/503"))))
        let waiting = await waitFor(c, "reconnecting after the 503") { $0.state == .reconnecting }
        #expect(expectError(waiting?.lastDisconnect, .handshakeRejected)?.retryAfterSeconds == 7)
        #expect(await bounded("shutdown during the backoff", { await c.shutdown() }))
        #expect(c.snapshot.state == .closed)
        #expect(c.snapshot.failedAttempts == 1, "no attempt was made after the shutdown")
        #expect(clock.now.offset == .zero, "no time passed: the backoff was not waited out")
    }
}
