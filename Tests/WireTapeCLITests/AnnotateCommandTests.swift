import Foundation
import Synchronization
import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeReport
@testable import WireTapeCLI

/// A journal writer shared between the test (the "recorder") and the control-socket thread.
final class SharedWriter: Sendable {
    let writer: Mutex<JournalWriter>
    init(_ w: sending JournalWriter) { writer = Mutex(w) }
}

@Suite struct AnnotateCommandTests {
    @Test func appendsDirectlyWhenNoWriterHoldsTheJournal() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (_, err, code) = await CLIRun.inProcess(["annotate", j, "--at", "2025-11-24T16:01:00Z", "deploy <4.2.1>"])
        #expect(code == 0, "\(err)")
        let (out, _, _) = await CLIRun.inProcess(["cat", j, "--kind", "annotation"])
        let notes = parseLines(out)
        #expect(notes.map { $0["text"] as! String } == ["deploy 4.2.1", "venue maintenance", "deploy <4.2.1>"])
        #expect(notes.last?["epoch"] as? Int == 3)
        #expect(notes.last?["wall_ns"] as? Int == 1_764_000_060_000_000_000)
    }

    @Test func refusesATimeBeforeTheLastRecord() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let (_, err, code) = await CLIRun.inProcess(["annotate", j, "--at", "1764000001000000000", "late"])
        #expect(code != 0)
        #expect(err.contains("before the journal's last record"))
    }

    @Test func aHeldJournalWithoutControlSocketNamesTheHolder() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let w = try JournalWriter(directory: j)
        defer { try? w.close() }
        let (_, err, code) = await CLIRun.inProcess(["annotate", j, "note"])
        #expect(code != 0)
        #expect(err.contains("pid \(getpid())"))
        #expect(err.contains("control.sock"))
    }

    @Test func aLiveRecorderTakesTheNoteInOrder() async throws {
        let dir = tempDir(); defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try await importOutageJournal(dir)
        let shared = SharedWriter(try JournalWriter(directory: j))
        let t0: Int64 = 1_764_000_100_000_000_000
        func frame(_ text: String, _ k: Int64) throws {
            try shared.writer.withLock { w in
                _ = try w.append(.frame(direction: .inbound, opcode: .text, payload: Array(text.utf8)), epoch: 3,
                    at: ReceiveTimestamp(wallNanos: t0 + k, monotonicNanos: UInt64(100_000_000_000 + k)))
            }
        }
        // The recorder's side: a note gets the recorder's epoch and the next sequence number.
        let server = try ControlSocketServer(directory: j) { request in
            switch request {
            case .annotate(let text, let wall):
                let result = shared.writer.withLock { w in
                    Result { () throws(JournalError) in
                        try w.append(.annotation(text), epoch: 3,
                            at: ReceiveTimestamp(wallNanos: wall ?? t0 + 5, monotonicNanos: 100_000_000_005))
                    }
                }
                switch result {
                case .success(let seq): return .ok(seq: seq)
                case .failure(let e): return .error(e.message)
                }
            }
        }
        try frame("before", 1)
        let (_, err, code) = await CLIRun.inProcess(["annotate", j, "--at", String(t0 + 5), "live note"])
        #expect(code == 0, "\(err)")
        #expect(err.contains("through the recorder"))
        try frame("after", 9)
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: j + "/control.sock"))
        try shared.writer.withLock { try $0.close() }
        let (out, _, _) = await CLIRun.inProcess(["cat", j, "--from", String(t0)])
        let tail = parseLines(out)
        #expect(tail.map { ($0["data"] as? String) ?? ($0["text"] as? String) ?? "" } == ["before", "live note", "after"])
        #expect(tail.map { $0["seq"] as! Int } == tail.map { $0["seq"] as! Int }.sorted())
    }
}
