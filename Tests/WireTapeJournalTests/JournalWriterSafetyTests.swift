import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

/// A writer never destroys or renumbers bytes it did not write in this run, and opens only
/// regular files.
@Suite struct JournalWriterSafetyTests {
    func flipByte(_ path: String, at offset: Int) {
        var b = fileBytes(path)
        b[offset] ^= 0xFF
        writeBytes(path, b)
    }

    @Test(arguments: [true, false])
    func aDamagedLastBlockIsNeverOverwrittenNorRenumbered(sealed: Bool) throws {
        let d = TempDir(); defer { d.cleanup() }
        let first = try writeSample(d.path, count: 20)
        let segment = try segmentPaths(d.path)[0]
        if !sealed { writeBytes(segment, Array(fileBytes(segment).dropLast(JournalFormat.sealSize))) }
        let before = fileBytes(segment)
        flipByte(segment, at: JournalFormat.segmentHeaderSize + JournalFormat.blockHeaderSize + 5)  // in the payload
        let damaged = fileBytes(segment)
        #expect(damaged != before)

        let w = try JournalWriter(directory: d.path)
        #expect(w.recovery.damage.count == 1)
        #expect(w.recovery.truncations.isEmpty, "damage is not a torn tail: \(w.recovery)")
        let seq = try w.append(.annotation("after the damage"), epoch: 0, at: ts(100))
        try w.close()
        #expect(seq == first.last!.seq + 1, "numbers of unreadable records are never reused")
        // The damaged segment's bytes are all still there.
        let after = fileBytes(segment)
        #expect(after.starts(with: damaged.prefix(damaged.count - (sealed ? JournalFormat.sealSize : 0))))
        let (records, cursor) = try readAll(d.path)
        #expect(records.map(\.seq) == [seq])
        #expect(cursor.problemCount == 1)
        #expect(try !JournalMaintenance.verify(directory: d.path).isOK, "verify must keep reporting the damage")
    }

    @Test func anUnreadableTailThatIsNotATearIsKept() throws {
        let d = TempDir(); defer { d.cleanup() }
        let records = try writeSample(d.path, count: 50, options: { var o = JournalWriterOptions(); o.blockSize = 256; return o }())
        let segment = try segmentPaths(d.path)[0]
        // As if the writer had died: no seal.
        writeBytes(segment, Array(fileBytes(segment).dropLast(JournalFormat.sealSize)))
        // Damage the last block's header (its CRC now fails): not what a cut-short write leaves.
        var offset = JournalFormat.segmentHeaderSize
        let bytes = fileBytes(segment)
        var lastBlock = offset
        while offset + JournalFormat.blockHeaderSize <= bytes.count {
            let stored = bytes[offset + 8..<offset + 12].withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            lastBlock = offset
            offset += JournalFormat.blockHeaderSize + Int(stored)
        }
        flipByte(segment, at: lastBlock + 20)
        let w = try JournalWriter(directory: d.path)
        #expect(w.recovery.truncations.isEmpty)
        #expect(!w.recovery.damage.isEmpty)
        #expect(w.nextSeq > records.last!.seq)
        try w.close()
        #expect(fileBytes(segment).count >= bytes.count, "no byte of the damaged tail was removed")
    }

    @Test func aZeroFilledTailIsATearAndIsTruncated() throws {
        let d = TempDir(); defer { d.cleanup() }
        _ = try writeSample(d.path, count: 10)
        let segment = try segmentPaths(d.path)[0]
        // As if the writer had died while the file system extended the file: no seal, zeros.
        let unsealed = Array(fileBytes(segment).dropLast(JournalFormat.sealSize))
        let size = unsealed.count
        writeBytes(segment, unsealed + [UInt8](repeating: 0, count: 4096))
        let w = try JournalWriter(directory: d.path)
        #expect(w.recovery.truncations.map(\.bytesRemoved) == [4096])
        try w.close()
        #expect(fileBytes(segment).count >= size)
    }

    @Test func aSymlinkedLockIsRefusedAndItsTargetUntouched() throws {
        let d = TempDir(); defer { d.cleanup() }
        let target = d.sub("precious.txt")
        writeBytes(target, Array("keep me".utf8))
        let journal = d.sub("j")
        mkdir(journal, 0o755)
        symlink(target, journal + "/" + JournalFormat.lockFileName)
        #expect { try JournalWriter(directory: journal) } throws: { ($0 as? JournalError)?.code == .notARegularFile }
        #expect(fileBytes(target) == Array("keep me".utf8))
    }

    @Test func aFIFOWhereASegmentShouldBeIsAnErrorNotAHang() throws {
        let d = TempDir(); defer { d.cleanup() }
        mkfifo(d.sub(JournalFormat.segmentFileName(firstSeq: 1)), 0o644)
        // A strict reader stops with the code; a lenient one reports it and goes on (no hang either way).
        let strict = try JournalCursor(directory: d.path, options: ReadOptions(onCorruption: .stop))
        #expect { _ = try strict.next() } throws: { ($0 as? JournalError)?.code == .notARegularFile }
        let lenient = try JournalCursor(directory: d.path)
        #expect(try lenient.next() == nil)
        #expect(lenient.problems.map(\.code) == [.notARegularFile])
        #expect { try JournalWriter(directory: d.path) } throws: { ($0 as? JournalError)?.code == .notARegularFile }
    }

    @Test func aSymlinkedIndexIsRefused() throws {
        let d = TempDir(); defer { d.cleanup() }
        _ = try writeSample(d.sub("j"), count: 3)
        let index = d.sub("j/" + JournalFormat.indexFileName)
        rename(index, d.sub("elsewhere.sqlite"))
        symlink(d.sub("elsewhere.sqlite"), index)
        #expect { try JournalWriter(directory: d.sub("j")) } throws: { ($0 as? JournalError)?.code == .notARegularFile }
    }

    @Test func aNonEmptyDirectoryThatIsNotAJournalIsRefused() throws {
        let d = TempDir(); defer { d.cleanup() }
        writeBytes(d.sub("notes.txt"), Array("mine".utf8))
        #expect { try JournalWriter(directory: d.path) } throws: { ($0 as? JournalError)?.code == .notAJournal }
        #expect(fileBytes(d.sub("notes.txt")) == Array("mine".utf8))
    }
}
