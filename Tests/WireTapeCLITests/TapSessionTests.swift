import Testing
@testable import WireTapeCLI
import WireTapeCore
import WireTapeMock

/// `tap` without --reconnect: a `--send` message that cannot be sent is a warning on stderr,
/// is not printed as sent, and makes the tap fail — it was silent before (`try?`).
struct TapSessionTests {
    /// The mock's connector, with the peer closing (1000) before `connect` returns: every
    /// `--send` then fails, deterministically, and the close itself is clean.
    struct ClosedBeforeSend: WSConnector {
        let mock: MockConnector
        func connect(_ request: ConnectRequest) async throws -> WSConnection {
            let connection = try await mock.connect(request)
            mock.peers.last!.close(.normalClosure, reason: "bye")
            return connection
        }
    }

    @Test func aSendThatFailsIsAWarningAndTheTapFails() async throws {
        let mock = MockConnector(clock: ManualClock(), attempts: [.accept([])])
        let capture = JournalOutput.capture()
        let outcome = try await JournalOutput.$current.withValue(capture) {
            let out = StandardOutput()
            let outcome = try await TapSession(
                request: ConnectRequest(url: try WSURL("ws://mock/")), messages: ["sub-a", "sub-b"], count: nil, duration: nil
            ).run(connector: ClosedBeforeSend(mock: mock), out: out)
            out.flush()
            return outcome
        }
        #expect(outcome.failure == "2 of 2 --send message(s) could not be sent")
        #expect(capture.stderr.contains("could not send 'sub-a'") && capture.stderr.contains("could not send 'sub-b'"))
        #expect(!capture.stdout.contains(#""dir":"out""#), "a message that was not sent was printed as sent")
        #expect(mock.peers.last?.received.isEmpty == true)
    }
}
