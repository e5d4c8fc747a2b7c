/// Escaping for text that ends up in the report page. Journal payloads, close reasons and
/// annotations are hostile input: nothing from a journal reaches the page unescaped.
public enum SafeText {
    /// Text escaped for HTML element content and attribute values: `& < > " '` become
    /// entities, `/` becomes `&#47;` and `=` `&#61;`, so that no URL-like text (`https://…`)
    /// or attribute-like text (`onerror=`) appears verbatim in the page source.
    public static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "/": out += "&#47;"
            case "=": out += "&#61;"
            default:
                if ch.value < 0x20 && ch != "\n" && ch != "\t" { out += "&#\(ch.value);" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }

    /// A JSON string literal (with quotes) safe inside `<script type="application/json">`:
    /// besides JSON's own escapes, `<`, `>`, `&`, `=`, `/`, U+2028 and U+2029 are written as
    /// `\u` escapes or `\/`, so the text can neither close the script element nor break a
    /// parser, and no URL or attribute-like text appears verbatim.
    public static func jsonString(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 8)
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/": out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "=": out += "\\u003d"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if ch.value < 0x20 || ch.value == 0x7F {
                    let h = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }
}

/// A small JSON writer for the report's embedded data (strings through ``SafeText/jsonString(_:)``).
struct JSONOut {
    private(set) var text = ""
    private var needComma: [Bool] = [false]

    private mutating func sep() {
        if needComma[needComma.count - 1] { text += "," }
        needComma[needComma.count - 1] = true
    }

    mutating func key(_ k: String) {
        sep()
        text += SafeText.jsonString(k) + ":"
        needComma[needComma.count - 1] = false
    }

    mutating func open(_ c: Character) {
        sep()
        text.append(c)
        needComma.append(false)
    }

    mutating func close(_ c: Character) {
        text.append(c)
        needComma.removeLast()
        needComma[needComma.count - 1] = true
    }

    mutating func object(_ body: (inout JSONOut) -> Void) { open("{"); body(&self); close("}") }
    mutating func array(_ body: (inout JSONOut) -> Void) { open("["); body(&self); close("]") }

    mutating func value(_ s: String?) { sep(); text += s.map(SafeText.jsonString) ?? "null" }
    mutating func value(_ v: Int64) { sep(); text += String(v) }
    mutating func value(_ v: UInt64) { sep(); text += String(v) }
    mutating func value(_ v: Int) { sep(); text += String(v) }
    mutating func value(_ v: Bool) { sep(); text += v ? "true" : "false" }
    mutating func value(_ v: Double) {
        sep()
        text += v.isFinite ? String(v) : "null"
    }

    mutating func field(_ k: String, _ s: String?) { key(k); value(s) }
    mutating func field(_ k: String, _ v: Int64) { key(k); value(v) }
    mutating func field(_ k: String, _ v: UInt64) { key(k); value(v) }
    mutating func field(_ k: String, _ v: Int) { key(k); value(v) }
    mutating func field(_ k: String, _ v: Bool) { key(k); value(v) }
    mutating func field(_ k: String, _ v: Double) { key(k); value(v) }
    mutating func field(_ k: String, _ v: UInt64?) { key(k); if let v { value(v) } else { sep(); text += "null" } }
}
