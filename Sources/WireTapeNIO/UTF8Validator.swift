/// An incremental UTF-8 validator (RFC 3629), fed one fragment at a time.
///
/// WebSocket text messages may be split across fragments at any byte, and RFC 6455 §8.1 asks
/// an endpoint to fail the connection as soon as the bytes can no longer be valid UTF-8
/// ("fail fast"). This validator keeps the state of a partial code point between fragments.
struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current code point.
    private var remaining = 0
    /// The allowed range of the next continuation byte (narrower right after E0, ED, F0, F4).
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    /// Whether the bytes so far end on a code point boundary.
    var isComplete: Bool { remaining == 0 }

    /// Feeds bytes; returns `false` as soon as they cannot be a prefix of valid UTF-8.
    mutating func feed<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        for b in bytes {
            if remaining == 0 {
                if b < 0x80 { continue }
                switch b {
                case 0xC2...0xDF: remaining = 1; low = 0x80; high = 0xBF
                case 0xE0: remaining = 2; low = 0xA0; high = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: remaining = 2; low = 0x80; high = 0xBF
                case 0xED: remaining = 2; low = 0x80; high = 0x9F
                case 0xF0: remaining = 3; low = 0x90; high = 0xBF
                case 0xF1...0xF3: remaining = 3; low = 0x80; high = 0xBF
                case 0xF4: remaining = 3; low = 0x80; high = 0x8F
                default: return false
                }
            } else {
                guard b >= low && b <= high else { return false }
                remaining -= 1
                low = 0x80
                high = 0xBF
            }
        }
        return true
    }

    /// Validates a complete buffer.
    static func isValid<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        var v = UTF8Validator()
        return v.feed(bytes) && v.isComplete
    }
}
