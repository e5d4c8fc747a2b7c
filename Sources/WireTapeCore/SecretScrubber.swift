/// Removes credentials from bytes that are about to be written or shown: every known secret
/// *value* wherever it appears, and the values of named JSON fields.
///
/// ``Redaction`` hides secrets by *name* (a header, a query parameter). A value can also travel
/// where no name marks it — a login frame `{"op":"auth","args":["KEY","SIGNATURE"]}`, an error
/// message echoing the request URL — so the recorder registers every credential value the
/// process knows (the `AuthSource`'s headers, cookies and query values, secret header and query
/// values of the request) and the scrubber replaces each occurrence with
/// ``Redaction/placeholder``. Field masking (`--redact-field sign`) replaces the value of a JSON
/// member with that name, in any frame, whatever the value is.
///
/// Values shorter than ``minimumValueLength`` bytes are not scrubbed by value (they would match
/// everywhere); they are still hidden by name. Matching is exact and byte-wise; a value is also
/// registered in its percent-decoded form when that differs.
///
/// ```swift
/// var s = SecretScrubber(fields: ["sign"])
/// s.add(value: "k3y-abc123")
/// s.scrub(Array(#"{"key":"k3y-abc123","sign":"ff00"}"#.utf8))
/// // {"key":"<redacted>","sign":"<redacted>"}
/// ```
public struct SecretScrubber: Sendable, Hashable {
    /// The shortest value scrubbed by value.
    public static let minimumValueLength = 4

    /// The secret values, longest first (so a value containing another is replaced whole).
    public private(set) var values: [[UInt8]] = []
    /// The JSON member names whose values are masked.
    public private(set) var fields: [[UInt8]] = []
    private static let replacement = Array(Redaction.placeholder.utf8)
    private static let quotedReplacement = Array("\"\(Redaction.placeholder)\"".utf8)

    /// Creates a scrubber masking the JSON members named `fields`.
    public init(fields: [String] = []) {
        self.fields = fields.filter { !$0.isEmpty }.map { Array("\"\($0)\"".utf8) }
    }

    /// Whether the scrubber would never change anything.
    public var isEmpty: Bool { values.isEmpty && fields.isEmpty }

    /// Registers a secret value (and its percent-decoded form). Returns whether it was new.
    @discardableResult
    public mutating func add(value: String) -> Bool {
        var added = false
        for v in Set([value, Self.percentDecoded(value)]) {
            let bytes = Array(v.utf8)
            guard bytes.count >= Self.minimumValueLength, !values.contains(bytes) else { continue }
            values.append(bytes)
            added = true
        }
        if added { values.sort { $0.count > $1.count } }
        return added
    }

    /// Registers the values of credentials: every header value, cookie value and query value.
    public mutating func add(_ credentials: Credentials) {
        for h in credentials.headers { add(value: h.value) }
        for c in credentials.cookies { add(value: c.value) }
        for q in credentials.query { add(value: q.value) }
    }

    /// `bytes` with every secret value and masked field replaced, or `nil` when nothing matched
    /// (the common case costs a scan and no allocation).
    public func scrub(_ bytes: [UInt8]) -> [UInt8]? {
        guard !isEmpty, !bytes.isEmpty else { return nil }
        var current: [UInt8]? = nil
        for v in values {
            if let r = Self.replaceAll(v, in: current ?? bytes) { current = r }
        }
        for f in fields {
            if let r = Self.maskField(f, in: current ?? bytes) { current = r }
        }
        return current
    }

    /// `text` with every secret value and masked field replaced.
    public func scrub(_ text: String) -> String {
        guard let r = scrub(Array(text.utf8)) else { return text }
        return String(decoding: r, as: UTF8.self)
    }

    // MARK: Matching

