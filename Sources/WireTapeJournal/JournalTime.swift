/// RFC 3339 formatting and parsing of UTC nanosecond timestamps, without Foundation.
public enum JournalTime {
    /// Formats nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds:
    /// `2026-11-29T10:40:00.123456789Z`.
    public static func format(_ ns: Int64) -> String {
        // Floor division without overflow, for every Int64 (1677-09-21 .. 2262-04-11).
        var secs = ns / 1_000_000_000
        var frac = ns % 1_000_000_000
        if frac < 0 { secs -= 1; frac += 1_000_000_000 }
        var days = secs / 86400
        var sod = secs % 86400
        if sod < 0 { days -= 1; sod += 86400 }
        let (y, m, d) = civil(fromDays: days)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(sod / 3600, 2)):\(pad(sod % 3600 / 60, 2)):\(pad(sod % 60, 2)).\(pad(frac, 9))Z"
    }

    /// Parses a time given as Unix nanoseconds (`1700000000000000000`) or RFC 3339
    /// (`2026-11-29T10:40:00Z`, `2026-11-29T10:40:00.5+01:00`, `2026-11-29 10:40:00Z`).
    /// Returns nil when it is neither.
    public static func parse(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        if !s.isEmpty, s.allSatisfy({ $0 >= 48 && $0 <= 57 }) || (s[0] == UInt8(ascii: "-") && s.count > 1 && s.dropFirst().allSatisfy({ $0 >= 48 && $0 <= 57 })) {
            return Int64(text)
        }
        var i = 0
        func num(_ n: Int) -> Int64? {
            guard i + n <= s.count else { return nil }
            var v: Int64 = 0
            for k in i..<i + n {
                guard s[k] >= 48 && s[k] <= 57 else { return nil }
                v = v * 10 + Int64(s[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: Character) -> Bool {
            guard i < s.count, s[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard let y = num(4), expect("-"), let mo = num(2), expect("-"), let d = num(2) else { return nil }
        guard i < s.count, s[i] == UInt8(ascii: "T") || s[i] == UInt8(ascii: "t") || s[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let h = num(2), expect(":"), let mi = num(2), expect(":"), let sec = num(2) else { return nil }
        guard (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61 else { return nil }
        var frac: Int64 = 0
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < s.count, s[i] >= 48 && s[i] <= 57 {
                if digits < 9 { frac = frac * 10 + Int64(s[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { frac *= 10 }
        }
        var offset: Int64 = 0
        guard i < s.count else { return nil }
        if s[i] == UInt8(ascii: "Z") || s[i] == UInt8(ascii: "z") {
            i += 1
        } else if s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            let sign: Int64 = s[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = num(2), expect(":"), let om = num(2) else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else { return nil }
        guard i == s.count else { return nil }
        let days = days(fromCivil: y, mo, d)
        let secs = days * 86400 + h * 3600 + mi * 60 + sec - offset
        let (r, o) = secs.multipliedReportingOverflow(by: 1_000_000_000)
        guard !o else { return nil }
        let (t, o2) = r.addingReportingOverflow(frac)
        return o2 ? nil : t
    }

    // Howard Hinnant's civil calendar algorithms.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
