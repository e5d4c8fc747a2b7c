import Synchronization
import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
import WireTapeResilience
@testable import WireTapeRecorder

@Suite("Recorder under ReconnectingConnector over MockConnector", .timeLimit(.minutes(1)))
struct RecorderTests {
    @Test func recordsEveryAttemptFrameAndEdgeInCausalOrder() async throws {
        let h = try RecordingHarness([
            .reject(status: 503, headers: [HTTPHeaderField("Retry-After", "2")]),
            .accept([.send(.text("a")), .send(.binary([0, 1, 2, 255])), .close(.internalError, reason: "boom")]),
            .refuse,
            .accept([.send(.text("c")), .drop]),
            .accept([.send(.text("d"))]),
        ])
        defer { h.dir.cleanup() }
        for _ in 0..<4 { await h.skipBackoff() }
        await h.waitFor { $0.epoch == 3 && $0.state == .connected }
        var delivered: [InboundFrame] = []
        for try await f in h.connection.inbound {
            delivered.append(f)
            if f.frame == .text("d") { break }
        }
        try await h.connection.sink.send(.text("subscribe"))
        let (stats, records) = try await h.end()

        // Frames byte-exact, in order, with the epochs the adapter saw.
        let frames = records.filter { $0.kind == .inboundFrame }
        #expect(frames.map(\.epoch) == [1, 1, 2, 3])
        #expect(frames.map { r -> [UInt8] in if case .frame(_, _, let p) = r.body { return p } else { return [] } }
            == [Array("a".utf8), [0, 1, 2, 255], Array("c".utf8), Array("d".utf8)])
        #expect(delivered.map(\.epoch) == frames.map(\.epoch))
        let out = records.filter { $0.kind == .outboundFrame }
        #expect(out.count == 1 && payloadText(out[0]) == "subscribe" && out[0].epoch == 3)

        // One connect record per attempt and outcome, the 503 among them.
        let connects = records.compactMap { r -> ConnectEvent? in if case .connect(let e) = r.body { return e } else { return nil } }
        #expect(connects.filter { $0.outcome == .attempt }.count == 5)
        #expect(connects.filter { $0.outcome == .connected }.count == 3)
        let failed = connects.filter { $0.outcome == .failed }
        #expect(failed.count == 2)
        #expect(failed.first?.httpStatus == 503)
        #expect(failed.first?.retryAfterSeconds == 2)
        #expect(failed.first?.error == "handshakeRejected")
        #expect(failed.last?.error == "connectionRefused")

        // One epoch per venue session; the edges carry the causes.
        let edges = records.compactMap { r -> (UInt64, LifecycleEdge)? in
            if case .lifecycle(let e) = r.body { return (r.epoch, e) } else { return nil }
        }
        #expect(edges.filter { $0.1.state == .connected }.map(\.0) == [1, 2, 3])
        // The recorder observed the session from before it started (`connect(_:through:)`).
        #expect(edges.first.map { [$0.0 == 0, $0.1.state == .connecting] } == [true, true], "the first edge is connecting@0")
        let reconnecting = edges.filter { $0.1.state == .reconnecting }
        #expect(reconnecting.contains { $0.0 == 1 && $0.1.closeCode == 1011 && $0.1.closeReason == "boom" && $0.1.closedBy == .peer })
        #expect(edges.first { $0.1.state == .connected && $0.0 == 3 }?.1.counters == LifecycleCounters(reconnects: 2, failedAttempts: 2))
        #expect(reconnecting.contains { $0.0 == 2 && $0.1.error == "connectionLost" })
        #expect(reconnecting.contains { $0.0 == 0 && $0.1.error == "handshakeRejected" })
        #expect(edges.last?.1.state == .closed)
        expectCausal(records)

