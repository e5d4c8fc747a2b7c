import Foundation

/// Where the repository is, found from this file's path.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// An error starting a test peer, with what the harness saw.
public struct PeerStartError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates the error.
    public init(description: String) { self.description = description }
}

/// The Python interpreter with `websockets` installed: `$WIRETAPE_PYTHON`, else the
/// repository's `.venv` made by `tools/setup.sh`.
public func peerPython() throws -> String {
    if let p = ProcessInfo.processInfo.environment["WIRETAPE_PYTHON"], !p.isEmpty { return p }
    let venv = repositoryRoot.appendingPathComponent(".venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: venv) else {
        throw PeerStartError(
            description: "no Python with websockets: run tools/setup.sh (makes .venv) or set WIRETAPE_PYTHON")
    }
    return venv
}

/// A peer process started by a test: `Tests/Peers/ws_peer.py` (Python `websockets` on
/// 127.0.0.1, port 0) or any script that prints `PORT <n>` as its first line. Terminated
/// when released or by ``stop()``.
public final class PythonPeer: @unchecked Sendable {
    // @unchecked: `process` is set once in init and only read afterwards; Process itself is
    // thread-safe for terminate/waitUntilExit.
    private let process: Process
    /// The port the peer listens on (127.0.0.1).
    public let port: Int

    /// Starts `script` (relative to the repository root) with `arguments` and waits for its port.
    public init(script: String, arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try peerPython())
        p.arguments = ["-u", repositoryRoot.appendingPathComponent(script).path] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        process = p
        // Read the first line: "PORT <n>".
        var line = Data()
        let handle = out.fileHandleForReading
        while !line.contains(10) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let first = text.split(separator: "\n").first, first.hasPrefix("PORT "),
            let port = Int(first.dropFirst(5).trimmingCharacters(in: .whitespaces))
        else {
            p.terminate()
            throw PeerStartError(description: "the peer \(script) did not print its port; it printed: \(text)")
        }
        self.port = port
    }

    /// Starts the standard WebSocket peer, optionally with TLS.
    public convenience init(tlsCertificate: String? = nil, key: String? = nil) throws {
        var args: [String] = []
        if let tlsCertificate, let key { args = ["--cert", tlsCertificate, "--key", key] }
        try self.init(script: "Tests/Peers/ws_peer.py", arguments: args)
    }

    /// `ws://127.0.0.1:<port><path>` (or `wss://<host>:<port><path>`).
    public func url(_ path: String, secure: Bool = false, host: String = "127.0.0.1") -> String {
        "\(secure ? "wss" : "ws")://\(host):\(port)\(path)"
    }

    /// Stops the peer.
    public func stop() {
        // SIGKILL and no waitUntilExit: Foundation's exit monitoring can stall inside
        // Swift concurrency on Linux, and the peer holds no state worth a graceful stop.
        let pid = process.processIdentifier
        if pid > 0 && process.isRunning { kill(pid, SIGKILL) }
    }

    deinit { stop() }
}

/// Test certificates made once per test run by `Tests/Peers/make_certs.sh` (openssl).
public enum TestCertificates {
    /// The directory holding `ca.pem`, `server.pem`/`.key`, `wrongname.pem`/`.key`, `untrusted.pem`/`.key`.
    public static let directory: Result<String, PeerStartError> = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("wiretape-certs-\(ProcessInfo.processInfo.processIdentifier)").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repositoryRoot.appendingPathComponent("Tests/Peers/make_certs.sh").path, dir]
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return .failure(PeerStartError(description: "cannot run make_certs.sh: \(error)")) }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            return .failure(PeerStartError(description: "make_certs.sh failed (is openssl installed?)"))
        }
        return .success(dir)
    }()

    /// The path of a file in the certificate directory.
    public static func path(_ name: String) throws -> String {
        try directory.get() + "/" + name
    }
}
