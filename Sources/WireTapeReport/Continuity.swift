/// A path into a JSON document: dot-separated object keys, with numeric parts indexing
/// arrays (`data.u`, `result.0.sequence`). Evaluated by a small byte scanner, without
/// building the document, so a day of frames is checked in seconds.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    /// The parts.
    public let parts: [String]

    /// Parses `a.b.0.c`; nil when empty or with an empty part.
    public init?(_ text: String) {
        let p = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !p.contains(where: \.isEmpty) else { return nil }
        parts = p
    }

    /// The path as written.
    public var description: String { parts.joined(separator: ".") }

    /// The raw bytes of the value at this path in `json` (a string's contents without its
    /// quotes, escapes kept; a number or literal as written), or nil when absent or malformed.
    public func value(in json: UnsafeRawBufferPointer) -> ArraySlice<UInt8>? {
        var s = JSONScanner(json)
        for part in parts {
            s.skipSpace()
            guard let c = s.peek() else { return nil }
            if c == UInt8(ascii: "{") {
                guard s.enterObject(key: Array(part.utf8)) else { return nil }
            } else if c == UInt8(ascii: "["), let n = Int(part) {
                guard s.enterArray(index: n) else { return nil }
            } else {
                return nil
            }
        }
        return s.scalarValue()
    }

    /// The value at this path as an unsigned integer (a JSON number or a string of digits).
    public func integer(in json: UnsafeRawBufferPointer) -> UInt64? {
        guard let v = value(in: json), !v.isEmpty, v.count <= 20 else { return nil }
        var n: UInt64 = 0
        for b in v {
            guard b >= 48 && b <= 57 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - 48))
            if o1 || o2 { return nil }
            n = a
        }
        return n
    }
}

/// A forward-only JSON byte scanner: enough to walk to one value.
struct JSONScanner {
    let b: UnsafeRawBufferPointer
    var i = 0
    init(_ b: UnsafeRawBufferPointer) { self.b = b }

    func peek() -> UInt8? { i < b.count ? b[i] : nil }
    mutating func skipSpace() { while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 } }

    /// Skips a string at `i` (on its opening quote); returns the range of its contents.
    mutating func string() -> Range<Int>? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        i += 1
        let start = i
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\\") { i += 2; continue }
            if c == UInt8(ascii: "\"") { i += 1; return start..<(i - 1) }
            i += 1
        }
        return nil
    }

    /// Skips one value of any kind.
    mutating func skipValue() -> Bool {
        skipSpace()
        guard let c = peek() else { return false }
        if c == UInt8(ascii: "\"") { return string() != nil }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0
            while i < b.count {
                let d = b[i]
                if d == UInt8(ascii: "\"") { guard string() != nil else { return false }; continue }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { i += 1; return true }
                }
                i += 1
            }
            return false
        }
        while i < b.count, !(b[i] == UInt8(ascii: ",") || b[i] == UInt8(ascii: "}") || b[i] == UInt8(ascii: "]") || b[i] == 32 || b[i] == 10 || b[i] == 13 || b[i] == 9) { i += 1 }
        return true
    }

    /// At `{`: moves to the value of `key`; false when absent.
    mutating func enterObject(key: [UInt8]) -> Bool {
        i += 1
        while true {
            skipSpace()
            guard let c = peek() else { return false }
            if c == UInt8(ascii: "}") { return false }
            if c == UInt8(ascii: ",") { i += 1; continue }
            guard let k = string() else { return false }
            skipSpace()
            guard peek() == UInt8(ascii: ":") else { return false }
            i += 1
            skipSpace()
            if k.count == key.count, zip(b[k], key).allSatisfy({ $0 == $1 }) { return true }
            guard skipValue() else { return false }
        }
    }

    /// At `[`: moves to element `index`; false when absent.
    mutating func enterArray(index: Int) -> Bool {
        i += 1
        var n = 0
        while true {
            skipSpace()
            guard let c = peek() else { return false }
            if c == UInt8(ascii: "]") { return false }
            if c == UInt8(ascii: ",") { i += 1; continue }
            if n == index { return true }
            guard skipValue() else { return false }
            n += 1
        }
    }

    /// The scalar at `i`: a string's contents or a number/literal's bytes.
    mutating func scalarValue() -> ArraySlice<UInt8>? {
        skipSpace()
        guard let c = peek() else { return nil }
        if c == UInt8(ascii: "\"") {
            guard let r = string() else { return nil }
            return ArraySlice(b[r])
        }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { return nil }
        let start = i
        _ = skipValue()
        return ArraySlice(b[start..<i])
    }
}

/// What `continuity` checks: which number in each inbound text frame, and which frames.
public struct ContinuitySpec: Sendable, Hashable {
    /// The sequence number of a message (its last id: Binance depth `u`, a trade id `t`,
    /// Coinbase `sequence`).
    public var seqField: JSONPath
    /// The first id a message covers, when it covers a range (Binance depth `U`): the next
    /// message's first id must be the previous last id + 1.
    public var firstField: JSONPath?
    /// Only frames whose value at this path equals ``filterValue`` (e.g. `stream` =
    /// `btcusdt@depth`, `type` = `l2update`).
    public var filterField: JSONPath?
    /// See ``filterField``.
    public var filterValue: String?
    /// Sequences are kept apart per value of this path (e.g. `s` or `product_id`).
    public var keyField: JSONPath?
    /// A step back of more than this is a reset (a new sequence), less or equal a duplicate.
    public var resetThreshold: UInt64

