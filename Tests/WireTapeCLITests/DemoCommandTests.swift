import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

struct DemoCommandTests {
    @Test func demoRecordsTheStagedOutagesAndShowsThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wiretape-demo-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = dir.appendingPathComponent("journal").path
        let run = try CLIRun.wiretape(["demo", "--journal", journal])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("recorded 700 frames in 3 epochs"))
        #expect(run.stdout.contains("close 1011"), "the overload close is among the gaps")
        #expect(run.stdout.contains("connectionLost"), "the dropped connection is among the gaps")
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0, "the demo's journal verifies: \(verify.stdout) \(verify.stderr)")
    }
}
