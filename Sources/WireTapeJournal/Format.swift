import CLZ4

/// Constants of the on-disk format (journal-format/SPEC.md). All integers are little-endian.
public enum JournalFormat {
    /// The segment file magic, the 8 ASCII bytes `WTJSEGMT`.
    public static let segmentMagic: [UInt8] = Array("WTJSEGMT".utf8)
    /// The major format version this build writes (2: segment dictionaries, codec 2).
    public static let majorVersion: UInt16 = 2
    /// The minor format version this build writes; readers accept any minor version.
    public static let minorVersion: UInt16 = 0
    /// The major versions this build reads: 1 (the first format) and 2.
    public static let readableMajorVersions: ClosedRange<UInt16> = 1...2
    /// Size of the segment header in bytes.
    public static let segmentHeaderSize = 40
    /// Block magic `WTJB` read as a little-endian u32.
    public static let blockMagic: UInt32 = 0x424A_5457
    /// Seal magic `WTJS` read as a little-endian u32.
    public static let sealMagic: UInt32 = 0x534A_5457
    /// Size of a block header in bytes.
    public static let blockHeaderSize = 80
    /// Size of the seal (segment footer) in bytes.
    public static let sealSize = 48
    /// Largest uncompressed block a reader accepts (128 MiB); larger lengths are corruption.
    public static let maxBlockBytes = 128 << 20
    /// Codec byte: the payload is stored uncompressed.
    public static let codecNone: UInt8 = 0
    /// Codec byte: the payload is one LZ4 block (raw LZ4 block format, no frame).
    public static let codecLZ4: UInt8 = 1
    /// Codec byte (format 2): one LZ4 block compressed against the segment's dictionary.
    public static let codecLZ4Dictionary: UInt8 = 2
    /// Dictionary record magic `WTJD` read as a little-endian u32 (format 2, SPEC.md §3.1).
    public static let dictionaryMagic: UInt32 = 0x444A_5457
    /// Size of the dictionary record's header (before the dictionary bytes).
    public static let dictionaryHeaderSize = 16
    /// The largest dictionary a segment holds (64 KiB: LZ4's window).
    public static let maxDictionaryBytes = 65536
    /// The index file name inside a journal directory.
    public static let indexFileName = "index.sqlite"
    /// The writer lock file name inside a journal directory.
    public static let lockFileName = "writer.lock"
    /// The segment file extension.
    public static let segmentExtension = ".wtj"

    /// The file name of the segment whose first record has sequence number `firstSeq`:
    /// `seg-` + 20 decimal digits + `.wtj`, so names sort in sequence order.
    public static func segmentFileName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "seg-" + String(repeating: "0", count: 20 - digits.count) + digits + segmentExtension
    }

    /// The first sequence number encoded in a segment file name, or nil if it is not one.
    public static func parseSegmentFileName(_ name: String) -> UInt64? {
        guard name.hasPrefix("seg-"), name.hasSuffix(segmentExtension), name.utf8.count == 4 + 20 + 4 else { return nil }
        let digits = name.dropFirst(4).prefix(20)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }
}

/// The segment header (SPEC.md §3): 40 bytes at offset 0 of every segment file.
struct SegmentHeader: Sendable, Equatable {
    var major: UInt16 = JournalFormat.majorVersion
    var minor: UInt16 = JournalFormat.minorVersion
    var flags: UInt32 = 0
    var firstSeq: UInt64
    var createdWallNanos: Int64

    func encode() -> [UInt8] {
        let b = GrowableBytes(capacity: 40)
        b.append(JournalFormat.segmentMagic)
        b.appendU16(major)
        b.appendU16(minor)
        b.appendU32(UInt32(JournalFormat.segmentHeaderSize))
        b.appendU32(flags)
        b.appendU64(firstSeq)
        b.appendU64(UInt64(bitPattern: createdWallNanos))
        b.appendU32(CRC32C.checksum(b.bytes))
        return b.toArray()
    }

