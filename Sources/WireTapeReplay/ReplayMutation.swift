import WireTapeCore

/// A change applied to a recording as it is replayed, to turn one real recording into many
/// regression cases. Mutations compose: several may apply to the same epoch.
///
/// `epoch` counts the recording's connected epochs from 1 (``RecordedEpoch/ordinal``); `from`
/// is the 0-based index of an inbound frame within that epoch; `after` is how many of the
/// epoch's inbound frames are delivered first. The text form (``parse(_:)``) is the one
/// `wiretape replay --mutate` takes:
///
/// | spec | effect |
/// |---|---|
/// | `drop-frames:EPOCH:FROM:COUNT` | frames FROM..<FROM+COUNT are not delivered (counted) |
/// | `duplicate-frames:EPOCH:FROM:COUNT` | each of those frames is delivered twice |
/// | `reorder-frames:EPOCH:FROM:COUNT` | those frames are delivered in a seeded random order |
/// | `disconnect:EPOCH:AFTER:CODE` | after AFTER frames the epoch ends: 1006 loses the transport, any other code is a peer close |
/// | `refuse:EPOCH:COUNT:STATUS` | COUNT extra attempts refused with HTTP STATUS before that epoch |
/// | `stall:EPOCH:AFTER:SECONDS` | after AFTER frames, SECONDS of silence in which pings go unanswered |
/// | `zombie:EPOCH:AFTER:SECONDS` | after AFTER frames, SECONDS without data while pings are answered |
/// | `stretch:EPOCH:FACTOR` | the epoch's frames spread over FACTOR times the time |
public enum ReplayMutation: Sendable, Hashable, CustomStringConvertible {
    /// Frames `from..<from+count` of the epoch are not delivered.
    case dropFrames(epoch: Int, from: Int, count: Int)
    /// Frames `from..<from+count` of the epoch are delivered twice.
    case duplicateFrames(epoch: Int, from: Int, count: Int)
    /// Frames `from..<from+count` of the epoch are delivered in a seeded random order.
    case reorderFrames(epoch: Int, from: Int, count: Int)
    /// After `after` frames the epoch ends: code 1006 is a lost transport, any other a peer close.
    case disconnect(epoch: Int, after: Int, code: UInt16)
    /// `count` extra attempts refused with HTTP `status` before the epoch.
    case refuse(epoch: Int, count: Int, status: Int)
    /// After `after` frames, `seconds` of silence with pings unanswered (a half-open socket).
    case stall(epoch: Int, after: Int, seconds: Double)
    /// After `after` frames, `seconds` without data while pings are answered.
    case zombie(epoch: Int, after: Int, seconds: Double)
    /// The epoch's frames are spread over `factor` times the recorded time.
    case stretch(epoch: Int, factor: Double)

    /// The epoch the mutation applies to.
    public var epoch: Int {
        switch self {
        case .dropFrames(let e, _, _), .duplicateFrames(let e, _, _), .reorderFrames(let e, _, _),
            .disconnect(let e, _, _), .refuse(let e, _, _), .stall(let e, _, _), .zombie(let e, _, _),
            .stretch(let e, _):
            return e
        }
    }

    /// The spec text, e.g. `drop-frames:2:10:5`.
    public var description: String {
        switch self {
        case .dropFrames(let e, let f, let c): return "drop-frames:\(e):\(f):\(c)"
        case .duplicateFrames(let e, let f, let c): return "duplicate-frames:\(e):\(f):\(c)"
        case .reorderFrames(let e, let f, let c): return "reorder-frames:\(e):\(f):\(c)"
        case .disconnect(let e, let a, let c): return "disconnect:\(e):\(a):\(c)"
        case .refuse(let e, let c, let s): return "refuse:\(e):\(c):\(s)"
        case .stall(let e, let a, let s): return "stall:\(e):\(a):\(s)"
        case .zombie(let e, let a, let s): return "zombie:\(e):\(a):\(s)"
        case .stretch(let e, let f): return "stretch:\(e):\(f)"
        }
    }

