import Foundation
import Testing
import WireTapeCLI

@Suite struct JournalOutputTests {
    /// `wiretape cat BIG | head -1`: when the reader goes away, the command ends (status 141,
    /// as SIGPIPE would) instead of writing into a closed pipe forever.
    @Test func aClosedPipeEndsTheCommand() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wiretape-pipe-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lines = (0..<20_000).map { #"{"type":"frame","wall_ns":\#($0),"data":"frame \#($0) with some padding to make it longer"}"# }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        #expect(try CLIRun.wiretape(["import", dir + "/j", dir + "/in.jsonl"]).status == 0)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: try CLIRun.binaryPath())
        p.arguments = ["cat", dir + "/j"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let first = out.fileHandleForReading.readData(ofLength: 100)
        #expect(!first.isEmpty)
        try out.fileHandleForReading.close()
        p.waitUntilExit()
        // Killed by SIGPIPE (when the parent left it at its default) or exit 141 (when it is
        // ignored, as the Swift runtime does under a shell): either way the command ended.
        let bySignal = p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGPIPE
        let byExit = p.terminationReason == .exit && p.terminationStatus == 141
        #expect(bySignal || byExit, "status \(p.terminationStatus), reason \(p.terminationReason.rawValue)")
    }
}
