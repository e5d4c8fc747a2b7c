// Replay benchmark: how fast ReplayConnector delivers a journal's frames.
//
//   bench-replay DIR [--runs 3] [--pacing-seconds 3]
//
// 1. decode floor: JournalCursor.nextView() over every record (no Frame built).
// 2. as fast as possible: ReplayConnector on virtual time -> a consumer that only counts
//    (an iterator; a batch consumer of frames; a batch consumer of views).
// 3. x1 pacing: the first --pacing-seconds of the journal at recorded speed; for every frame
//    |actual - scheduled| delivery time, p50 / p99 / max.
//
//   bench-replay DIR --seek-only 1
//
// Cold seek: the journal's pages are evicted from the page cache (posix_fadvise DONTNEED),
// then the time to the first frame at the middle of the journal's time span is measured for
// the journal's own cursor and for a ReplayConnector (which loads the selection's timeline
// first), five times each (the first in the process included: a command seeks once).
// BENCH_WARM=1 keeps the pages cached (the same seek, warm).
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeReplay

#if canImport(Glibc)
import Glibc
#endif

func fail(_ s: String) -> Never {
    print("bench-replay: \(s)")
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let dir = args.first else { fail("usage: bench-replay DIR [--runs N] [--pacing-seconds S]") }
args.removeFirst()
var runs = 3
var pacingSeconds = 3.0
var seekOnly = false
while !args.isEmpty {
    let a = args.removeFirst()
    guard let v = args.first else { fail("\(a) needs a value") }
    args.removeFirst()
    switch a {
    case "--runs": runs = Int(v) ?? runs
    case "--pacing-seconds": pacingSeconds = Double(v) ?? pacingSeconds
    case "--seek-only": seekOnly = v == "1"
    default: fail("unknown option \(a)")
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

let request = ConnectRequest(url: try! WSURL("ws://replay.invalid/"))

/// Drops the journal's files from the page cache.
func evict(_ dir: String) {
    guard let d = opendir(dir) else { fail("cannot list \(dir)") }
    defer { closedir(d) }
    while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        let fd = open(dir + "/" + name, O_RDONLY)
        guard fd >= 0 else { continue }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        close(fd)
    }
}

if seekOnly {
    let bounds = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(direction: .inbound)))
    guard let first = try bounds.nextView() else { fail("empty journal") }
    let firstWall = first.wallNanos
    var lastWall = firstWall
    try JournalIndexQuery(directory: dir).forEachBlock { lastWall = max(lastWall, $0.maxWall) }
    let mid = firstWall + (lastWall - firstWall) / 2
    // A command that replays runs in an async context whose worker threads already exist;
    // start them here too, so the first run does not pay for the thread pool.
    _ = await Task.detached { 0 }.value
    var cursorTimes: [Double] = []
    var replayTimes: [Double] = []
    for _ in 0..<5 {
        if getenv("BENCH_WARM") == nil { evict(dir) }
        let t0 = ContinuousClock.now
        let c = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(fromWall: mid, direction: .inbound)))
        guard try c.nextView() != nil else { fail("nothing after the middle") }
        let cursorTime = seconds(t0.duration(to: .now))
        if getenv("BENCH_WARM") == nil { evict(dir) }
        let t1 = ContinuousClock.now
        let replay = try ReplayConnector(
            directory: dir, selection: ReplaySelection(fromWall: mid), options: ReplayOptions(pacing: .asFastAsPossible))
        let loaded = seconds(t1.duration(to: .now))
        let connection = try await replay.connect(request)
        let connected = seconds(t1.duration(to: .now))
        var it = connection.inbound.makeAsyncIterator()
        guard try await it.next() != nil else { fail("no frame after the middle") }
        let replayTime = seconds(t1.duration(to: .now))
        print(String(format: "cold seek to the middle: cursor first frame %.2f ms; ReplayConnector first frame %.1f ms (timeline load %.1f ms, connected %.1f ms)",
            cursorTime * 1e3, replayTime * 1e3, loaded * 1e3, connected * 1e3))
        await connection.sink.close()
        cursorTimes.append(cursorTime)
        replayTimes.append(replayTime)
    }
    print(String(format: "cold seek, %d runs: cursor median %.2f ms (max %.2f); ReplayConnector median %.2f ms (max %.2f)",
        replayTimes.count, median(cursorTimes) * 1e3, cursorTimes.max()! * 1e3, median(replayTimes) * 1e3, replayTimes.max()! * 1e3))
    exit(0)
}

// 1. The decode floor.
var floorRates: [Double] = []
var totalFrames = 0
for _ in 0..<runs {
    let start = ContinuousClock.now
    let c = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(direction: .inbound)))
    var n = 0
    var bytes = 0
    while let v = try c.nextView() {
        n += 1
        bytes &+= v.payload.count
    }
    totalFrames = n
    floorRates.append(Double(n) / seconds(start.duration(to: .now)))
}
print("journal          \(dir): \(totalFrames) inbound frames")
// 1b. Decode and build the frames a connection delivers (no stream, no consumer).
var buildRates: [Double] = []
for _ in 0..<runs {
    let start = ContinuousClock.now
    let c = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(direction: .inbound)))
    var n = 0
    var sink = 0
    while let v = try c.nextView() {
        let frame: Frame =
            v.opcode == .binary ? .binary(Array(v.payload)) : .text(String(decoding: v.payload, as: UTF8.self))
        let f = InboundFrame(frame: frame, epoch: 1, received: ReceiveTimestamp(wallNanos: v.wallNanos, monotonicNanos: v.monoNanos))
        sink &+= f.frame.byteCount
        n += 1
    }
    buildRates.append(Double(n) / seconds(start.duration(to: .now)))
    if sink == 0 { print("") }
}
print(String(format: "decode + Frame   %.2f M frames/s (what a connection builds, median of %d)", median(buildRates) / 1e6, runs))
print(String(format: "decode floor     %.2f M frames/s (nextView, median of %d)", median(floorRates) / 1e6, runs))

