// bench-journal: journal throughput, compression, read speed, seek latency and memory,
// each against a reference measured in the same run. Run in release mode:
//   tools/bench-journal/run.sh [--mb 200]
// or directly:
//   bench-journal all CORPUS.frames SCRATCH_DIR
#if canImport(Glibc)
import Glibc
#endif
import WireTapeCore
import WireTapeJournal

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func vmHWM() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, 512, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmHWM:") { return Int(s.split(separator: " ").dropFirst().first ?? "0").map { $0 * 1024 } ?? 0 }
    }
    return 0
}

func die(_ s: String) -> Never {
    var m = "bench-journal: \(s)\n"
    m.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

/// `v` with `d` decimals (no Foundation here).
func fmt(_ v: Double, _ d: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var p = 1.0
    for _ in 0..<d { p *= 10 }
    let r = (abs(v) * p).rounded()
    let whole = Int(r / p)
    var frac = String(Int(r) - whole * Int(p))
    while frac.count < d { frac = "0" + frac }
    return (v < 0 ? "-" : "") + String(whole) + (d > 0 ? "." + frac : "")
}

/// Streams a frames file (u32 len | u64 time | payload) with a 4 MiB buffer.
struct FramesReader {
    let fd: Int32
    var buf = [UInt8](repeating: 0, count: 8 << 20)
    var start = 0, end = 0
    init(_ path: String) {
        fd = open(path, O_RDONLY)
        if fd < 0 { die("cannot open \(path)") }
    }
    mutating func ensure(_ n: Int) -> Bool {
        if end - start >= n { return true }
        if n > buf.count { buf += [UInt8](repeating: 0, count: n - buf.count + 1024) }
        if start > 0 {
            buf.withUnsafeMutableBytes { p in _ = memmove(p.baseAddress!, p.baseAddress! + start, end - start) }
            end -= start
            start = 0
        }
        while end - start < n {
            let r = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + end, $0.count - end) }
            if r <= 0 { return false }
            end += r
        }
        return true
    }
    /// Calls body(payload, time) for each frame.
    mutating func forEach(_ body: (UnsafeRawBufferPointer, UInt64) throws -> Void) rethrows {
        while ensure(12) {
            let (len, t) = buf.withUnsafeBytes { p in
                (Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: start, as: UInt32.self))),
                 UInt64(littleEndian: p.loadUnaligned(fromByteOffset: start + 4, as: UInt64.self)))
            }
            guard ensure(12 + len) else { break }
            try buf.withUnsafeBytes { p in try body(UnsafeRawBufferPointer(rebasing: p[(start + 12)..<(start + 12 + len)]), t) }
            start += 12 + len
        }
    }
}

func dirBytes(_ dir: String) -> UInt64 {
    var total: UInt64 = 0
    guard let d = opendir(dir) else { return 0 }
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name.hasSuffix(".wtj") {
            var st = stat()
            stat(dir + "/" + name, &st)
            total += UInt64(st.st_size)
        }
    }
    closedir(d)
    return total
}

func fileSize(_ p: String) -> UInt64 {
    var st = stat()
    return stat(p, &st) == 0 ? UInt64(st.st_size) : 0
}

/// Child mode: append every frame of the corpus with default options.
func writeMode(_ frames: String, _ dir: String, blockSize: Int?) {
    var o = JournalWriterOptions()
    if let b = blockSize { o.blockSize = b }
    var fr = FramesReader(frames)
    var count = 0, bytes = 0
    let t0 = now()
    do {
        let w = try JournalWriter(directory: dir, options: o)
        var mono: UInt64 = 0
        try fr.forEach { p, t in
            mono &+= 1
            try w.appendFrame(direction: .inbound, opcode: .text, payload: p, epoch: 1, at: ReceiveTimestamp(wallNanos: Int64(t), monotonicNanos: t))
            count += 1
            bytes += p.count
        }
        try w.close()
    } catch { die("write: \(error)") }
    let dt = now() - t0
    print("\(count) \(bytes) \(dt) \(vmHWM())")
}

/// Child mode: read and decode every record (owned records, or borrowed views).
func readMode(_ dir: String, views: Bool) {
    let t0 = now()
    var count = 0, bytes = 0
    var check: UInt64 = 0
    do {
        let c = try JournalCursor(directory: dir, options: ReadOptions(onCorruption: .stop))
        if views {
            while let v = try c.nextView() {
                bytes += v.payload.count
                if let f = v.payload.first { check &+= UInt64(f) }
                count += 1
            }
        } else {
            while let r = try c.next() {
                if case .frame(_, _, let p) = r.body { bytes += p.count; check &+= UInt64(p.first ?? 0) }
                count += 1
            }
        }
    } catch { die("read: \(error)") }
    if check == 1 { print("") }
    let dt = now() - t0
    print("\(count) \(bytes) \(dt) \(vmHWM())")
}

