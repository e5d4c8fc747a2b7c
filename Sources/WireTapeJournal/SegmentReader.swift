#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a reader finds at a byte offset of a segment.
enum SegmentItem {
    /// A block whose header is valid (magic, header CRC, consistent fields) and whose payload
    /// lies inside the file. The payload is not yet checked.
    case block(BlockHeader, offset: UInt64)
    /// A valid seal at this offset ending the segment.
    case seal(SegmentSeal, offset: UInt64)
    /// The end of the file, exactly at a block boundary, with no seal (an open segment).
    case end(offset: UInt64)
    /// Invalid bytes from `offset` to the end of the file, with no valid block after them:
    /// a torn tail (a write cut short by a crash).
    case torn(offset: UInt64, why: String)
    /// Invalid bytes at `offset`; a valid block or seal starts again at `resumeAt`.
    case corrupt(offset: UInt64, why: String, resumeAt: UInt64)
}

/// Reads one segment file: its header, the items at each offset, and block payloads, with
/// all lengths and checksums verified. Memory: one block's payload plus its decompression.
final class SegmentReader {
    let path: String
    let name: String
    let file: FileDescriptor
    /// The size when opened or last refreshed.
    private(set) var size: UInt64
    /// The header, when it is valid.
    private(set) var header: SegmentHeader?
    /// Why the header is invalid, when it is.
    private(set) var headerProblem: String?
    /// The segment's dictionary (format 2, SPEC.md §3.1), when it has a valid one.
    private(set) var dictionary: SegmentDictionary?
    /// Where the first block may start: after the header, and after the dictionary record
    /// when there is a valid one.
    private(set) var dataStart = UInt64(JournalFormat.segmentHeaderSize)
    /// The file was too short for the dictionary record it may start with (its writer's
    /// first write was still in progress): look again when the size grows.
    private var dictionaryMayFollow = false
    private let headerBytes = GrowableBytes(capacity: 128)
    let stored = GrowableBytes(capacity: 80 << 10)
    /// The dictionary (if any), then the last decompressed block: see ``rawBytes``.
    private let decoded = GrowableBytes(capacity: 80 << 10)

    init(directory: String, name: String) throws(JournalError) {
        self.name = name
        path = joinPath(directory, name)
        file = try FileDescriptor.open(path, O_RDONLY, what: "opening segment")
        size = try file.size()
        try readHeader()
        try readDictionary()
    }

    /// The uncompressed bytes of the block last loaded by ``loadPayload(_:at:)``.
    var rawBytes: UnsafeRawBufferPointer {
        let prefix = dictionary?.count ?? 0
        return UnsafeRawBufferPointer(start: decoded.base + prefix, count: decoded.count - prefix)
    }

    /// Loads the dictionary record at offset 40 (SPEC.md §3.1) of a format-2 segment with a
    /// valid header when it is there and valid; otherwise blocks start at 40 and the walk
    /// judges those bytes (§7).
    private func readDictionary() throws(JournalError) {
        dictionaryMayFollow = false
        guard let h = header, h.major >= 2 else { return }
        let at = UInt64(JournalFormat.segmentHeaderSize)
        guard size >= at + UInt64(JournalFormat.dictionaryHeaderSize) else {
            dictionaryMayFollow = true
            return
        }
        headerBytes.clear()
        headerBytes.reserve(JournalFormat.dictionaryHeaderSize)
        headerBytes.count = try file.read(into: headerBytes.base, count: JournalFormat.dictionaryHeaderSize, at: at)
        guard case .valid(let length, let crc) = SegmentDictionary.readHeader(headerBytes.bytes) else { return }
        let end = at + UInt64(JournalFormat.dictionaryHeaderSize + length)
        guard end <= size else {
            dictionaryMayFollow = true
            return
        }
        decoded.clear()
        decoded.reserve(length)
        decoded.count = try file.read(into: decoded.base, count: length, at: at + UInt64(JournalFormat.dictionaryHeaderSize))
        guard decoded.count == length, CRC32C.checksum(decoded.bytes) == crc else {
            decoded.clear()
            return
        }
        dictionary = SegmentDictionary(decoded.bytes)
        dataStart = end
    }

