import WireTapeCore
import WireTapeJournal

/// One record ready for the journal.
struct OrderedRecord: Sendable {
    enum Body: Sendable {
        case frame(FrameDirection, Frame)
        /// Boxed: a record body is large and rare; frames stay small (see `RecorderEvent`).
        indirect case record(RecordBody)
    }
    var body: Body
    var epoch: UInt64
    var at: ReceiveTimestamp
    /// Told the record's sequence number once it is written (annotations).
    var reply: AnnotationReply?
}

/// The writer thread's pure decision core: assigns epochs, restores causal order, applies the
/// scrubber. Events in (``push(_:)``), records out (``ready(nowMono:draining:)``); no I/O, no
/// clock reading, no threads.
///
/// **Epochs.** The recording connector sits under `ReconnectingConnector`, which alone decides
/// which leaf connection becomes an epoch: a connection whose handshake completes after the
/// attempt timeout is *abandoned* (closed unused) and gets none. A leaf connection `k` is
/// therefore provisional until either the followed lifecycle watch shows an epoch at least as
/// high as `k`'s candidate epoch (accepted), or the layer above closes `k` (accepted when the
/// session's epoch had reached the candidate by then, abandoned otherwise — the supervisor
/// publishes `connected` before it can close an accepted connection, and closes an abandoned one
/// before it starts the next attempt). Records of a provisional connection wait here.
///
/// **Causal order.** Records are released in order of monotonic time (ties: connect and
/// `connected` before frames, then arrival order), once they are older than the reorder
/// window, so that a lifecycle edge published on one thread and a frame read on another land in
/// the order they happened. The synthesized `connected` edge carries the handshake completion
/// time, which never follows the epoch's first frame. A record that arrives later than the
/// window allows and would go back in time is stamped with the last released monotonic time
/// (counted in ``clamped``), so `mono_ns` never decreases in sequence order.
struct RecordOrderer {
    private enum Status {
        case pending(epoch: UInt64)
        case accepted(epoch: UInt64, snapshot: LifecycleSnapshot?)
        case abandoned(priorEpoch: UInt64)
    }
    private enum Payload {
        case frame(FrameDirection, Frame)
        indirect case record(RecordBody)
        /// A user's note and who waits for its sequence number.
        case annotation(String, AnnotationReply)
        /// The handshake of the entry's connection completed.
        indirect case connected(ConnectionInfo)
    }
    private struct Entry {
        var mono: UInt64
        var rank: UInt8
        var arrival: UInt64
        var connection: UInt64?
        var epoch: UInt64
        var at: ReceiveTimestamp
        var payload: Payload

        func precedes(_ o: Entry) -> Bool {
            if mono != o.mono { return mono < o.mono }
            if rank != o.rank { return rank < o.rank }
            return arrival < o.arrival
        }
    }

    let windowNanos: UInt64
    let followsLifecycle: Bool
    let rules: RedactionRules
    private(set) var scrubber: SecretScrubber
    private var connections: [UInt64: Status] = [:]
    private var entries: [Entry] = []
    private var head = 0
    private var arrivals: UInt64 = 0
    private(set) var acceptedEpoch: UInt64 = 0
    /// The newest accepted connection and its epoch: the per-frame fast path.
    private var current: (id: UInt64, epoch: UInt64)?
    private var connectedEdgeEpoch: UInt64 = 0
    private var lastMono: UInt64 = 0
    /// Records released with a raised monotonic time.
    private(set) var clamped: UInt64 = 0
    /// Frames of abandoned connections (never delivered above, not recorded).
    private(set) var abandonedFrames: UInt64 = 0
    /// Bytes of ``abandonedFrames``.
    private(set) var abandonedBytes: UInt64 = 0

    init(windowNanos: UInt64, followsLifecycle: Bool, rules: RedactionRules, scrubber: SecretScrubber) {
        self.windowNanos = windowNanos
        self.followsLifecycle = followsLifecycle
        self.rules = rules
        self.scrubber = scrubber
    }

    var hasPending: Bool { head < entries.count }

    private mutating func insert(
        _ payload: Payload, at: ReceiveTimestamp, rank: UInt8, epoch: UInt64, connection: UInt64? = nil
    ) {
        arrivals += 1
        let e = Entry(
            mono: at.monotonicNanos, rank: rank, arrival: arrivals, connection: connection, epoch: epoch, at: at,
            payload: payload)
        var i = entries.count
        while i > head && e.precedes(entries[i - 1]) { i -= 1 }
        if i == entries.count { entries.append(e) } else { entries.insert(e, at: i) }
    }

