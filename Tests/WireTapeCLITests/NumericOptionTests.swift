import ArgumentParser
import Foundation
import Testing
@testable import WireTapeCLI

/// Every numeric flag goes through ``NumericOption``: numbers at their limits are usage errors
/// (exit 64, the flag named), never a trap (SIGILL) in a later conversion.
struct NumericOptionTests {
    @Test(arguments: ["inf", "-inf", "nan", "1e300", "-1", "0", "", "abc", "1000000001"])
    func badSecondsAreValidationErrors(_ text: String) {
        #expect(throws: ValidationError.self) { try NumericOption.seconds(above: 0)(text) }
    }

    @Test func secondsAtTheirLimitsParse() throws {
        #expect(try NumericOption.seconds(above: 0)("0.001") == 0.001)
        #expect(try NumericOption.seconds(above: 0)(" 1000000000 ") == 1_000_000_000)
        #expect(try NumericOption.seconds(atLeast: 0)("0") == 0)
        #expect(throws: ValidationError.self) { try NumericOption.seconds(atLeast: 1)("0.5") }
        // The largest accepted value converts to nanoseconds and a Duration without a trap.
        let max = try NumericOption.seconds(above: 0)("1e9")
        #expect(UInt64(max * 1e9) == 1_000_000_000_000_000_000)
    }

    @Test func integersOutsideTheirRangeAreValidationErrors() throws {
        let count = NumericOption.integer(in: 1...Int.max)
        #expect(try count("9223372036854775807") == Int.max)
        for bad in ["0", "-5", "9223372036854775808", "1.5", "1e3", "x"] {
            #expect(throws: ValidationError.self, "\(bad)") { try count(bad) }
        }
        #expect(throws: ValidationError.self) { try NumericOption.integer(in: 10...100)("101") }
    }

    /// The binary, as a user runs it: each flag at its limit is a one-line usage error naming
    /// the flag, status 64, no signal. No server is needed: parsing fails before connecting.
    @Test func theBinaryRejectsNumbersAtTheirLimitsWithoutATrap() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wt-numeric-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = "ws://127.0.0.1:9/"
        let cases: [(flag: String, args: [String])] = [
            ("--duration", ["tap", url, "--duration", "inf"]),
            ("--duration", ["tap", url, "--duration", "nan"]),
            ("--duration", ["record", url, "--journal", dir, "--duration", "1e300"]),
            ("--count", ["tap", url, "--count", "99999999999999999999"]),
            ("--count", ["record", url, "--journal", dir, "--count", "-1"]),
            ("--idle-timeout", ["tap", url, "--idle-timeout", "1e300"]),
            ("--pong-timeout", ["record", url, "--journal", dir, "--pong-timeout", "-0"]),
            ("--max-message-size", ["tap", url, "--max-message-size", "-1"]),
            ("--segment-age", ["record", url, "--journal", dir, "--segment-age", "1e300"]),
            ("--durability", ["record", url, "--journal", dir, "--durability", "inf"]),
            ("--idle-timeout", ["replay", dir, "--idle-timeout", "nan"]),
            ("--min-duration", ["gaps", dir, "--min-duration", "inf"]),
            ("--max-issues", ["continuity", dir, "--seq-field", "u", "--max-issues", "-1"]),
            ("--buckets", ["report", dir, "--buckets", "9223372036854775807"]),
        ]
        for c in cases {
            let run = try CLIRun.wiretape(c.args, timeout: .seconds(30))
            #expect(run.status == 64, "\(c.args): status \(run.status) \(run.stderr)")
            #expect(run.stderr.contains(c.flag), "\(c.args): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir), "a rejected command created the journal")
    }
}
