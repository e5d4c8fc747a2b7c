import Foundation
import Testing
@testable import WireTapeCLI

@Suite struct StatsCommandTests {
    @Test func csvRowsPerBucketWithState() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (out, err, code) = await CLIRun.inProcess(["stats", j, "--bucket", "10s", "--exact"])
        #expect(code == 0, "\(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.first == "start,start_ns,in,out,bytes,state,down_s,epochs")
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 6)  // 0-10, 10-20, ..., 50-60 s
        #expect(rows.map { $0[2] } == ["96", "0", "1", "0", "1", "0"])
        #expect(rows.map { $0[5] } == ["up", "down", "partial", "up", "partial", "up"])
        #expect(rows[1][6] == "10.0")
        #expect(rows[2][6] == "2.0")
        #expect(rows[4][6] == "7.5")
        #expect(rows[4][7] == "3")
        let blockSpread = await CLIRun.inProcess(["stats", j, "--bucket", "10s"]).0
        let total = blockSpread.split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[2])! }.reduce(0, +)
        #expect(total == 98)
    }

    @Test func jsonlAndBadWidth() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (out, _, code) = await CLIRun.inProcess(["stats", j, "--bucket", "1m", "--format", "jsonl"])
        #expect(code == 0)
        let rows = parseLines(out)
        #expect(rows.count == 1)
        #expect(rows[0]["in"] as? Int == 98)
        #expect(rows[0]["epochs"] as? [Int] == [1, 2, 3])
        let (_, err, bad) = await CLIRun.inProcess(["stats", j, "--bucket", "fortnight"])
        #expect(bad != 0)
        #expect(err.contains("--bucket"))
    }
}