    private mutating func accept(_ id: UInt64, snapshot: LifecycleSnapshot?) {
        guard case .pending(let epoch) = connections[id] else { return }
        connections[id] = .accepted(epoch: epoch, snapshot: snapshot)
        acceptedEpoch = max(acceptedEpoch, epoch)
        if epoch >= (current?.epoch ?? 0) { current = (id, epoch) }
    }

    /// Takes one event from the queue.
    mutating func push(_ event: RecorderEvent) {
        switch event {
        case .frame(let dir, let frame, let id, let at):
            if let c = current, c.id == id {
                insert(.frame(dir, frame), at: at, rank: 2, epoch: c.epoch, connection: nil)
                return
            }
            switch connections[id] {
            case .abandoned?:
                abandonedFrames += 1
                abandonedBytes += UInt64(frame.byteCount)
            case .accepted(let epoch, _)?:
                insert(.frame(dir, frame), at: at, rank: 2, epoch: epoch, connection: nil)
            default:
                insert(.frame(dir, frame), at: at, rank: 2, epoch: 0, connection: id)
            }
        case .attempt(let url, let at):
            insert(.record(.connect(ConnectEvent(outcome: .attempt, url: rules.redact(url: url)))), at: at, rank: 0, epoch: acceptedEpoch)
        case .connected(let id, let info, let followed):
            // Every earlier connection was closed before this attempt started; any still
            // provisional (no close seen) is taken as accepted.
            for (k, s) in connections { if case .pending = s { accept(k, snapshot: nil) } }
            connections[id] = .pending(epoch: acceptedEpoch + 1)
            if !followsLifecycle || !followed { accept(id, snapshot: nil) }
            insert(.connected(info), at: info.connectedAt, rank: 0, epoch: 0, connection: id)
        case .failed(let error, let at):
            var e = ConnectEvent(outcome: .failed, error: error.code.rawValue, message: error.message)
            if let s = error.httpStatus { e.httpStatus = UInt16(clamping: s) }
            e.retryAfterSeconds = error.retryAfterSeconds.map { UInt32(clamping: $0) }
            insert(.record(.connect(e)), at: at, rank: 1, epoch: acceptedEpoch)
        case .closing(let id, let epochAtClose, let snapshot, _):
            guard case .pending(let epoch) = connections[id] else { return }
            if let seen = epochAtClose, seen < epoch {
                connections[id] = .abandoned(priorEpoch: acceptedEpoch)
            } else {
                accept(id, snapshot: snapshot)
            }
        case .lifecycle(let s):
            for (k, st) in connections {
                if case .pending(let epoch) = st, epoch <= s.epoch { accept(k, snapshot: s) }
            }
            if s.state == .connected && s.epoch <= max(connectedEdgeEpoch, acceptedEpoch) && followsLifecycle {
                return  // synthesized from the connection at its handshake time
            }
            insert(.record(.lifecycle(Self.edge(s))), at: s.at, rank: 1, epoch: s.epoch)
        case .secrets(let values):
            for v in values { scrubber.add(value: v) }
        case .sessionStart(let url, let headers, let at):
            let e = SessionEvent(phase: .start, url: rules.redact(url: url), headers: rules.redact(headers))
            insert(.record(.session(e)), at: at, rank: 0, epoch: 0)
        case .sessionEnd(let message, let at):
            let e = SessionEvent(phase: .end, message: message)
            insert(.record(.session(e)), at: at, rank: 3, epoch: acceptedEpoch)
        case .annotation(let text, let at, let reply):
            insert(.annotation(text, reply), at: at, rank: 1, epoch: acceptedEpoch)
        case .lag(let count, let bytes, let at):
            insert(.record(.lag(count: count, bytes: bytes)), at: at, rank: 2, epoch: acceptedEpoch)
        }
    }

    /// The journal edge for a snapshot. Only terminal and reconnecting edges carry the cause
    /// (a `connecting` or `stale` edge says nothing about why the previous epoch ended).
    static func edge(_ s: LifecycleSnapshot) -> LifecycleEdge {
        var edge = LifecycleEdge(
            state: s.state,
            counters: LifecycleCounters(
                totalLagged: s.totalLagged, totalLaggedBytes: s.totalLaggedBytes, reconnects: s.reconnects,
                failedAttempts: s.failedAttempts))
        guard s.state == .reconnecting || s.state.isTerminal, let cause = s.lastDisconnect else { return edge }
        switch cause {
        case .peerClosed(let code, let reason):
            edge.closeCode = code.rawValue
            edge.closeReason = reason
            edge.closedBy = .peer
        case .localClose(let code, let reason):
            edge.closeCode = code.rawValue
            edge.closeReason = reason
            edge.closedBy = .local
        case .error(let e):
            edge.error = e.code.rawValue
            edge.message = e.message
            if let c = e.closeCode {
                edge.closeCode = c.rawValue
                edge.closeReason = e.closeReason
                edge.closedBy = e.code == .closedByPeer ? .peer : nil
            }
        }
        return edge
    }

