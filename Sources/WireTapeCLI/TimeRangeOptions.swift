import ArgumentParser
import WireTapeJournal

/// `--from` and `--to`: a wall-clock range, each bound RFC 3339 or Unix nanoseconds.
struct TimeRangeOptions: ParsableArguments {
    @Option(help: "Only records at or after this time (RFC 3339 or Unix ns).")
    var from: String?

    @Option(help: "Only records at or before this time (RFC 3339 or Unix ns).")
    var to: String?

    func validate() throws {
        let a = try from.map { try Self.parse($0, "--from") }
        let b = try to.map { try Self.parse($0, "--to") }
        if let a, let b, a > b {
            throw ValidationError("--from \(from!) is after --to \(to!): the range is empty")
        }
    }

    /// The lower bound in Unix nanoseconds (valid after `validate()`).
    var fromWall: Int64? { from.flatMap(JournalTime.parse) }
    /// The upper bound in Unix nanoseconds (valid after `validate()`).
    var toWall: Int64? { to.flatMap(JournalTime.parse) }

    static func parse(_ s: String, _ name: String) throws -> Int64 {
        guard let v = JournalTime.parse(s) else {
            throw ValidationError("\(name) \"\(s)\" is neither RFC 3339 (2026-11-29T10:40:00Z) nor Unix nanoseconds")
        }
        return v
    }
}
