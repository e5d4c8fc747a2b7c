// journal-crash: kills a journal writer with SIGKILL at random moments, many times, and
// checks after each kill that the journal recovers, verifies, and holds every record the
// writer had reported durable, in order, with nothing invented.
//
//   journal-crash run [--iterations N] [--seed S] [--dir DIR] [--max-delay-ms MS]
//   journal-crash child DIR SEED        (internal: the writer process)
#if canImport(Glibc)
import Glibc
#endif
import WireTapeCore
import WireTapeJournal

/// The record with sequence number `seq`: derived from seq alone, so the checker can tell a
/// real record from an invented one.
func expected(_ seq: UInt64) -> JournalRecord {
    let body: RecordBody
    switch seq % 16 {
    case 5: body = .lifecycle(LifecycleEdge(state: seq % 32 == 5 ? .reconnecting : .connected, error: "connectionLost", message: "m\(seq)"))
    case 9: body = .annotation("annotation \(seq)")
    case 13: body = .frame(direction: .outbound, opcode: .binary, payload: (0..<Int(seq % 97)).map { UInt8(truncatingIfNeeded: $0 &+ Int(seq)) })
    default:
        let n = Int(seq &* 7919 % 700)
        var p = Array("{\"seq\":\(seq),\"pad\":\"".utf8)
        for i in 0..<n { p.append(UInt8(97 + (i + Int(seq)) % 26)) }
        p += Array("\"}".utf8)
        body = .frame(direction: .inbound, opcode: .text, payload: p)
    }
    return JournalRecord(seq: seq, epoch: seq / 1000, wallNanos: 1_700_000_000_000_000_000 + Int64(seq) * 1000, monoNanos: seq * 1000, body: body)
}

