// journal-fuzz: fuzzes the block and record decoders.
//
// Normal build: a seeded mutation harness (no libFuzzer needed):
//   journal-fuzz [--iterations N] [--seed S] [CORPUS_FILES...]
// libFuzzer build (see run.sh --libfuzzer; FINDINGS.md's workaround):
//   swift build --scratch-path .build-fuzz --product journal-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
#if canImport(Glibc)
import Glibc
#endif
import CLZ4
import WireTapeCore
import WireTapeJournal

/// One input. Byte 0 selects the decoder; the invariant checked is "never crash, and what
/// decodes re-encodes to the same records".
func fuzzOne(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 1 else { return }
    let rest = UnsafeRawBufferPointer(rebasing: data[1...])
    switch data[0] % 4 {
    case 0, 3:
        // A whole block: header, CRC, LZ4 (selector 3: against the fixed dictionary, codec 2), records.
        let dict = data[0] % 4 == 3 ? fuzzDictionary : nil
        if let recs = try? JournalBlockCodec.decodeBlock(rest, dictionary: dict), !recs.isEmpty {
            let again = try! JournalBlockCodec.encodeBlock(recs, dictionary: dict)
            let back = again.withUnsafeBytes { try? JournalBlockCodec.decodeBlock($0, dictionary: dict) }
            precondition(back == recs, "block round trip differs")
        }
    case 1:
        // Uncompressed records.
        roundTripRecords(rest)
    default:
        // LZ4 payload then records (the path a block takes after its CRC passed).
        var out = [UInt8](repeating: 0, count: 1 << 16)
        let n = out.withUnsafeMutableBytes { o in
            LZ4_decompress_safe(rest.baseAddress?.assumingMemoryBound(to: CChar.self), o.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(rest.count), Int32(o.count))
        }
        if n > 0 { out.withUnsafeBytes { roundTripRecords(UnsafeRawBufferPointer(rebasing: $0[0..<Int(n)])) } }
    }
}

func roundTripRecords(_ raw: UnsafeRawBufferPointer) {
    guard let recs = try? JournalBlockCodec.decodeRecords(raw, firstSeq: 1000), !recs.isEmpty else { return }
    // Records of unknown kinds are skipped, so the re-encoded bytes start at the first known one.
    let bytes = JournalBlockCodec.encodeRecords(recs)
    let back = bytes.withUnsafeBytes { try? JournalBlockCodec.decodeRecords($0, firstSeq: recs[0].seq) }
    if back != recs {
        var hex = ""
        for b in raw { hex += String(b, radix: 16) + " " }
        fatalError("record round trip differs for raw bytes: \(hex)\n decoded: \(recs)\n again: \(String(describing: back))")
    }
}

/// The dictionary of selector-3 inputs (codec-2 blocks): trade-like text.
let fuzzDictionary: [UInt8] = Array((0..<40).map { "{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"t\":\($0),\"p\":\"6\($0 % 7)000.5\"}" }.joined().utf8)

/// Seed inputs: valid blocks (codecs 1 and 2), records and LZ4 payloads of every record kind.
func seeds() -> [[UInt8]] {
    var recs: [JournalRecord] = []
    let bodies: [RecordBody] = [
        .frame(direction: .inbound, opcode: .text, payload: Array("{\"e\":\"trade\",\"p\":\"1.5\"}".utf8)),
        .frame(direction: .outbound, opcode: .binary, payload: [0, 1, 2, 255]),
        .lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1006, closeReason: "x", error: "connectionLost", message: "m", closedBy: .peer, counters: LifecycleCounters(totalLagged: 3, totalLaggedBytes: 900, reconnects: 1, failedAttempts: 2))),
        .connect(ConnectEvent(outcome: .failed, url: "wss://a/b", httpStatus: 503, error: "handshakeRejected", message: "busy", retryAfterSeconds: 7)),
        .session(SessionEvent(phase: .start, url: "wss://a", headers: [HTTPHeaderField("A", "b")], message: "hi")),
        .lag(count: 3, bytes: 900),
        .annotation("note"),
    ]
    for (i, b) in bodies.enumerated() {
        recs.append(JournalRecord(seq: 1000 + UInt64(i * 2), epoch: UInt64(i / 3), wallNanos: 1_700_000_000_000_000_000 + Int64(i) * 40_000, monoNanos: UInt64(i) * 40_000, body: b))
    }
    let block = try! JournalBlockCodec.encodeBlock(recs + recs.map { var r = $0; r.seq += 100; return r })
    let raw = JournalBlockCodec.encodeRecords(recs)
    var lz = [UInt8](repeating: 0, count: 4096)
    let n = raw.withUnsafeBytes { r in lz.withUnsafeMutableBytes { o in
        LZ4_compress_default(r.baseAddress!.assumingMemoryBound(to: CChar.self), o.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(r.count), Int32(o.count))
    } }
    let dictBlock = try! JournalBlockCodec.encodeBlock(recs, dictionary: fuzzDictionary)
    return [[0] + block, [1] + raw, [2] + lz[0..<Int(n)], [3] + dictBlock]
}