    /// Creates a spec.
    public init(
        seqField: JSONPath, firstField: JSONPath? = nil, filterField: JSONPath? = nil, filterValue: String? = nil,
        keyField: JSONPath? = nil, resetThreshold: UInt64 = 1000
    ) {
        self.seqField = seqField
        self.firstField = firstField
        self.filterField = filterField
        self.filterValue = filterValue
        self.keyField = keyField
        self.resetThreshold = resetThreshold
    }
}

/// One break in a sequence.
public struct ContinuityIssue: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable {
        /// Ids were skipped: `missing` numbers never arrived.
        case gap
        /// An id at or below the last one arrived again (within the reset threshold).
        case duplicate
        /// The sequence went back by more than the reset threshold: a new sequence started.
        case reset
    }
    /// What happened.
    public var kind: Kind
    /// The epoch, the record's sequence number and wall time (ns).
    public var epoch: UInt64, seq: UInt64, wall: Int64
    /// The stream key (``ContinuitySpec/keyField``), empty without one.
    public var key: String
    /// The last id seen before, and the first id of this message.
    public var previous: UInt64, got: UInt64
    /// Ids missing (gaps only).
    public var missing: UInt64
}

/// Per-epoch totals of a continuity check.
public struct EpochContinuity: Sendable, Hashable {
    /// The epoch.
    public var epoch: UInt64
    /// Frames checked (matching the filter and carrying the field) and frames without the field.
    public var checked: UInt64 = 0, withoutField: UInt64 = 0
    /// Counts of each kind of issue, and ids missing in all gaps.
    public var gaps: UInt64 = 0, duplicates: UInt64 = 0, resets: UInt64 = 0, missing: UInt64 = 0
    /// The first id seen and the latest id accepted (any key).
    public var firstID: UInt64?, lastID: UInt64?

    /// Whether no gap, duplicate or reset was seen.
    public var isClean: Bool { gaps == 0 && duplicates == 0 && resets == 0 }
}

/// The pure sequence checker: feed it each inbound text frame in journal order; it returns
/// the issue the frame shows, if any, and keeps per-epoch totals. State restarts at every
/// epoch (a reconnect starts a new stream; the first id of an epoch is not compared with the
/// last of the previous one).
public struct ContinuityChecker: Sendable {
    /// What is checked.
    public let spec: ContinuitySpec
    /// Totals per epoch, in the order epochs were met.
    public private(set) var epochs: [EpochContinuity] = []
    /// Issues, at most ``maxIssues`` kept (totals count all).
    public private(set) var issues: [ContinuityIssue] = []
    /// The most issues kept.
    public let maxIssues: Int
    private var last: [String: UInt64] = [:]
    private var filterBytes: [UInt8]?

    /// Creates a checker.
    public init(spec: ContinuitySpec, maxIssues: Int = 10_000) {
        self.spec = spec
        self.maxIssues = maxIssues
        filterBytes = spec.filterValue.map { Array($0.utf8) }
    }

    /// Checks one frame's payload.
    @discardableResult
    public mutating func check(payload: UnsafeRawBufferPointer, epoch: UInt64, seq: UInt64, wall: Int64) -> ContinuityIssue? {
        if let f = spec.filterField {
            guard let v = f.value(in: payload), let want = filterBytes, v.elementsEqual(want) else { return nil }
        }
        if epochs.last?.epoch != epoch {
            epochs.append(EpochContinuity(epoch: epoch))
            last.removeAll(keepingCapacity: true)
        }
        let e = epochs.count - 1
        guard let lastID = spec.seqField.integer(in: payload) else {
            epochs[e].withoutField += 1
            return nil
        }
        let firstID = spec.firstField.flatMap { $0.integer(in: payload) } ?? lastID
        let key = spec.keyField.flatMap { $0.value(in: payload) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        epochs[e].checked += 1
        if epochs[e].firstID == nil { epochs[e].firstID = firstID }
        guard let prev = last[key] else {
            last[key] = lastID
            epochs[e].lastID = lastID
            return nil
        }
        var issue: ContinuityIssue?
        if firstID > prev &+ 1 {
            let missing = firstID - prev - 1
            epochs[e].gaps += 1
            epochs[e].missing += missing
            issue = ContinuityIssue(kind: .gap, epoch: epoch, seq: seq, wall: wall, key: key, previous: prev, got: firstID, missing: missing)
        } else if lastID <= prev {
            if prev - lastID > spec.resetThreshold {
                epochs[e].resets += 1
                issue = ContinuityIssue(kind: .reset, epoch: epoch, seq: seq, wall: wall, key: key, previous: prev, got: firstID, missing: 0)
            } else {
                epochs[e].duplicates += 1
                issue = ContinuityIssue(kind: .duplicate, epoch: epoch, seq: seq, wall: wall, key: key, previous: prev, got: firstID, missing: 0)
            }
        }
        // A duplicate does not move the sequence back; a reset restarts it.
        if issue?.kind != .duplicate {
            last[key] = lastID
            epochs[e].lastID = lastID
        }
        if let i = issue, issues.count < maxIssues { issues.append(i) }
        return issue
    }
}
