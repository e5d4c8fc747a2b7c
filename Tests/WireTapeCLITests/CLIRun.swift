import ArgumentParser
import Foundation
import Synchronization
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

    /// Runs the binary with `arguments`. A run that outlives `timeout` (a hang: say a broken
    /// circuit breaker that retries a 401 forever) is killed and returned with status -1 and
    /// a note on stderr, so the test fails instead of hanging the suite. The bound is a safety
    /// net, never a timing assertion.
    static func wiretape(_ arguments: [String], timeout: Duration = .seconds(120)) throws -> CLIRun {
        try Running(arguments, stdin: false).finish(timeout: timeout)
    }

    /// Starts the binary with a pipe on its stdin that the test writes, as
    /// `producer | wiretape …` does, and signals; ``Running/finish(timeout:)`` collects it.
    static func start(_ arguments: [String]) throws -> Running { try Running(arguments, stdin: true) }

    /// A started binary.
    final class Running {
        let process = Process()
        let arguments: [String]
        private let out = Pipe(), err = Pipe()
        private let input: Pipe?
        /// A close-on-exec copy of the stdin pipe's read end (Process closes its own in the
        /// parent), to ask how much the binary has not read yet.
        private let inputProbe: Int32

        init(_ arguments: [String], stdin: Bool) throws {
            self.arguments = arguments
            input = stdin ? Pipe() : nil
            inputProbe = input.map { fcntl($0.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0) } ?? -1
            process.executableURL = URL(fileURLWithPath: try CLIRun.binaryPath())
            process.arguments = arguments
            process.standardOutput = out
            process.standardError = err
            if let input {
                process.standardInput = input
                // A binary that stops reading early (a failed import) must fail the test's
                // write with EPIPE, not kill the test process.
                Glibc.signal(SIGPIPE, SIG_IGN)
            }
            try process.run()
        }

        deinit { if inputProbe >= 0 { close(inputProbe) } }

        /// Writes to the binary's stdin (blocks while the pipe is full).
        func write(_ text: String) { try? input?.fileHandleForWriting.write(contentsOf: Data(text.utf8)) }

        /// Closes the binary's stdin (end of input).
        func closeInput() { try? input?.fileHandleForWriting.close() }

        /// Waits (bounded) until the binary has read everything written to its stdin: the
        /// pipe holds no unread byte. False when that did not happen within `timeout`.
        func waitUntilInputRead(timeout: Duration = .seconds(60)) -> Bool {
            guard inputProbe >= 0 else { return input == nil }
            let fd = inputProbe
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                var unread: Int32 = 0
                guard ioctl(fd, UInt(FIONREAD), &unread) == 0 else { return false }
                if unread == 0 { return true }
                usleep(2_000)  // polling the pipe's fill level: the event has no notification
            }
            return false
        }

        /// Sends `signal` to the binary.
        func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

        /// Waits for the exit (killing the binary after `timeout`, status -1) and returns what
        /// it printed.
        func finish(timeout: Duration = .seconds(120)) -> CLIRun {
            let p = process
            let killed = Mutex(false)
            let watchdog = DispatchWorkItem {
                guard p.isRunning else { return }
                killed.withLock { $0 = true }
                kill(p.processIdentifier, SIGKILL)
            }
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
            // Both pipes are drained at once: a child filling one while we wait on the other
            // would otherwise block both.
            let errData = Mutex(Data())
            let errDone = DispatchSemaphore(value: 0)
            let err = self.err
            DispatchQueue.global().async {
                let e = err.fileHandleForReading.readDataToEndOfFile()
                errData.withLock { $0 = e }
                errDone.signal()
            }
            let o = out.fileHandleForReading.readDataToEndOfFile()
            errDone.wait()
            p.waitUntilExit()
            watchdog.cancel()
            var stderr = String(decoding: errData.withLock { $0 }, as: UTF8.self)
            if killed.withLock({ $0 }) {
                stderr += "\n[CLIRun: wiretape \(arguments.joined(separator: " ")) did not end within \(timeout); killed]"
                return CLIRun(status: -1, stdout: String(decoding: o, as: UTF8.self), stderr: stderr)
            }
            return CLIRun(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: stderr)
        }
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
