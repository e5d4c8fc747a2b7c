import Foundation
import Synchronization
import Testing
import WireTapeCore
import WireTapeNIO
import WireTapeResilience
import WireTapeTestSupport

// The fault matrix: ReconnectingConnector over the real NIOConnector, through
// tools/fault-proxy/fault_proxy.py, against a real Python `websockets` server
// (tools/fault-proxy/ws_feed_server.py). Needs a Python with `websockets`: WIRETAPE_PYTHON,
// else the repository's .venv (tools/setup.sh); without one the tests fail and say so.

private let repoRoot = repositoryRoot.path

struct Rig {
    let server: ChildProcess
    let proxy: FaultProxy
    let proxyPort: Int

    init() throws {
        let python = try peerPython()
        server = try ChildProcess(python, ["\(repoRoot)/tools/fault-proxy/ws_feed_server.py"])
        guard let serverPort = Int(server.readLine()) else { throw RigError.noPort("ws_feed_server") }
        proxy = try FaultProxy(upstreamPort: serverPort)
        proxyPort = proxy.port
    }

    enum RigError: Error { case noPort(String) }

    func request(_ query: String = "") -> ConnectRequest {
        ConnectRequest(url: try! WSURL("ws://127.0.0.1:\(proxyPort)/feed\(query)"))
    }

    func stop() {
        proxy.stop()
        server.stop()
    }
}

/// Short real-time policies so the matrix runs in seconds.
func fastConfig() -> ReconnectConfig {
    ReconnectConfig(
        backoff: BackoffPolicy(initial: .milliseconds(50), maximum: .milliseconds(400), minimumUptimeForReset: .seconds(1)),
        keepalive: KeepalivePolicy(idleTimeout: .milliseconds(800), pongTimeout: .milliseconds(800)),
        rateLimit: nil, attemptTimeout: .seconds(5))
}

