import Foundation
import Synchronization
import Testing
import WireTapeCore
import WireTapeMock
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

    /// Applies a fault and checks that the proxy applied it: an `err` reply (a typo, bad
    /// arguments) means no fault was injected, and the test must not pass on a healthy link.
    @discardableResult
    func fault(_ command: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let reply = proxy.command(command)
        #expect(reply.hasPrefix("ok"), "fault-proxy did not apply '\(command)': \(reply)", sourceLocation: sourceLocation)
        return reply
    }

    func stop() {
        proxy.stop()
        server.stop()
    }
}

/// Short backoff so the matrix runs in seconds. Liveness is generous (30 s): on a machine
/// flooded by other suites a sub-second real-time idle timeout fires falsely, so the tests
/// about liveness drive it on a ``ManualClock`` (``livenessTimeoutOnAManualClock``) and the
/// two about partial reads opt into a short one (``slowLinkConfig()``).
func fastConfig() -> ReconnectConfig {
    ReconnectConfig(
        backoff: BackoffPolicy(initial: .milliseconds(50), maximum: .milliseconds(400), minimumUptimeForReset: .seconds(1)),
        keepalive: KeepalivePolicy(idleTimeout: .seconds(30), pongTimeout: .seconds(10)),
        rateLimit: nil, attemptTimeout: .seconds(30))
}

/// ``fastConfig()`` with a 0.8 s real-time idle timeout, for the tests whose claim is that
/// partial reads of one long transfer are activity: the transfer must outlast the timeout.
func slowLinkConfig() -> ReconnectConfig {
    var config = fastConfig()
    config.keepalive = KeepalivePolicy(idleTimeout: .milliseconds(800), pongTimeout: .milliseconds(800))
    return config
}

/// The classified error that ended an epoch; records an issue (and returns nil) when the
/// cause is anything else, so no `if case` can let a wrong cause pass unchecked.
@discardableResult
func expectError(
    _ cause: DisconnectCause?, _ code: WSError.Code, sourceLocation: SourceLocation = #_sourceLocation
) -> WSError? {
    guard case .error(let e)? = cause, e.code == code else {
        Issue.record("expected a \(code) disconnect, got \(String(describing: cause))", sourceLocation: sourceLocation)
        return nil
    }
    return e
}

/// Runs `operation`; false (and an issue) when it did not finish within `limit` — a safety
/// net against a hang, never a timing assertion (``firstWithin(_:_:)``: a stuck wait is
/// abandoned, not awaited).
func bounded(_ what: String, within limit: Duration = .seconds(20), _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    let finished = await firstWithin(limit) { await operation(); return true } ?? false
    if !finished { Issue.record("timed out waiting for \(what)") }
    return finished
}

/// A blackholed connection on a manual clock: steps virtual time one deadline at a time
/// (each step after the stack re-armed its timer, so no step races the code) until the
/// liveness timeout ends epoch 1, then lifts the blackhole and lets the backoff elapse.
/// Returns the `reconnecting` snapshot and whether `stale` was published first.
func livenessTimeoutOnAManualClock(
    _ rig: Rig, _ request: ConnectRequest
) async -> (connection: ReconnectingConnection, reconnecting: LifecycleSnapshot?, sawStale: Bool) {
    let clock = ManualClock()
    var config = fastConfig()
    config.keepalive = KeepalivePolicy(idleTimeout: .milliseconds(800), pongTimeout: .milliseconds(800))
    let c = ReconnectingConnector(wrapping: NIOConnector(), config: config, clock: clock).connect(request)
    await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
    rig.fault("blackhole on")
    var sawStale = false
    var reconnecting: LifecycleSnapshot?
    for _ in 0..<8 {
        guard await bounded("the stack to wait on the clock", { await clock.waitForSleepers(count: 1) }) else { break }
        let now = c.snapshot
        if now.state == .stale { sawStale = true }
        if now.state == .reconnecting {
            reconnecting = now
            break
        }
        clock.advanceToNextDeadline()
    }
    rig.fault("blackhole off")
    clock.advanceToNextDeadline()  // the backoff before the next attempt
    return (c, reconnecting, sawStale)
}

/// Waits for a snapshot satisfying `predicate`; fails the test after `limit` (a safety net,
/// not a timing assertion).
@discardableResult
func waitFor(
    _ connection: ReconnectingConnection, within limit: Duration = .seconds(20),
    _ what: String, _ predicate: @escaping @Sendable (LifecycleSnapshot) -> Bool
) async -> LifecycleSnapshot? {
    let found = await firstWithin(limit) { () -> LifecycleSnapshot? in
        for await s in connection.lifecycle.updates() where predicate(s) { return s }
        return nil
    } ?? nil
    if found == nil { Issue.record("timed out waiting for: \(what); last \(connection.snapshot)") }
    return found
}