    enum DecodeError: Error { case badMagic, badChecksum, unsupported(UInt16), badSize(UInt32) }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> SegmentHeader {
        guard bytes.count >= JournalFormat.segmentHeaderSize,
            bytes.prefix(8).elementsEqual(JournalFormat.segmentMagic)
        else { throw .badMagic }
        var r = ByteReader(bytes, from: 8)
        do {
            let major = try r.u16("major")
            let minor = try r.u16("minor")
            let size = try r.u32("header size")
            let flags = try r.u32("flags")
            let first = try r.u64("first seq")
            let created = Int64(bitPattern: try r.u64("created"))
            let crc = try r.u32("crc")
            guard crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<36])) else { throw DecodeError.badChecksum }
            guard JournalFormat.readableMajorVersions.contains(major) else { throw DecodeError.unsupported(major) }
            guard size == UInt32(JournalFormat.segmentHeaderSize) else { throw DecodeError.badSize(size) }
            return SegmentHeader(major: major, minor: minor, flags: flags, firstSeq: first, createdWallNanos: created)
        } catch let e as DecodeError {
            throw e
        } catch {
            throw .badMagic
        }
    }
}

/// A block header (SPEC.md §4): 80 bytes before every block payload.
public struct BlockHeader: Sendable, Equatable {
    /// 0 = stored, 1 = LZ4 block, 2 = LZ4 block against the segment's dictionary.
    public var codec: UInt8
    /// Bytes of payload that follow the header on disk.
    public var storedLength: UInt32
    /// Bytes of the payload once decompressed (the encoded records).
    public var rawLength: UInt32
    /// Number of records in the block.
    public var recordCount: UInt32
    /// CRC-32C of the stored payload bytes.
    public var payloadCRC: UInt32
    /// Sequence number of the first record.
    public var firstSeq: UInt64
    /// Sequence number of the last record.
    public var lastSeq: UInt64
    /// Smallest wall time of any record (ns).
    public var minWall: Int64
    /// Largest wall time of any record (ns).
    public var maxWall: Int64
    /// Smallest epoch of any record.
    public var minEpoch: UInt64
    /// Largest epoch of any record.
    public var maxEpoch: UInt64