/// Waits for a snapshot satisfying `predicate`; fails the test after `limit` (a safety net,
/// not a timing assertion).
@discardableResult
func waitFor(
    _ connection: ReconnectingConnection, within limit: Duration = .seconds(20),
    _ what: String, _ predicate: @escaping @Sendable (LifecycleSnapshot) -> Bool
) async -> LifecycleSnapshot? {
    await withTaskGroup(of: LifecycleSnapshot?.self) { group in
        group.addTask {
            for await s in connection.lifecycle.updates() where predicate(s) { return s }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        if first == nil { Issue.record("timed out waiting for: \(what); last \(connection.snapshot)") }
        return first
    }
}

@Suite("Fault matrix: NIOConnector through fault-proxy", .serialized, .timeLimit(.minutes(2)))
struct FaultMatrixTests {
    @Test func resetMidStreamReconnectsWithConnectionLost() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        #expect(rig.proxy.command("reset").hasPrefix("ok reset"))
        let s = await waitFor(c, "epoch 2") { $0.epoch == 2 && $0.state == .connected }
        #expect(s?.reconnects == 1)
        var it = c.inbound.makeAsyncIterator()
        var sawEpoch2 = false
        while let f = try await it.next() { if f.epoch == 2 { sawEpoch2 = true; break } }
        #expect(sawEpoch2)
        await c.shutdown()
        #expect(c.snapshot.state == .closed)
    }

    @Test func blackholeGoesStaleThenReconnectsOnLivenessTimeout() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request("?interval=10"))
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        rig.proxy.command("blackhole on")
        await waitFor(c, "stale") { $0.state == .stale }
        let s = await waitFor(c, "liveness timeout") { $0.state == .reconnecting || $0.state == .connecting }
        if case .error(let e)? = s?.lastDisconnect { #expect(e.code == .livenessTimeout) } else {
            Issue.record("expected livenessTimeout, got \(String(describing: s?.lastDisconnect))")
        }
        rig.proxy.command("blackhole off")
        await waitFor(c, "epoch 2") { $0.epoch >= 2 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func aBlackholedConnectionIsAbortedWithoutWaitingForACloseHandshake() async throws {
        // The close timeout (60 s) is far beyond the 20 s safety net of `waitFor`: the
        // reconnect can only start in time if the dead socket is dropped at once after the
        // liveness timeout, not closed with a handshake the blackholed peer never answers.
        let rig = try Rig()
        defer { rig.stop() }
        var request = rig.request("?interval=10")
        request.config.closeTimeout = .seconds(60)
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(request)
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        rig.proxy.command("blackhole on")
        let s = await waitFor(c, "reconnecting after the liveness timeout") { $0.state == .reconnecting }
        if case .error(let e)? = s?.lastDisconnect { #expect(e.code == .livenessTimeout) } else {
            Issue.record("expected livenessTimeout, got \(String(describing: s?.lastDisconnect))")
        }
        rig.proxy.command("blackhole off")
        await waitFor(c, "epoch 2") { $0.epoch >= 2 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func refusedConnectionsAreRetriedUntilTheProxyAcceptsAgain() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("refuse on")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        let s = await waitFor(c, "3 refusals") { $0.failedAttempts >= 3 }
        if case .error(let e)? = s?.lastDisconnect { #expect(e.code == .connectionRefused) }
        rig.proxy.command("refuse off")
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func handshake401IsUnrecoverableAfterOneAttempt() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("respond 401")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        let end = await c.waitUntilEnded()
        #expect(end.state == .unrecoverable)
        #expect(end.failedAttempts == 1)
        if case .error(let e)? = end.lastDisconnect { #expect(e.httpStatus == 401) }
        #expect(rig.proxy.command("status").contains("responded=1 "))
    }

    @Test func handshake503WithRetryAfterIsRetried() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("respond 503 Retry-After: 1")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        let s = await waitFor(c, "two 503s") { $0.failedAttempts >= 2 }
        if case .error(let e)? = s?.lastDisconnect {
            #expect(e.httpStatus == 503)
            #expect(e.retryAfterSeconds == 1)
        }
        rig.proxy.command("respond off")
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func slicedAndDelayedBytesStillMakeIntactFrames() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("slice 1")
        rig.proxy.command("latency 20")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        var it = c.inbound.makeAsyncIterator()
        var got: [String] = []
        while got.count < 20, let f = try await it.next() {
            if case .text(let t) = f.frame { got.append(t) }
        }
        #expect(got == (1...20).map(String.init))
        #expect(c.snapshot.epoch == 1)
        await c.shutdown()
    }

    @Test func eightMebibyteMessageInTinySlicesArrivesIntactWithoutAFalseStale() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("slice 64")
        let size = 8 << 20
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig())
            .connect(rig.request("?big=\(size)&interval=60"))
        let states = Task { () -> [ConnState] in
            var seen: [ConnState] = []
            for await s in c.lifecycle.updates() { seen.append(s.state) }
            return seen
        }
        var it = c.inbound.makeAsyncIterator()
        let first = try await it.next()
        guard case .binary(let bytes) = first?.frame else {
            Issue.record("expected the 8 MiB binary message first")
            await c.shutdown()
            return
        }
        #expect(bytes.count == size && bytes.allSatisfy { $0 == 7 }, "byte-exact")
        #expect(c.snapshot.epoch == 1 && c.snapshot.reconnects == 0, "no reconnect")
        await c.shutdown()
        // The idle timeout (0.8 s) is far shorter than the transfer; the partial reads kept
        // the connection alive, so no stale edge was published.
        #expect(!(await states.value).contains(.stale))
        #expect(c.snapshot.totalLagged == 0)
    }

    @Test func closeAfterNBytesKeepsReconnecting() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.proxy.command("close-after 400")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request("?interval=0.01"))
        let s = await waitFor(c, "epoch 3") { $0.epoch >= 3 }
        #expect((s?.reconnects ?? 0) >= 2)
        await c.shutdown()
    }

    @Test func aLargeMessageOnASlowLinkIsNotMistakenForSilence() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        // 300 KB at 100 KB/s: three seconds of partial reads, idle timeout 0.8 s.
        rig.proxy.command("bandwidth 100000")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request("?big=300000&interval=10"))
        var it = c.inbound.makeAsyncIterator()
        let first = try await it.next()
        #expect(first?.frame.byteCount == 300_000)
        #expect(c.snapshot.epoch == 1)
        #expect(c.snapshot.reconnects == 0)
        await c.shutdown()
    }

    @Test func sendsWaitDuringAnOutageAndGoOutAfterReconnect() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request("?interval=10"))
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        rig.proxy.command("refuse on")
        rig.proxy.command("reset")
        await waitFor(c, "failed attempt") { $0.failedAttempts >= 1 }
        let sink = c.sink
        let send = Task { try await sink.send(.text("hello")) }
        rig.proxy.command("refuse off")
        try await send.value
        var it = c.inbound.makeAsyncIterator()
        while let f = try await it.next() {
            if case .text("echo:hello") = f.frame {
                #expect(f.epoch == 2)
                break
            }
        }
        #expect(c.sendStats.sent == 1)
        await c.shutdown()
    }
}