    private static func indexOf(_ needle: [UInt8], in hay: [UInt8], from start: Int) -> Int? {
        let n = needle.count
        guard n > 0, hay.count - start >= n else { return nil }
        let first = needle[0]
        var i = start
        let last = hay.count - n
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < n && hay[i + j] == needle[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    private static func replaceAll(_ needle: [UInt8], in hay: [UInt8]) -> [UInt8]? {
        guard var at = indexOf(needle, in: hay, from: 0) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        var copied = 0
        while true {
            out.append(contentsOf: hay[copied..<at])
            out.append(contentsOf: replacement)
            copied = at + needle.count
            guard let next = indexOf(needle, in: hay, from: copied) else { break }
            at = next
        }
        out.append(contentsOf: hay[copied...])
        return out
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// The end (exclusive) of the JSON value starting at `i`, or `nil` if it is not one.
    private static func valueEnd(_ hay: [UInt8], _ i: Int) -> Int? {
        guard i < hay.count else { return nil }
        switch hay[i] {
        case UInt8(ascii: "\""):
            var j = i + 1
            while j < hay.count {
                if hay[j] == UInt8(ascii: "\\") { j += 2; continue }
                if hay[j] == UInt8(ascii: "\"") { return j + 1 }
                j += 1
            }
            return nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var j = i
            while j < hay.count {
                let b = hay[j]
                if b == UInt8(ascii: "\"") {
                    guard let e = valueEnd(hay, j) else { return nil }
                    j = e
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1 }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return j + 1 }
                }
                j += 1
            }
            return nil
        default:
            var j = i
            while j < hay.count, hay[j] != UInt8(ascii: ","), hay[j] != UInt8(ascii: "}"), hay[j] != UInt8(ascii: "]"),
                !isSpace(hay[j])
            {
                j += 1
            }
            return j > i ? j : nil
        }
    }

    /// Replaces the value of every member `"name": value` with `"<redacted>"`.
    private static func maskField(_ quotedName: [UInt8], in hay: [UInt8]) -> [UInt8]? {
        var out: [UInt8]? = nil
        var copied = 0
        var from = 0
        while let at = indexOf(quotedName, in: hay, from: from) {
            from = at + quotedName.count
            var j = from
            while j < hay.count, isSpace(hay[j]) { j += 1 }
            guard j < hay.count, hay[j] == UInt8(ascii: ":") else { continue }
            j += 1
            while j < hay.count, isSpace(hay[j]) { j += 1 }
            guard let end = valueEnd(hay, j) else { continue }
            if out == nil {
                out = []
                out!.reserveCapacity(hay.count)
            }
            out!.append(contentsOf: hay[copied..<j])
            out!.append(contentsOf: quotedReplacement)
            copied = end
            from = end
        }
        guard var result = out else { return nil }
        result.append(contentsOf: hay[copied...])
        return result
    }

    static func percentDecoded(_ s: String) -> String {
        let bytes = Array(s.utf8)
        guard bytes.contains(UInt8(ascii: "%")) || bytes.contains(UInt8(ascii: "+")) else { return s }
        var out: [UInt8] = []
        var i = 0
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(bytes[i] == UInt8(ascii: "+") ? 0x20 : bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What to hide beyond ``Redaction``'s built-in rules: header and query names the user adds,
/// and JSON fields to mask in frames.
public struct RedactionRules: Sendable, Hashable {
    /// Extra secret header or query parameter names, lowercased.
    public var extraNames: Set<String>
    /// JSON member names whose values are masked in frames (both directions).
    public var fields: [String]

    /// Creates rules.
    public init(extraNames: [String] = [], fields: [String] = []) {
        self.extraNames = Set(extraNames.map { $0.lowercased() })
        self.fields = fields
    }

    /// Whether a header or query parameter with this name is secret.
    public func isSecret(name: String) -> Bool { Redaction.isSecret(name: name, extraNames: extraNames) }

    /// Headers with secret values replaced.
    public func redact(_ headers: [HTTPHeaderField]) -> [HTTPHeaderField] {
        headers.map { HTTPHeaderField($0.name, isSecret(name: $0.name) ? Redaction.placeholder : $0.value) }
    }

    /// A URL with user info and secret query values replaced.
    public func redact(url: String) -> String { Redaction.redact(url: url, extraNames: extraNames) }

    /// The secret values a request carries in plain sight: secret header values, secret query
    /// values and URL user info. Register them with a ``SecretScrubber``.
    public func secretValues(url: String, headers: [HTTPHeaderField]) -> [String] {
        var out: [String] = []
        for h in headers where isSecret(name: h.name) {
            out.append(h.value)
            // `Bearer <token>`, `Basic <b64>`: the credential alone, wherever it travels.
            let parts = h.value.split(separator: " ")
            if parts.count > 1 { out += parts.dropFirst().map(String.init) }
        }
        if let schemeEnd = url.firstRange(of: "://") {
            let authority = url[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                out.append(String(userInfo))
                for part in userInfo.split(separator: ":") { out.append(String(part)) }
            }
        }
        if let q = url.firstIndex(of: "?") {
            let query = url[url.index(after: q)...].prefix { $0 != "#" }
            for pair in query.split(separator: "&") {
                guard let eq = pair.firstIndex(of: "=") else { continue }
                if isSecret(name: String(pair[..<eq])) { out.append(String(pair[pair.index(after: eq)...])) }
            }
        }
        return out
    }

    /// A scrubber with these rules' fields and the secret values of `url` and `headers`.
    public func scrubber(url: String, headers: [HTTPHeaderField]) -> SecretScrubber {
        var s = SecretScrubber(fields: fields)
        for v in secretValues(url: url, headers: headers) { s.add(value: v) }
        return s
    }
}