/// Child mode: build a journal of ≥ `blocks` tiny blocks by cycling the corpus.
func manyBlocksMode(_ frames: String, _ dir: String, _ blocks: Int) {
    var o = JournalWriterOptions()
    o.blockSize = 256
    o.durability = .never
    o.indexBatchBlocks = 4096
    var written = 0
    var wall: Int64 = 1_700_000_000_000_000_000
    do {
        let w = try JournalWriter(directory: dir, options: o)
        while written < blocks {
            var fr = FramesReader(frames)
            fr.forEach { p, _ in
                guard written < blocks, p.count >= 256 else { return }
                wall += 40_000
                // 256..300 bytes with blockSize 256: exactly one frame per block.
                let q = UnsafeRawBufferPointer(rebasing: p[0..<min(p.count, 300)])
                _ = try? w.appendFrame(direction: .inbound, opcode: .text, payload: q, epoch: UInt64(written / 10000), at: ReceiveTimestamp(wallNanos: wall, monotonicNanos: UInt64(wall)))
                written += 1
            }
        }
        try w.close()
    } catch { die("many blocks: \(error)") }
    print("\(written)")
}

/// Child mode: time seeks to random wall times.
func seekMode(_ dir: String, _ n: Int) {
    guard let s = try? JournalSummary.load(directory: dir), let a = s.firstWall, let b = s.lastWall else { die("seek: no index") }
    guard let reader = try? JournalReader(directory: dir) else { die("seek: cannot open") }
    var rng: UInt64 = 12345
    var lat: [Double] = []
    for i in 0..<(n + 200) {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        let t = a + Int64((rng >> 11) % UInt64(b - a))
        let t0 = now()
        guard let c = try? reader.cursor(ReadOptions(filter: RecordFilter(fromWall: t))),
            let r = try? c.next(), r.wallNanos >= t
        else { die("seek to \(t) failed") }
        let dt = now() - t0
        if i >= 200 { lat.append(dt) }  // the first 200 warm the caches
    }
    lat.sort()
    print("\(s.blocks) \(lat[lat.count / 2]) \(lat[lat.count * 99 / 100]) \(vmHWM())")
}

func shell(_ cmd: String) -> Double {
    let t0 = now()
    if system(cmd) != 0 { die("command failed: \(cmd)") }
    return now() - t0
}