// 2. As fast as possible, to a consumer that only counts.
var loadTimes: [Double] = []
var rates: [Double] = []
for _ in 0..<runs {
    let t0 = ContinuousClock.now
    let recording = try Recording.load(directory: dir)
    loadTimes.append(seconds(t0.duration(to: .now)))
    let replay = try ReplayConnector(recording: recording, options: ReplayOptions(pacing: .asFastAsPossible))
    let start = ContinuousClock.now
    var n = 0
    while true {
        let connection: WSConnection
        do { connection = try await replay.connect(request) } catch { break }
        do { for try await _ in connection.inbound { n += 1 } } catch {}
    }
    let elapsed = seconds(start.duration(to: .now))
    guard n == recording.inboundCount else { fail("delivered \(n) of \(recording.inboundCount) frames") }
    rates.append(Double(n) / elapsed)
}
print(String(format: "timeline load    %.1f ms (Recording.load: index rows, control blocks decoded; median)", median(loadTimes) * 1e3))
print(String(format: "replay max speed %.2f M frames/s through ReplayConnector (median of %d; min %.2f, max %.2f)",
    median(rates) / 1e6, runs, rates.min()! / 1e6, rates.max()! / 1e6))

// 2b. The same, to a consumer that takes the frames in the batches the replay hands over
// (`InboundStream.divert`, what `replay` itself uses): no task hop and no lock per frame.
final class Counter: Sendable {
    let n = Atomic<Int>(0)
}
/// Replays the whole journal `runs` times to a consumer installed by `divert` (which counts the
/// frames and calls the given end handler); returns the frames/s of each run.
@MainActor func divertedRates(_ divert: (WSConnection, Counter, @escaping @Sendable () -> Void) -> Void) async throws -> [Double] {
    var rates: [Double] = []
    for _ in 0..<runs {
        let recording = try Recording.load(directory: dir)
        let replay = try ReplayConnector(recording: recording, options: ReplayOptions(pacing: .asFastAsPossible))
        let counter = Counter()
        let start = ContinuousClock.now
        while true {
            let connection: WSConnection
            do { connection = try await replay.connect(request) } catch { break }
            await withCheckedContinuation { (ended: CheckedContinuation<Void, Never>) in
                divert(connection, counter) { ended.resume() }
            }
        }
        let elapsed = seconds(start.duration(to: .now))
        let n = counter.n.load(ordering: .relaxed)
        guard n == recording.inboundCount else { fail("delivered \(n) of \(recording.inboundCount) frames") }
        rates.append(Double(n) / elapsed)
    }
    return rates
}
let batchRates = try await divertedRates { connection, counter, ended in
    connection.inbound.divert(to: { batch in counter.n.add(batch.count, ordering: .relaxed) }, onEnd: { _ in ended() })
}
print(String(format: "replay max speed %.2f M frames/s through ReplayConnector, batch consumer (divert; median of %d; min %.2f, max %.2f)",
    median(batchRates) / 1e6, runs, batchRates.min()! / 1e6, batchRates.max()! / 1e6))

// 2c. The same, to a consumer that takes the frames as views (`InboundStream.divert(toViews:)`,
// what `replay` prints from): no Frame built, the payloads lent from the decoded block.
let viewRates = try await divertedRates { connection, counter, ended in
    connection.inbound.divert(toViews: { batch in counter.n.add(batch.count, ordering: .relaxed) }, onEnd: { _ in ended() })
}
print(String(format: "replay max speed %.2f M frames/s through ReplayConnector, view batch consumer (divert(toViews:); median of %d; min %.2f, max %.2f)",
    median(viewRates) / 1e6, runs, viewRates.min()! / 1e6, viewRates.max()! / 1e6))

// 3. x1 pacing accuracy over the first seconds of the journal.
do {
    let first = try JournalCursor(directory: dir, options: ReadOptions(filter: RecordFilter(direction: .inbound))).nextView()
    guard let first else { fail("empty journal") }
    let to = first.wallNanos + Int64(pacingSeconds * 1e9)
    let replay = try ReplayConnector(
        directory: dir, selection: ReplaySelection(toWall: to), options: ReplayOptions(pacing: .recorded))
    let connectedMono = replay.recording.epochs[0].connectedMono
    let connection = try await replay.connect(request)
    let t0 = ContinuousClock.now
    var errors: [Double] = []
    errors.reserveCapacity(replay.recording.inboundCount)
    do {
        for try await f in connection.inbound {
            let actual = seconds(t0.duration(to: .now))
            let scheduled = Double(f.received.monotonicNanos &- connectedMono) / 1e9
            errors.append(abs(actual - scheduled))
        }
    } catch {}
    errors.sort()
    let p = { (q: Double) in errors[min(errors.count - 1, Int(Double(errors.count) * q))] * 1e3 }
    print(String(format: "x1 pacing        %d frames over %.1f s: |actual - scheduled| p50 %.3f ms, p99 %.3f ms, max %.3f ms",
        errors.count, pacingSeconds, p(0.5), p(0.99), errors.last! * 1e3))
}
