import Foundation

/// A child process whose stdout is read line by line and whose stdin takes commands: the
/// Python feed server and `tools/fault-proxy/fault_proxy.py` in the fault tests.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `process` and the pipes are only touched from the test task that owns the
    // child (launch, command, stop run sequentially); Foundation's types are not marked Sendable.
    /// The process.
    public let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    /// Starts `executable` with `arguments`; stderr is discarded. A child still running after
    /// `limit` is killed, which ends ``readLine()`` (an empty line): a bound on every wait for
    /// its replies, a safety net and never a timing assertion.
    public init(_ executable: String, _ arguments: [String], limit: Duration = .seconds(600)) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(limit.components.seconds))) { [process] in
            if process.isRunning { kill(pid, SIGKILL) }
        }
    }

    /// The next stdout line (without its newline); empty at the end of the stream.
    public func readLine() -> String {
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return "" }
            buffer.append(chunk)
        }
    }

    /// Sends one command line and returns the reply line.
    @discardableResult
    public func command(_ line: String) -> String {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
        return readLine()
    }

    /// Kills the child.
    public func stop() {
        try? input.fileHandleForWriting.close()
        // SIGKILL without waitUntilExit: Foundation's exit monitoring can stall inside Swift
        // concurrency on Linux (see PythonPeer).
        let pid = process.processIdentifier
        if pid > 0 && process.isRunning { kill(pid, SIGKILL) }
    }

    deinit { stop() }
}

/// `tools/fault-proxy/fault_proxy.py` in front of an upstream on 127.0.0.1: switch faults
/// (`blackhole on`, `reset`, `refuse on`, …) with ``command(_:)``.
public final class FaultProxy: Sendable {
    /// The proxy process.
    public let child: ChildProcess
    /// The port clients connect to.
    public let port: Int

    /// Starts the proxy in front of `127.0.0.1:upstreamPort`.
    public init(upstreamPort: Int) throws {
        child = try ChildProcess(
            try peerPython(),
            [repositoryRoot.appendingPathComponent("tools/fault-proxy/fault_proxy.py").path, "--upstream", "127.0.0.1:\(upstreamPort)"])
        let line = child.readLine()
        guard let port = Int(line) else {
            child.stop()
            throw PeerStartError(description: "fault_proxy.py did not print its port; it printed: \(line)")
        }
        self.port = port
        _ = child.readLine()  // "control PORT"
    }

    /// Sends a fault command (`blackhole on`) and returns the proxy's reply (`ok …`/`err …`).
    @discardableResult
    public func command(_ line: String) -> String { child.command(line) }

    /// Stops the proxy.
    public func stop() { child.stop() }
}
