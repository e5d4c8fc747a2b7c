import Testing
import WireTapeCore
@testable import WireTapeJournal

/// `compressOnSecondThread`: the same bytes on disk as compressing inline, every record back,
/// and blocks reach the file while the next one fills.
@Suite struct CompressionThreadTests {
    /// Writes the same records with and without the second thread (several segments, frames
    /// and lifecycle records, flushes in between) and compares the files byte for byte.
    @Test func theSecondThreadWritesTheSameBytes() throws {
        let t = TempDir(); defer { t.cleanup() }
        func write(_ dir: String, threaded: Bool, threadRuns: Bool = true) throws {
            var o = JournalWriterOptions()
            o.blockSize = 1024
            o.maxSegmentBytes = 64 << 10
            o.dictionaryWarmupBytes = 4096
            o.durability = .never
            o.compressOnSecondThread = threaded
            o.compressionThreadRuns = threadRuns
            let w = try JournalWriter(directory: dir, options: o)
            var rng: UInt64 = 7
            for i in 0..<5000 {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                let payload = Array("{\"i\":\(i),\"r\":\(rng >> 40)}".utf8)
                try payload.withUnsafeBytes { p in
                    _ = try w.appendFrame(direction: i % 7 == 0 ? .outbound : .inbound, opcode: .text, payload: p, epoch: UInt64(i / 1000), at: ts(i))
                }
                if i % 997 == 0 {
                    try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: UInt64(i / 1000), at: ts(i))
                }
                if i == 2500 { try w.flush() }
            }
            try w.close()
        }
        try write(t.sub("inline"), threaded: false)
        try write(t.sub("threaded"), threaded: true)
        // A compression thread that never gets the CPU: the writer compresses every queued
        // block itself when its buffers are all in flight, and writes the same bytes.
        try write(t.sub("starved"), threaded: true, threadRuns: false)
        let names = try FS.list(t.sub("inline")).filter { JournalFormat.parseSegmentFileName($0) != nil }.sorted()
        #expect(names.count > 1)
        // Segments after the first have a dictionary (blocks compressed for the segment
        // before a rotation are compressed again for the new one).
        #expect(names.dropFirst().allSatisfy { fileBytes(t.sub("threaded") + "/" + $0)[40..<44].elementsEqual("WTJD".utf8) })
        #expect(try FS.list(t.sub("threaded")).filter { JournalFormat.parseSegmentFileName($0) != nil }.sorted() == names)
        for n in names {
            #expect(fileBytes(t.sub("inline") + "/" + n) == fileBytes(t.sub("threaded") + "/" + n), "\(n) differs")
            #expect(fileBytes(t.sub("inline") + "/" + n) == fileBytes(t.sub("starved") + "/" + n), "\(n) differs (starved thread)")
        }
        let (records, c) = try readAll(t.sub("threaded"))
        #expect(records.filter { if case .frame = $0.body { true } else { false } }.count == 5000)
        #expect(c.problemCount == 0)
        #expect(records.map(\.seq) == Array(1...UInt64(records.count)))
    }

    /// A full block does not wait in memory for the next one: `flushIfDue` (the recorder's
    /// timer) writes it even when the pending block is not due, and `writtenThroughSeq` then
    /// covers every record of the full block.
    @Test func flushIfDueWritesTheBlockBeingCompressed() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 4096
        o.durability = .never
        o.compressOnSecondThread = true
        let w = try JournalWriter(directory: t.path, options: o)
        let payload = [UInt8](repeating: 65, count: 100)
        var appended: UInt64 = 0
        for i in 0..<1000 {
            try payload.withUnsafeBytes { p in
                appended = try w.appendFrame(direction: .inbound, opcode: .text, payload: p, epoch: 0, at: ts(i))
            }
            // Never due: records are 1 ms apart and a block fills in well under a second.
            try w.flushIfDue(monoNanos: ts(i).monotonicNanos)
            if w.writtenThroughSeq != nil { break }
        }
        // The append that filled the block took every pending record into it.
        #expect(w.writtenThroughSeq == appended)
        #expect(appended > 10 && appended < 100)
        try w.close()
        let (records, c) = try readAll(t.path)
        #expect(UInt64(records.count) == appended && c.problemCount == 0)
    }
}
