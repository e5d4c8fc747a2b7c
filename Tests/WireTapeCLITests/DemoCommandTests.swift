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
        // The recorded and replayed edges side by side, row for row from the session's first edge.
        let rows = run.stdout.split(separator: "\n").drop { !$0.contains("recorded") || !$0.contains("replayed") }.dropFirst()
        let first = rows.first.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
        #expect(first == ["connecting@0", "connecting@0"], "\(rows.prefix(3))")
        let outage = rows.first { $0.contains("reconnecting@1") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
        #expect(outage.filter { $0 == "reconnecting@1" }.count == 2, "the 1011 outage is on the same row in both columns: \(rows)")
        let verify = try CLIRun.wiretape(["verify", journal])
        #expect(verify.status == 0, "the demo's journal verifies: \(verify.stdout) \(verify.stderr)")
    }
}
