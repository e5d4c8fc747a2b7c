import WireTapeCore
import WireTapeJournal

/// A lifecycle edge with its record's place in the journal.
public struct EdgeEvent: Sendable, Hashable, LifecycleMark {
    /// Sequence number, epoch, wall time (ns) and monotonic time (ns) of the record.
    public var seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64
    /// The edge (with ``LifecycleEdge/closedBy`` and counters when read from the record).
    public var edge: LifecycleEdge

    /// Creates an event.
    public init(seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64 = 0, edge: LifecycleEdge) {
        self.seq = seq
        self.epoch = epoch
        self.wall = wall
        self.mono = mono
        self.edge = edge
    }
}

/// A connect record (attempt, connected, failed) with its place in the journal.
public struct ConnectMark: Sendable, Hashable {
    /// Sequence number, epoch and wall time (ns) of the record.
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// The event.
    public var event: ConnectEvent

    /// Creates a mark.
    public init(seq: UInt64, epoch: UInt64, wall: Int64, event: ConnectEvent) {
        self.seq = seq
        self.epoch = epoch
        self.wall = wall
        self.event = event
    }
}

/// Why an outage began, as the journal recorded it.
public struct OutageCause: Sendable, Hashable {
    /// The close code, when a close ended the epoch.
    public var closeCode: UInt16?
    /// The close reason.
    public var closeReason: String?
    /// Which side closed.
    public var closedBy: CloseInitiator?
    /// The `WSError` code name (`livenessTimeout`, `connectionLost`, `handshakeRejected`, …).
    public var error: String?
    /// The error's message.
    public var message: String?
    /// The HTTP status of the first failed reconnect attempt that had one.
    public var httpStatus: UInt16?
    /// The state the connection entered (`reconnecting`, `unrecoverable`, `closed`, `connecting`).
    public var state: String

    /// One line for people: `liveness timeout: no data for 30 s`, `close 1001 "restart" by peer`,
    /// `HTTP 503 on reconnect`, or the state when nothing more is known.
    public var summary: String {
        var parts: [String] = []
        if error == WSError.Code.livenessTimeout.rawValue {
            parts.append("liveness timeout" + (message.map { ": \($0)" } ?? ""))
        } else if let code = closeCode {
            var s = "close \(code)"
            if let r = closeReason, !r.isEmpty { s += " \"\(r)\"" }
            if let by = closedBy { s += by == .peer ? " by peer" : " locally" }
            parts.append(s)
            if let e = error, e != WSError.Code.closedByPeer.rawValue { parts.append(e + (message.map { ": \($0)" } ?? "")) }
        } else if let e = error {
            parts.append(e + (message.map { ": \($0)" } ?? ""))
        } else if let m = message {
            parts.append(m)
        }
        if let h = httpStatus { parts.append(parts.isEmpty ? "HTTP \(h)" : "then HTTP \(h) on reconnect") }
        return parts.isEmpty ? state : parts.joined(separator: "; ")
    }
}

/// A period with no connected epoch: from the edge that left the connected states to the
/// next `connected` edge (or the end of the journal when none came).
public struct Outage: Sendable, Hashable {
    /// Wall time (ns) of the edge that started it, and of the `connected` edge that ended it
    /// (never before `start`: see ``OutageSpan/endWall``).
    public var start: Int64, end: Int64
    /// True when no `connected` edge ended it.
    public var open: Bool
    /// The epoch that ended (the starting edge's epoch) and the first epoch after it.
    public var epochBefore: UInt64, epochAfter: UInt64?
    /// Sequence numbers of the starting and ending edges.
    public var startSeq: UInt64, endSeq: UInt64?
    /// Why.
    public var cause: OutageCause
    /// Connection attempts made before the connection came back (including the one that
    /// succeeded).
    public var attempts: Int
    /// The attempts that failed, in order.
    public var failures: [ConnectMark]

    /// How long it lasted (``OutageSpan/durationNanos``: right across a wall-clock step).
    public var durationNanos: UInt64

    /// Duration in seconds.
    public var durationSeconds: Double { Double(durationNanos) / 1e9 }
}

