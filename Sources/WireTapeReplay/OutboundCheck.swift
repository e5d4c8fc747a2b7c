import Foundation
import Synchronization
import WireTapeCore

/// How what the adapter sends is compared with what was recorded.
public enum OutboundComparison: Sendable, Hashable {
    /// Byte for byte, opcode included.
    case exact
    /// Text frames that parse as JSON are equal when their values are equal after removing
    /// the named object fields at any depth (ids, timestamps); other frames compare exactly.
    case jsonIgnoring(Set<String>)

    /// Whether `sent` matches `recorded`.
    public func matches(sent: Frame, recorded: Frame) -> Bool {
        if sent == recorded { return true }
        guard case .jsonIgnoring(let ignored) = self, case .text(let a) = sent, case .text(let b) = recorded,
            let x = Self.parse(a, ignoring: ignored), let y = Self.parse(b, ignoring: ignored)
        else { return false }
        return x.isEqual(y)
    }

    private static func parse(_ text: String, ignoring: Set<String>) -> NSObject? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            return nil
        }
        return strip(value, ignoring) as? NSObject
    }

    private static func strip(_ value: Any, _ ignoring: Set<String>) -> Any {
        if let d = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in d where !ignoring.contains(k) { out[k] = strip(v, ignoring) }
            return NSDictionary(dictionary: out)
        }
        if let a = value as? [Any] { return NSArray(array: a.map { strip($0, ignoring) }) }
        return value
    }
}

/// The outcome of comparing one sent or expected frame.
public enum OutboundVerdict: String, Sendable, Hashable {
    /// Sent as recorded.
    case matched
    /// Sent at this index, but different from the recorded frame.
    case mismatched
    /// Recorded at this index but never sent in the replayed epoch.
    case missing
    /// Sent, but the recording has no frame at this index.
    case extra
}

/// One entry of an ``OutboundReport``.
public struct OutboundEntry: Sendable, Hashable, CustomStringConvertible {
    /// The verdict.
    public var verdict: OutboundVerdict
    /// The replayed epoch (1, 2, ... as the adapter's connections came up).
    public var epoch: UInt64
    /// The recorded epoch it was compared with (``RecordedEpoch/ordinal``).
    public var recordedEpoch: Int
    /// 0-based index of the frame among the epoch's outbound frames.
    public var index: Int
    /// What the recording holds at this index.
    public var expected: Frame?
    /// What the adapter sent at this index.
    public var actual: Frame?

    /// E.g. `epoch 2 #0 mismatched: sent "…", recorded "…"`.
    public var description: String {
        func show(_ f: Frame?) -> String {
            switch f {
            case .text(let s)?: return "\"\(s.count > 120 ? String(s.prefix(120)) + "…" : s)\""
            case .binary(let b)?: return "binary(\(b.count) bytes)"
            case nil: return "nothing"
            }
        }
        return "epoch \(epoch) (recorded \(recordedEpoch)) #\(index) \(verdict.rawValue): sent \(show(actual)), recorded \(show(expected))"
    }
}

/// What the adapter sent in each replayed epoch compared with the recorded outbound frames of
/// that epoch.
///
/// ```swift
/// let report = replay.outboundReport()
/// #expect(report.isClean, "\(report.problems)")
/// ```
public struct OutboundReport: Sendable, Hashable {
    /// Every compared frame, by epoch then index.
    public var entries: [OutboundEntry]

    /// Frames sent as recorded.
    public var matched: Int { entries.count { $0.verdict == .matched } }
    /// Frames sent differently.
    public var mismatched: Int { entries.count { $0.verdict == .mismatched } }
    /// Recorded frames not sent (only counted for epochs that have ended).
    public var missing: Int { entries.count { $0.verdict == .missing } }
    /// Frames sent beyond the recording.
    public var extra: Int { entries.count { $0.verdict == .extra } }
    /// Every entry that is not a match.
    public var problems: [OutboundEntry] { entries.filter { $0.verdict != .matched } }
    /// Whether every send matched and nothing is missing or extra.
    public var isClean: Bool { entries.allSatisfy { $0.verdict == .matched } }
}

/// Collects the sends of each replayed epoch next to the recorded ones.
final class OutboundLedger: Sendable {
    struct Slot {
        var epoch: UInt64
        var recordedEpoch: Int
        var expected: [Frame]
        var sent: [Frame] = []
        var ended = false
    }
    private let slots = Mutex<[Slot]>([])

    /// Opens a slot for a replayed epoch; returns its index.
    func open(epoch: UInt64, recorded: RecordedEpoch) -> Int {
        slots.withLock { s in
            s.append(Slot(epoch: epoch, recordedEpoch: recorded.ordinal, expected: recorded.outbound))
            return s.count - 1
        }
    }

    func record(_ frame: Frame, slot: Int) { slots.withLock { $0[slot].sent.append(frame) } }
    func end(slot: Int) { slots.withLock { $0[slot].ended = true } }

    func report(_ comparison: OutboundComparison) -> OutboundReport {
        let all = slots.withLock { $0 }
        var entries: [OutboundEntry] = []
        for slot in all {
            let n = Swift.max(slot.sent.count, slot.ended ? slot.expected.count : slot.sent.count)
            for i in 0..<n {
                let expected = i < slot.expected.count ? slot.expected[i] : nil
                let actual = i < slot.sent.count ? slot.sent[i] : nil
                let verdict: OutboundVerdict
                switch (expected, actual) {
                case (let e?, let a?): verdict = comparison.matches(sent: a, recorded: e) ? .matched : .mismatched
                case (_?, nil): verdict = .missing
                default: verdict = .extra
                }
                entries.append(OutboundEntry(
                    verdict: verdict, epoch: slot.epoch, recordedEpoch: slot.recordedEpoch, index: i,
                    expected: expected, actual: actual))
            }
        }
        return OutboundReport(entries: entries)
    }
}
