import Dispatch
import Synchronization
import Testing
import WireTapeCore
import WireTapeJournal
import WireTapeMock
import WireTapeResilience
@testable import WireTapeRecorder
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/wiretape-recorder-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    var journal: String { path + "/journal" }
    func cleanup() { removeTree(path) }
}

func removeTree(_ path: String) {
    if let d = opendir(path) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            var st = stat()
            if lstat(child, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
        }
        closedir(d)
    }
    rmdir(path)
}

/// Every record of a journal, in sequence order.
func readAll(_ dir: String) throws -> [JournalRecord] {
    let c = try JournalCursor(directory: dir)
    var out: [JournalRecord] = []
    while let r = try c.next() { out.append(r) }
    return out
}

/// The raw bytes of every file in `dir` (segments, index, WAL), by name.
func allFiles(_ dir: String) -> [(String, [UInt8])] {
    var out: [(String, [UInt8])] = []
    guard let d = opendir(dir) else { return out }
    defer { closedir(d) }
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name == "." || name == ".." { continue }
        let fd = open(dir + "/" + name, O_RDONLY)
        guard fd >= 0 else { continue }
        var st = stat()
        fstat(fd, &st)
        var b = [UInt8](repeating: 0, count: Int(st.st_size))
        _ = b.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        out.append((name, b))
    }
    return out
}

func contains(_ hay: [UInt8], _ needle: String) -> Bool {
    let n = Array(needle.utf8)
    guard n.count <= hay.count else { return false }
    var i = 0
    while i + n.count <= hay.count {
        if hay[i] == n[0] && Array(hay[i..<(i + n.count)]) == n { return true }
        i += 1
    }
    return false
}

/// Every string a record carries, and its payload, as text (for secret searches).
func texts(_ r: JournalRecord) -> [String] {
    switch r.body {
    case .frame(_, _, let p): return [String(decoding: p, as: UTF8.self)]
    case .lifecycle(let e): return [e.closeReason, e.message, e.error].compactMap { $0 }
    case .connect(let e): return [e.url, e.message, e.error].compactMap { $0 }
    case .session(let e): return [e.url, e.message].compactMap { $0 } + e.headers.map { "\($0.name): \($0.value)" }
    case .annotation(let s): return [s]
    case .lag: return []
    }
}

func payloadText(_ r: JournalRecord) -> String? {
    if case .frame(_, _, let p) = r.body { return String(decoding: p, as: UTF8.self) }
    return nil
}

/// A one-shot event a thread can wait for and a task can signal, or the reverse.
final class Gate: Sendable {
    private let sem = DispatchSemaphore(value: 0)
    private let opened = Mutex(false)
    /// Blocks the calling thread until ``open()``.
    func waitBlocking() {
        if opened.withLock({ $0 }) { return }
        sem.wait()
        sem.signal()
    }
    func open() {
        opened.withLock { $0 = true }
        sem.signal()
    }
}

/// Resumes waiting tasks once, when signalled (from any thread).
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func fire() {
        let ws = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            if s.fired { return [] }
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in ws { w.resume() }
    }
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.fired { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

let testURL = try! WSURL("ws://mock.test/feed")

func quietConfig(buffer: InboundBufferPolicy = InboundBufferPolicy(), attemptTimeout: Duration? = nil) -> ReconnectConfig {
    ReconnectConfig(
        backoff: BackoffPolicy(initial: .seconds(1), maximum: .seconds(30), jitter: 0.5),
        attemptWindow: AttemptWindowPolicy(maxAttempts: 1000, window: .seconds(300)), breaker: CircuitBreakerPolicy(),
        keepalive: .disabled, buffer: buffer, rateLimit: nil, whileDisconnected: .wait(maxWaiting: 16),
        attemptTimeout: attemptTimeout)
}

/// A recorder over a mock venue on a manual clock, under the resilient stack.
struct RecordingHarness {
    let dir = TempDir()
    let clock = ManualClock()
    let mock: MockConnector
    let recorder: Recorder
    let connection: ReconnectingConnection

    init(
        _ attempts: [MockAttempt], fallback: MockAttempt = .refuse, config: ReconnectConfig = quietConfig(),
        options: RecorderOptions = RecorderOptions(), request: ConnectRequest = ConnectRequest(url: testURL)
    ) throws {
        mock = MockConnector(clock: clock, attempts: attempts, fallback: fallback)
        recorder = try Recorder(directory: dir.journal, options: options)
        recorder.start(url: request.url.description, headers: request.headers)
        let stack = ReconnectingConnector(
            wrapping: recorder.connector(wrapping: mock), config: config, clock: clock, random: SeededRandom(seed: 7))
        connection = recorder.connect(request, through: stack)
    }

    @discardableResult
    func waitFor(_ predicate: (LifecycleSnapshot) -> Bool) async -> LifecycleSnapshot {
        for await s in connection.lifecycle.updates() where predicate(s) { return s }
        return connection.lifecycle.current
    }

    /// Waits for the backoff sleeper and fires it.
    func skipBackoff() async {
        await clock.waitForSleepers(count: 1)
        _ = clock.advanceToNextDeadline()
    }

    /// Shuts the session down, finishes the recorder and reads the journal.
    func end() async throws -> (RecorderStats, [JournalRecord]) {
        await connection.shutdown()
        let stats = await recorder.finish(reason: "test finished")
        return (stats, try readAll(dir.journal))
    }
}

/// Checks the causal rules on a journal: `mono_ns` never decreases in sequence order, and each
/// epoch's `connected` edge exists once and precedes the epoch's first frame.
func expectCausal(_ records: [JournalRecord], sourceLocation: SourceLocation = #_sourceLocation) {
    let monos = records.map(\.monoNanos)
    #expect(zip(monos, monos.dropFirst()).allSatisfy { $0 <= $1 }, "mono_ns decreased", sourceLocation: sourceLocation)
    var connectedAt: [UInt64: Int] = [:]
    for (i, r) in records.enumerated() {
        if case .lifecycle(let e) = r.body, e.state == .connected {
            #expect(connectedAt[r.epoch] == nil, "two connected edges in epoch \(r.epoch)", sourceLocation: sourceLocation)
            connectedAt[r.epoch] = i
        }
    }
    for (i, r) in records.enumerated() where r.kind == .inboundFrame || r.kind == .outboundFrame {
        guard let c = connectedAt[r.epoch] else {
            Issue.record("frame \(r.seq) in epoch \(r.epoch) without a connected edge", sourceLocation: sourceLocation)
            continue
        }
        #expect(c < i, "frame \(r.seq) precedes its epoch's connected edge", sourceLocation: sourceLocation)
    }
}
