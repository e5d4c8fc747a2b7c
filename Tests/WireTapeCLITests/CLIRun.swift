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
    /// net, never a timing assertion. `environment` is added to this process's environment.
    static func wiretape(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) throws -> CLIRun {
        try start(arguments, environment: environment, timeout: timeout).wait()
    }

    /// Starts the binary in the background: a server such as `serve` (read its first line with
    /// ``Background/firstLine()`` while it runs), or, with `stdin`, the consumer of a pipe the
    /// test writes and signals, as `producer | wiretape import` is. ``Background/wait()``
    /// collects it. The same `timeout` safety net as ``wiretape(_:environment:timeout:)``
    /// applies, counted from the start.
    static func start(
        _ arguments: [String], environment: [String: String] = [:], stdin: Bool = false, timeout: Duration = .seconds(120)
    ) throws -> Background {
        try Background(arguments, environment: environment, stdin: stdin, timeout: timeout)
    }

    /// A run of the binary in progress.
    final class Background {
        let arguments: [String]
        let timeout: Duration
        private let process = Process()
        private let out = Pipe(), err = Pipe()
        private let input: Pipe?
        /// A close-on-exec copy of the stdin pipe's read end (Process closes its own in the
        /// parent), to ask how much the binary has not read yet.
        private let inputProbe: Int32
        /// What the watchdog and the stderr reader write from other threads.
        private final class Shared: Sendable {
            let killed = Mutex(false)
            let err = Mutex(Data())
            let errDone = DispatchSemaphore(value: 0)
        }
        private let shared = Shared()
        private let watchdog: DispatchWorkItem
        private var pending = Data()

        init(_ arguments: [String], environment: [String: String] = [:], stdin: Bool = false, timeout: Duration) throws {
            self.arguments = arguments
            self.timeout = timeout
            input = stdin ? Pipe() : nil
            inputProbe = input.map { fcntl($0.fileHandleForReading.fileDescriptor, F_DUPFD_CLOEXEC, 0) } ?? -1
            let p = process
            if let input {
                p.standardInput = input
                // A binary that stops reading early (a failed import) must fail the test's
                // write with EPIPE, not kill the test process.
                Glibc.signal(SIGPIPE, SIG_IGN)
            }
            p.executableURL = URL(fileURLWithPath: try CLIRun.binaryPath())
            p.arguments = arguments
            if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            p.standardOutput = out
            p.standardError = err
            let shared = self.shared
            watchdog = DispatchWorkItem {
                guard p.isRunning else { return }
                shared.killed.withLock { $0 = true }
                kill(p.processIdentifier, SIGKILL)
            }
            try p.run()
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
            // Both pipes are drained at once: a child filling one while we wait on the other
            // would otherwise block both.
            let errPipe = err
            DispatchQueue.global().async {
                let e = errPipe.fileHandleForReading.readDataToEndOfFile()
                shared.err.withLock { $0 = e }
                shared.errDone.signal()
            }
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

        /// The first line of stdout, without its newline (empty if the run ended first).
        func firstLine() -> String {
            while !pending.contains(UInt8(ascii: "\n")) {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
            }
            guard let nl = pending.firstIndex(of: UInt8(ascii: "\n")) else { return String(decoding: pending, as: UTF8.self) }
            let line = String(decoding: pending[pending.startIndex..<nl], as: UTF8.self)
            pending = Data(pending[pending.index(after: nl)...])
            return line
        }

        /// Waits for the end; stdout holds what ``firstLine()`` did not take.
        func wait() -> CLIRun {
            let o = pending + out.fileHandleForReading.readDataToEndOfFile()
            shared.errDone.wait()
            process.waitUntilExit()
            watchdog.cancel()
            var stderr = String(decoding: shared.err.withLock { $0 }, as: UTF8.self)
            if shared.killed.withLock({ $0 }) {
                stderr += "\n[CLIRun: wiretape \(arguments.joined(separator: " ")) did not end within \(timeout); killed]"
                return CLIRun(status: -1, stdout: String(decoding: o, as: UTF8.self), stderr: stderr)
            }
            return CLIRun(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: stderr)
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
