#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A sealed segment (SPEC.md §6) as an archiver sees it: complete, never to change again.
public struct SealedSegment: Sendable, Hashable {
    /// The file name, `seg-<20 digits>.wtj`.
    public var name: String
    /// The file's size in bytes (its seal ends it).
    public var size: UInt64
    /// Blocks and records the seal counts.
    public var blockCount: UInt32, recordCount: UInt64
    /// The sequence range the seal names (both 0 for a segment without blocks).
    public var firstSeq: UInt64, lastSeq: UInt64
}

/// What shipping a journal elsewhere needs from the journal: which segments are sealed, and
/// a self-contained copy of the index that covers exactly those segments.
public enum JournalArchiveSupport {
    /// The sealed segments of `directory` in sequence order: those whose last 48 bytes are a
    /// valid seal whose `data end` is its own offset. The segment being written (and one whose
    /// writer crashed before sealing it) is not listed.
    /// - Throws: ``JournalError`` `notAJournal` when `directory` is not a directory, `io` when
    ///   a segment cannot be read.
    public static func sealedSegments(directory: String) throws(JournalError) -> [SealedSegment] {
        guard FS.isDirectory(directory) else { throw JournalError(.notAJournal, "\(directory) is not a directory", path: directory) }
        var out: [SealedSegment] = []
        for seg in try listSegments(directory) {
            let path = joinPath(directory, seg.name)
            let f = try FileDescriptor.open(path, O_RDONLY, what: "reading the seal of")
            let size = try f.size()
            let minimum = UInt64(JournalFormat.segmentHeaderSize + JournalFormat.sealSize)
            guard size >= minimum else { continue }
            let bytes = try readBytes(f, count: JournalFormat.sealSize, at: size - UInt64(JournalFormat.sealSize))
            guard bytes.count == JournalFormat.sealSize,
                let seal = bytes.withUnsafeBytes({ SegmentSeal.decode($0) }),
                seal.dataEnd == size - UInt64(JournalFormat.sealSize)
            else { continue }
            out.append(SealedSegment(
                name: seg.name, size: size, blockCount: seal.blockCount, recordCount: seal.recordCount,
                firstSeq: seal.firstSeq, lastSeq: seal.lastSeq))
        }
        return out
    }

    /// Writes to `path` a consistent, self-contained copy of the index of `directory` (one
    /// SQLite file in rollback-journal mode, no `-wal`) holding only the rows of the segments
    /// named in `segments` and the lifecycle and session rows up to their last record. A
    /// reader given those segments and this file sees a complete, agreeing index.
    ///
    /// `previous` is an earlier snapshot (the archive's last index): its rows for segments that
    /// are no longer on disk (pruned after archiving) are carried over, so they stay indexed.
    /// - Throws: ``JournalError`` `index` when the index is missing or cannot be copied.
    public static func snapshotIndex(
        directory: String, segments: [String], lastSeq: UInt64, previous: String? = nil, to path: String
    ) throws(JournalError) {
        let source = try JournalIndex(path: joinPath(directory, JournalFormat.indexFileName), readOnly: true)
        FS.remove(path)
        func quoted(_ s: String) -> String { "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'" }
        try source.db.exec("VACUUM INTO \(quoted(path))")
        let copy = try SQLiteDatabase(path: path, readOnly: false)
        let names = segments.map(quoted).joined(separator: ",")
        var merge = ""
        if let previous {
            merge = """
                ATTACH \(quoted(previous)) AS prev;
                INSERT OR IGNORE INTO blocks SELECT * FROM prev.blocks WHERE segment IN (\(names));
                INSERT OR IGNORE INTO segments SELECT * FROM prev.segments WHERE file_name IN (\(names));
                INSERT OR IGNORE INTO lifecycle_edges SELECT * FROM prev.lifecycle_edges WHERE seq <= \(lastSeq);
                INSERT OR IGNORE INTO sessions SELECT * FROM prev.sessions WHERE seq <= \(lastSeq);
                DETACH prev;
                """
        }
        // The schema first: a source index older than some table (block_marks) gets it here.
        try copy.exec("""
            PRAGMA journal_mode=DELETE;
            \(JournalIndex.schema)
            \(merge)
            BEGIN;
            DELETE FROM blocks WHERE segment NOT IN (\(names));
            DELETE FROM segments WHERE file_name NOT IN (\(names));
            UPDATE segments SET sealed = 1;
            DELETE FROM lifecycle_edges WHERE seq > \(lastSeq);
            DELETE FROM sessions WHERE seq > \(lastSeq);
            \(JournalIndex.rebuildMarks)
            COMMIT;
            VACUUM;
            """)
    }

