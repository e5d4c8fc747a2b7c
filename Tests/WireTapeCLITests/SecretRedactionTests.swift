import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

/// Redaction by value, end to end through the binary: a credential given in the URL (user
/// info, a secret query parameter) or in a header never appears on stdout, stderr or in the
/// journal, whatever message carries it — a validation error, a server's 401 page that echoes
/// the request, a close reason, the recorder's status, a replay of the recording.
@Suite(.serialized)
struct SecretRedactionTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    static let queryToken = "SEKRET-Q-4711"
    static let headerToken = "T0KEN-HDR-0815"
    static let password = "hunter2-pw"
    static let secrets = [queryToken, headerToken, password]

    /// Fails for every secret that appears in `text`.
    func expectClean(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for s in Self.secrets {
            #expect(!text.contains(s), "\(what) shows \(s): \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func anInvalidURLIsReportedWithoutItsCredentials() throws {
        let run = try CLIRun.wiretape(
            ["tap", "http://alice:\(Self.password)@127.0.0.1/feed?api_key=\(Self.queryToken)"], timeout: .seconds(30))
        #expect(run.status == 64)
        #expect(run.stderr.contains("ws://"), "the error should still say what is wrong: \(run.stderr)")
        expectClean(run.stderr + run.stdout, "tap with an invalid URL")
    }

    @Test func aMalformedHeaderIsReportedWithoutItsValue() throws {
        for header in ["Authorization Bearer \(Self.headerToken)", "Bad Name: \(Self.headerToken)"] {
            let run = try CLIRun.wiretape(["tap", peer.url("/echo"), "--header", header], timeout: .seconds(30))
            #expect(run.status == 64 && run.stderr.contains("--header"), "\(run.stderr)")
            expectClean(run.stderr + run.stdout, "tap --header '\(header)'")
        }
    }

    @Test func aRefusalThatEchoesTheRequestIsScrubbedInTapOutput() throws {
        let url = peer.url("/status/401?echo=1&token=\(Self.queryToken)")
        let run = try CLIRun.wiretape(["tap", url, "--header", "Authorization: Bearer \(Self.headerToken)"], timeout: .seconds(30))
        #expect(run.status == 1)
        #expect(run.stderr.contains("401") && run.stderr.contains("<redacted>"), "the echo is shown, scrubbed: \(run.stderr)")
        expectClean(run.stderr + run.stdout, "tap refused with an echo")
    }

    @Test func aCloseReasonCarryingTheTokenIsScrubbed() throws {
        let url = peer.url("/close?code=4001&reason=bad%20key%20\(Self.headerToken)")
        let run = try CLIRun.wiretape(["tap", url, "--header", "X-Api-Key: \(Self.headerToken)"], timeout: .seconds(30))
        #expect(run.status == 1 && run.stderr.contains("4001"), "\(run.stderr)")
        expectClean(run.stderr + run.stdout, "tap closed with the token in the reason")
    }

    @Test func recordAndReplayOfARefusalKeepNoCredential() throws {
        let dir = NSTemporaryDirectory() + "wiretape-secret-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = peer.url("/status/401?echo=1&token=\(Self.queryToken)")
        let record = try CLIRun.wiretape(
            ["record", url, "--journal", dir, "--header", "Authorization: Bearer \(Self.headerToken)"], timeout: .seconds(30))
        #expect(record.status == 1 && record.stderr.contains("401"), "\(record.stderr)")
        expectClean(record.stderr + record.stdout, "record refused with an echo")

        let cat = try CLIRun.wiretape(["cat", dir])
        #expect(cat.status == 0 && cat.stdout.contains("401"), "the refusal is recorded: \(cat.stdout)")
        expectClean(cat.stdout + cat.stderr, "the journal")
        let bytes = try FileManager.default.contentsOfDirectory(atPath: dir).compactMap { FileManager.default.contents(atPath: dir + "/" + $0) }
        expectClean(bytes.map { String(decoding: $0, as: UTF8.self) }.joined(), "the journal's files")

        let replay = try CLIRun.wiretape(["replay", dir, "--speed", "max"], timeout: .seconds(30))
        expectClean(replay.stdout + replay.stderr, "replay of the recording")
    }
}