/// A period of one connected epoch: from its `connected` edge to the edge that left the
/// connected states (or the end of the journal).
public struct EpochBand: Sendable, Hashable {
    /// The epoch.
    public var epoch: UInt64
    /// Wall times (ns).
    public var start: Int64, end: Int64
    /// Periods inside the epoch when the connection was `stale` (no data, probe outstanding).
    public var stale: [ClosedRange<Int64>]
}

/// The pure analysis of lifecycle edges and connect records into epochs and outages.
///
/// Outages follow ``WireTapeJournal/OutageRules``, the rules of `wiretape gaps`.
public enum ConnectivityAnalysis {
    /// The outages and epoch bands, given every edge and connect record in sequence order,
    /// the sequence numbers of session starts (for durations across a wall-clock step) and
    /// the wall time of the journal's last record.
    public static func analyse(
        edges: [EdgeEvent], connects: [ConnectMark], sessionStarts: [UInt64] = [], lastWall: Int64
    ) -> (outages: [Outage], epochs: [EpochBand]) {
        var outages = OutageRules.outages(in: edges, sessionStarts: sessionStarts, lastWall: lastWall).map { span in
            let first = edges[span.start]
            var cause = OutageCause(edges[span.cause ?? span.start].edge)
            cause.state = first.edge.stateName
            return Outage(
                start: span.startWall, end: span.endWall, open: span.end == nil, epochBefore: first.epoch,
                epochAfter: span.end.map { edges[$0].epoch }, startSeq: first.seq, endSeq: span.end.map { edges[$0].seq },
                cause: cause, attempts: 0, failures: [], durationNanos: span.durationNanos)
        }
        let bands = epochBands(edges: edges, lastWall: lastWall)
        // Attach connect records to the outage whose sequence range (start edge, end edge] holds them.
        var i = 0
        for c in connects {
            while i < outages.count && c.seq > (outages[i].endSeq ?? UInt64.max) { i += 1 }
            guard i < outages.count else { break }
            guard c.seq > outages[i].startSeq else { continue }
            switch c.event.outcome {
            case .attempt: outages[i].attempts += 1
            case .failed:
                outages[i].failures.append(c)
                if outages[i].cause.httpStatus == nil, let h = c.event.httpStatus { outages[i].cause.httpStatus = h }
            case .connected: break
            }
        }
        for k in outages.indices where outages[k].attempts == 0 {
            // No attempt records (older journals, imports): count the failures and the success.
            outages[k].attempts = outages[k].failures.count + (outages[k].open ? 0 : 1)
        }
        return (outages, bands)
    }

    /// The connected periods: from each `connected` edge to the edge that left the connected
    /// states, with the `stale` stretches inside.
    static func epochBands(edges: [EdgeEvent], lastWall: Int64) -> [EpochBand] {
        var bands: [EpochBand] = []
        var band: EpochBand?
        var staleStart: Int64?
        func closeBand(at wall: Int64) {
            guard var b = band else { return }
            if let s = staleStart { b.stale.append(s...max(s, wall)); staleStart = nil }
            b.end = max(b.start, wall)
            bands.append(b)
            band = nil
        }
        for ev in edges {
            let state = ev.edge.stateName
            if state == ConnState.connected.rawValue {
                closeBand(at: ev.wall)
                band = EpochBand(epoch: ev.epoch, start: ev.wall, end: ev.wall, stale: [])
            } else if state == ConnState.stale.rawValue {
                if band != nil, staleStart == nil { staleStart = ev.wall }
            } else if OutageRules.isConnected(state) {
                if let s = staleStart, var b = band {
                    b.stale.append(s...max(s, ev.wall))
                    band = b
                    staleStart = nil
                }
            } else {
                closeBand(at: ev.wall)
            }
        }
        closeBand(at: max(band?.start ?? lastWall, lastWall))
        return bands
    }
}

extension OutageCause {
    /// The cause an edge gives (its close, error and message; no HTTP status yet).
    init(_ edge: LifecycleEdge) {
        self.init(
            closeCode: edge.closeCode, closeReason: edge.closeReason, closedBy: edge.closedBy,
            error: edge.error, message: edge.message, httpStatus: nil, state: edge.stateName)
    }
}
