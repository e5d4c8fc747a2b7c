import Foundation
import Synchronization
import WireTapeJournal

#if canImport(Glibc)
import Glibc
#endif

/// The control socket of a live journal: how `wiretape annotate` hands a note to the recorder
/// that holds the journal's writer lock (see docs/report.md, "Control socket").
///
/// A Unix stream socket named ``fileName`` in the journal directory, created by the recorder
/// and removed when it stops. Each request is one JSON object on one line; the recorder
/// answers each with one JSON line:
///
/// ```
/// → {"op":"annotate","text":"deploy 4.2.1","wall_ns":1764000000000000000}
/// ← {"ok":true,"seq":123456}
/// ← {"ok":false,"error":"the text is empty"}
/// ```
///
/// `wall_ns` is optional (the recorder stamps the note with its own clock); a note is
/// appended in sequence order with the recorder's current epoch.
public enum ControlProtocol {
    /// The socket's file name inside the journal directory.
    public static let fileName = "control.sock"
    /// The longest request line accepted (bytes).
    public static let maxLineBytes = 64 << 10
    /// The longest annotation accepted (bytes of UTF-8).
    public static let maxTextBytes = 16 << 10

    /// A request.
    public enum Request: Sendable, Hashable {
        /// Append an annotation; `wallNanos` nil means "now" on the recorder's clock.
        case annotate(text: String, wallNanos: Int64?)
    }

    /// A reply.
    public enum Reply: Sendable, Hashable {
        /// Done: the record's sequence number.
        case ok(seq: UInt64)
        /// Refused or failed, and why.
        case error(String)
    }

    /// Parses one request line.
    public static func parse(_ line: [UInt8]) -> Result<Request, ControlError> {
        guard line.count <= maxLineBytes else { return .failure(ControlError("the request is longer than \(maxLineBytes) bytes")) }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            return .failure(ControlError("the request is not a JSON object on one line"))
        }
        guard let op = obj["op"] as? String else { return .failure(ControlError("the request has no \"op\"")) }
        guard op == "annotate" else { return .failure(ControlError("unknown op \"\(op)\" (known: annotate)")) }
        guard let text = obj["text"] as? String, !text.isEmpty else { return .failure(ControlError("annotate needs a non-empty \"text\"")) }
        guard text.utf8.count <= maxTextBytes else { return .failure(ControlError("the text is longer than \(maxTextBytes) bytes")) }
        var wall: Int64?
        if let w = obj["wall_ns"] {
            guard let n = w as? Int64 else {
                return .failure(ControlError("\"wall_ns\" must be an integer (Unix nanoseconds)"))
            }
            wall = n
        }
        return .success(.annotate(text: text, wallNanos: wall))
    }

    /// Encodes a request as one line (with its newline).
    public static func encode(_ r: Request) -> [UInt8] {
        switch r {
        case .annotate(let text, let wall):
            var s = "{\"op\":\"annotate\",\"text\":" + jsonString(text)
            if let wall { s += ",\"wall_ns\":\(wall)" }
            return Array((s + "}\n").utf8)
        }
    }

    /// Encodes a reply as one line (with its newline).
    public static func encode(_ r: Reply) -> [UInt8] {
        switch r {
        case .ok(let seq): return Array("{\"ok\":true,\"seq\":\(seq)}\n".utf8)
        case .error(let m): return Array("{\"ok\":false,\"error\":\(jsonString(m))}\n".utf8)
        }
    }

    /// Parses a reply line.
    public static func parseReply(_ line: [UInt8]) -> Reply? {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let ok = obj["ok"] as? Bool else { return nil }
        if ok, let seq = obj["seq"] as? NSNumber { return .ok(seq: seq.uint64Value) }
        return .error(obj["error"] as? String ?? "the recorder refused the request without a reason")
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if ch.value < 0x20 {
                    let h = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }
}

/// A control-socket failure: what went wrong, with the socket path and the system error.
public struct ControlError: Error, Sendable, CustomStringConvertible, Hashable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable {
        /// Nothing listens on the socket (no file, or the recorder is gone).
        case notListening
        /// The request or reply was malformed, or the recorder refused the request.
        case refused
        /// A system call failed.
        case io
    }
    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String

    /// Creates an error.
    public init(_ message: String, code: Code = .refused) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// The recorder's side of the control socket: listens on `<journal>/control.sock`, parses
/// each request line and hands it to `handle`, whose reply goes back on the same line order.
///
/// Runs on its own thread (blocking I/O with `poll`, one client at a time: notes are rare and
/// small); ``stop()`` wakes it, closes the socket and removes the file. The handler runs on
/// that thread: a recorder whose writer belongs to another thread or actor forwards the
/// request there and waits for the sequence number.
///
/// ```swift
/// let server = try ControlSocketServer(directory: dir) { request in
///     switch request {
///     case .annotate(let text, let wall): return .ok(seq: recorder.annotate(text, at: wall))
///     }
/// }
/// defer { server.stop() }
/// ```
public final class ControlSocketServer: Sendable {
    /// The socket path.
    public let path: String
    private let listenFD: Int32
    private let wakeRead: Int32, wakeWrite: Int32
    private let handler: @Sendable (ControlProtocol.Request) -> ControlProtocol.Reply
    private let done = Mutex<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `<directory>/control.sock` (replacing a stale socket file left by a crash) and
    /// starts serving.
    /// - Throws: ``ControlError`` (`io`) when the socket cannot be created or bound, e.g. a
    ///   path longer than the 107 bytes a Unix socket address holds.
    public init(directory: String, handle: @escaping @Sendable (ControlProtocol.Request) -> ControlProtocol.Reply) throws(ControlError) {
        let path = directory.hasSuffix("/") ? directory + ControlProtocol.fileName : directory + "/" + ControlProtocol.fileName
        self.path = path
        handler = handle
        let fd = try UnixSocket.make()
        // A socket file nobody listens on is stale (the previous recorder died): replace it.
        if UnixSocket.connect(path: path) == nil { unlink(path) }
        do throws(ControlError) {
            try UnixSocket.withAddress(path) { addr, len throws(ControlError) in
                guard bind(fd, addr, len) == 0 else { throw ControlError.system("bind", path) }
            }
            guard listen(fd, 8) == 0 else { throw ControlError.system("listen", path) }
        } catch {
            close(fd)
            throw error
        }
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else {
            close(fd)
            throw ControlError.system("pipe", path)
        }
        listenFD = fd
        wakeRead = p[0]
        wakeWrite = p[1]
        let t = Thread { [self] in serve() }
        t.name = "wiretape-control"
        t.start()
    }

