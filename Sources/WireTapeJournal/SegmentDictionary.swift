import CLZ4

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A segment's LZ4 dictionary (format 2, SPEC.md §3.1): up to 64 KiB of frame payload bytes
/// sampled from the previous segment, stored once after the segment header, against which
/// every codec-2 block of the segment is compressed.
///
/// Immutable after `init`; ``DictionaryCompressor`` compresses against it.
///
/// `@unchecked Sendable`: `bytes` is set in `init` and only read afterwards, so the
/// compression thread and the owner can share it.
final class SegmentDictionary: @unchecked Sendable {
    /// The dictionary bytes.
    let bytes: UnsafeMutableRawBufferPointer

    /// The dictionary of `content` (1 … 65,536 bytes).
    init(_ content: UnsafeRawBufferPointer) {
        precondition(!content.isEmpty && content.count <= JournalFormat.maxDictionaryBytes)
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: content.count, alignment: 16)
        bytes.copyMemory(from: content)
    }

    deinit { bytes.deallocate() }

    var count: Int { bytes.count }

    /// The dictionary record (SPEC.md §3.1): `WTJD`, length, CRC-32C of the bytes, CRC-32C of
    /// the 12 bytes before it, then the bytes.
    func record() -> [UInt8] {
        let b = GrowableBytes(capacity: JournalFormat.dictionaryHeaderSize + count)
        b.appendU32(JournalFormat.dictionaryMagic)
        b.appendU32(UInt32(count))
        b.appendU32(CRC32C.checksum(UnsafeRawBufferPointer(bytes)))
        b.appendU32(CRC32C.checksum(b.bytes))
        b.append(UnsafeRawBufferPointer(bytes))
        return b.toArray()
    }

    /// What the 16 bytes of a dictionary record header say.
    enum RecordHeader: Equatable {
        /// Not a dictionary record (another magic, a bad header CRC, a length out of range).
        case none
        /// A valid header announcing `length` dictionary bytes with CRC `crc`.
        case valid(length: Int, crc: UInt32)
    }

    /// Parses a dictionary record header (at least 16 bytes).
    static func readHeader(_ b: UnsafeRawBufferPointer) -> RecordHeader {
        guard b.count >= JournalFormat.dictionaryHeaderSize else { return .none }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        guard u32(0) == JournalFormat.dictionaryMagic,
            u32(12) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<12])),
            u32(4) >= 1, u32(4) <= UInt32(JournalFormat.maxDictionaryBytes)
        else { return .none }
        return .valid(length: Int(u32(4)), crc: u32(8))
    }
}

/// Compresses blocks against a dictionary in LZ4's prefix mode (SPEC.md §4.2): the block is
/// copied right after the dictionary in one buffer, and a template stream, `LZ4_loadDict`ed
/// there once per dictionary (and buffer address), is copied per block. ~10% faster than
/// compressing against a separate dictionary (`LZ4_compress_fast_continue`'s external
/// dictionary mode, measured 0.78 of plain LZ4's speed here, prefix mode 0.87). One per
/// thread: not thread-safe.
final class DictionaryCompressor {
    private let template = LZ4_createStream()!
    private let work = LZ4_createStream()!
    private let buffer = GrowableBytes(capacity: JournalFormat.maxDictionaryBytes + (80 << 10))
    private var holds: SegmentDictionary?
    private var loadedAt: UnsafeMutableRawPointer?

    deinit {
        _ = LZ4_freeStream(template)
        _ = LZ4_freeStream(work)
    }

    /// `LZ4_compress_fast_continue` of `raw` into `dst` (room for `bound` bytes), with the
    /// history `d` right before it; returns its result (0 when it does not fit).
    func compress(
        _ raw: UnsafeRawBufferPointer, against d: SegmentDictionary, into dst: UnsafeMutablePointer<CChar>, bound: Int,
        acceleration: Int32
    ) -> Int {
        if holds !== d {
            buffer.clear()
            buffer.append(UnsafeRawBufferPointer(d.bytes))
            holds = d
            loadedAt = nil
        }
        buffer.count = d.count
        buffer.append(raw)
        if loadedAt != buffer.base {
            _ = LZ4_loadDict(template, buffer.base.assumingMemoryBound(to: CChar.self), Int32(d.count))
            loadedAt = buffer.base
        }
        work.update(from: template, count: 1)
        let src = (buffer.base + d.count).assumingMemoryBound(to: CChar.self)
        return Int(LZ4_compress_fast_continue(work, src, dst, Int32(raw.count), Int32(bound), acceleration))
    }