func child(_ args: [String]) -> [Double] {
    let exe = String(cString: realpath("/proc/self/exe", nil))
    let cmd = ([exe] + args).map { "'\($0)'" }.joined(separator: " ")
    guard let p = popen(cmd, "r") else { die("popen") }
    var out = ""
    var buf = [CChar](repeating: 0, count: 4096)
    while fgets(&buf, 4096, p) != nil { out += String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    if pclose(p) != 0 { die("child \(args) failed") }
    return out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
}

func verdict(_ ok: Bool) -> String { ok ? "goal met" : "GOAL MISSED" }
func mb(_ b: Double) -> String { fmt(b / 1e6, 1) }

func all(_ frames: String, _ scratch: String) {
    _ = system("rm -rf '\(scratch)'; mkdir -p '\(scratch)'")
    // The payload bytes alone, for the lz4 and write(2) references.
    let payload = scratch + "/payload.bin"
    do {
        var fr = FramesReader(frames)
        let fd = open(payload, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        fr.forEach { p, _ in _ = write(fd, p.baseAddress, p.count) }
        close(fd)
    }
    let payloadBytes = Double(fileSize(payload))
    print("corpus: \(frames), \(mb(payloadBytes)) MB of payload")
    // References, measured now.
    _ = shell("cat '\(payload)' > /dev/null")  // warm the page cache
    let tLZ4 = shell("lz4 -q -1 -B6 -f '\(payload)' '\(scratch)/payload.lz4'")
    _ = shell("lz4 -q -1 -B4 -f '\(payload)' '\(scratch)/payload64k.lz4'")
    let lz4Bytes64k = Double(fileSize(scratch + "/payload64k.lz4"))
    let lz4Bytes = Double(fileSize(scratch + "/payload.lz4"))
    let tLZ4d = shell("lz4 -q -d -f '\(scratch)/payload.lz4' -c > /dev/null")
    let tWrite = shell("dd if='\(payload)' of='\(scratch)/plain.bin' bs=1M status=none")
    // The journal.
    let w = child(["write", frames, scratch + "/j"])
    let (frameCount, wBytes, wTime, wRSS) = (w[0], w[1], w[2], w[3])
    let journalBytes = Double(dirBytes(scratch + "/j"))
    let r = child(["read", scratch + "/j"])
    let (rCount, rBytes, rTime, rRSS) = (r[0], r[1], r[2], r[3])
    if rCount != frameCount || rBytes != wBytes { die("read back \(rCount) records / \(rBytes) bytes, wrote \(frameCount) / \(wBytes)") }
    let ourW = wBytes / wTime, lz4W = payloadBytes / tLZ4, plainW = payloadBytes / tWrite
    let ourRatio = payloadBytes / journalBytes, lz4Ratio = payloadBytes / lz4Bytes
    let ourR = rBytes / rTime, lz4R = payloadBytes / tLZ4d
    let rv = child(["readviews", scratch + "/j"])
    let ourRV = rv[1] / rv[2]
    // The same corpus with 256 KiB blocks (lz4 -B6 means 1 MiB blocks).
    let w256 = child(["write", frames, scratch + "/j256", "262144"])
    let ratio256 = payloadBytes / Double(dirBytes(scratch + "/j256"))
    print("")
    print("append (default options)  \(mb(ourW)) MB/s, \(Int(frameCount / wTime)) frames/s")
    print("  lz4 -1 -B6 compress     \(mb(lz4W)) MB/s   ratio ours/lz4 = \(fmt(ourW / lz4W, 2))  (goal >= 0.80: \(verdict(ourW / lz4W >= 0.8)))")
    print("  plain write(2) (dd)     \(mb(plainW)) MB/s   ratio ours/write = \(fmt(ourW / plainW, 2))  (context)")
    print("compression ratio         \(fmt(ourRatio, 3)) (payload \(Int(payloadBytes)) / journal segments \(Int(journalBytes)) bytes)")
    print("  lz4 -1 -B6 (1 MiB blocks) \(fmt(lz4Ratio, 3))   ratio ours/lz4 = \(fmt(ourRatio / lz4Ratio, 3))  (goal >= 0.95: \(verdict(ourRatio / lz4Ratio >= 0.95)))")
    print("  lz4 -1 -B4 (64 KiB blocks, our default block size) \(fmt(payloadBytes / lz4Bytes64k, 3))   ratio ours/lz4 = \(fmt(ourRatio / (payloadBytes / lz4Bytes64k), 3))")
    print("  ours with blockSize 256 KiB: \(fmt(ratio256, 3)), ratio ours/lz4 -B6 = \(fmt(ratio256 / lz4Ratio, 3)); append \(mb(w256[1] / w256[2])) MB/s = \(fmt(w256[1] / w256[2] / lz4W, 2)) of lz4")
    print("sequential read (decode)  \(mb(ourR)) MB/s, \(Int(rCount / rTime)) records/s")
    print("  lz4 -d                  \(mb(lz4R)) MB/s   ratio ours/lz4 = \(fmt(ourR / lz4R, 2))  (goal >= 0.70: \(verdict(ourR / lz4R >= 0.7)))")
    print("  zero-copy views (nextView) \(mb(ourRV)) MB/s   ratio ours/lz4 = \(fmt(ourRV / lz4R, 2))  (goal >= 0.70: \(verdict(ourRV / lz4R >= 0.7)))")
    print("peak RSS (VmHWM)          writer \(mb(wRSS)) MB, reader \(mb(rRSS)) MB  (goal < 67.1 MB = 64 MiB: \(verdict(wRSS < 64 * 1048576 && rRSS < 64 * 1048576)))")
    let crc = child(["crc"])
    print("CRC-32C (\(CRC32C.usesHardware ? "SSE4.2 instruction" : "software, slicing-by-16")) \(mb(crc[0])) MB/s over 64 MiB in memory")
    // Seek latency on >= 1 M blocks.
    let blocks = Int(ProcessInfoLite.env("BENCH_SEEK_BLOCKS") ?? "") ?? 1_000_000
    let tb = now()
    _ = child(["manyblocks", frames, scratch + "/m", String(blocks)])
    let buildTime = now() - tb
    let s = child(["seek", scratch + "/m", "2000"])
    print("time seek, \(Int(s[0])) blocks   p50 \(fmt(s[1] * 1e6, 1)) µs, p99 \(fmt(s[2] * 1e6, 1)) µs warm, 2000 seeks (goal p99 < 1000 µs: \(verdict(s[2] < 0.001))); reader RSS \(mb(s[3])) MB; built in \(fmt(buildTime, 1)) s")
    _ = system("rm -rf '\(scratch)'")
}

/// Child mode: throughput of the software CRC-32C over 64 MiB.
func crcMode() {
    var buf = [UInt8](repeating: 0, count: 64 << 20)
    for i in buf.indices { buf[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
    var best = 1e9
    var c: UInt32 = 0
    for _ in 0..<5 {
        let t0 = now()
        c ^= buf.withUnsafeBytes { CRC32C.checksum($0) }
        best = min(best, now() - t0)
    }
    print("\(Double(buf.count) / best) \(c)")
}

enum ProcessInfoLite {
    static func env(_ k: String) -> String? { getenv(k).map { String(cString: $0) } }
}

let a = CommandLine.arguments
switch a.count > 1 ? a[1] : "" {
case "write": writeMode(a[2], a[3], blockSize: a.count > 4 ? Int(a[4]) : nil)
case "read": readMode(a[2], views: false)
case "readviews": readMode(a[2], views: true)
case "manyblocks": manyBlocksMode(a[2], a[3], Int(a[4]) ?? 1_000_000)
case "seek": seekMode(a[2], Int(a[3]) ?? 2000)
case "all": all(a[2], a[3])
case "crc": crcMode()
default:
    die("usage: bench-journal all CORPUS.frames SCRATCH_DIR")
}