    /// Parses a spec such as `disconnect:2:100:1011`.
    /// - Throws: ``ReplayError`` `.invalidMutation` naming the spec, the field and the expected form.
    public static func parse(_ spec: String) throws(ReplayError) -> ReplayMutation {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let name = parts.first ?? ""
        let forms: [String: String] = [
            "drop-frames": "drop-frames:EPOCH:FROM:COUNT", "duplicate-frames": "duplicate-frames:EPOCH:FROM:COUNT",
            "reorder-frames": "reorder-frames:EPOCH:FROM:COUNT", "disconnect": "disconnect:EPOCH:AFTER:CODE",
            "refuse": "refuse:EPOCH:COUNT:STATUS", "stall": "stall:EPOCH:AFTER:SECONDS",
            "zombie": "zombie:EPOCH:AFTER:SECONDS", "stretch": "stretch:EPOCH:FACTOR",
        ]
        guard let form = forms[name] else {
            throw ReplayError(
                .invalidMutation,
                "unknown mutation '\(name)' in '\(spec)'; expected one of \(forms.keys.sorted().joined(separator: ", "))")
        }
        let fieldNames = form.split(separator: ":").dropFirst().map(String.init)
        guard parts.count == fieldNames.count + 1 else {
            throw ReplayError(.invalidMutation, "'\(spec)' has \(parts.count - 1) fields; expected \(form)")
        }
        func int(_ i: Int, min: Int) throws(ReplayError) -> Int {
            guard let v = Int(parts[i]), v >= min else {
                throw ReplayError(
                    .invalidMutation, "\(fieldNames[i - 1]) in '\(spec)' must be an integer ≥ \(min), got '\(parts[i])' (\(form))")
            }
            return v
        }
        func number(_ i: Int) throws(ReplayError) -> Double {
            guard let v = Double(parts[i]), v.isFinite, v > 0 else {
                throw ReplayError(
                    .invalidMutation, "\(fieldNames[i - 1]) in '\(spec)' must be a positive number, got '\(parts[i])' (\(form))")
            }
            return v
        }
        let epoch = try int(1, min: 1)
        switch name {
        case "drop-frames": return .dropFrames(epoch: epoch, from: try int(2, min: 0), count: try int(3, min: 1))
        case "duplicate-frames": return .duplicateFrames(epoch: epoch, from: try int(2, min: 0), count: try int(3, min: 1))
        case "reorder-frames": return .reorderFrames(epoch: epoch, from: try int(2, min: 0), count: try int(3, min: 2))
        case "disconnect":
            let code = try int(3, min: 1000)
            guard code <= 4999, code != 1005, code != 1015 else {
                throw ReplayError(.invalidMutation, "CODE in '\(spec)' must be a close code 1000-4999 other than 1005 and 1015 (1006 means a lost transport)")
            }
            return .disconnect(epoch: epoch, after: try int(2, min: 0), code: UInt16(code))
        case "refuse":
            let status = try int(3, min: 100)
            guard status <= 599, status != 101 else {
                throw ReplayError(.invalidMutation, "STATUS in '\(spec)' must be an HTTP status 100-599 other than 101")
            }
            return .refuse(epoch: epoch, count: try int(2, min: 1), status: status)
        case "stall": return .stall(epoch: epoch, after: try int(2, min: 0), seconds: try number(3))
        case "zombie": return .zombie(epoch: epoch, after: try int(2, min: 0), seconds: try number(3))
        default: return .stretch(epoch: epoch, factor: try number(2))
        }
    }
}

/// What a replayed epoch does next, after mutations: a pure transformer from the recorded
/// frames (in order) to delivery steps.
struct FramePlan {
    enum Step: Equatable {
        /// Deliver a frame at `offset` (replay time since the epoch began).
        case frame(index: Int, offset: Duration)
        /// Pause for `duration` after `offset`; pings are answered when `pongs`.
        case pause(offset: Duration, duration: Duration, pongs: Bool)
        /// End the epoch now.
        case end(EpochEnd)
    }