    /// Stops serving, closes the socket and removes its file. Idempotent.
    public func stop() {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        guard first else { return }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
        finished.wait()
        close(listenFD)
        close(wakeRead)
        close(wakeWrite)
        unlink(path)
    }

    deinit { stop() }

    private func serve() {
        defer { finished.signal() }
        while !done.withLock({ $0 }) {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, -1)
            if n < 0 { if errno == EINTR { continue }; return }
            if fds[1].revents != 0 { return }
            guard fds[0].revents != 0 else { continue }
            let c = accept(listenFD, nil, nil)
            guard c >= 0 else { continue }
            serveClient(c)
            close(c)
        }
    }

    /// Reads request lines until the client closes (or 5 s pass without a byte); answers each.
    private func serveClient(_ c: Int32) {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            while let nl = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                let reply: ControlProtocol.Reply
                switch ControlProtocol.parse(line) {
                case .success(let r): reply = handler(r)
                case .failure(let e): reply = .error(e.message)
                }
                guard UnixSocket.writeAll(c, ControlProtocol.encode(reply)) else { return }
            }
            if buffer.count > ControlProtocol.maxLineBytes {
                _ = UnixSocket.writeAll(c, ControlProtocol.encode(.error("the request is longer than \(ControlProtocol.maxLineBytes) bytes")))
                return
            }
            var fds = [pollfd(fd: c, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, 5000)
            if ready <= 0 || fds[1].revents != 0 { return }
            let n = read(c, &chunk, chunk.count)
            if n <= 0 { return }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}

/// The client side: `wiretape annotate` on a journal held by a recorder.
public enum ControlSocketClient {
    /// Sends one request to the recorder of `directory` and waits (at most `timeoutMillis`)
    /// for its reply.
    /// - Throws: ``ControlError`` `notListening` when no recorder listens on the socket,
    ///   `refused` when the recorder refused the request, `io` on a system failure.
    public static func send(_ request: ControlProtocol.Request, directory: String, timeoutMillis: Int32 = 10_000) throws(ControlError) -> UInt64 {
        let path = directory.hasSuffix("/") ? directory + ControlProtocol.fileName : directory + "/" + ControlProtocol.fileName
        guard let fd = UnixSocket.connect(path: path) else {
            throw ControlError("no recorder listens on \(path)", code: .notListening)
        }
        defer { close(fd) }
        guard UnixSocket.writeAll(fd, ControlProtocol.encode(request)) else { throw ControlError.system("write", path) }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while buffer.firstIndex(of: 10) == nil {
            var p = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&p, 1, timeoutMillis)
            if ready == 0 { throw ControlError("the recorder on \(path) did not answer within \(timeoutMillis) ms", code: .io) }
            if ready < 0 { if errno == EINTR { continue }; throw ControlError.system("poll", path) }
            let n = read(fd, &chunk, chunk.count)
            if n < 0 { throw ControlError.system("read", path) }
            if n == 0 { throw ControlError("the recorder on \(path) closed the connection without an answer", code: .io) }
            buffer.append(contentsOf: chunk[0..<n])
        }
        let line = Array(buffer[..<buffer.firstIndex(of: 10)!])
        switch ControlProtocol.parseReply(line) {
        case .ok(let seq): return seq
        case .error(let m): throw ControlError("the recorder refused the note: \(m)")
        case nil: throw ControlError("the recorder on \(path) answered something that is not a reply", code: .io)
        }
    }
}

extension ControlError {
    static func system(_ call: String, _ path: String) -> ControlError {
        ControlError("\(call) on \(path) failed: \(String(cString: strerror(errno)))", code: .io)
    }
}

/// Unix-domain stream socket helpers.
enum UnixSocket {
    static func make() throws(ControlError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlError.system("socket", "a Unix socket") }
        return fd
    }

    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(ControlError) -> T) throws(ControlError) -> T {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let cap = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < cap else {
            throw ControlError("the socket path \(path) is \(bytes.count) bytes; a Unix socket path holds at most \(cap - 1): use a shorter journal path", code: .io)
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        var result: Result<T, ControlError>!
        withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                result = Result { () throws(ControlError) -> T in try body(sa, len) }
            }
        }
        return try result.get()
    }

    /// A connected socket, or nil when nothing listens at `path`.
    static func connect(path: String) -> Int32? {
        guard let fd = try? make() else { return nil }
        let ok = (try? withAddress(path) { a, l throws(ControlError) in Glibc.connect(fd, a, l) == 0 }) ?? false
        if !ok { close(fd); return nil }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }
}
