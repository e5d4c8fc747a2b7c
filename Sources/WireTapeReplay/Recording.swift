import WireTapeCore
import WireTapeJournal

/// Which part of a journal to replay.
public struct ReplaySelection: Sendable, Hashable {
    /// Only records at or after this UTC wall time (ns since 1970).
    public var fromWall: Int64?
    /// Only records at or before this UTC wall time (ns since 1970).
    public var toWall: Int64?
    /// Only these recorded epochs (the `epoch` field of their records); failed attempts are
    /// left out when set.
    public var epochs: Set<UInt64>?

    /// Creates a selection; the default is the whole journal.
    public init(fromWall: Int64? = nil, toWall: Int64? = nil, epochs: Set<UInt64>? = nil) {
        self.fromWall = fromWall
        self.toWall = toWall
        self.epochs = epochs
    }
}

/// A recorded failed connection attempt.
public struct RecordedFailure: Sendable, Hashable {
    /// The `WSError` code name (`handshakeRejected`, `connectionRefused`, ...).
    public var code: String
    /// The recorded message.
    public var message: String
    /// The HTTP status of a rejected handshake.
    public var httpStatus: Int?
    /// The recorded `Retry-After`, in seconds.
    public var retryAfterSeconds: Int?
    /// A close code involved, if any.
    public var closeCode: UInt16?
    /// Monotonic time the attempt started (when known) and failed.
    public var startedMono: UInt64
    /// Monotonic time the attempt failed.
    public var failedMono: UInt64

    /// Creates a failure.
    public init(
        code: String, message: String, httpStatus: Int? = nil, retryAfterSeconds: Int? = nil, closeCode: UInt16? = nil,
        startedMono: UInt64, failedMono: UInt64
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.retryAfterSeconds = retryAfterSeconds
        self.closeCode = closeCode
        self.startedMono = startedMono
        self.failedMono = failedMono
    }

    /// The failure as the classified error a live connector would throw: the same code,
    /// HTTP status and a `Retry-After` response header, so `retryAfterSeconds` and
    /// `failureClass` read as they did live.
    public var wsError: WSError {
        var headers: [HTTPHeaderField] = []
        if let r = retryAfterSeconds { headers.append(HTTPHeaderField("Retry-After", String(r))) }
        // A code name this build does not know (a newer recorder) replays as an I/O error
        // whose message keeps the recorded name.
        let known = WSError.Code(rawValue: code)
        let text = message.isEmpty ? "replayed failure: \(code)" : message
        return WSError(
            known ?? .ioError, known == nil ? "\(code): \(text)" : text,
            httpStatus: httpStatus, responseHeaders: headers,
            closeCode: closeCode.map { WSCloseCode(rawValue: $0) })
    }
}

/// How a recorded epoch ended.
public enum EpochEnd: Sendable, Hashable, CustomStringConvertible {
    /// The peer closed with this code and reason.
    case peerClose(code: UInt16, reason: String)
    /// The transport was lost (1006).
    case connectionLost(message: String)
    /// The recorder's liveness timeout ended it: replayed as silence in which pings go unanswered.
    case silence(message: String)
    /// Another error ended it (protocol violation, oversized message, ...).
    case error(code: String, message: String, closeCode: UInt16?)
    /// The recorder closed it itself in mid-session (a forced reconnect).
    case localClose(code: UInt16, reason: String)
    /// The recording ends here: the recorder shut down, or the journal or selection ends.
    case endOfRecording

    /// A short account, e.g. `peer close 1011 "overloaded"`.
    public var description: String {
        switch self {
        case .peerClose(let c, let r): return r.isEmpty ? "peer close \(c)" : "peer close \(c) \"\(r)\""
        case .connectionLost: return "connection lost (1006)"
        case .silence: return "silence (liveness timeout)"
        case .error(let c, let m, _): return "\(c): \(m)"
        case .localClose(let c, let r): return r.isEmpty ? "local close \(c)" : "local close \(c) \"\(r)\""
        case .endOfRecording: return "end of recording"
        }
    }
}