    private static func readBytes(_ f: FileDescriptor, count: Int, at offset: UInt64) throws(JournalError) -> [UInt8] {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { buf.deallocate() }
        let n = try f.read(into: buf.baseAddress!, count: count, at: offset)
        return Array(buf[0..<n])
    }

    /// The bytes before the first block of each segment the index of `directory` lists: the
    /// segment header and, in a format-2 segment, its dictionary record (SPEC §3.1). A reader
    /// of single blocks needs them: codec-2 blocks decode against the dictionary.
    public static func segmentPrefixes(directory: String) throws(JournalError) -> [String: UInt64] {
        let index = try JournalIndex(path: joinPath(directory, JournalFormat.indexFileName), readOnly: true)
        let s = try index.db.prepare("SELECT segment, min(offset) FROM blocks GROUP BY segment")
        var prefixes: [String: UInt64] = [:]
        while try s.step() {
            if let name = s.text(0) { prefixes[name] = s.uint(1) }
        }
        return prefixes
    }

    /// Builds in `target` (an empty or new directory) a journal holding only the blocks of
    /// `source` that `blocks` names (segment file name, byte offset, stored length), copied
    /// byte for byte, and indexes it. Each copied segment keeps its name, header and
    /// dictionary (``segmentPrefixes(directory:)``, from the index of `source`) and has no seal, so readers walk exactly the copied blocks. Used to read a time range of a
    /// journal whose segments are present only in part (a remote journal's cache).
    /// - Throws: ``JournalError`` when a block cannot be read or the journal cannot be written.
    public static func extractBlocks(
        from source: String, blocks: [(segment: String, offset: UInt64, storedLength: UInt32)], into target: String
    ) throws(JournalError) {
        try FS.makeDirectory(target)
        let prefixes = try segmentPrefixes(directory: source)
        var bySegment: [String: [(offset: UInt64, storedLength: UInt32)]] = [:]
        for b in blocks { bySegment[b.segment, default: []].append((b.offset, b.storedLength)) }
        for (segment, list) in bySegment {
            let src = try FileDescriptor.open(joinPath(source, segment), O_RDONLY, what: "reading blocks of")
            let dstPath = joinPath(target, segment)
            FS.remove(dstPath)
            let dst = try FileDescriptor.open(dstPath, O_WRONLY | O_CREAT | O_EXCL, what: "writing")
            var at: UInt64 = 0
            let prefix = prefixes[segment] ?? UInt64(JournalFormat.segmentHeaderSize)
            for (offset, length) in [(UInt64(0), prefix)]
                + list.sorted(by: { $0.offset < $1.offset }).map({ ($0.offset, UInt64(JournalFormat.blockHeaderSize) + UInt64($0.storedLength)) })
            {
                let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(length), alignment: 8)
                defer { buf.deallocate() }
                let n = try src.read(into: buf.baseAddress!, count: buf.count, at: offset)
                try dst.write(UnsafeRawBufferPointer(rebasing: buf[0..<n]), at: at)
                at += UInt64(n)
            }
        }
        _ = try JournalMaintenance.reindex(directory: target)
    }
}
