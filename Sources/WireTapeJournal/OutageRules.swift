import WireTapeCore

/// A lifecycle edge with its record's place and times: what the outage rules read.
///
/// ``LifecycleRow`` (from the index) conforms; so does the report's richer edge event.
public protocol LifecycleMark {
    /// The record's sequence number.
    var seq: UInt64 { get }
    /// The record's wall time (ns since the Unix epoch).
    var wall: Int64 { get }
    /// The record's monotonic time (ns, meaningful within one recording session).
    var mono: UInt64 { get }
    /// The edge.
    var edge: LifecycleEdge { get }
}

extension LifecycleRow: LifecycleMark {}

/// One period with no connected epoch, as positions in the edge list it was found in.
public struct OutageSpan: Sendable, Hashable {
    /// Index of the edge that left the connected states.
    public var start: Int
    /// Index of the `connected` edge that ended it; `nil` while the journal ends disconnected.
    public var end: Int?
    /// Index of the first edge in the outage that carries a cause (close code, error or
    /// message), starting with the starting edge; `nil` when none does.
    public var cause: Int?
    /// Start wall time (ns): the starting edge's.
    public var startWall: Int64
    /// End wall time (ns): the ending edge's, or the journal's last wall time when open;
    /// never before ``startWall`` (a wall clock that stepped back inside the outage would
    /// put it there).
    public var endWall: Int64
    /// How long it lasted: the wall-time difference; when the wall clock stepped back inside
    /// the outage, the monotonic difference if both edges come from one recording session,
    /// else 0. Never negative.
    public var durationNanos: UInt64
}

/// The one definition of an outage, shared by `wiretape gaps` (``JournalGap``) and the
/// post-mortem report.
///
/// An outage starts at an edge into `connecting`, `reconnecting`, `unrecoverable` or
/// `closed` while connected (or before the first connection), and ends at the next
/// `connected` edge. `stale` and `resumed` count as connected: the connection still exists.
public enum OutageRules {
    /// Whether `state` (a ``ConnState`` raw value, or a newer name) counts as connected.
    public static func isConnected(_ state: String) -> Bool {
        state == ConnState.connected.rawValue || state == ConnState.stale.rawValue || state == ConnState.resumed.rawValue
    }

    /// Whether an edge says why it happened.
    public static func hasCause(_ edge: LifecycleEdge) -> Bool {
        edge.closeCode != nil || edge.error != nil || edge.message != nil
    }

    /// The outages among `edges` (in sequence order).
    /// - Parameters:
    ///   - sessionStarts: sequence numbers of session-start records; monotonic times are
    ///     compared only between edges of one session.
    ///   - lastWall: the end of an open outage: the largest wall time in the journal's last
    ///     block in sequence order (not the largest in the journal, which after a clock step
    ///     back lies before the outage).
    public static func outages<Edge: LifecycleMark>(in edges: [Edge], sessionStarts: [UInt64], lastWall: Int64) -> [OutageSpan] {
        var spans: [OutageSpan] = []
        var current: OutageSpan?
        func finish(_ span: OutageSpan, end: Int?, endWall: Int64) -> OutageSpan {
            var s = span
            let first = edges[span.start]
            s.end = end
            s.endWall = max(endWall, first.wall)
            if endWall >= first.wall {
                s.durationNanos = UInt64(bitPattern: endWall &- first.wall)
            } else if let end {
                let last = edges[end]
                let oneSession = !sessionStarts.contains { $0 > first.seq && $0 < last.seq } && last.mono >= first.mono
                s.durationNanos = oneSession ? last.mono - first.mono : 0
            } else {
                s.durationNanos = 0
            }
            return s
        }
        for (i, e) in edges.enumerated() {
            let state = e.edge.stateName
            if isConnected(state) {
                if let c = current, state == ConnState.connected.rawValue {
                    spans.append(finish(c, end: i, endWall: e.wall))
                    current = nil
                }
            } else if current == nil {
                current = OutageSpan(
                    start: i, end: nil, cause: hasCause(e.edge) ? i : nil, startWall: e.wall, endWall: e.wall, durationNanos: 0)
            } else if current!.cause == nil, hasCause(e.edge) {
                current!.cause = i
            }
        }
        if let c = current { spans.append(finish(c, end: nil, endWall: lastWall)) }
        return spans
    }
}