    /// Writes the 80 header bytes, including the header CRC, to `p`.
    func write(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: JournalFormat.blockMagic.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: codec, toByteOffset: 4, as: UInt8.self)
        p.storeBytes(of: 0, toByteOffset: 5, as: UInt8.self)
        p.storeBytes(of: UInt16(0), toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: storedLength.littleEndian, toByteOffset: 8, as: UInt32.self)
        p.storeBytes(of: rawLength.littleEndian, toByteOffset: 12, as: UInt32.self)
        p.storeBytes(of: recordCount.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: payloadCRC.littleEndian, toByteOffset: 20, as: UInt32.self)
        p.storeBytes(of: firstSeq.littleEndian, toByteOffset: 24, as: UInt64.self)
        p.storeBytes(of: lastSeq.littleEndian, toByteOffset: 32, as: UInt64.self)
        p.storeBytes(of: UInt64(bitPattern: minWall).littleEndian, toByteOffset: 40, as: UInt64.self)
        p.storeBytes(of: UInt64(bitPattern: maxWall).littleEndian, toByteOffset: 48, as: UInt64.self)
        p.storeBytes(of: minEpoch.littleEndian, toByteOffset: 56, as: UInt64.self)
        p.storeBytes(of: maxEpoch.littleEndian, toByteOffset: 64, as: UInt64.self)
        p.storeBytes(of: UInt32(0), toByteOffset: 72, as: UInt32.self)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: p, count: 76))
        p.storeBytes(of: crc.littleEndian, toByteOffset: 76, as: UInt32.self)
    }

    /// Why 80 bytes are not a valid block header.
    enum Problem: Error, Equatable { case badMagic, badHeaderChecksum, inconsistent(String) }

    /// Parses and validates 80 header bytes (magic, header CRC, field consistency).
    static func read(_ b: UnsafeRawBufferPointer) throws(Problem) -> BlockHeader {
        guard b.count >= JournalFormat.blockHeaderSize else { throw .inconsistent("header is truncated") }
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
        guard u32(0) == JournalFormat.blockMagic else { throw .badMagic }
        guard u32(76) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<76])) else { throw .badHeaderChecksum }
        let h = BlockHeader(
            codec: b[4], storedLength: u32(8), rawLength: u32(12), recordCount: u32(16), payloadCRC: u32(20),
            firstSeq: u64(24), lastSeq: u64(32), minWall: Int64(bitPattern: u64(40)),
            maxWall: Int64(bitPattern: u64(48)), minEpoch: u64(56), maxEpoch: u64(64))
        if let why = h.inconsistency { throw .inconsistent(why) }
        return h
    }

    /// A description of what is wrong with the fields, or nil when they are consistent.
    var inconsistency: String? {
        if codec > JournalFormat.codecLZ4Dictionary { return "unknown codec \(codec)" }
        if Int(rawLength) > JournalFormat.maxBlockBytes { return "uncompressed length \(rawLength) exceeds \(JournalFormat.maxBlockBytes)" }
        if codec == JournalFormat.codecNone && storedLength != rawLength { return "stored block with stored length \(storedLength) != raw length \(rawLength)" }
        if codec != JournalFormat.codecNone && Int(storedLength) > Int(LZ4_compressBound(Int32(rawLength))) {
            return "compressed length \(storedLength) exceeds the LZ4 bound for \(rawLength) bytes"
        }
        if recordCount == 0 { return "record count is 0" }
        if lastSeq < firstSeq || lastSeq - firstSeq < UInt64(recordCount - 1) {
            return "sequence range \(firstSeq)...\(lastSeq) cannot hold \(recordCount) records"
        }
        if minWall > maxWall { return "wall range is inverted" }
        if minEpoch > maxEpoch { return "epoch range is inverted" }
        return nil
    }
}

/// The seal (SPEC.md §6): 48 bytes that end a sealed segment.
struct SegmentSeal: Sendable, Equatable {
    var blockCount: UInt32
    var recordCount: UInt64
    var firstSeq: UInt64
    var lastSeq: UInt64
    var dataEnd: UInt64

    func encode() -> [UInt8] {
        let b = GrowableBytes(capacity: 48)
        b.appendU32(JournalFormat.sealMagic)
        b.appendU32(blockCount)
        b.appendU64(recordCount)
        b.appendU64(firstSeq)
        b.appendU64(lastSeq)
        b.appendU64(dataEnd)
        b.appendU32(0)
        b.appendU32(CRC32C.checksum(b.bytes))
        return b.toArray()
    }

    static func decode(_ b: UnsafeRawBufferPointer) -> SegmentSeal? {
        guard b.count >= JournalFormat.sealSize else { return nil }
        var r = ByteReader(b)
        guard (try? r.u32("magic")) == JournalFormat.sealMagic else { return nil }
        guard
            let blocks = try? r.u32("blocks"), let records = try? r.u64("records"),
            let first = try? r.u64("first"), let last = try? r.u64("last"), let end = try? r.u64("end"),
            (try? r.u32("reserved")) != nil, let crc = try? r.u32("crc"),
            crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<44]))
        else { return nil }
        return SegmentSeal(blockCount: blocks, recordCount: records, firstSeq: first, lastSeq: last, dataEnd: end)
    }
}

