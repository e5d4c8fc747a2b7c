import Foundation
import Synchronization
import Testing
@testable import WireTapeReport

@Suite struct ControlSocketTests {
    @Test func requestsRoundTripAndBadLinesAreRefused() throws {
        let line = ControlProtocol.encode(.annotate(text: "a \"b\"\n<c>", wallNanos: 1_764_000_000_000_000_123))
        #expect(line.last == 10)
        #expect(try ControlProtocol.parse(Array(line.dropLast())).get() == .annotate(text: "a \"b\"\n<c>", wallNanos: 1_764_000_000_000_000_123))
        #expect(try ControlProtocol.parse(Array(#"{"op":"annotate","text":"x"}"#.utf8)).get() == .annotate(text: "x", wallNanos: nil))
        for bad in [#"not json"#, #"{"text":"x"}"#, #"{"op":"rotate"}"#, #"{"op":"annotate","text":""}"#, #"{"op":"annotate","text":"x","wall_ns":1.5}"#] {
            guard case .failure = ControlProtocol.parse(Array(bad.utf8)) else {
                Issue.record("accepted \(bad)")
                continue
            }
        }
        #expect(ControlProtocol.parseReply(Array(ControlProtocol.encode(.ok(seq: 42)).dropLast())) == .ok(seq: 42))
        #expect(ControlProtocol.parseReply(Array(ControlProtocol.encode(.error("no")).dropLast())) == .error("no"))
    }

    @Test func serverAnswersEachRequestAndCleansUp() throws {
        let dir = NSTemporaryDirectory() + "wt-ctl-" + String(UInt32.random(in: 0...UInt32.max))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seen = Mutex<[String]>([])
        let server = try ControlSocketServer(directory: dir) { request in
            guard case .annotate(let text, _) = request else { return .error("?") }
            if text == "refuse me" { return .error("the writer failed") }
            return .ok(seq: seen.withLock { $0.append(text); return UInt64($0.count) })
        }
        #expect(try ControlSocketClient.send(.annotate(text: "one", wallNanos: nil), directory: dir) == 1)
        #expect(try ControlSocketClient.send(.annotate(text: "two", wallNanos: 5), directory: dir) == 2)
        #expect(throws: ControlError.self) { try ControlSocketClient.send(.annotate(text: "refuse me", wallNanos: nil), directory: dir) }
        #expect(seen.withLock { $0 } == ["one", "two"])
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: dir + "/control.sock"))
        do {
            _ = try ControlSocketClient.send(.annotate(text: "late", wallNanos: nil), directory: dir)
            Issue.record("sent to a stopped server")
        } catch {
            #expect(error.code == .notListening)
        }
    }

    @Test func aStaleSocketFileIsReplaced() throws {
        let dir = NSTemporaryDirectory() + "wt-ctl-" + String(UInt32.random(in: 0...UInt32.max))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try ControlSocketServer(directory: dir) { _ in .ok(seq: 1) }
        // Simulate a crash: the file stays but nobody listens once the first server is gone.
        first.stop()
        #expect(FileManager.default.createFile(atPath: dir + "/control.sock", contents: Data()))
        let second = try ControlSocketServer(directory: dir) { _ in .ok(seq: 7) }
        defer { second.stop() }
        #expect(try ControlSocketClient.send(.annotate(text: "x", wallNanos: nil), directory: dir) == 7)
    }
}
