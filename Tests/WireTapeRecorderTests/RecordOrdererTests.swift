import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeRecorder

private func t(_ ms: UInt64) -> ReceiveTimestamp { ReceiveTimestamp(wallNanos: Int64(ms) * 1_000_000, monotonicNanos: ms * 1_000_000) }

@Suite("RecordOrderer: epochs and causal order")
struct RecordOrdererTests {
    func make() -> RecordOrderer {
        RecordOrderer(windowNanos: 5_000_000, followsLifecycle: true, rules: RedactionRules(), scrubber: SecretScrubber())
    }

    func drain(_ o: inout RecordOrderer, now: UInt64 = .max / 2, draining: Bool = false) -> [OrderedRecord] {
        var out: [OrderedRecord] = []
        o.ready(nowMono: now, draining: draining, into: &out)
        return out
    }

    func describe(_ r: OrderedRecord) -> String {
        switch r.body {
        case .frame(_, .text(let s)): return "f:\(s)@\(r.epoch)"
        case .frame: return "f@\(r.epoch)"
        case .record(.lifecycle(let e)): return "\(e.stateName)@\(r.epoch)"
        case .record(.connect(let e)): return "connect-\(e.outcome.name)\(e.error.map { ":" + $0 } ?? "")@\(r.epoch)"
        case .record(let b): return "\(b.kind)@\(r.epoch)"
        }
    }

    @Test func framesReadBeforeTheConnectReturnsFollowTheConnectedEdge() {
        var o = make()
        o.push(.lifecycle(LifecycleSnapshot(epoch: 0, state: .connecting, at: t(1))))
        o.push(.attempt(url: "ws://x/", at: t(2)))
        // The frames of the handshake's read are teed before `connect` returns.
        o.push(.connected(connection: 1, info: ConnectionInfo(connectedAt: t(10)), followed: true))
        o.push(.frame(.inbound, .text("a"), connection: 1, at: t(10)))
        o.push(.frame(.inbound, .text("b"), connection: 1, at: t(11)))
        // Nothing of connection 1 is released before its epoch is known.
        #expect(drain(&o).map(describe) == ["connecting@0", "connect-attempt@0"])
        // The watch publishes `connected` later than the frames were stamped.
        o.push(.lifecycle(LifecycleSnapshot(epoch: 1, state: .connected, at: t(12))))
        let out = drain(&o)
        #expect(out.map(describe) == ["connect-connected@1", "connected@1", "f:a@1", "f:b@1"])
        #expect(out[1].at.monotonicNanos == 10_000_000)
    }

    @Test func anAbandonedConnectionGetsNoEpoch() {
        var o = make()
        o.push(.attempt(url: "ws://x/", at: t(1)))
        o.push(.connected(connection: 1, info: ConnectionInfo(connectedAt: t(2)), followed: true))
        o.push(.frame(.inbound, .text("late"), connection: 1, at: t(3)))
        // The supervisor closes it before the session ever reached epoch 1.
        o.push(.closing(connection: 1, epochAtClose: 0, snapshot: nil, at: t(4)))
        o.push(.attempt(url: "ws://x/", at: t(5)))
        o.push(.connected(connection: 2, info: ConnectionInfo(connectedAt: t(6)), followed: true))
        o.push(.frame(.inbound, .text("ok"), connection: 2, at: t(7)))
        o.push(.lifecycle(LifecycleSnapshot(epoch: 1, state: .connected, at: t(8))))
        let out = drain(&o)
        #expect(out.map(describe) == [
            "connect-attempt@0", "connect-failed:attemptAbandoned@0", "connect-attempt@0", "connect-connected@1",
            "connected@1", "f:ok@1",
        ])
        #expect(o.abandonedFrames == 1)
    }

    @Test func aCloseAfterTheEpochWasPublishedAcceptsTheConnection() {
        var o = make()
        o.push(.connected(connection: 1, info: ConnectionInfo(connectedAt: t(2)), followed: true))
        o.push(.frame(.inbound, .text("a"), connection: 1, at: t(3)))
        o.push(.closing(connection: 1, epochAtClose: 1, snapshot: LifecycleSnapshot(epoch: 1, state: .connected), at: t(4)))
        #expect(drain(&o).map(describe) == ["connect-connected@1", "connected@1", "f:a@1"])
    }

    @Test func recordsAreReleasedInMonotonicOrderAfterTheWindow() {
        var o = make()
        o.push(.connected(connection: 1, info: ConnectionInfo(connectedAt: t(1)), followed: true))
        o.push(.lifecycle(LifecycleSnapshot(epoch: 1, state: .connected, at: t(2))))
        o.push(.frame(.inbound, .text("a"), connection: 1, at: t(3)))
        // An edge published at 5 ms is queued before a frame read at 4 ms.
        o.push(.lifecycle(LifecycleSnapshot(epoch: 1, state: .stale, at: t(5))))
        #expect(drain(&o, now: 9_000_000).map(describe) == ["connect-connected@1", "connected@1", "f:a@1"])
        o.push(.frame(.inbound, .text("b"), connection: 1, at: t(4)))
        #expect(drain(&o, now: 20_000_000).map(describe) == ["f:b@1", "stale@1"])
        // Too late for the window: raised to the last released time, never back in time.
        o.push(.frame(.inbound, .text("c"), connection: 1, at: t(3)))
        let late = drain(&o, now: 30_000_000)
        #expect(late.map(\.at.monotonicNanos) == [5_000_000])
        #expect(o.clamped == 1)
    }
}
