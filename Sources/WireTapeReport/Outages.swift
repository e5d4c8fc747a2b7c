import WireTapeCore
import WireTapeJournal

/// A lifecycle edge with its record's place in the journal.
public struct EdgeEvent: Sendable, Hashable {
    /// Sequence number, epoch and wall time (ns) of the record.
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// The edge (with ``LifecycleEdge/closedBy`` and counters when read from the record).
    public var edge: LifecycleEdge

    /// Creates an event.
    public init(seq: UInt64, epoch: UInt64, wall: Int64, edge: LifecycleEdge) {
        self.seq = seq
        self.epoch = epoch
        self.wall = wall
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
    /// Wall time (ns) of the edge that started it, and of the `connected` edge that ended it.
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

    /// Duration in seconds.
    public var durationSeconds: Double { Double(end - start) / 1e9 }
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
/// The rules match `wiretape gaps` (``WireTapeJournal/JournalGap``): an outage starts at an
/// edge into `connecting`, `reconnecting`, `unrecoverable` or `closed` while connected (or
/// before the first connection), and ends at the next `connected` edge; `stale` and
/// `resumed` count as connected.
public enum ConnectivityAnalysis {
    /// The outages and epoch bands, given every edge and connect record in sequence order
    /// and the wall time of the journal's last record.
    public static func analyse(edges: [EdgeEvent], connects: [ConnectMark], lastWall: Int64) -> (outages: [Outage], epochs: [EpochBand]) {
        let up: Set<String> = [ConnState.connected.rawValue, ConnState.stale.rawValue, ConnState.resumed.rawValue]
        var outages: [Outage] = []
        var bands: [EpochBand] = []
        var current: Outage?
        var band: EpochBand?
        var staleStart: Int64?
        func hasCause(_ e: LifecycleEdge) -> Bool { e.closeCode != nil || e.error != nil || e.message != nil }
        func cause(_ ev: EdgeEvent) -> OutageCause {
            OutageCause(
                closeCode: ev.edge.closeCode, closeReason: ev.edge.closeReason, closedBy: ev.edge.closedBy,
                error: ev.edge.error, message: ev.edge.message, httpStatus: nil, state: ev.edge.stateName)
        }
        func closeBand(at wall: Int64) {
            guard var b = band else { return }
            if let s = staleStart { b.stale.append(s...max(s, wall)); staleStart = nil }
            b.end = wall
            bands.append(b)
            band = nil
        }
        for ev in edges {
            let state = ev.edge.stateName
            if up.contains(state) {
                if state == ConnState.connected.rawValue {
                    if var o = current {
                        o.end = ev.wall
                        o.open = false
                        o.epochAfter = ev.epoch
                        o.endSeq = ev.seq
                        outages.append(o)
                        current = nil
                    }
                    closeBand(at: ev.wall)
                    band = EpochBand(epoch: ev.epoch, start: ev.wall, end: ev.wall, stale: [])
                } else if state == ConnState.stale.rawValue {
                    if staleStart == nil { staleStart = ev.wall }
                } else if let s = staleStart, var b = band {
                    b.stale.append(s...max(s, ev.wall))
                    band = b
                    staleStart = nil
                }
            } else if current == nil {
                closeBand(at: ev.wall)
                current = Outage(
                    start: ev.wall, end: ev.wall, open: true, epochBefore: ev.epoch, epochAfter: nil, startSeq: ev.seq,
                    endSeq: nil, cause: cause(ev), attempts: 0, failures: [])
            } else if !hasCause(current!.cause.asEdge), hasCause(ev.edge) {
                let state = current!.cause.state
                current!.cause = cause(ev)
                current!.cause.state = state
            }
        }
        if var o = current {
            o.end = max(o.start, lastWall)
            outages.append(o)
        }
        closeBand(at: max(band?.start ?? lastWall, lastWall))
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
}

extension OutageCause {
    fileprivate var asEdge: LifecycleEdge {
        LifecycleEdge(stateName: state, closeCode: closeCode, closeReason: closeReason, error: error, message: message)
    }
}