/// LZ4 block compression into reusable buffers.
enum BlockCompressor {
    /// Encodes one whole block into `out` (cleared first): the header, then the payload
    /// `raw` compressed (or stored). The one place a block is assembled, for the writer and
    /// ``JournalBlockCodec`` alike. `summary` carries the header fields that describe the
    /// records (codec, lengths and CRC are filled in here); returns the header written.
    /// With a `dictionary` the block is compressed against it (codec 2) by `compressor` (the
    /// caller's, one per thread).
    @discardableResult
    static func encodeBlock(
        _ raw: UnsafeRawBufferPointer, into out: GrowableBytes, acceleration: Int32, summary: BlockHeader,
        dictionary: SegmentDictionary? = nil, compressor: DictionaryCompressor? = nil
    ) -> BlockHeader {
        let headerSize = JournalFormat.blockHeaderSize
        out.clear()
        out.reserve(headerSize)
        out.count = headerSize
        let (codec, stored) = compress(raw, into: out, acceleration: acceleration, dictionary: dictionary, compressor: compressor)
        var header = summary
        header.codec = codec
        header.storedLength = UInt32(stored)
        header.rawLength = UInt32(raw.count)
        header.payloadCRC = CRC32C.checksum(UnsafeRawBufferPointer(start: out.base + headerSize, count: stored))
        header.write(to: out.base)
        return header
    }

    /// Compresses `raw` into `out` after `out.count` (which must hold the header's room);
    /// returns the codec used and the stored byte count. Falls back to stored when LZ4 does
    /// not shrink the data. With a dictionary: ``DictionaryCompressor`` (prefix mode).
    static func compress(
        _ raw: UnsafeRawBufferPointer, into out: GrowableBytes, acceleration: Int32,
        dictionary: SegmentDictionary? = nil, compressor: DictionaryCompressor? = nil
    ) -> (UInt8, Int) {
        let bound = Int(LZ4_compressBound(Int32(raw.count)))
        out.reserve(max(bound, raw.count))
        let dst = (out.base + out.count).assumingMemoryBound(to: CChar.self)
        let src = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        let n: Int
        let codec: UInt8
        if let d = dictionary, let c = compressor {
            n = c.compress(raw, against: d, into: dst, bound: bound, acceleration: acceleration)
            codec = JournalFormat.codecLZ4Dictionary
        } else {
            n = Int(LZ4_compress_fast(src, dst, Int32(raw.count), Int32(bound), acceleration))
            codec = JournalFormat.codecLZ4
        }
        if n > 0 && n < raw.count {
            out.count += n
            return (codec, n)
        }
        out.append(raw)
        return (JournalFormat.codecNone, raw.count)
    }

    /// Decompresses (or copies) a stored payload into `out` after its first `prefix` bytes,
    /// which are kept: a segment's dictionary lives there, right before the block, so codec 2
    /// decodes in LZ4's fast prefix mode. Returns false when the payload does not decode to
    /// exactly `rawLength` bytes, or is codec 2 without a dictionary (`prefix` 0).
    static func decompress(
        _ stored: UnsafeRawBufferPointer, codec: UInt8, rawLength: Int, into out: GrowableBytes, prefix: Int = 0
    ) -> Bool {
        out.count = prefix
        out.reserve(rawLength)
        if codec == JournalFormat.codecNone {
            guard stored.count == rawLength else { return false }
            out.append(stored)
            return true
        }
        guard rawLength > 0, stored.count > 0 else { return rawLength == 0 && stored.count == 0 }
        let dst = (out.base + prefix).assumingMemoryBound(to: CChar.self)
        let src = stored.baseAddress!.assumingMemoryBound(to: CChar.self)
        let n: Int32
        if codec == JournalFormat.codecLZ4Dictionary {
            guard prefix > 0 else { return false }
            n = LZ4_decompress_safe_usingDict(
                src, dst, Int32(stored.count), Int32(rawLength), out.base.assumingMemoryBound(to: CChar.self), Int32(prefix))
        } else {
            n = LZ4_decompress_safe(src, dst, Int32(stored.count), Int32(rawLength))
        }
        guard n == Int32(rawLength) else { return false }
        out.count = prefix + rawLength
        return true
    }
}