@Suite("Fault matrix: NIOConnector through fault-proxy", .serialized, .timeLimit(.minutes(2)))
struct FaultMatrixTests {
    @Test func resetMidStreamReconnectsWithConnectionLost() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        #expect(rig.fault("reset").hasPrefix("ok reset 1"), "exactly the one live connection was reset")
        // The epoch ends with the transport's loss as its cause (level state: the watch keeps it).
        let lost = await waitFor(c, "epoch 1 lost") { $0.epoch == 1 && $0.state != .connected }
        expectError(lost?.lastDisconnect, .connectionLost)
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
        let (c, reconnecting, sawStale) = await livenessTimeoutOnAManualClock(rig, rig.request("?interval=10"))
        #expect(sawStale, "the silent connection was marked stale (and probed) before it was declared dead")
        #expect(reconnecting?.epoch == 1)
        expectError(reconnecting?.lastDisconnect, .livenessTimeout)
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
        let (c, reconnecting, _) = await livenessTimeoutOnAManualClock(rig, request)
        expectError(reconnecting?.lastDisconnect, .livenessTimeout)
        await waitFor(c, "epoch 2") { $0.epoch >= 2 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func refusedConnectionsAreRetriedUntilTheProxyAcceptsAgain() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.fault("refuse on")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        let s = await waitFor(c, "3 refusals") { $0.failedAttempts >= 3 }
        expectError(s?.lastDisconnect, .connectionRefused)
        #expect(s?.epoch == 0, "no attempt got through while the proxy refused")
        rig.fault("refuse off")
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func handshake401IsUnrecoverableAfterOneAttempt() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.fault("respond 401")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        // Bounded: a breaker that retried 401s would never end the session.
        let ending = Task { await c.waitUntilEnded() }
        if !(await bounded("the 401 to end the session", { _ = await ending.value })) { await c.shutdown() }
        let end = await ending.value
        #expect(end.state == .unrecoverable)
        #expect(end.failedAttempts == 1)
        #expect(expectError(end.lastDisconnect, .handshakeRejected)?.httpStatus == 401)
        #expect(rig.proxy.command("status").contains("responded=1 "))
    }

    @Test func handshake503WithRetryAfterIsRetried() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.fault("respond 503 Retry-After: 1")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request())
        let s = await waitFor(c, "two 503s") { $0.failedAttempts >= 2 }
        let e = expectError(s?.lastDisconnect, .handshakeRejected)
        #expect(e?.httpStatus == 503)
        #expect(e?.retryAfterSeconds == 1)
        rig.fault("respond off")
        await waitFor(c, "epoch 1") { $0.epoch == 1 && $0.state == .connected }
        await c.shutdown()
    }

    @Test func slicedAndDelayedBytesStillMakeIntactFrames() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        rig.fault("slice 1")
        rig.fault("latency 20")
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
        rig.fault("slice 64")
        let size = 8 << 20
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: slowLinkConfig())
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
        rig.fault("close-after 400")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: fastConfig()).connect(rig.request("?interval=0.01"))
        let s = await waitFor(c, "epoch 3") { $0.epoch >= 3 }
        #expect((s?.reconnects ?? 0) >= 2)
        await c.shutdown()
    }

    @Test func aLargeMessageOnASlowLinkIsNotMistakenForSilence() async throws {
        let rig = try Rig()
        defer { rig.stop() }
        // 300 KB at 100 KB/s: three seconds of partial reads, idle timeout 0.8 s.
        rig.fault("bandwidth 100000")
        let c = ReconnectingConnector(wrapping: NIOConnector(), config: slowLinkConfig()).connect(rig.request("?big=300000&interval=10"))
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
        rig.fault("refuse on")
        rig.fault("reset")
        await waitFor(c, "failed attempt") { $0.failedAttempts >= 1 }
        let sink = c.sink
        let send = Task { try await sink.send(.text("hello")) }
        // The send is parked while no connection exists: it waits, it is neither sent nor failed.
        // (`waiting` is a counter with no change notification: polled, bounded.)
        let parked = await bounded("the send to wait for a connection") {
            while c.sendStats.waiting == 0 { try? await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(parked)
        #expect(c.sendStats.sent == 0 && c.sendStats.failed == 0 && c.snapshot.epoch == 1, "\(c.sendStats)")
        rig.fault("refuse off")
        try await send.value
        #expect(c.sendStats.waiting == 0)
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