/// One recorded connected epoch.
public struct RecordedEpoch: Sendable, Hashable {
    /// 1-based position among the recording's connected epochs (what mutations name).
    public var ordinal: Int
    /// The recorded epoch number (the `epoch` field of its records).
    public var epoch: UInt64
    /// When nil the epoch's frames are those of every epoch (a journal without lifecycle
    /// records, e.g. imported frames, replays as one connection).
    public var frameEpochFilter: UInt64?
    /// The sequence number at which to start reading its frames.
    public var firstSeq: UInt64
    /// Monotonic time of the handshake.
    public var connectedMono: UInt64
    /// Wall time of the handshake.
    public var connectedWall: Int64
    /// Monotonic time the epoch ended.
    public var endMono: UInt64
    /// How it ended.
    public var end: EpochEnd
    /// Recorded inbound frames (within the selection).
    public var inboundCount: Int
    /// Recorded outbound frames, in order.
    public var outbound: [Frame]
}

/// One recorded connection attempt.
public enum RecordedAttempt: Sendable, Hashable {
    /// The attempt failed.
    case failed(RecordedFailure)
    /// The attempt connected: index into ``Recording/epochs``.
    case connected(Int)
}

/// The timeline of a journal (or part of one) as a replay sees it: the attempts in order,
/// each epoch's bounds and end, and its recorded outbound frames. Inbound payloads stay in the
/// journal and are streamed when an epoch is played.
public struct Recording: Sendable {
    /// The journal directory.
    public let directory: String
    /// The part replayed.
    public let selection: ReplaySelection
    /// Every recorded attempt in order.
    public internal(set) var attempts: [RecordedAttempt]
    /// The connected epochs in order.
    public internal(set) var epochs: [RecordedEpoch]
    /// Monotonic time of the selection's first record (replay time zero in by-time mapping).
    public internal(set) var startMono: UInt64
    /// Inbound frames of the selection that belong to no epoch (before the first `connected`
    /// edge); they cannot be replayed and are counted here.
    public internal(set) var framesOutsideEpochs: Int

    /// Reads the journal's timeline: one pass over the selection (frame payloads are not copied).
    /// - Throws: ``ReplayError`` `.journal` when it cannot be read, `.emptySelection` when it
    ///   holds no attempt.
    public static func load(directory: String, selection: ReplaySelection = ReplaySelection()) throws(ReplayError) -> Recording {
        try load(directory: directory, selection: selection, index: try? JournalIndexQuery(directory: directory))
    }

    /// ``load(directory:selection:)`` through an index connection the caller opened (nil: none).
    static func load(directory: String, selection: ReplaySelection, index query: JournalIndexQuery?) throws(ReplayError) -> Recording {
        var builder = TimelineBuilder()
        do {
            let filter = RecordFilter(fromWall: selection.fromWall, toWall: selection.toWall)
            // With an index, runs of blocks that hold only inbound frames are counted from their
            // index rows instead of being decoded; without one, every record is read.
            func take(_ v: RecordView) {
                if v.kind == .inboundFrame {
                    builder.inbound(seq: v.seq, epoch: v.epoch, mono: v.monoNanos, wall: v.wallNanos)
                } else {
                    builder.control(v.record)
                }
            }
            if let query {
                let runs = (try? query.inboundFrameRuns(fromWall: selection.fromWall, toWall: selection.toWall, prefetch: true)) ?? []
                // A run that would open an epoch's frame statistics is read instead (their first
                // time is needed then); otherwise only its count matters.
                try query.forEachView(
                    fromWall: selection.fromWall, toWall: selection.toWall, passingOver: runs,
                    skip: { builder.inboundRun(epoch: $0.epoch, count: $0.count) }, take)
            } else {
                let cursor = try JournalCursor(directory: directory, options: ReadOptions(filter: filter))
                while let v = try cursor.nextView() { take(v) }
            }
        } catch {
            throw ReplayError(.journal, "cannot read the journal \(directory): \(error.message)", underlying: error)
        }
        var r = builder.finish(directory: directory, selection: selection)
        if let wanted = selection.epochs {
            let kept = r.epochs.filter { wanted.contains($0.epoch) }
            r.epochs = kept.enumerated().map { i, e in
                var e = e
                e.ordinal = i + 1
                return e
            }
            r.attempts = r.epochs.indices.map { .connected($0) }
        }
        guard !r.attempts.isEmpty else {
            throw ReplayError(.emptySelection, "nothing to replay in \(directory): the selection holds no connection attempt and no frame")
        }
        return r
    }

