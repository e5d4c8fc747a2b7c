import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DiskFullTests {
    /// Why a tmpfs cannot be mounted here (mount(2) needs root with CAP_SYS_ADMIN), or `nil`
    /// when it can: probed once by mounting and unmounting one.
    static let tmpfsUnavailable: String? = {
        let t = TempDir(); defer { t.cleanup() }
        guard mount("tmpfs", t.path, "tmpfs", 0, "size=64k") == 0 else {
            return "cannot mount a tmpfs here (\(String(cString: strerror(errno)))); needs root with CAP_SYS_ADMIN"
        }
        umount2(t.path, Int32(MNT_DETACH))
        return nil
    }()

    /// Set by `.ci/run`: a test that cannot run here fails instead of being skipped.
    static let requireAll = getenv("WIRETAPE_REQUIRE_ALL").map { String(cString: $0) } == "1"

    /// Writes into a 1 MiB tmpfs until it is full: the writer must fail with `diskFull`,
    /// naming the file, and everything it reported written must stay readable.
    ///
    /// Where no tmpfs can be mounted the test is skipped with the reason (`swift test` and
    /// `tools/test`'s summary list it as skipped); with `WIRETAPE_REQUIRE_ALL=1` it runs and
    /// fails instead.
    @Test(.enabled(if: tmpfsUnavailable == nil || requireAll, Comment(rawValue: tmpfsUnavailable ?? "")))
    func writingIntoAFullFileSystemFailsClearlyAndKeepsWhatWasWritten() throws {
        let t = TempDir(); defer { t.cleanup() }
        let mnt = t.sub("tiny")
        mkdir(mnt, 0o755)
        // mount(2) directly: forking a shell here would let the child inherit other tests'
        // lock descriptors for a moment (flock locks belong to the open file description).
        guard mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0 else {
            Issue.record("cannot mount a tmpfs (\(String(cString: strerror(errno)))) and WIRETAPE_REQUIRE_ALL=1: this test must run here")
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
        do { try w.flush() } catch { #expect(error.code == .diskFull, "\(error)") }
        // Closing a writer on a full disk may fail the same way; any other error is a bug.
        do { try w.close() } catch { #expect(error.code == .diskFull, "\(error)") }
        let c = try JournalCursor(directory: dir, options: ReadOptions(onCorruption: .stop))
        var n: UInt64 = 0
        while let r = try c.next() {
            n += 1
            #expect(r.seq == n)
        }
        #expect(n >= durable)
        #expect(durable > 0, "something was written before the disk filled")
        #expect(c.problemCount == 0, "\(c.problems)")
    }
}