    /// Re-reads the file size of a segment being written (and its dictionary record, when a
    /// reader opened the file before the writer's first write completed).
    func refreshSize() throws(JournalError) {
        size = try file.size()
        if dictionaryMayFollow { try readDictionary() }
    }

    private func readHeader() throws(JournalError) {
        headerBytes.clear()
        headerBytes.reserve(JournalFormat.segmentHeaderSize)
        let n = try file.read(into: headerBytes.base, count: JournalFormat.segmentHeaderSize, at: 0)
        headerBytes.count = n
        if n < JournalFormat.segmentHeaderSize {
            headerProblem = "the segment header is truncated (\(n) of \(JournalFormat.segmentHeaderSize) bytes)"
            return
        }
        switch Result(catching: { () throws(SegmentHeader.DecodeError) in try SegmentHeader.decode(headerBytes.bytes) }) {
        case .success(let h): header = h
        case .failure(.unsupported(let major)):
            throw JournalError(
                .unsupportedVersion,
                "\(path) was written with journal format major version \(major); this build reads version \(JournalFormat.majorVersion). Use a newer wiretape.",
                path: path, offset: 8)
        case .failure(.badMagic): headerProblem = "the segment header has a bad magic (not a WireTape segment)"
        case .failure(.badChecksum): headerProblem = "the segment header fails its CRC-32C"
        case .failure(.badSize(let s)): headerProblem = "the segment header declares size \(s), expected \(JournalFormat.segmentHeaderSize)"
        }
    }

    /// What is at `offset` (a block boundary).
    func item(at offset: UInt64) throws(JournalError) -> SegmentItem {
        if offset >= size { return .end(offset: offset) }
        let avail = Int(min(UInt64(JournalFormat.blockHeaderSize), size - offset))
        headerBytes.clear()
        headerBytes.reserve(JournalFormat.blockHeaderSize)
        headerBytes.count = try file.read(into: headerBytes.base, count: avail, at: offset)
        let hb = headerBytes.bytes
        var why: String
        if hb.count >= 4 {
            let magic = UInt32(littleEndian: hb.loadUnaligned(as: UInt32.self))
            if magic == JournalFormat.sealMagic {
                if let seal = SegmentSeal.decode(hb), seal.dataEnd == offset {
                    if offset + UInt64(JournalFormat.sealSize) == size { return .seal(seal, offset: offset) }
                    why = "\(size - offset - UInt64(JournalFormat.sealSize)) bytes follow the seal"
                } else {
                    why = hb.count < JournalFormat.sealSize ? "the seal is truncated" : "the seal fails its CRC-32C or names another offset"
                }
            } else if magic == JournalFormat.blockMagic {
                if hb.count < JournalFormat.blockHeaderSize {
                    why = "the block header is truncated (\(hb.count) of \(JournalFormat.blockHeaderSize) bytes)"
                } else {
                    do {
                        let h = try BlockHeader.read(hb)
                        let end = offset + UInt64(JournalFormat.blockHeaderSize) + UInt64(h.storedLength)
                        if end <= size { return .block(h, offset: offset) }
                        why = "the block payload is truncated (\(h.storedLength) bytes declared, \(size - offset - 80) present)"
                    } catch .badHeaderChecksum {
                        why = "the block header fails its CRC-32C"
                    } catch .inconsistent(let w) {
                        why = "the block header is inconsistent: \(w)"
                    } catch {
                        why = "the block header has a bad magic"
                    }
                }
            } else if magic == JournalFormat.dictionaryMagic && offset == UInt64(JournalFormat.segmentHeaderSize) {
                why = "the dictionary record is damaged (bad header or dictionary CRC-32C, or a length out of range)"
            } else {
                why = String(format8: magic)
            }
        } else {
            why = "\(hb.count) stray bytes at the end"
        }
        if let resume = try resync(after: offset) { return .corrupt(offset: offset, why: why, resumeAt: resume) }
        if try isTear(at: offset) { return .torn(offset: offset, why: why) }
        // Unreadable to the end, but not what a cut-short write leaves: damage, kept in place.
        return .corrupt(offset: offset, why: "\(why), to the end of the file", resumeAt: size)
    }

