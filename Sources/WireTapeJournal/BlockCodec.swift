/// Encodes and decodes single blocks in memory: for tools, fuzzing and other formats'
/// converters. The writer and reader use the same code paths.
public enum JournalBlockCodec {
    /// Encodes records (in increasing sequence order) into one block: the 80-byte header and
    /// the LZ4-compressed payload, exactly as a writer would write it.
    ///
    /// Session and connect records are written as given (the writer redacts; this does not).
    /// With a `dictionary` (1 … 65,536 bytes) the block is compressed against it (codec 2,
    /// SPEC.md §4.2), as in a format-2 segment holding that dictionary.
    /// - Throws: ``JournalError`` (`invalidArgument`) when `records` is empty, its sequence
    ///   numbers do not increase, or the dictionary's size is out of range.
    public static func encodeBlock(
        _ records: [JournalRecord], acceleration: Int32 = 1, dictionary: [UInt8]? = nil
    ) throws(JournalError) -> [UInt8] {
        guard let first = records.first else { throw JournalError(.invalidArgument, "a block needs at least one record") }
        var prev: UInt64?
        for r in records {
            if let p = prev, r.seq <= p { throw JournalError(.invalidArgument, "sequence number \(r.seq) does not increase (after \(p))") }
            prev = r.seq
        }
        if let d = dictionary, d.isEmpty || d.count > JournalFormat.maxDictionaryBytes {
            throw JournalError(.invalidArgument, "a dictionary holds 1 to \(JournalFormat.maxDictionaryBytes) bytes, not \(d.count)")
        }
        let dict = dictionary.map { d in d.withUnsafeBytes { SegmentDictionary($0) } }
        let raw = GrowableBytes(capacity: 4096)
        raw.append(encodeRecords(records))
        let out = GrowableBytes(capacity: raw.count + 200)
        BlockCompressor.encodeBlock(
            raw.bytes, into: out, acceleration: acceleration,
            summary: BlockHeader(
                codec: 0, storedLength: 0, rawLength: 0, recordCount: UInt32(records.count), payloadCRC: 0,
                firstSeq: first.seq, lastSeq: records.last!.seq,
                minWall: records.map(\.wallNanos).min()!, maxWall: records.map(\.wallNanos).max()!,
                minEpoch: records.map(\.epoch).min()!, maxEpoch: records.map(\.epoch).max()!),
            dictionary: dict, compressor: dict == nil ? nil : DictionaryCompressor())
        return out.toArray()
    }

    /// Decodes one block (header and payload) from memory, checking everything a reader
    /// checks (SPEC.md §4.2). Records of unknown kinds are skipped. A codec-2 block needs the
    /// `dictionary` of its segment.
    /// - Throws: ``JournalError`` (`corruptBlock`) saying what is wrong.
    public static func decodeBlock(_ bytes: UnsafeRawBufferPointer, dictionary: [UInt8]? = nil) throws(JournalError) -> [JournalRecord] {
        let h: BlockHeader
        switch Result(catching: { () throws(BlockHeader.Problem) in try BlockHeader.read(bytes) }) {
        case .success(let v): h = v
        case .failure(let p): throw JournalError(.corruptBlock, "invalid block header: \(p)")
        }
        guard bytes.count - 80 >= Int(h.storedLength) else {
            throw JournalError(.corruptBlock, "the payload is truncated (\(h.storedLength) bytes declared, \(bytes.count - 80) present)")
        }
        let stored = UnsafeRawBufferPointer(rebasing: bytes[80..<(80 + Int(h.storedLength))])
        guard CRC32C.checksum(stored) == h.payloadCRC else { throw JournalError(.corruptBlock, "the payload fails its CRC-32C") }
        let decoded = GrowableBytes(capacity: Int(h.rawLength) + (dictionary?.count ?? 0) + 16)
        if let d = dictionary { decoded.append(d) }
        guard BlockCompressor.decompress(stored, codec: h.codec, rawLength: Int(h.rawLength), into: decoded, prefix: dictionary?.count ?? 0) else {
            throw JournalError(.corruptBlock, "the payload does not decompress to \(h.rawLength) bytes")
        }
        let raw = UnsafeRawBufferPointer(rebasing: decoded.bytes[(dictionary?.count ?? 0)...])
        var contents = BlockContents()
        if let why = contents.validate(raw, header: h) { throw JournalError(.corruptBlock, why) }
        var out: [JournalRecord] = []
        for head in contents.heads {
            let decoded: RecordBody?? = try? RecordCodec.decodeBody(head, in: raw)
            if case .some(.some(let body)) = decoded {
                out.append(JournalRecord(seq: head.seq, epoch: head.epoch, wallNanos: head.wall, monoNanos: head.mono, body: body))
            }
        }
        return out
    }

    /// Decodes the uncompressed record bytes of a block whose first record has `firstSeq`,
    /// without a header (SPEC.md §5). Records of unknown kinds are skipped.
    /// - Throws: ``JournalError`` (`corruptRecord`) naming the record, field and byte.
    public static func decodeRecords(_ raw: UnsafeRawBufferPointer, firstSeq: UInt64) throws(JournalError) -> [JournalRecord] {
        var state = DeltaState(firstSeq: firstSeq)
        var out: [JournalRecord] = []
        do throws(DecodeFailure) {
            var cols = try BlockColumns(raw)
            while let head = try cols.next(state: &state) {
                if let body = try RecordCodec.decodeBody(head, in: raw) {
                    out.append(JournalRecord(seq: head.seq, epoch: head.epoch, wallNanos: head.wall, monoNanos: head.mono, body: body))
                }
            }
            try cols.checkExhausted()
        } catch {
            throw JournalError(.corruptRecord, "record \(out.count) at byte \(error.position): \(error.field): \(error.why)", offset: UInt64(error.position))
        }
        return out
    }

    /// The uncompressed record bytes for `records` (the inverse of ``decodeRecords(_:firstSeq:)``).
    public static func encodeRecords(_ records: [JournalRecord]) -> [UInt8] {
        guard let first = records.first else { return [UInt8](repeating: 0, count: 4 * blockColumnCount) }
        let b = BlockBuilder(capacity: 4096)
        b.reset(firstSeq: first.seq)
        for r in records { b.add(r.body, seq: r.seq, epoch: r.epoch, wall: r.wallNanos, mono: r.monoNanos) }
        let raw = GrowableBytes(capacity: b.rawCount)
        b.assemble(into: raw)
        return raw.toArray()
    }
}
