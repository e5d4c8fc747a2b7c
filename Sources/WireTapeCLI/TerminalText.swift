/// Text from the outside world (close reasons, payloads, URLs, server messages) made safe for
/// a terminal: control characters — C0 (but for tab), DEL and C1, which is where escape
/// sequences live — are written as visible `\u{…}` escapes, so a hostile payload cannot move
/// the cursor, retitle the window or hide lines. Everything else, non-ASCII included, stays.
///
/// Used by every human-readable output (`cat --format pretty`, `info`, `gaps`, warnings and
/// errors). JSON output escapes control characters by itself.
enum TerminalText {
    static func safe(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 16)
        for u in s.unicodeScalars {
            if isControl(u) {
                out += "\\u{" + String(u.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A C0 control other than tab, DEL, or a C1 control.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        (u.value < 0x20 && u.value != 0x09) || (0x7F...0x9F).contains(u.value)
    }
}