func mutate(_ input: [UInt8], _ rng: inout SeededRandom, pool: [[UInt8]]) -> [UInt8] {
    var b = input
    for _ in 0..<(1 + Int(rng.next() % 4)) {
        let r = rng.next()
        let pos = b.count > 1 ? 1 + Int(rng.next() % UInt64(b.count - 1)) : 0
        switch r % 8 {
        case 0, 1: if !b.isEmpty { b[pos] ^= UInt8(truncatingIfNeeded: 1 << (rng.next() % 8)) }
        case 2: if !b.isEmpty { b[pos] = UInt8(truncatingIfNeeded: rng.next()) }
        case 3: if !b.isEmpty { b[pos] = [0, 0xFF, 0x7F, 0x80][Int(rng.next() % 4)] }
        case 4: if b.count > 1 { b.removeSubrange(pos..<min(b.count, pos + 1 + Int(rng.next() % 16))) }
        case 5: b.insert(contentsOf: (0..<Int(1 + rng.next() % 8)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: min(pos, b.count))
        case 6: if b.count > 2 { b.removeLast(Int(rng.next() % UInt64(b.count / 2 + 1))) }
        default:
            let other = pool[Int(rng.next() % UInt64(pool.count))]
            if other.count > 2 { b.insert(contentsOf: other[1..<min(other.count, 1 + Int(rng.next() % 64))], at: min(pos, b.count)) }
        }
    }
    return b
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// libFuzzer's entry point for one input (its `main` links against it).
@_cdecl("LLVMFuzzerTestOneInput")
func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_cdecl("journal_fuzz_main")
func journalFuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { data, size in
        fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
#else
@main
struct JournalFuzz {
    static func main() {
        var iterations = 200_000
        var seed: UInt64 = 1
        var files: [String] = []
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let a = args.next() {
            switch a {
            case "--iterations": iterations = Int(args.next() ?? "") ?? iterations
            case "--seed": seed = UInt64(args.next() ?? "") ?? seed
            default: files.append(a)
            }
        }
        var pool = seeds()
        for f in files {
            guard let fp = fopen(f, "rb") else { continue }
            var bytes: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buf, 1, buf.count, fp)
                if n <= 0 { break }
                bytes += buf[0..<n]
            }
            fclose(fp)
            pool.append(bytes)
            bytes.withUnsafeBytes { fuzzOne($0) }
        }
        var rng = SeededRandom(seed: seed)
        var accepted = 0
        for i in 0..<iterations {
            let base = pool[Int(rng.next() % UInt64(pool.count))]
            let m = mutate(base, &rng, pool: pool)
            m.withUnsafeBytes { fuzzOne($0) }
            // Keep some mutants that still decode, to walk deeper.
            let decodes = m.withUnsafeBytes { p -> Bool in
                guard p.count > 1 else { return false }
                let rest = UnsafeRawBufferPointer(rebasing: p[1...])
                switch p[0] % 4 {
                case 0: return (try? JournalBlockCodec.decodeBlock(rest)) != nil
                case 3: return (try? JournalBlockCodec.decodeBlock(rest, dictionary: fuzzDictionary)) != nil
                case 1: return (try? JournalBlockCodec.decodeRecords(rest, firstSeq: 1000)) != nil
                default: return false
                }
            }
            if decodes && pool.count < 512 { pool.append(m); accepted += 1 }
            if (i + 1) % 100_000 == 0 { print("journal-fuzz: \(i + 1) inputs") }
        }
        print("journal-fuzz: \(iterations) mutated inputs (seed \(seed)), \(files.count) corpus files, \(accepted) decodable mutants kept, no crash, all round trips equal: PASS")
    }
}
#endif