    /// The total inbound frames of the selected epochs.
    public var inboundCount: Int { epochs.reduce(0) { $0 + $1.inboundCount } }
}

/// Builds a ``Recording`` from records in sequence order. Pure: no I/O.
struct TimelineBuilder {
    private struct FrameStats {
        var count = 0
        var firstSeq: UInt64
        var firstMono: UInt64
        var firstWall: Int64
        var lastMono: UInt64
    }
    private struct Open {
        var epoch: RecordedEpoch
    }

    private var stats: [UInt64: FrameStats] = [:]
    private var controls: [JournalRecord] = []
    private var firstMono: UInt64?
    private var lastMono: UInt64 = 0
    /// Epochs whose `connected` edge or connect record was read.
    private var connectedEpochs: Set<UInt64> = []

    mutating func inbound(seq: UInt64, epoch: UInt64, mono: UInt64, wall: Int64) {
        if firstMono == nil { firstMono = mono }
        lastMono = Swift.max(lastMono, mono)
        if var s = stats[epoch] {
            s.count += 1
            s.lastMono = Swift.max(s.lastMono, mono)
            stats[epoch] = s
        } else {
            stats[epoch] = FrameStats(count: 1, firstSeq: seq, firstMono: mono, firstWall: wall, lastMono: mono)
        }
    }

    /// Counts `count` inbound frames of `epoch` that were not read (see
    /// `JournalIndexQuery.inboundFrameRuns(fromWall:toWall:)`), when only their count matters: a frame of that epoch
    /// was read already (its first time is known), and the epoch is either 0 (frames outside
    /// any connection, or an imported journal's one connection, which ends at the journal's
    /// last time) or one whose handshake was read (it ends at an edge, or at the last time).
    /// Otherwise returns false and counts nothing: the run must be read.
    mutating func inboundRun(epoch: UInt64, count: Int) -> Bool {
        guard var s = stats[epoch], epoch == 0 || connectedEpochs.contains(epoch) else { return false }
        s.count += count
        stats[epoch] = s
        return true
    }

    mutating func control(_ r: JournalRecord) {
        switch r.body {
        case .lifecycle(let e) where e.state == .connected: connectedEpochs.insert(r.epoch)
        case .connect(let c) where c.outcome == .connected: connectedEpochs.insert(r.epoch)
        default: break
        }
        if firstMono == nil { firstMono = r.monoNanos }
        lastMono = Swift.max(lastMono, r.monoNanos)
        controls.append(r)
    }

    /// Classifies the cause on an edge that ended an epoch.
    static func end(of edge: LifecycleEdge) -> EpochEnd {
        let state = edge.state
        switch edge.closedBy {
        case .local?:
            // The recorder closed it: a shutdown ends the recording; a forced reconnect is a
            // local close in mid-session.
            if state == .closed || state == .unrecoverable { return .endOfRecording }
            return .localClose(code: edge.closeCode ?? 1000, reason: edge.closeReason ?? "")
        case .peer?:
            if let code = edge.closeCode { return .peerClose(code: code, reason: edge.closeReason ?? "") }
        case nil:
            break
        }
        // Journals without `closed_by` (format 1.0): judged from the error and the state.
        switch edge.error {
        case "livenessTimeout"?: return .silence(message: edge.message ?? "liveness timeout")
        case "connectionLost"?: return .connectionLost(message: edge.message ?? "connection lost")
        case nil, "closedByPeer"?:
            if let code = edge.closeCode {
                if edge.error == nil && state == .closed { return .endOfRecording }
                return .peerClose(code: code, reason: edge.closeReason ?? "")
            }
            if edge.error == nil { return state == .closed ? .endOfRecording : .connectionLost(message: edge.message ?? "the connection ended") }
            return .peerClose(code: 1005, reason: "")
        case let e?:
            return .error(code: e, message: edge.message ?? e, closeCode: edge.closeCode)
        }
    }

