import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory, removed by `cleanup()`.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/wiretape-journal-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    func sub(_ name: String) -> String { path + "/" + name }
    /// Removes the directory without forking (see DiskFullTests for why forking is avoided).
    func cleanup() { removeTree(path) }
}

func ts(_ i: Int) -> ReceiveTimestamp {
    ReceiveTimestamp(wallNanos: 1_700_000_000_000_000_000 + Int64(i) * 1_000_000, monotonicNanos: 5_000_000_000 + UInt64(i) * 1_000_000)
}

func readAll(_ dir: String, _ options: ReadOptions = .init()) throws -> ([JournalRecord], JournalCursor) {
    let c = try JournalCursor(directory: dir, options: options)
    var out: [JournalRecord] = []
    while let r = try c.next() { out.append(r) }
    return (out, c)
}

func fileBytes(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var st = stat()
    fstat(fd, &st)
    var b = [UInt8](repeating: 0, count: Int(st.st_size))
    _ = b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    return b
}

func writeBytes(_ path: String, _ bytes: [UInt8]) {
    chmod(path, 0o644)
    let fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0o644)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func segmentPaths(_ dir: String) throws -> [String] {
    try listSegments(dir).map { dir + "/" + $0.name }
}

/// A deterministic mix of every record kind.
func sampleRecords(_ n: Int, seed: UInt64 = 1) -> [RecordBody] {
    var rng = seed
    func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
    var out: [RecordBody] = []
    for i in 0..<n {
        switch i % 23 {
        case 3: out.append(.lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1006, closeReason: "gone", error: "connectionLost", message: "reset by peer")))
        case 4: out.append(.lifecycle(LifecycleEdge(state: .connected)))
        case 7: out.append(.connect(ConnectEvent(outcome: .failed, url: "wss://x.test/ws", httpStatus: 503, error: "handshakeRejected", message: "busy")))
        case 11: out.append(.session(SessionEvent(phase: .start, url: "wss://x.test/ws?stream=a", headers: [HTTPHeaderField("User-Agent", "t")], message: nil)))
        case 13: out.append(.lag(count: next() % 100, bytes: next()))
        case 17: out.append(.annotation("note \(i) ✓"))
        case 19: out.append(.frame(direction: .outbound, opcode: .binary, payload: (0..<Int(next() % 300)).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
        default:
            let text = "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"p\":\"\(60000 + next() % 1000).\(next() % 100)\",\"q\":\"0.\(next() % 1000)\",\"t\":\(i)}"
            out.append(.frame(direction: .inbound, opcode: .text, payload: Array(text.utf8)))
        }
    }
    return out
}

/// Writes `bodies` with epochs rising every 100 records and returns the records as written.
@discardableResult
func writeSample(_ dir: String, count: Int, options: JournalWriterOptions = .init(), close: Bool = true) throws -> [JournalRecord] {
    let w = try JournalWriter(directory: dir, options: options)
    var out: [JournalRecord] = []
    for (i, b) in sampleRecords(count).enumerated() {
        let t = ts(i)
        let seq = try w.append(b, epoch: UInt64(i / 100), at: t)
        out.append(JournalRecord(seq: seq, epoch: UInt64(i / 100), wallNanos: t.wallNanos, monoNanos: t.monotonicNanos, body: b))
    }
    if close { try w.close() }
    return out
}

func removeTree(_ path: String) {
    if let d = opendir(path) {
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name == "." || name == ".." { continue }
            let p = path + "/" + name
            var st = stat()
            if lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { removeTree(p) } else { unlink(p) }
        }
        closedir(d)
    }
    rmdir(path)
}
