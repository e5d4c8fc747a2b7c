import Testing
import WireTapeCore
@testable import WireTapeJournal
#if canImport(Glibc)
import Glibc
#endif

@Suite struct WriterReaderTests {
    @Test func writeThenReadEveryRecord() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 4096
        let written = try writeSample(t.path, count: 5000, options: o)
        let (read, cursor) = try readAll(t.path)
        // Session records are stored redacted; the sample has no secrets, so all match.
        #expect(read == written)
        #expect(cursor.problemCount == 0)
        #expect(cursor.blocksRead > 10)
        let report = try JournalMaintenance.verify(directory: t.path)
        #expect(report.isOK, "\(report)")
        #expect(report.records == 5000)
    }

    @Test func rotatesSegmentsBySizeAndSealsThem() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 1024
        o.maxSegmentBytes = 16 << 10
        let written = try writeSample(t.path, count: 3000, options: o)
        let segs = try segmentPaths(t.path)
        #expect(segs.count > 3)
        for s in segs {
            let b = fileBytes(s)
            let sealOffset = b.count - 48
            #expect(b[sealOffset..<sealOffset + 4].elementsEqual([0x57, 0x54, 0x4A, 0x53]))
        }
        #expect(try readAll(t.path).0 == written)
        #expect(try JournalMaintenance.verify(directory: t.path).isOK)
    }

    @Test func rotatesSegmentsByAge() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 512
        o.maxSegmentAgeNanos = 100_000_000  // 100 records of 1 ms
        try writeSample(t.path, count: 1000, options: o)
        #expect(try segmentPaths(t.path).count >= 8)
    }

    @Test func blockAgeFlushUsesInjectedTime() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.maxBlockAgeNanos = 50_000_000
        let w = try JournalWriter(directory: t.path, options: o)
        try w.append(.annotation("a"), epoch: 0, at: ts(0))
        #expect(w.writtenThroughSeq == nil)
        try w.flushIfDue(monoNanos: ts(0).monotonicNanos + 49_000_000)
        #expect(w.writtenThroughSeq == nil)
        try w.flushIfDue(monoNanos: ts(0).monotonicNanos + 50_000_000)
        #expect(w.writtenThroughSeq == 1)
        // An append 60 ms after the block's first record flushes the old block first.
        try w.append(.annotation("b"), epoch: 0, at: ts(1))
        try w.append(.annotation("c"), epoch: 0, at: ts(70))
        #expect(w.writtenThroughSeq == 2)
        // A reader sees what was written while the writer is open.
        #expect(try readAll(t.path).0.map(\.seq) == [1, 2])
        try w.close()
        #expect(try readAll(t.path).0.map(\.seq) == [1, 2, 3])
    }

    @Test func secondWriterIsRefused() throws {
        let t = TempDir(); defer { t.cleanup() }
        let w = try JournalWriter(directory: t.path)
        #expect {
            _ = try JournalWriter(directory: t.path)
        } throws: { e in
            let je = e as? JournalError
            return je?.code == .locked && je!.message.contains("writer.lock") && je!.message.contains("pid")
        }
        try w.close()
        let w2 = try JournalWriter(directory: t.path)
        try w2.close()
    }

    @Test func reopenContinuesSequenceAndExplicitSeqMustIncrease() throws {
        let t = TempDir(); defer { t.cleanup() }
        try writeSample(t.path, count: 10)
        let w = try JournalWriter(directory: t.path)
        #expect(w.nextSeq == 11)
        #expect(throws: JournalError.self) { try w.append(.annotation("x"), epoch: 0, at: ts(0), seq: 10) }
        try w.append(.annotation("x"), epoch: 0, at: ts(0), seq: 100)
        #expect(w.nextSeq == 101)
        try w.close()
        let seqs = try readAll(t.path).0.map(\.seq)
        #expect(seqs == Array(1...10) + [100])
    }

    @Test func filtersAndSeeks() throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.blockSize = 2048
        let written = try writeSample(t.path, count: 3000, options: o)
        func check(_ f: RecordFilter, _ pred: (JournalRecord) -> Bool) throws {
            let got = try readAll(t.path, ReadOptions(filter: f)).0
            #expect(got == written.filter(pred))
            let noIndex = try readAll(t.path, ReadOptions(filter: f, useIndex: false)).0
            #expect(noIndex == got)
        }
        try check(RecordFilter(fromSeq: 1234)) { $0.seq >= 1234 }
        try check(RecordFilter(fromSeq: 1234, toSeq: 2345)) { $0.seq >= 1234 && $0.seq <= 2345 }
        try check(RecordFilter(toSeq: 0)) { _ in false }
        let w0 = written[2000].wallNanos
        try check(RecordFilter(fromWall: w0)) { $0.wallNanos >= w0 }
        try check(RecordFilter(fromWall: written[100].wallNanos, toWall: written[150].wallNanos)) { $0.wallNanos >= written[100].wallNanos && $0.wallNanos <= written[150].wallNanos }
        try check(RecordFilter(epoch: 17)) { $0.epoch == 17 }
        try check(RecordFilter(kinds: [.lifecycle, .lag])) { $0.kind == .lifecycle || $0.kind == .lag }
        try check(RecordFilter(direction: .outbound)) { $0.kind == .outboundFrame }
        try check(RecordFilter(fromWall: written.last!.wallNanos + 1)) { _ in false }
        try check(RecordFilter(epoch: 999)) { _ in false }
    }

    /// Every secret header a venue uses, each with its own value: none of the values reaches
    /// the records, the segment files or the index (each value occurs once, so LZ4 stores it
    /// as literals and a byte search of the segment finds it if it was written).
    @Test func redactsSecretsInSessionAndConnectRecords() throws {
        let t = TempDir(); defer { t.cleanup() }
        let secretHeaders = [
            "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-MBX-APIKEY", "CB-ACCESS-KEY",
            "CB-ACCESS-SIGN", "CB-ACCESS-PASSPHRASE", "OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-PASSPHRASE",
            "X-API-KEY", "jwt", "X-Auth-Token", "X-Session-Id", "X-Client-Secret", "X-Signature",
        ]
        let secretValue = { (i: Int) in "s3cret-value-\(i)-q8Zk" }
        let headers = secretHeaders.enumerated().map { HTTPHeaderField($1, secretValue($0)) } + [HTTPHeaderField("Accept", "x")]
        let w = try JournalWriter(directory: t.path)
        try w.append(.session(SessionEvent(phase: .start, url: "wss://user:pw-Zq81@x.test/ws?listenKey=lk-Zq82&stream=a", headers: headers)), epoch: 0, at: ts(0))
        try w.append(.connect(ConnectEvent(outcome: .attempt, url: "wss://x.test/ws?token=tk-Zq83&signature=sg-Zq84")), epoch: 0, at: ts(1))
        try w.close()
        let recs = try readAll(t.path).0
        guard case .session(let s) = recs[0].body, case .connect(let c) = recs[1].body else {
            Issue.record("wrong kinds"); return
        }
        #expect(s.url == "wss://<redacted>@x.test/ws?listenKey=<redacted>&stream=a")
        #expect(s.headers == secretHeaders.map { HTTPHeaderField($0, "<redacted>") } + [HTTPHeaderField("Accept", "x")])
        #expect(c.url == "wss://x.test/ws?token=<redacted>&signature=<redacted>")
        let secrets = secretHeaders.indices.map(secretValue) + ["pw-Zq81", "lk-Zq82", "tk-Zq83", "sg-Zq84"]
        var files = try segmentPaths(t.path)
        for suffix in ["", "-wal"] where access(t.sub("index.sqlite" + suffix), F_OK) == 0 { files.append(t.sub("index.sqlite" + suffix)) }
        for file in files {
            let bytes = fileBytes(file)
            #expect(!bytes.isEmpty)
            for secret in secrets {
                let needle = Array(secret.utf8)
                let found = bytes.count >= needle.count && (0...(bytes.count - needle.count)).contains { bytes[$0..<($0 + needle.count)].elementsEqual(needle) }
                #expect(!found, "\(secret) in \(file)")
            }
        }
    }

    @Test func bigRecordsGetTheirOwnBlock() throws {
        let t = TempDir(); defer { t.cleanup() }
        let w = try JournalWriter(directory: t.path)
        let big = [UInt8](repeating: 0x41, count: 3_000_000)
        try w.append(.frame(direction: .inbound, opcode: .text, payload: big), epoch: 1, at: ts(0))
        try w.append(.annotation("after"), epoch: 1, at: ts(1))
        try w.close()
        let recs = try readAll(t.path).0
        #expect(recs.count == 2)
        #expect(recs[0].body == .frame(direction: .inbound, opcode: .text, payload: big))
        var o = JournalWriterOptions()
        o.maxRecordBytes = 1000
        let w2 = try JournalWriter(directory: t.path, options: o)
        #expect(throws: JournalError.self) { try w2.append(.frame(direction: .inbound, opcode: .binary, payload: big), epoch: 1, at: ts(2)) }
        try w2.close()
    }

    @Test(arguments: [Durability.everyBlock, .never, .interval(nanoseconds: 1_000_000)])
    func durabilityPolicies(_ d: Durability) throws {
        let t = TempDir(); defer { t.cleanup() }
        var o = JournalWriterOptions()
        o.durability = d
        o.blockSize = 1024
        let w = try JournalWriter(directory: t.path, options: o)
        for (i, b) in sampleRecords(500).enumerated() { try w.append(b, epoch: 0, at: ts(i)) }
        let written = try #require(w.writtenThroughSeq, "1024-byte blocks: 500 records fill many")
        #expect(written > 400 && written < 500, "the last block is still pending")
        switch d {
        case .everyBlock:
            #expect(w.syncedThroughSeq == written, "every written block was synced inline")
        case .never:
            #expect(w.syncedThroughSeq == nil, "nothing is synced on its own")
        case .interval:
            // The background thread syncs on its own schedule: never past what was written.
            #expect((w.syncedThroughSeq ?? 0) <= written)
        }
        // An explicit sync() writes the pending block and syncs it, whatever the policy.
        try w.sync()
        #expect(w.writtenThroughSeq == 500)
        #expect(w.syncedThroughSeq == 500)
        try w.close()
        let read = try readAll(t.path).0
        #expect(read.map(\.seq) == Array(1...500))
        #expect(read.map(\.body) == sampleRecords(500))
    }
}