    /// Whether the unreadable bytes from `offset` to the end of the file are what a write cut
    /// short by a crash leaves (SPEC.md §7.2): fewer bytes than a block header, a valid block
    /// header whose payload runs past the end of the file, or only zero bytes (space the file
    /// system allocated but never filled).
    func isTear(at offset: UInt64) throws(JournalError) -> Bool {
        let remaining = size - offset
        if remaining < UInt64(JournalFormat.blockHeaderSize) { return true }
        let hb = headerBytes.bytes
        // A dictionary record cut short (the segment's first write).
        if offset == UInt64(JournalFormat.segmentHeaderSize), dictionary == nil, (header?.major ?? 0) >= 2,
            case .valid(let length, _) = SegmentDictionary.readHeader(hb),
            offset + UInt64(JournalFormat.dictionaryHeaderSize + length) > size
        {
            return true
        }
        if hb.count >= JournalFormat.blockHeaderSize,
            UInt32(littleEndian: hb.loadUnaligned(as: UInt32.self)) == JournalFormat.blockMagic,
            let h = try? BlockHeader.read(hb),
            offset + UInt64(JournalFormat.blockHeaderSize) + UInt64(h.storedLength) > size
        {
            return true
        }
        let chunk = 1 << 20
        let buf = GrowableBytes(capacity: chunk)
        var pos = offset
        while pos < size {
            let n = try file.read(into: buf.base, count: Int(min(UInt64(chunk), size - pos)), at: pos)
            guard n > 0 else { break }
            if !UnsafeRawBufferPointer(start: buf.base, count: n).allSatisfy({ $0 == 0 }) { return false }
            pos += UInt64(n)
        }
        return true
    }

    /// The offset of the next valid block header or seal after `offset`, if any.
    func resync(after offset: UInt64) throws(JournalError) -> UInt64? {
        let chunk = 1 << 20
        let buf = GrowableBytes(capacity: chunk + 128)
        var pos = offset + 1
        while pos + 4 <= size {
            let want = Int(min(UInt64(chunk + JournalFormat.blockHeaderSize), size - pos))
            buf.clear()
            buf.reserve(want)
            buf.count = try file.read(into: buf.base, count: want, at: pos)
            let b = buf.bytes
            var i = 0
            while i + 4 <= b.count && i < chunk {
                if b[i] == 0x57 && b[i + 1] == 0x54 && b[i + 2] == 0x4A && (b[i + 3] == 0x42 || b[i + 3] == 0x53) {
                    let at = pos + UInt64(i)
                    let rest = UnsafeRawBufferPointer(rebasing: b[i...])
                    if b[i + 3] == 0x42, rest.count >= JournalFormat.blockHeaderSize,
                        let h = try? BlockHeader.read(rest),
                        at + 80 + UInt64(h.storedLength) <= size
                    {
                        return at
                    }
                    if b[i + 3] == 0x53, let seal = SegmentSeal.decode(rest), seal.dataEnd == at {
                        return at
                    }
                }
                i += 1
            }
            if want <= JournalFormat.blockHeaderSize { break }
            pos += UInt64(chunk)
        }
        return nil
    }