        // Session start first, end last.
        if case .session(let s) = records.first?.body { #expect(s.phase == .start && s.url == "ws://mock.test/feed") } else {
            Issue.record("the first record is not the session start")
        }
        if case .session(let s) = records.last?.body { #expect(s.phase == .end && s.message == "test finished") } else {
            Issue.record("the last record is not the session end")
        }
        #expect(stats.framesIn == 4 && stats.framesOut == 1 && stats.lagged == 0 && stats.writeErrors == 0)
        #expect(stats.epoch == 3)
    }

    @Test func everyLifecycleEdgeOfABurstIsRecorded() async throws {
        // Edges published microseconds apart on one thread: a latest-value reader of the watch
        // would see a fraction of them; the recorder must write each, with its cause.
        let dir = TempDir()
        defer { dir.cleanup() }
        let recorder = try Recorder(directory: dir.journal)
        recorder.start(url: testURL.description)
        let watch = LifecycleWatch(LifecycleSnapshot(state: .connecting))
        recorder.follow(lifecycle: watch)
        var published = [watch.current]
        var failed: UInt64 = 0
        for epoch in UInt64(1)...300 {
            for state in [ConnState.connected, .stale, .resumed, .stale, .reconnecting, .connecting] {
                var s = LifecycleSnapshot(epoch: epoch, state: state, reconnects: epoch - 1, failedAttempts: failed)
                if state == .reconnecting {
                    s.lastDisconnect = .peerClosed(code: .internalError, reason: "e\(epoch)")
                    failed += 1  // counted on the next edge, as the supervisor does
                }
                // A snapshot that only advances the lag counters is not an edge.
                var lag = s
                lag.totalLagged = epoch
                published.append(s)
                watch.publish(s)
                if state == .resumed { watch.publish(lag) }
            }
        }
        let end = LifecycleSnapshot(
            epoch: 300, state: .closed, reconnects: 299, failedAttempts: failed,
            lastDisconnect: .localClose(code: .normalClosure, reason: "done"))
        published.append(end)
        watch.finish(end)
        let stats = await recorder.finish(reason: "test finished")
        let edges = try readAll(dir.journal).compactMap { r -> (UInt64, LifecycleEdge)? in
            if case .lifecycle(let e) = r.body { return (r.epoch, e) } else { return nil }
        }
        #expect(edges.count == published.count)
        #expect(edges.map(\.0) == published.map(\.epoch))
        #expect(edges.map(\.1.state) == published.map(\.state))
        #expect(edges.map { $0.1.counters?.failedAttempts } == published.map(\.failedAttempts))
        #expect(edges.compactMap(\.1.closeReason) == (1...300).map { "e\($0)" } + ["done"])
        #expect(stats.writeErrors == 0)
    }

    @Test func annotationsLandInOrderAndAreRefusedOnceTheRecordingEnded() async throws {
        let h = try RecordingHarness([.accept([.send(.text("a"))])])
        defer { h.dir.cleanup() }
        await h.waitFor { $0.state == .connected }
        let seq = try await h.recorder.annotate("deploy 4.2.1")
        await #expect(throws: JournalError.self) { try await h.recorder.annotate("a week ago", wallNanos: 0) }
        let (_, records) = try await h.end()
        let note = records.first { $0.kind == .annotation }
        #expect(note?.seq == seq && note?.epoch == 1)
        #expect(records.filter { $0.kind == .annotation }.count == 1)
        do {
            _ = try await h.recorder.annotate("too late")
            Issue.record("a finished recorder accepted a note")
        } catch {
            #expect(error.code == .closed)
        }
    }

    @Test func aQueuedFrameStaysSmall() {
        // Every frame is copied into the queue and out again, and the queue's arrays are sized
        // by the event: the rare, large cases are boxed (indirect) so a frame costs its own size.
        print("RecorderEvent \(MemoryLayout<RecorderEvent>.size) bytes, OrderedRecord \(MemoryLayout<OrderedRecord>.size) bytes")
        #expect(MemoryLayout<RecorderEvent>.size <= 64)
        #expect(MemoryLayout<OrderedRecord>.size <= 80)
    }

    @Test func journalKeepsEveryFrameWhileTheDropOldestBufferSheds() async throws {
        let steps = (0..<200).map { MockStep.send(.text("m\($0)")) }
        let h = try RecordingHarness(
            [.accept(steps)], config: quietConfig(buffer: InboundBufferPolicy(maxFrames: 8, maxBytes: 1 << 20)))
        defer { h.dir.cleanup() }
        let s = await h.waitFor { $0.totalLagged >= 192 }
        #expect(s.totalLagged == 192)
        var delivered: [String] = []
        var it = h.connection.inbound.makeAsyncIterator()
        while delivered.count < 8, let f = try await it.next() {
            if case .text(let t) = f.frame { delivered.append(t) }
        }
        #expect(delivered == (192..<200).map { "m\($0)" })
        let (stats, records) = try await h.end()
        let frames = records.filter { $0.kind == .inboundFrame }.compactMap(payloadText)
        #expect(frames == (0..<200).map { "m\($0)" })
        #expect(stats.lagged == 0)
        // The edges carry the adapter-side drops.
        let closed = records.compactMap { r -> LifecycleEdge? in if case .lifecycle(let e) = r.body, e.state == .closed { return e } else { return nil } }
        #expect(closed.first?.counters?.totalLagged == 192)
        expectCausal(records)
    }

    @Test func throttledWriterWritesLagRecordsWithExactCounts() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let gate = Gate()
        let paused = Signal()
        let firstFrameWritten = Signal()
        let calls = Mutex(0)
        var options = RecorderOptions()
        options.queueRecords = 10
        options.queueBytes = 1 << 20
        options.followsLifecycle = false
        options.reorderWindow = .zero
        options.writeHook = { kind in
            let n = calls.withLock { $0 += 1; return $0 }
            if n == 1 {
                paused.fire()
                gate.waitBlocking()
            }
            if kind == .inboundFrame { firstFrameWritten.fire() }
        }
        let recorder = try Recorder(directory: dir.journal, options: options)
        recorder.start(url: "ws://mock.test/feed")
        let clock = ManualClock()
        let mock = MockConnector(clock: clock, attempts: [.accept([])])
        let connection = try await recorder.connector(wrapping: mock).connect(ConnectRequest(url: testURL))
        let peer = await mock.peer(1)
        await paused.wait()  // the writer is stuck on its first record
        let payload = { (i: Int) in Frame.text(String(repeating: "x", count: i + 1)) }
        for i in 0..<25 { peer.send(payload(i)) }
        gate.open()
        await firstFrameWritten.wait()  // the writer took the queue: there is room again
        for i in 25..<30 { peer.send(payload(i)) }
        for i in 30..<33 { peer.send(payload(i)) }  // may or may not fit; counted either way
        await connection.sink.close()
        let stats = await recorder.finish(reason: "done")

        let records = try readAll(dir.journal)
        let frames = records.filter { $0.kind == .inboundFrame }.compactMap(payloadText).map(\.count)
        let lags = records.compactMap { r -> (UInt64, UInt64)? in if case .lag(let c, let b) = r.body { return (c, b) } else { return nil } }
        // Frames 1…10 fit; 11…25 are missing; the marker sits between 10 and 26.
        #expect(Array(frames.prefix(10)) == Array(1...10))
        #expect(lags.first.map { $0.0 } == 15)
        #expect(lags.first.map { $0.1 } == UInt64((11...25).reduce(0, +)))
        let lagIndex = records.firstIndex { $0.kind == .lag }!
        let frame10 = records.firstIndex { payloadText($0)?.count == 10 }!
        let frame26 = records.firstIndex { payloadText($0)?.count == 26 }!
        #expect(frame10 < lagIndex && lagIndex < frame26)
        // Every frame is either written or inside a lag record: exactly.
        let lostCount = lags.reduce(0) { $0 + $1.0 }
        let lostBytes = lags.reduce(0) { $0 + $1.1 }
        #expect(UInt64(frames.count) + lostCount == 33)
        #expect(UInt64(frames.reduce(0, +)) + lostBytes == UInt64((1...33).reduce(0, +)))
        #expect(stats.lagged == lostCount && stats.laggedBytes == lostBytes)
        let monos = records.map(\.monoNanos)
        #expect(zip(monos, monos.dropFirst()).allSatisfy { $0 <= $1 })
    }

    @Test func secretsNeverReachTheJournal() async throws {
        struct Auth: AuthSource {
            func credentials(for url: WSURL) async throws -> Credentials {
                Credentials(
                    headers: [HTTPHeaderField("X-MBX-APIKEY", "APIKEYVALUE789")], cookies: [(name: "sid", value: "COOKIEVAL555")],
                    query: [(name: "listenKey", value: "LISTENKEY000")])
            }
        }
        let url = try WSURL("ws://mock.test/feed?token=SECRETTOKEN123&symbol=BTCUSDT&acct=ACCT4242")
        let request = ConnectRequest(
            url: url, headers: [HTTPHeaderField("Authorization", "Bearer SECRETAUTH456"), HTTPHeaderField("X-Trace", "keepme")],
            auth: Auth())
        var options = RecorderOptions()
        options.redaction = RedactionRules(extraNames: ["acct"], fields: ["sign"])
        let h = try RecordingHarness(
            [.accept([.send(.text(#"{"echo":"SECRETTOKEN123","sign":"in-sig-1","px":1}"#))])], options: options, request: request)
        defer { h.dir.cleanup() }
        await h.waitFor { $0.state == .connected }
        try await h.connection.sink.send(.text(#"{"op":"login","key":"APIKEYVALUE789","sign":"deadbeef99","cookie":"COOKIEVAL555"}"#))
        var it = h.connection.inbound.makeAsyncIterator()
        _ = try await it.next()
        let (_, records) = try await h.end()

        let secrets = ["SECRETTOKEN123", "SECRETAUTH456", "APIKEYVALUE789", "COOKIEVAL555", "LISTENKEY000", "ACCT4242", "deadbeef99", "in-sig-1"]
        let all = records.flatMap(texts)
        for s in secrets {
            #expect(!all.contains { $0.contains(s) }, "\(s) is in a decoded record")
        }
        for (name, bytes) in allFiles(h.dir.journal) {
            for s in secrets { #expect(!contains(bytes, s), "\(s) is in \(name)") }
        }
        // What is not secret is kept.
        #expect(all.contains { $0.contains("symbol=BTCUSDT") })
        #expect(all.contains { $0 == "X-Trace: keepme" })
        #expect(all.contains { $0.contains(#""op":"login""#) && $0.contains(#""sign":"<redacted>""#) })
        #expect(all.contains { $0.contains(#""px":1"#) && $0.contains(#""sign":"<redacted>""#) })
    }
}
