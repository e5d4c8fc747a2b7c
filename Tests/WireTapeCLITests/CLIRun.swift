import ArgumentParser
import Foundation
import Testing
@testable import WireTapeCLI
import WireTapeTestSupport

/// The one way tests run the CLI: ``wiretape(_:)`` runs the built binary as a separate process
/// (exit status, signals, pipes as a user meets them); ``inProcess(_:)`` parses and runs the
/// command tree in this process with captured output (fast, for the many journal-command cases).
struct CLIRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// The built `wiretape` binary.
    static func binaryPath() throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("wiretape")
        let candidates = [binary.path, repositoryRoot.appendingPathComponent(".build/debug/wiretape").path]
        guard let path = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw PeerStartError(description: "the wiretape binary was not built (swift build --build-tests builds it)")
        }
        return path
    }

    static func wiretape(_ arguments: [String]) throws -> CLIRun {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binaryPath())
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIRun(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs `wiretape ARGS` in this process with captured output; returns (stdout, stderr,
    /// exit status).
    static func inProcess(_ args: [String]) async -> (String, String, Int32) {
        let capture = JournalOutput.capture()
        var code: Int32 = 0
        await JournalOutput.$current.withValue(capture) {
            do {
                var cmd = try WireTapeCommand.parseAsRoot(args)
                if var a = cmd as? AsyncParsableCommand { try await a.run() } else { try cmd.run() }
            } catch let e as ExitCode {
                code = e.rawValue
            } catch {
                capture.warn("Error: " + WireTapeCommand.message(for: error))
                code = WireTapeCommand.exitCode(for: error).rawValue
            }
        }
        return (capture.stdout, capture.stderr, code)
    }
}