    /// Reads the payload of `header` at `offset`, checks its CRC and decompresses it into
    /// ``rawBytes``; returns why it is bad, or nil when good.
    func loadPayload(_ header: BlockHeader, at offset: UInt64) throws(JournalError) -> String? {
        let n = Int(header.storedLength)
        stored.clear()
        stored.reserve(n)
        stored.count = try file.read(into: stored.base, count: n, at: offset + UInt64(JournalFormat.blockHeaderSize))
        guard stored.count == n else { return "the payload is truncated" }
        let crc = CRC32C.checksum(stored.bytes)
        guard crc == header.payloadCRC else {
            return "the payload fails its CRC-32C (stored \(hex(header.payloadCRC)), computed \(hex(crc)))"
        }
        if header.codec == JournalFormat.codecLZ4Dictionary && dictionary == nil {
            return "the block is compressed against the segment's dictionary (codec 2), and the segment has no valid dictionary"
        }
        guard BlockCompressor.decompress(
            stored.bytes, codec: header.codec, rawLength: Int(header.rawLength), into: decoded, prefix: dictionary?.count ?? 0)
        else {
            return "the payload does not decompress to \(header.rawLength) bytes"
        }
        return nil
    }

    /// Releases memory held after an unusually large block.
    func trimBuffers() {
        stored.shrink(to: 256 << 10)
        decoded.shrink(to: 256 << 10)
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - s.count) + s
}

extension String {
    init(format8 magic: UInt32) {
        self = "no block or seal magic here (found \(hex(magic)))"
    }
}

/// The records of a decompressed block, validated against the header before any is used:
/// count, sequence range, wall and epoch ranges, and every non-frame body.
struct BlockContents {
    var heads: [RecordHead] = []
    var kinds = KindCounts()
    var payloadBytes: UInt64 = 0
    var unknown = 0

    /// Decodes and checks every record; returns why the block is bad, or nil.
    mutating func validate(_ raw: UnsafeRawBufferPointer, header h: BlockHeader) -> String? {
        heads.removeAll(keepingCapacity: true)
        kinds = KindCounts()
        payloadBytes = 0
        unknown = 0
        var state = DeltaState(firstSeq: h.firstSeq)
        var minWall = Int64.max, maxWall = Int64.min, minEpoch = UInt64.max, maxEpoch = UInt64.min
        do throws(DecodeFailure) {
            var cols = try BlockColumns(raw)
            while let head = try cols.next(state: &state) {
                if heads.count == Int(h.recordCount) {
                    return "the block holds more than the \(h.recordCount) records its header declares"
                }
                if let kind = RecordKind(rawValue: head.kindByte) {
                    kinds[kind] += 1
                    if kind == .inboundFrame || kind == .outboundFrame {
                        payloadBytes += UInt64(head.bodyEnd - head.bodyStart)
                    } else {
                        _ = try RecordCodec.decodeBody(head, in: raw)
                    }
                } else {
                    unknown += 1
                }
                minWall = min(minWall, head.wall); maxWall = max(maxWall, head.wall)
                minEpoch = min(minEpoch, head.epoch); maxEpoch = max(maxEpoch, head.epoch)
                heads.append(head)
            }
            try cols.checkExhausted()
        } catch {
            return "record \(heads.count) at byte \(error.position) of the uncompressed block: \(error.field): \(error.why)"
        }
        if heads.count != Int(h.recordCount) { return "the block holds \(heads.count) records, its header declares \(h.recordCount)" }
        if heads.last!.seq != h.lastSeq { return "the last record has seq \(heads.last!.seq), the header declares \(h.lastSeq)" }
        if minWall != h.minWall || maxWall != h.maxWall { return "record wall times \(minWall)...\(maxWall) differ from the header's \(h.minWall)...\(h.maxWall)" }
        if minEpoch != h.minEpoch || maxEpoch != h.maxEpoch { return "record epochs \(minEpoch)...\(maxEpoch) differ from the header's \(h.minEpoch)...\(h.maxEpoch)" }
        return nil
    }
}