func say(_ s: String) {
    var s = s + "\n"
    s.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

func child(dir: String, seed: UInt64) -> Never {
    var rng = SeededRandom(seed: seed)
    var o = JournalWriterOptions()
    o.blockSize = 512 + Int(rng.next() % 4096)
    o.maxSegmentBytes = 16 << 10 + rng.next() % (256 << 10)
    o.indexBatchBlocks = 1 + Int(rng.next() % 20)
    o.durability = [.never, .never, .interval(nanoseconds: 2_000_000), .everyBlock][Int(rng.next() % 4)]
    // Small warm-ups so that kills land in dictionary segments and their first writes.
    o.dictionaryWarmupBytes = 4096 + rng.next() % (64 << 10)
    // Half the writers compress on a second thread (two block buffers in flight).
    o.compressOnSecondThread = rng.next() % 2 == 0
    do {
        let w = try JournalWriter(directory: dir, options: o)
        var reported = w.writtenThroughSeq ?? 0
        say("R \(reported)")
        while true {
            let r = expected(w.nextSeq)
            try w.append(r.body, epoch: r.epoch, at: ReceiveTimestamp(wallNanos: r.wallNanos, monotonicNanos: r.monoNanos))
            if let d = w.writtenThroughSeq, d != reported {
                reported = d
                say("D \(d)")
            }
        }
    } catch {
        say("E \(error)")
        exit(3)
    }
}

func fail(_ s: String) -> Never {
    FileHandleErr.write("journal-crash: FAIL: \(s)\n")
    exit(1)
}

enum FileHandleErr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

func run(iterations: Int, seed: UInt64, dir: String, maxDelayMs: UInt64) {
    var rng = SeededRandom(seed: seed)
    var maxReported: UInt64 = 0
    var truncations = 0, rebuilt = 0, killsDuringWrite = 0, reindexedBlocks = 0
    let exe = String(cString: realpath("/proc/self/exe", nil))
    for it in 1...iterations {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { fail("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var pid: pid_t = 0
        let childSeed = rng.next()
        let args = [exe, "child", dir, String(childSeed)]
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        let rc = posix_spawn(&pid, exe, &actions, nil, &cargs, environ)
        for p in cargs { free(p) }
        posix_spawn_file_actions_destroy(&actions)
        close(fds[1])
        guard rc == 0 else { fail("posix_spawn failed: \(rc)") }
        // A random moment: anywhere from during recovery to deep into appending.
        let delay = rng.next() % (maxDelayMs * 1000 + 1)
        usleep(UInt32(delay))
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        // Everything the child reported before it died.
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(fds[0])
        var reported: UInt64 = 0
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("E ") { fail("iteration \(it): the writer failed: \(line)") }
            if line.hasPrefix("D "), let v = UInt64(line.dropFirst(2)) { reported = max(reported, v) }
            if line.hasPrefix("R "), let v = UInt64(line.dropFirst(2)) {
                if v < maxReported { fail("iteration \(it): the writer reopened at record \(v), but \(maxReported) had been reported durable") }
            }
        }
        if reported > 0 { killsDuringWrite += 1 }
        maxReported = max(maxReported, reported)
        // Check: recover, verify, read everything.
        do {
            let report = try JournalMaintenance.repair(directory: dir)
            truncations += report.truncations.count
            reindexedBlocks += report.blocksIndexed
            if report.rebuiltIndex { rebuilt += 1 }
            if !report.damage.isEmpty { fail("iteration \(it): damage in the middle after a crash: \(report)") }
            let v = try JournalMaintenance.verify(directory: dir)
            if !v.isOK { fail("iteration \(it): verify after recovery: \(v)") }
            let c = try JournalCursor(directory: dir, options: ReadOptions(onCorruption: .stop))
            var n: UInt64 = 0
            while let r = try c.next() {
                n += 1
                if r.seq != n { fail("iteration \(it): record \(n) has seq \(r.seq) (gap or reordering)") }
                if r != expected(r.seq) { fail("iteration \(it): record \(r.seq) differs from what was written (invented or damaged)") }
            }
            if n < maxReported { fail("iteration \(it): the journal holds \(n) records but \(maxReported) were reported durable") }
            if c.problemCount > 0 { fail("iteration \(it): reader problems: \(c.problems)") }
            if it % 10 == 0 || it == iterations {
                say("iteration \(it)/\(iterations): \(n) records, \(maxReported) reported durable, \(truncations) torn tails truncated, \(reindexedBlocks) blocks re-indexed, \(rebuilt) index rebuilds, OK")
            }
        } catch {
            fail("iteration \(it): \(error)")
        }
    }
    // A run in which no kill landed after the writer had reported a block written measured
    // nothing about durability: it must say so and fail, not print PASS.
    if killsDuringWrite == 0 || maxReported == 0 {
        fail("no SIGKILL of \(iterations) landed after the writer had written a block (\(maxReported) records reported durable): this run checked nothing about durability; raise --max-delay-ms or --iterations")
    }
    say("journal-crash: \(iterations) SIGKILLs (\(killsDuringWrite) after the writer had written blocks), \(truncations) torn tails/empty segments removed, \(reindexedBlocks) blocks the index lacked re-indexed, \(rebuilt) index rebuilds, \(maxReported) records reported durable, all present and intact: PASS")
}

let argv = CommandLine.arguments
if argv.count >= 4 && argv[1] == "child" {
    child(dir: argv[2], seed: UInt64(argv[3]) ?? 1)
}
if argv.count >= 2 && argv[1] == "run" {
    var iterations = 50, seed: UInt64 = 1, maxDelay: UInt64 = 40
    var dir = "/tmp/journal-crash-\(getpid())"
    var i = 2
    while i + 1 < argv.count {
        switch argv[i] {
        case "--iterations": iterations = Int(argv[i + 1]) ?? iterations
        case "--seed": seed = UInt64(argv[i + 1]) ?? seed
        case "--dir": dir = argv[i + 1]
        case "--max-delay-ms": maxDelay = UInt64(argv[i + 1]) ?? maxDelay
        default: fail("unknown option \(argv[i])")
        }
        i += 2
    }
    _ = system("rm -rf '\(dir)'")
    mkdir(dir, 0o755)
    say("journal-crash: \(iterations) iterations, seed \(seed), journal \(dir)")
    run(iterations: iterations, seed: seed, dir: dir, maxDelayMs: maxDelay)
    _ = system("rm -rf '\(dir)'")
    exit(0)
}
FileHandleErr.write("usage: journal-crash run [--iterations N] [--seed S] [--dir DIR] [--max-delay-ms MS]\n")
exit(2)
