import ArgumentParser

/// The one parser for numeric flags: every number of seconds and every count on the command
/// line goes through it, so `inf`, `nan`, `1e300`, `-1` and `99999999999999999999` are
/// validation errors that name the flag, never a trap in a later conversion.
///
/// Use the returned closures as an option's `transform:`; the argument parser then prints
/// `The value 'inf' is invalid for '--duration <duration>': …` and exits 64.
///
/// ```swift
/// @Option(help: "Stop after this many seconds.", transform: NumericOption.seconds(above: 0))
/// var duration: Double?
/// ```
enum NumericOption {
    /// The longest time any flag accepts: 10⁹ s (about 31 years). Its nanoseconds fit an
    /// `Int64`, so every later `Duration`, deadline or `UInt64(seconds * 1e9)` is safe.
    static let maxSeconds: Double = 1_000_000_000

    /// Parses a finite number of seconds in `minimum...maxSeconds` (`minimum` excluded when
    /// `inclusive` is false), or says what is wrong with it.
    static func parseSeconds(_ text: String, minimum: Double, inclusive: Bool) throws(ValidationError) -> Double {
        let bound = inclusive ? "at least \(format(minimum))" : "more than \(format(minimum))"
        let expected = "a number of seconds \(bound) and at most \(format(maxSeconds))"
        guard let value = Double(text.trimmingSpaces) else { throw ValidationError("not a number; expected \(expected)") }
        guard value.isFinite else { throw ValidationError("not a finite number; expected \(expected)") }
        guard inclusive ? value >= minimum : value > minimum, value <= maxSeconds else {
            throw ValidationError("out of range; expected \(expected)")
        }
        return value
    }

    /// A `transform:` for seconds strictly greater than `minimum` (0: a positive duration).
    static func seconds(above minimum: Double) -> @Sendable (String) throws -> Double {
        { text in try parseSeconds(text, minimum: minimum, inclusive: false) }
    }

    /// A `transform:` for seconds of at least `minimum`.
    static func seconds(atLeast minimum: Double) -> @Sendable (String) throws -> Double {
        { text in try parseSeconds(text, minimum: minimum, inclusive: true) }
    }

    /// A `transform:` for a whole number in `range`.
    static func integer(in range: ClosedRange<Int>) -> @Sendable (String) throws -> Int {
        { text in
            let expected = range.upperBound == Int.max
                ? "a whole number of at least \(range.lowerBound)" : "a whole number from \(range.lowerBound) to \(range.upperBound)"
            guard let value = Int(text.trimmingSpaces) else { throw ValidationError("not a whole number in range; expected \(expected)") }
            guard range.contains(value) else { throw ValidationError("out of range; expected \(expected)") }
            return value
        }
    }

    /// `1`, `0.5`, `1000000000`: a bound as people write it.
    private static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring {
        let s = drop { $0 == " " }
        return s.dropLast(s.reversed().prefix { $0 == " " }.count)
    }
}
