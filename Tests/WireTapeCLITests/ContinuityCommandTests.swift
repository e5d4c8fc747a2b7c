import Foundation
import Testing
@testable import WireTapeCLI

@Suite struct ContinuityCommandTests {
    func journal(_ dir: String, ids: [[Int]]) async throws -> String {
        var lines: [String] = []
        var seq = 0, t: Int64 = 1_764_000_000_000_000_000
        for (e, list) in ids.enumerated() {
            seq += 1; t += 1_000_000
            lines.append("{\"type\":\"lifecycle\",\"seq\":\(seq),\"epoch\":\(e + 1),\"wall_ns\":\(t),\"mono_ns\":\(seq),\"state\":\"connected\"}")
            for id in list {
                seq += 1; t += 1_000_000
                let data = "{\\\"stream\\\":\\\"btcusdt@depth\\\",\\\"data\\\":{\\\"U\\\":\(id),\\\"u\\\":\(id + 1)}}"
                lines.append("{\"type\":\"frame\",\"seq\":\(seq),\"epoch\":\(e + 1),\"wall_ns\":\(t),\"mono_ns\":\(seq),\"dir\":\"in\",\"opcode\":\"text\",\"data\":\"\(data)\"}")
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let (_, err, code) = await CLIRun.inProcess(["import", dir + "/j", dir + "/in.jsonl"])
        #expect(code == 0, "\(err)")
        return dir + "/j"
    }

    @Test func gapsPerEpochAndExitStatus() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        // Epoch 1: 1-2, 3-4, 7-8 (gap: 5, 6 missing). Epoch 2 restarts at 100: no issue.
        let j = try await journal(dir, ids: [[1, 3, 7], [100, 102]])
        let args = ["continuity", j, "--seq-field", "data.u", "--first-field", "data.U", "--where", "stream=btcusdt@depth"]
        let (out, err, code) = await CLIRun.inProcess(args)
        #expect(code == 0, "\(err)")
        #expect(out.contains("gap: 4 then 7, 2 missing"))
        #expect(out.contains("NOT continuous: 1 issue(s) in 5 message(s)"))
        let (_, _, strict) = await CLIRun.inProcess(args + ["--fail-on-issues"])
        #expect(strict == 1)
        let (json, _, _) = await CLIRun.inProcess(args + ["--json"])
        let rows = parseLines(json)
        #expect(rows.map { $0["type"] as! String } == ["epoch", "epoch", "gap"])
        #expect(rows[0]["gaps"] as? Int == 1 && rows[1]["gaps"] as? Int == 0)
    }

    @Test func cleanJournalAndMissingField() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await journal(dir, ids: [[1, 3, 5]])
        let (out, _, code) = await CLIRun.inProcess(["continuity", j, "--seq-field", "data.u", "--first-field", "data.U", "--fail-on-issues"])
        #expect(code == 0)
        #expect(out.contains("continuous: 3 message(s) in 1 epoch(s)"))
        let (_, err, bad) = await CLIRun.inProcess(["continuity", j])
        #expect(bad != 0 && err.contains("--seq-field"))
    }
}