    private let mutations: [ReplayMutation]
    private let stretch: Double
    private var random: SeededRandom
    private var shift: Duration = .zero
    private var lastOffset: Duration = .zero
    private var held: [(index: Int, offset: Duration)] = []
    private var ended = false
    /// Frames not delivered because of `drop-frames`.
    private(set) var dropped = 0

    init(mutations: [ReplayMutation], seed: UInt64) {
        self.mutations = mutations
        var f = 1.0
        for case .stretch(_, let factor) in mutations { f *= factor }
        stretch = f
        random = SeededRandom(seed: seed)
    }

    /// The (stretched, shifted) offset of a recorded offset.
    func scaled(_ recorded: Duration) -> Duration {
        (stretch == 1 ? recorded : recorded * stretch) + shift
    }

    /// The steps for recorded frame `index` at recorded offset `recorded` (since the epoch began).
    mutating func frame(index: Int, recorded: Duration) -> [Step] {
        guard !ended else { return [] }
        var steps: [Step] = []
        for m in mutations {
            switch m {
            case .disconnect(_, let after, let code) where after == index:
                ended = true
                steps += flushHeld()
                steps.append(.end(Self.disconnectEnd(code)))
                return steps
            case .stall(_, let after, let seconds) where after == index:
                steps.append(.pause(offset: lastOffset, duration: .seconds(seconds), pongs: false))
                shift += .seconds(seconds)
            case .zombie(_, let after, let seconds) where after == index:
                steps.append(.pause(offset: lastOffset, duration: .seconds(seconds), pongs: true))
                shift += .seconds(seconds)
            default: break
            }
        }
        let offset = Swift.max(scaled(recorded), lastOffset)
        lastOffset = offset
        var copies = 1
        var reorder: Int? = nil
        for m in mutations {
            switch m {
            case .dropFrames(_, let from, let count) where (from..<from + count).contains(index): copies = 0
            case .duplicateFrames(_, let from, let count) where (from..<from + count).contains(index): copies *= 2
            case .reorderFrames(_, let from, let count) where (from..<from + count).contains(index):
                reorder = from + count - 1
            default: break
            }
        }
        if copies == 0 {
            dropped += 1
            return steps
        }
        for _ in 0..<copies {
            if reorder != nil { held.append((index, offset)) } else { steps.append(.frame(index: index, offset: offset)) }
        }
        if let last = reorder, index == last { steps += flushHeld() }
        return steps
    }

    /// The steps after the last recorded frame (a disconnect or pause placed beyond it).
    mutating func finish(frameCount: Int) -> [Step] {
        guard !ended else { return [] }
        var steps = flushHeld()
        for m in mutations {
            switch m {
            case .disconnect(_, let after, let code) where after >= frameCount:
                ended = true
                steps.append(.end(Self.disconnectEnd(code)))
                return steps
            case .stall(_, let after, let seconds) where after >= frameCount:
                steps.append(.pause(offset: lastOffset, duration: .seconds(seconds), pongs: false))
                shift += .seconds(seconds)
            case .zombie(_, let after, let seconds) where after >= frameCount:
                steps.append(.pause(offset: lastOffset, duration: .seconds(seconds), pongs: true))
                shift += .seconds(seconds)
            default: break
            }
        }
        return steps
    }

    /// Whether frame `index` is held back for a reorder.
    func isHolding(_ index: Int) -> Bool { held.contains { $0.index == index } }

    /// Whether a mutation ended the epoch.
    var isEnded: Bool { ended }

    private mutating func flushHeld() -> [Step] {
        guard !held.isEmpty else { return [] }
        // The frames keep the slots (times) of the original order; their order is shuffled.
        let slots = held.map(\.offset)
        var indices = held.map(\.index)
        for i in stride(from: indices.count - 1, to: 0, by: -1) {
            let j = Int(random.next() % UInt64(i + 1))
            indices.swapAt(i, j)
        }
        held.removeAll()
        return zip(indices, slots).map { .frame(index: $0, offset: $1) }
    }

    static func disconnectEnd(_ code: UInt16) -> EpochEnd {
        code == 1006
            ? .connectionLost(message: "replay mutation: the transport was lost (1006)")
            : .peerClose(code: code, reason: "replay mutation: disconnect")
    }
}
