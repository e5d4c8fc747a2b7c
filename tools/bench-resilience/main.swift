// wiretape-bench-resilience: the overhead of the resilient layer, in process.
//
// Pushes N frames through a bare MockConnection and through a ReconnectingConnection over
// the same kind of MockConnection, and prints frames/s of each and their ratio (goal ≥ 0.9).
// Then bursts frames at a paused consumer and prints the buffer's peak bytes and the
// process's resident-memory growth against the configured byte budget.
//
// Run in release:
//   swift run -c release --scratch-path .build-release wiretape-bench-resilience [N]

#if canImport(Glibc)
import Glibc
#endif
import WireTapeCore
import WireTapeMock
import WireTapeResilience

let n = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000
let payload = Frame.text(String(repeating: "x", count: 300))
let url = try! WSURL("ws://bench.invalid/")
let clock = ContinuousClock()

func residentKiB(_ field: String) -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix(field + ":") {
            return Int(s.dropFirst(field.count + 1).filter { $0.isNumber }) ?? -1
        }
    }
    return -1
}

/// Delivers `count` frames from a mock peer as fast as the consumer takes them, honouring
/// the stream's backpressure so that neither path measures an unbounded queue.
func produce(_ peer: MockPeer, count: Int) async {
    for i in 0..<count {
        peer.send(payload)
        if i & 1023 == 1023 {
            while peer.connection.inbound.queuedFrameCount > 4096 { await Task.yield() }
        }
    }
}

func bare() async throws -> Double {
    let mock = MockConnector(clock: clock, attempts: [.accept([])])
    let conn = try await mock.connect(ConnectRequest(url: url))
    let peer = await mock.peer(1)
    let start = clock.now
    let producer = Task { await produce(peer, count: n) }
    var got = 0
    for try await _ in conn.inbound {
        got += 1
        if got == n { break }
    }
    let elapsed = start.duration(to: clock.now)
    await producer.value
    return Double(n) / elapsedSeconds(elapsed)
}

func resilient() async throws -> (Double, UInt64) {
    let mock = MockConnector(clock: clock, attempts: [.accept([])])
    var config = ReconnectConfig()
    config.buffer = InboundBufferPolicy(maxFrames: 1 << 20, maxBytes: 1 << 30)
    let connection = ReconnectingConnector(wrapping: mock, config: config, clock: clock).connect(ConnectRequest(url: url))
    let peer = await mock.peer(1)
    let start = clock.now
    let producer = Task { await produce(peer, count: n) }
    var got = 0
    for try await _ in connection.inbound {
        got += 1
        if got == n { break }
    }
    let elapsed = start.duration(to: clock.now)
    await producer.value
    let lagged = connection.snapshot.totalLagged
    await connection.shutdown()
    return (Double(n) / elapsedSeconds(elapsed), lagged)
}

func burstMemory(budget: Int, frames: Int, frameSize: Int) async throws -> (peakBuffered: Int, rssGrowthKiB: Int, lagged: UInt64) {
    let mock = MockConnector(clock: clock, attempts: [.accept([])])
    var config = ReconnectConfig()
    config.buffer = InboundBufferPolicy(maxFrames: 1 << 20, maxBytes: budget)
    let connection = ReconnectingConnector(wrapping: mock, config: config, clock: clock).connect(ConnectRequest(url: url))
    let peer = await mock.peer(1)
    let before = residentKiB("VmRSS")
    var peakRSS = before
    for i in 0..<frames {
        // A fresh allocation per frame, as a socket would produce.
        peer.send(.binary([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: frameSize)))
        if i & 255 == 255 {
            while peer.connection.inbound.queuedFrameCount > 1024 { await Task.yield() }
            peakRSS = max(peakRSS, residentKiB("VmRSS"))
        }
    }
    while connection.snapshot.totalLagged + UInt64(connection.inbound.bufferedCount) < UInt64(frames) {
        await Task.yield()
    }
    peakRSS = max(peakRSS, residentKiB("VmRSS"))
    let result = (connection.inbound.peakBufferedBytes, peakRSS - before, connection.snapshot.totalLagged)
    await connection.shutdown()
    return result
}

func elapsedSeconds(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}

print("frames per run: \(n), payload \(payload.byteCount) bytes")
var bareRates: [Double] = []
var resRates: [Double] = []
var lagged: UInt64 = 0
for _ in 0..<3 {
    bareRates.append(try await bare())
    let (r, l) = try await resilient()
    resRates.append(r)
    lagged += l
}
let b = bareRates.sorted()[1], r = resRates.sorted()[1]
print("bare MockConnection:      \(Int(b)) frames/s (median of 3)")
print("ReconnectingConnection:   \(Int(r)) frames/s (median of 3), lagged \(lagged)")
print("ratio resilient/bare:     \(String(Double(Int(r / b * 1000)) / 1000)) (goal >= 0.9)")

let budget = 8 << 20
let (peak, growth, dropped) = try await burstMemory(budget: budget, frames: 100_000, frameSize: 1024)
print("paused-consumer burst: 100000 x 1 KiB frames, byte budget \(budget >> 10) KiB")
print("  buffer peak bytes:      \(peak >> 10) KiB (\(String(Double(Int(Double(peak) / Double(budget) * 1000)) / 1000)) x budget)")
print("  process RSS growth:     \(growth) KiB (\(String(Double(Int(Double(growth) * 1024 / Double(budget) * 1000)) / 1000)) x budget)")
print("  frames dropped (lagged): \(dropped)")