    /// Releases the records that are ready, in order: those older than the window (all of
    /// them when `draining`), stopping at a record of a still-provisional connection (when
    /// draining, provisional connections are taken as accepted).
    mutating func ready(nowMono: UInt64, draining: Bool, into out: inout [OrderedRecord]) {
        while head < entries.count {
            var e = entries[head]
            if !draining && e.mono &+ windowNanos > nowMono { break }
            if let id = e.connection {
                if case .pending = connections[id] {
                    if !draining { break }
                    accept(id, snapshot: nil)
                }
                switch connections[id] {
                case .accepted(let epoch, let snapshot)?:
                    e.epoch = epoch
                    if case .connected(let info) = e.payload {
                        emitConnected(e, info: info, epoch: epoch, snapshot: snapshot, into: &out)
                        head += 1
                        continue
                    }
                case .abandoned(let priorEpoch)?:
                    head += 1
                    switch e.payload {
                    case .frame(_, let f):
                        abandonedFrames += 1
                        abandonedBytes += UInt64(f.byteCount)
                    case .connected:
                        let ev = ConnectEvent(
                            outcome: .failed, error: "attemptAbandoned",
                            message: "the handshake completed after the attempt timeout; the connection was closed unused")
                        emit(.record(.connect(ev)), epoch: priorEpoch, at: e.at, into: &out)
                    case .record, .annotation: break
                    }
                    continue
                default: break
                }
            }
            head += 1
            switch e.payload {
            case .frame(let d, let f): emit(.frame(d, scrubbed(f)), epoch: e.epoch, at: e.at, into: &out)
            case .record(let r): emit(.record(scrubbed(r)), epoch: e.epoch, at: e.at, into: &out)
            case .annotation(let text, let reply): emit(.record(.annotation(text)), epoch: e.epoch, at: e.at, reply: reply, into: &out)
            case .connected: break
            }
        }
        if head > 0 && (head == entries.count || head >= 4096) {
            entries.removeFirst(head)
            head = 0
        }
    }

    private mutating func emitConnected(
        _ e: Entry, info: ConnectionInfo, epoch: UInt64, snapshot: LifecycleSnapshot?, into out: inout [OrderedRecord]
    ) {
        let connect = ConnectEvent(outcome: .connected, url: nil, message: info.remoteAddress.map { "connected to \($0)" })
        emit(.record(.connect(connect)), epoch: epoch, at: e.at, into: &out)
        var s = snapshot ?? LifecycleSnapshot(epoch: epoch, state: .connected)
        s.state = .connected
        s.epoch = epoch
        if epoch > connectedEdgeEpoch {
            connectedEdgeEpoch = epoch
            emit(.record(.lifecycle(Self.edge(s))), epoch: epoch, at: e.at, into: &out)
        }
    }

    private mutating func emit(
        _ body: OrderedRecord.Body, epoch: UInt64, at: ReceiveTimestamp, reply: AnnotationReply? = nil,
        into out: inout [OrderedRecord]
    ) {
        var at = at
        if at.monotonicNanos < lastMono {
            at.monotonicNanos = lastMono
            clamped += 1
        }
        lastMono = at.monotonicNanos
        out.append(OrderedRecord(body: body, epoch: epoch, at: at, reply: reply))
    }

    private func scrubbed(_ f: Frame) -> Frame {
        guard !scrubber.isEmpty else { return f }
        switch f {
        case .text(let s):
            guard let r = scrubber.scrub(Array(s.utf8)) else { return f }
            return .text(String(decoding: r, as: UTF8.self))
        case .binary(let b):
            guard let r = scrubber.scrub(b) else { return f }
            return .binary(r)
        }
    }

    private func scrubbed(_ r: RecordBody) -> RecordBody {
        guard !scrubber.isEmpty else { return r }
        func s(_ t: String?) -> String? { t.map { scrubber.scrub($0) } }
        switch r {
        case .connect(var e):
            e.message = s(e.message)
            e.url = s(e.url)
            return .connect(e)
        case .lifecycle(var e):
            e.message = s(e.message)
            e.closeReason = s(e.closeReason)
            return .lifecycle(e)
        case .session(var e):
            e.message = s(e.message)
            e.url = s(e.url)
            e.headers = e.headers.map { HTTPHeaderField($0.name, scrubber.scrub($0.value)) }
            return .session(e)
        default: return r
        }
    }
}
