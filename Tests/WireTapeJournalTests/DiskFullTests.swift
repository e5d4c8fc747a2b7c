import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DiskFullTests {
    /// Writes into a 1 MiB tmpfs until it is full: the writer must fail with `diskFull`,
    /// naming the file, and everything it reported written must stay readable.
    @Test func writingIntoAFullFileSystemFailsClearlyAndKeepsWhatWasWritten() throws {
        let t = TempDir(); defer { t.cleanup() }
        let mnt = t.sub("tiny")
        mkdir(mnt, 0o755)
        // mount(2) directly: forking a shell here would let the child inherit other tests'
        // lock descriptors for a moment (flock locks belong to the open file description).
        if mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0 {
            print("DiskFullTests skipped: cannot mount a tmpfs here (\(String(cString: strerror(errno))); needs root and CAP_SYS_ADMIN)")
            return
        }
        defer { umount2(mnt, Int32(MNT_DETACH)) }
        let dir = mnt + "/j"
        var o = JournalWriterOptions()
        o.blockSize = 8192
        o.indexBatchBlocks = 1
        o.durability = .everyBlock
        let w = try JournalWriter(directory: dir, options: o)
        var rng: UInt64 = 99
        var failure: JournalError?
        var appended = 0
        for i in 0..<100_000 {
            // Incompressible payloads fill the disk quickly.
            let payload = (0..<512).map { _ -> UInt8 in rng = rng &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: rng >> 33) }
            do {
                try w.append(.frame(direction: .inbound, opcode: .binary, payload: payload), epoch: 1, at: ts(i))
                appended += 1
            } catch {
                failure = error
                break
            }
        }
        let e = try #require(failure, "1 MiB never filled up")
        #expect(e.code == .diskFull, "\(e)")
        #expect(e.message.contains("full"))
        #expect(e.path?.hasPrefix(dir) == true)
        let durable = try #require(w.writtenThroughSeq)
        // Retrying while still full fails the same way (or has nothing left to write when the
        // index commit was what failed); nothing is corrupted either way.
        do { try w.flush() } catch { #expect(error.code == .diskFull) }
        try? w.close()
        let c = try JournalCursor(directory: dir, options: ReadOptions(onCorruption: .stop))
        var n: UInt64 = 0
        while let r = try c.next() {
            n += 1
            #expect(r.seq == n)
        }
        #expect(n >= durable)
        #expect(c.problemCount == 0, "\(c.problems)")
    }
}