    /// Releases memory held after an unusually large block (the dictionary is kept).
    func trim(to target: Int) {
        buffer.count = holds?.count ?? 0
        buffer.shrink(to: JournalFormat.maxDictionaryBytes + target)
    }
}

/// The writer's samples for the next segment's dictionary (SPEC.md §3.1, "Building the
/// dictionary"): the first ``sampleBytes`` bytes of the frame payload area of each of the
/// last ``slots`` blocks written, oldest first. Deterministic, so a writer in another
/// language produces the same dictionary; 1 KiB copied per block.
struct DictionarySampler {
    /// Blocks sampled: 64.
    static let slots = 64
    /// Bytes taken from the start of each block's frame payload area: 1 KiB.
    static let sampleBytes = 1024
    /// A dictionary is built only from at least this many sampled bytes (4 KiB).
    static let minimumBytes = 4096

    private var ring = [UInt8](repeating: 0, count: slots * sampleBytes)
    private var lengths = [Int](repeating: 0, count: slots)
    private var next = 0
    /// Blocks sampled since the writer opened (saturating at ``slots``).
    private(set) var filled = 0

    /// Whether ``slots`` blocks have been sampled and they hold enough bytes for a dictionary.
    var isReady: Bool { filled == Self.slots && lengths.reduce(0, +) >= Self.minimumBytes }

    /// Samples a block's uncompressed bytes (columns, then the payload area; SPEC.md §5.2).
    mutating func sample(block raw: UnsafeRawBufferPointer) {
        var start = 4 * blockColumnCount
        guard raw.count >= start else { return }
        for i in 0..<blockColumnCount {
            start += Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
        let n = max(0, min(Self.sampleBytes, raw.count - start))
        let slot = next
        ring.withUnsafeMutableBytes { r in
            if n > 0 { (r.baseAddress! + slot * Self.sampleBytes).copyMemory(from: raw.baseAddress! + start, byteCount: n) }
        }
        lengths[slot] = n
        next = (next + 1) % Self.slots
        filled = min(filled + 1, Self.slots)
    }

    /// Samples the journal's blocks on disk as if this writer had written them (SPEC.md
    /// §3.1), so that a restarted writer's next segment gets a dictionary at once instead of
    /// after a warm-up segment: of the last ``slots`` blocks with a valid header (newest
    /// segments first, back through older segments until there are ``slots``), oldest first,
    /// each one that is good. Reads those blocks' payloads and the headers before them in
    /// their segments; anything unreadable gives no sample.
    mutating func seed(directory: String) {
        guard let names = try? listSegments(directory) else { return }
        var found: [(reader: SegmentReader, header: BlockHeader, offset: UInt64)] = []
        for seg in names.reversed() where found.count < Self.slots {
            guard let r = try? SegmentReader(directory: directory, name: seg.name) else { continue }
            var blocks: [(reader: SegmentReader, header: BlockHeader, offset: UInt64)] = []
            var offset = r.dataStart
            walk: while let item = try? r.item(at: offset) {
                switch item {
                case .block(let h, let at):
                    blocks.append((r, h, at))
                    offset = at + UInt64(JournalFormat.blockHeaderSize) + UInt64(h.storedLength)
                case .corrupt(_, _, let resume): offset = resume
                case .seal, .end, .torn: break walk
                }
            }
            found = blocks.suffix(Self.slots - found.count) + found
        }
        var contents = BlockContents()
        for b in found {
            // `loadPayload` returns why the block is bad, nil when it is good.
            let problem: String?
            do { problem = try b.reader.loadPayload(b.header, at: b.offset) } catch { continue }
            guard problem == nil, contents.validate(b.reader.rawBytes, header: b.header) == nil else { continue }
            sample(block: b.reader.rawBytes)
        }
    }

    /// The dictionary of the samples, oldest first; nil below ``minimumBytes``.
    func dictionary() -> SegmentDictionary? {
        var content: [UInt8] = []
        content.reserveCapacity(Self.slots * Self.sampleBytes)
        for k in 0..<filled {
            let slot = (next - filled + k + Self.slots) % Self.slots
            content += ring[slot * Self.sampleBytes..<(slot * Self.sampleBytes + lengths[slot])]
        }
        guard content.count >= Self.minimumBytes else { return nil }
        return content.withUnsafeBytes { SegmentDictionary($0) }
    }
}
