import WireTapeCore
import WireTapeJournal

/// A few frames shown next to an incident: the last before the outage or the first after.
public struct FrameExcerpt: Sendable, Hashable {
    /// Sequence number, epoch and wall time (ns).
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// Direction and opcode.
    public var direction: FrameDirection, opcode: FrameOpcode
    /// The payload's first bytes as text (UTF-8, invalid bytes replaced; binary frames as hex).
    public var text: String
    /// The payload's full length in bytes.
    public var bytes: Int
    /// Whether ``text`` is shorter than the payload.
    public var truncated: Bool
}

/// An outage with what surrounded it.
public struct Incident: Sendable, Hashable {
    /// The outage.
    public var outage: Outage
    /// Frames (both directions) in the window before the outage started and after it ended.
    public var framesBefore: UInt64, framesAfter: UInt64
    /// The last frames before the start and the first after the end (empty when the
    /// incident was beyond ``ReportOptions/maxExcerptIncidents``).
    public var before: [FrameExcerpt], after: [FrameExcerpt]
}

/// A journal-lag marker: records the recorder could not keep.
public struct LagMark: Sendable, Hashable {
    /// Sequence number, epoch and wall time (ns).
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// Records and bytes lost.
    public var count: UInt64, bytes: UInt64
}

/// A user annotation.
public struct AnnotationMark: Sendable, Hashable {
    /// Sequence number, epoch and wall time (ns).
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// The text.
    public var text: String
}

/// What a report shows (options of ``ReportBuilder``).
public struct ReportOptions: Sendable {
    /// Only this wall-time range (ns); nil bounds mean the journal's first and last record.
    public var fromWall: Int64?, toWall: Int64?
    /// At most this many time buckets on the timeline (the width is rounded to a nice value).
    public var targetBuckets = 1500
    /// A bucket width forced by the caller (ns), instead of one chosen from ``targetBuckets``.
    public var bucketWidth: Int64?
    /// Frames shown before and after each incident.
    public var excerptFrames = 5
    /// Bytes of each excerpt shown.
    public var excerptBytes = 240
    /// Only the longest this many incidents get excerpts (the page stays small).
    public var maxExcerptIncidents = 200
    /// Whether frames before and after each outage are counted (reads boundary blocks).
    public var countWindows = true
    /// The window before and after an outage in which frames are counted (ns).
    public var windowNanos: Int64 = 60_000_000_000
    /// A sequence-continuity check to run and show, if any.
    public var continuity: ContinuitySpec?

    /// Creates default options.
    public init() {}
}

/// A journal summarised for a post-mortem: header figures, timeline buckets, epochs,
/// incidents, marks, and optionally a continuity check. Built by ``ReportBuilder``; shown by
/// ``ReportHTML``.
public struct JournalReport: Sendable {
    /// The journal directory's last path component.
    public var journalName: String
    /// The feed URL from the first session or connect record, redacted.
    public var feedURL: String?
    /// The wall-time range shown (ns).
    public var start: Int64, end: Int64
    /// Records by kind, and block bytes (uncompressed, stored), over the blocks in range.
    public var kinds = KindCounts()
    /// Uncompressed block bytes, stored bytes (with block headers), frame payload bytes.
    public var rawBytes: UInt64 = 0, storedBytes: UInt64 = 0, payloadBytes: UInt64 = 0
    /// Blocks in range.
    public var blocks = 0
    /// Connected epochs.
    public var epochs: [EpochBand] = []
    /// Outages with their surroundings, in time order.
    public var incidents: [Incident] = []
    /// Failed connection attempts.
    public var connectFailures: [ConnectMark] = []
    /// Journal-lag markers.
    public var lags: [LagMark] = []
    /// Annotations.
    public var annotations: [AnnotationMark] = []
    /// The adapter-side counters of the last lifecycle record that carried them.
    public var lastCounters: LifecycleCounters?
    /// Frame counts per bucket.
    public var buckets: BucketSeries
    /// The continuity check, when one was asked for.
    public var continuity: ContinuityChecker?

    /// Uncompressed over stored bytes.
    public var compressionRatio: Double { storedBytes == 0 ? 0 : Double(rawBytes) / Double(storedBytes) }
    /// Seconds without a connected epoch inside the range.
    public var disconnectedSeconds: Double {
        incidents.reduce(0) { total, incident in
            let o = incident.outage
            // Whole outages count their duration (right across a wall-clock step); outages cut
            // by the report's range count the part inside it.
            if o.start >= start && o.end <= end { return total + o.durationSeconds }
            return total + Double(max(0, min(o.end, end) - max(o.start, start))) / 1e9
        }
    }
    /// Records lost according to journal-lag markers, and their bytes.
    public var journalLag: (count: UInt64, bytes: UInt64) {
        lags.reduce((0, 0)) { ($0.0 + $1.count, $0.1 + $1.bytes) }
    }
}
