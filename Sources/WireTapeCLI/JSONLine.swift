/// Builds one JSON object on one line, fast and without Foundation, for the project's
/// JSON-lines output (`tap`, `cat --format jsonl`, `info --json`, ...).
///
/// Keys are written in the order they are added. Strings are escaped per RFC 8259
/// (control characters as `\u00XX`); non-ASCII UTF-8 is written as is.
///
/// ```swift
/// var line = JSONLine()
/// line.add("type", "frame")
/// line.add("seq", 42)
/// print(line.finish())   // {"type":"frame","seq":42}
/// ```
public struct JSONLine: Sendable {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    /// Starts an empty object.
    public init() {}

    private mutating func key(_ k: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        JSONLine.appendString(k, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    /// Adds a string member.
    public mutating func add(_ k: String, _ v: String) {
        key(k)
        JSONLine.appendString(v, to: &bytes)
    }
    /// Adds a signed integer member.
    public mutating func add(_ k: String, _ v: Int64) {
        key(k)
        bytes.append(contentsOf: String(v).utf8)
    }
    /// Adds an unsigned integer member.
    public mutating func add(_ k: String, _ v: UInt64) {
        key(k)
        bytes.append(contentsOf: String(v).utf8)
    }
    /// Adds an integer member.
    public mutating func add(_ k: String, _ v: Int) { add(k, Int64(v)) }
    /// Adds a floating-point member (finite values only; others become `null`).
    public mutating func add(_ k: String, _ v: Double) {
        key(k)
        bytes.append(contentsOf: (v.isFinite ? String(v) : "null").utf8)
    }
    /// Adds a boolean member.
    public mutating func add(_ k: String, _ v: Bool) {
        key(k)
        bytes.append(contentsOf: (v ? "true" : "false").utf8)
    }
    /// Adds a member whose value is already-encoded JSON (an object or array built elsewhere).
    public mutating func addRaw(_ k: String, json: String) {
        key(k)
        bytes.append(contentsOf: json.utf8)
    }
    /// Adds a member only when `v` is not nil.
    public mutating func addIfPresent(_ k: String, _ v: String?) { if let v { add(k, v) } }

    /// The finished object, without a trailing newline.
    public func finish() -> String {
        var b = bytes
        b.append(UInt8(ascii: "}"))
        return String(decoding: b, as: UTF8.self)
    }

    /// Appends `s` as a quoted, escaped JSON string.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Base64 (RFC 4648, with padding), for binary payloads in `data_b64`.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encodes bytes.
    public static func encode(_ data: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= data.count {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = data.count - i
        if rest > 0 {
            let n = UInt32(data[i]) << 16 | (rest == 2 ? UInt32(data[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 text; returns `nil` when it is not valid base64.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        values.reserveCapacity(text.utf8.count)
        var padding = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - 65
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - 97 + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - 48 + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            if padding > 0 { return nil }
            values.append(v)
        }
        guard (values.count + padding) % 4 == 0, padding <= 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var i = 0
        while i < values.count {
            let chunk = values[i..<Swift.min(i + 4, values.count)]
            var n: UInt32 = 0
            for (j, v) in chunk.enumerated() { n |= UInt32(v) << (18 - 6 * UInt32(j)) }
            out.append(UInt8(n >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}