    func finish(directory: String, selection: ReplaySelection) -> Recording {
        let hasConnectRecords = controls.contains { $0.kind == .connect }
        let hasConnectedEdges = controls.contains {
            if case .lifecycle(let e) = $0.body { return e.state == .connected }
            return false
        }
        var timed: [(mono: UInt64, attempt: TimedAttempt)] = []
        var made: Set<UInt64> = []
        var open: RecordedEpoch?
        var pendingAttempt: UInt64?
        var outOfEpoch: [UInt64: [Frame]] = [:]

        func newEpoch(_ number: UInt64, mono: UInt64, wall: Int64, seq: UInt64) -> RecordedEpoch {
            RecordedEpoch(
                ordinal: 0, epoch: number, frameEpochFilter: number, firstSeq: seq, connectedMono: mono, connectedWall: wall,
                endMono: mono, end: .endOfRecording, inboundCount: stats[number]?.count ?? 0,
                outbound: outOfEpoch.removeValue(forKey: number) ?? [])
        }
        func close(_ e: RecordedEpoch, at mono: UInt64, _ end: EpochEnd) {
            var e = e
            e.endMono = Swift.max(mono, e.connectedMono)
            e.end = end
            timed.append((e.connectedMono, .epoch(e)))
        }

        for r in controls {
            switch r.body {
            case .lifecycle(let edge):
                switch edge.state {
                case .connecting?:
                    if open == nil { pendingAttempt = pendingAttempt ?? r.monoNanos }
                case .connected?:
                    if let o = open { close(o, at: r.monoNanos, .connectionLost(message: "the next epoch began")) }
                    open = newEpoch(r.epoch, mono: r.monoNanos, wall: r.wallNanos, seq: r.seq)
                    made.insert(r.epoch)
                    pendingAttempt = nil
                case .reconnecting?, .closed?, .unrecoverable?:
                    if let o = open {
                        close(o, at: r.monoNanos, Self.end(of: edge))
                        open = nil
                    } else if !made.contains(r.epoch), let s = stats[r.epoch], r.epoch != 0 || !hasConnectedEdges {
                        // The selection starts inside this epoch: it begins with its first frame.
                        let e = newEpoch(r.epoch, mono: s.firstMono, wall: r.wallNanos, seq: s.firstSeq)
                        made.insert(r.epoch)
                        close(e, at: r.monoNanos, Self.end(of: edge))
                    } else if !hasConnectRecords, let started = pendingAttempt, let error = edge.error {
                        timed.append((started, .failed(RecordedFailure(
                            code: error, message: edge.message ?? error, closeCode: edge.closeCode,
                            startedMono: started, failedMono: r.monoNanos))))
                        pendingAttempt = nil
                    }
                default:
                    break
                }
            case .connect(let c):
                switch c.outcome {
                case .attempt: if open == nil { pendingAttempt = r.monoNanos }
                case .failed where c.error == "attemptAbandoned":
                    // The venue completed this handshake; the recorder's own client dropped it
                    // (its attempt timeout, or its shutdown). Not a venue failure: not replayed.
                    pendingAttempt = nil
                case .failed:
                    let started = pendingAttempt ?? r.monoNanos
                    timed.append((started, .failed(RecordedFailure(
                        code: c.error ?? (c.httpStatus != nil ? "handshakeRejected" : "connectionRefused"),
                        message: c.message ?? "", httpStatus: c.httpStatus.map(Int.init),
                        retryAfterSeconds: Self.retryAfter(c),
                        startedMono: started, failedMono: r.monoNanos))))
                    pendingAttempt = nil
                case .connected:
                    if !hasConnectedEdges {
                        if let o = open { close(o, at: r.monoNanos, .connectionLost(message: "the next epoch began")) }
                        open = newEpoch(r.epoch, mono: r.monoNanos, wall: r.wallNanos, seq: r.seq)
                        made.insert(r.epoch)
                        pendingAttempt = nil
                    }
                }
            case .frame(.outbound, let opcode, let payload):
                let f: Frame = opcode == .text ? .text(String(decoding: payload, as: UTF8.self)) : .binary(payload)
                if var o = open, o.epoch == r.epoch {
                    o.outbound.append(f)
                    open = o
                } else {
                    outOfEpoch[r.epoch, default: []].append(f)
                }
            case .session(let s):
                if s.phase == .end, let o = open {
                    close(o, at: r.monoNanos, .endOfRecording)
                    open = nil
                }
            default:
                break
            }
        }
        if let o = open {
            close(o, at: Swift.max(lastMono, stats[o.epoch]?.lastMono ?? 0), .endOfRecording)
        }
        var outside = 0
        if !hasConnectedEdges && made.isEmpty {
            // No lifecycle at all (imported frames): every inbound frame is one connection.
            let all = stats.values
            if let firstSeq = all.map(\.firstSeq).min(), let first = all.map(\.firstMono).min() {
                // The connection "connected" when its first frame arrived.
                let firstWall = all.min { $0.firstSeq < $1.firstSeq }?.firstWall ?? 0
                var e = RecordedEpoch(
                    ordinal: 0, epoch: stats.keys.min() ?? 0, frameEpochFilter: nil, firstSeq: firstSeq, connectedMono: first,
                    connectedWall: firstWall, endMono: Swift.max(lastMono, all.map(\.lastMono).max() ?? first), end: .endOfRecording,
                    inboundCount: all.reduce(0) { $0 + $1.count }, outbound: outOfEpoch.values.flatMap { $0 })
                e.end = .endOfRecording
                timed.append((first, .epoch(e)))
            }
        } else {
            for (number, s) in stats where !made.contains(number) {
                if number == 0 {
                    outside += s.count
                    continue
                }
                // Frames whose epoch began before the selection and did not end inside it.
                let e = newEpoch(number, mono: s.firstMono, wall: s.firstWall, seq: s.firstSeq)
                close(e, at: s.lastMono, .endOfRecording)
            }
        }
        timed.sort { $0.mono < $1.mono }
        var attempts: [RecordedAttempt] = []
        var epochs: [RecordedEpoch] = []
        for (_, a) in timed {
            switch a {
            case .failed(let f): attempts.append(.failed(f))
            case .epoch(var e):
                e.ordinal = epochs.count + 1
                attempts.append(.connected(epochs.count))
                epochs.append(e)
            }
        }
        // Only the last epoch may end the recording; an earlier "end" (a session that ended
        // and another that started) replays as the recorder's local close.
        for i in epochs.indices.dropLast() where epochs[i].end == .endOfRecording {
            epochs[i].end = .localClose(code: 1000, reason: "recording session ended")
        }
        // Replay time zero (by-time mapping) is the selection's first record.
        return Recording(
            directory: directory, selection: selection, attempts: attempts, epochs: epochs,
            startMono: firstMono ?? 0, framesOutsideEpochs: outside)
    }

    private enum TimedAttempt {
        case failed(RecordedFailure)
        case epoch(RecordedEpoch)
    }

    static func retryAfter(_ c: ConnectEvent) -> Int? {
        c.retryAfterSeconds.map { Int($0) }
    }
}
