import Foundation
import Testing
import WireTapeArchive
import WireTapeCore
import WireTapeJournal
import WireTapeTestSupport

/// `wiretape archive`, `ls` and the readers on `s3://` against a real store (SeaweedFS, with
/// signature checking on), through the built binary.
@Suite(.serialized) struct ArchiveCommandTests {
    static let requireAll = ProcessInfo.processInfo.environment["WIRETAPE_REQUIRE_ALL"] == "1"
    static let enabled = SeaweedS3.unavailable == nil || requireAll

    func store() throws -> SeaweedS3? {
        if let why = SeaweedS3.unavailable {
            if Self.requireAll { Issue.record("\(why), and WIRETAPE_REQUIRE_ALL=1: this test must run here") }
            return nil
        }
        return try SeaweedS3()
    }

    func client(_ s: SeaweedS3) throws -> S3Client {
        try S3Client(configuration: S3Configuration.from(environment: s.environment), requestTimeout: .seconds(60))
    }

    /// A sealed multi-segment journal: sessions, epochs with an outage, frames of every size.
    func writeJournal(_ dir: String, frames: Int, segmentBytes: UInt64 = 64 << 10) throws {
        var options = JournalWriterOptions()
        options.blockSize = 4 << 10
        options.maxSegmentBytes = segmentBytes
        let w = try JournalWriter(directory: dir, options: options)
        var t = 0
        func at() -> ReceiveTimestamp {
            t += 1
            return ReceiveTimestamp(wallNanos: 1_790_000_000_000_000_000 + Int64(t) * 1_000_000, monotonicNanos: 1_000 + UInt64(t) * 1_000_000)
        }
        _ = try w.append(.session(SessionEvent(phase: .start, url: "wss://feed.example/ws?stream=btc")), epoch: 0, at: at())
        _ = try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 1, at: at())
        var rng = SeededRandom(seed: 7)
        for i in 0..<frames {
            if i == frames / 2 {
                _ = try w.append(.lifecycle(LifecycleEdge(state: .reconnecting, closeCode: 1006, error: "connectionLost", message: "reset")), epoch: 1, at: at())
                t += 5_000
                _ = try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 2, at: at())
            }
            let n = Int(rng.next() % 300) + 20
            let payload = (0..<n).map { _ in UInt8(ascii: "a") + UInt8(rng.next() % 26) }
            _ = try w.append(.frame(direction: .inbound, opcode: .text, payload: payload), epoch: i < frames / 2 ? 1 : 2, at: at())
        }
        _ = try w.append(.lifecycle(LifecycleEdge(state: .closed, closeCode: 1000)), epoch: 2, at: at())
        _ = try w.append(.session(SessionEvent(phase: .end, message: "done")), epoch: 2, at: at())
        try w.close()
    }

    func run(_ args: [String], _ s: SeaweedS3, cache: String, env: [String: String] = [:]) throws -> CLIRun {
        try CLIRun.wiretape(args, environment: s.environment.merging(["XDG_CACHE_HOME": cache].merging(env) { $1 }) { $1 })
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func roundTripReadsTheArchiveAsTheLocalJournalAndASecondRunUploadsNothing() async throws {
        guard let s = try store() else { return }
        let dir = tempDir(), cache = tempDir()
        try writeJournal(dir + "/j", frames: 3000)
        let sealed = try JournalArchiveSupport.sealedSegments(directory: dir + "/j")
        #expect(sealed.count >= 4)

        let first = try run(["archive", dir + "/j", "--to", "s3://wt-round/feeds/btc", "--create-bucket"], s, cache: cache)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("\(sealed.count) uploaded now") && first.stdout.contains("manifest published"), "\(first.stdout)")
        let second = try run(["archive", dir + "/j", "--to", "s3://wt-round/feeds/btc"], s, cache: cache)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("0 uploaded now") && second.stdout.contains("nothing new"), "\(second.stdout)")

        let remote = "s3://wt-round/feeds/btc"
        for args in [["cat"], ["cat", "--format", "pretty"], ["gaps"], ["gaps", "--json"], ["verify"], ["replay", "--speed", "max", "--format", "raw"]] {
            let l = try run(args + [dir + "/j"], s, cache: cache)
            let r = try run(args + [remote], s, cache: cache)
            #expect(l.status == 0 && r.status == 0, "\(args): \(r.stderr)")
            #expect(!l.stdout.isEmpty && l.stdout == r.stdout, "\(args) differs")
        }
        let li = try run(["info", "--json", dir + "/j"], s, cache: cache)
        let ri = try run(["info", "--json", remote], s, cache: cache)
        #expect(li.stdout.replacingOccurrences(of: "\"directory\":\"\(dir)/j\"", with: "") == ri.stdout.replacingOccurrences(of: "\"directory\":\"\(remote)\"", with: ""))

        // A time range in the middle: the same records, read from a block or two.
        let all = try run(["cat", dir + "/j"], s, cache: cache).lines
        let from = "\(all[1200]["wall_ns"]!)", to = "\(all[1230]["wall_ns"]!)"
        let lr = try run(["cat", "--from", from, "--to", to, dir + "/j"], s, cache: cache)
        let rr = try run(["cat", "--from", from, "--to", to, remote], s, cache: cache + "-cold")
        #expect(lr.stdout == rr.stdout && lr.lines.count == 31, "\(rr.stderr)")

        // Another journal under the same prefix is refused, not mixed in.
        try writeJournal(dir + "/other", frames: 500, segmentBytes: 32 << 10)
        let other = try run(["archive", dir + "/other", "--to", remote], s, cache: cache)
        #expect(other.status != 0 && other.stderr.contains("another journal"), "\(other.stderr)")

        let ls = try run(["ls", "s3://wt-round", "--json"], s, cache: cache)
        let entry = try #require(ls.lines.first)
        #expect(entry["location"] as? String == remote)
        #expect(entry["feed_url"] as? String == "wss://feed.example/ws?stream=btc")
        #expect(entry["segments"] as? Int == sealed.count && entry["epochs"] as? Int == 3 && entry["outages"] as? Int == 2)
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func aColdSeekByTimeFetchesAFewBlocksNotTheSegments() async throws {
        guard let s = try store() else { return }
        let dir = tempDir()
        try writeJournal(dir + "/j", frames: 20_000, segmentBytes: 1 << 20)
        let c = try client(s)
        try await c.createBucket("wt-seek")
        let location = S3Location(bucket: "wt-seek", prefix: "j")
        _ = try await Archiver(client: c, location: location).run(directory: dir + "/j")
        let m = try await RemoteJournal(location: location, client: c, cacheRoot: tempDir()).manifest()
        let remote = RemoteJournal(location: location, client: c, cacheRoot: tempDir())
        let mid: Int64 = 1_790_000_000_000_000_000 + 1000 * 1_000_000
        let view = try await remote.materialize(.timeRange(from: mid, to: mid + 5_000_000))
        let ranged = remote.bytesFetched - m.index.size
        let cursor = try JournalCursor(directory: view, options: ReadOptions(filter: RecordFilter(fromWall: mid, toWall: mid + 5_000_000)))
        var n = 0
        while try cursor.next() != nil { n += 1 }
        #expect(n == 6)
        #expect(ranged > 0 && ranged < 64 << 10, "fetched \(ranged) bytes besides the index for a 5 ms range")
        #expect(ranged * 20 < m.summary.bytes)
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func aWrongSecretNamesEndpointAndBucketAndNeverTheSecret() async throws {
        guard let s = try store() else { return }
        let dir = tempDir(), cache = tempDir()
        try writeJournal(dir + "/j", frames: 200)
        #expect(try run(["archive", dir + "/j", "--to", "s3://wt-secret/x", "--create-bucket"], s, cache: cache).status == 0)
        let wrong = "Not-The-Right-Secret-55aa"
        for args in [["archive", dir + "/j", "--to", "s3://wt-secret/x"], ["cat", "s3://wt-secret/x"], ["ls", "s3://wt-secret"]] {
            let r = try run(args, s, cache: cache + "-2", env: ["AWS_SECRET_ACCESS_KEY": wrong])
            #expect(r.status != 0)
            #expect(r.stderr.contains(s.endpoint) && r.stderr.contains("wt-secret"), "\(r.stderr)")
            #expect(!(r.stdout + r.stderr).contains(wrong) && !(r.stdout + r.stderr).contains(SeaweedS3.secretKey))
        }
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func theStoreKilledMidArchiveThenASecondRunCompletesWithEveryObjectIntact() async throws {
        guard let s = try store() else { return }
        let dir = tempDir(), cache = tempDir()
        try writeJournal(dir + "/j", frames: 30_000, segmentBytes: 256 << 10)
        let sealed = try JournalArchiveSupport.sealedSegments(directory: dir + "/j")
        try await client(s).createBucket("wt-kill")

        // Archive one segment at a time; kill the store after the first one is verified.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try CLIRun.binaryPath())
        p.arguments = ["archive", dir + "/j", "--to", "s3://wt-kill/j", "--parallel", "1"]
        p.environment = ProcessInfo.processInfo.environment.merging(s.environment) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        var seen = ""
        while !seen.contains("uploaded seg-") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        s.kill()
        seen += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0, "the archive finished before the store was killed: \(seen)")
        #expect(seen.contains(s.endpoint) && seen.contains("wt-kill"), "\(seen)")

        try s.restart()
        let again = try run(["archive", dir + "/j", "--to", "s3://wt-kill/j"], s, cache: cache)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("\(sealed.count) segments archived") && again.stdout.contains("manifest published"), "\(again.stdout)")
        // Every object is there, with the local segment's size and MD5.
        let objects = try await client(s).list(bucket: "wt-kill", prefix: "j/segments/")
        #expect(objects.count == sealed.count)
        for seg in sealed {
            let o = try #require(objects.first { $0.key == "j/segments/" + seg.name })
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/j/" + seg.name))
            #expect(o.size == seg.size && o.etag == Digest.md5(bytes).hex, "\(seg.name)")
        }
        let l = try run(["cat", dir + "/j"], s, cache: cache)
        let r = try run(["cat", "s3://wt-kill/j"], s, cache: cache)
        #expect(r.status == 0 && l.stdout == r.stdout)
        #expect(try run(["verify", "s3://wt-kill/j"], s, cache: cache).status == 0)
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func aDamagedObjectIsCaughtByTheBlockChecksumOnRead() async throws {
        guard let s = try store() else { return }
        let dir = tempDir(), cache = tempDir()
        try writeJournal(dir + "/j", frames: 1000)
        #expect(try run(["archive", dir + "/j", "--to", "s3://wt-damage/j", "--create-bucket"], s, cache: cache).status == 0)
        let name = try #require(try JournalArchiveSupport.sealedSegments(directory: dir + "/j").first?.name)
        let c = try client(s)
        var bytes = try await c.get(bucket: "wt-damage", key: "j/segments/" + name)
        bytes[40 + 80 + 100] ^= 0x5A  // inside the first block's payload
        try await c.put(bucket: "wt-damage", key: "j/segments/" + name, bytes: bytes)

        let strict = try run(["cat", "--strict", "s3://wt-damage/j"], s, cache: cache)
        #expect(strict.status != 0)
        #expect(strict.stderr.contains(name) && strict.stderr.lowercased().contains("crc"), "\(strict.stderr)")
        let verify = try run(["verify", "s3://wt-damage/j"], s, cache: cache)
        #expect(verify.status != 0 && (verify.stdout + verify.stderr).contains(name), "\(verify.stdout)\(verify.stderr)")
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func pruneDeletesOnlyVerifiedSegmentsAndTheArchiveKeepsThem() async throws {
        guard let s = try store() else { return }
        let dir = tempDir(), cache = tempDir()
        try writeJournal(dir + "/j", frames: 2000)
        let before = try run(["cat", dir + "/j"], s, cache: cache).stdout
        let sealed = try JournalArchiveSupport.sealedSegments(directory: dir + "/j")
        // Denied credentials: nothing is verified, so nothing is pruned.
        let denied = try run(["archive", dir + "/j", "--to", "s3://wt-prune/j", "--create-bucket", "--prune-local-after", "0s"], s, cache: cache,
                             env: ["AWS_SECRET_ACCESS_KEY": "wrong-secret-for-prune"])
        #expect(denied.status != 0)
        #expect(try JournalArchiveSupport.sealedSegments(directory: dir + "/j").count == sealed.count)

        let pruned = try run(["archive", dir + "/j", "--to", "s3://wt-prune/j", "--create-bucket", "--prune-local-after", "0s"], s, cache: cache)
        #expect(pruned.status == 0 && pruned.stdout.contains("pruned \(sealed.count) local segment"), "\(pruned.stdout) \(pruned.stderr)")
        #expect(try JournalArchiveSupport.sealedSegments(directory: dir + "/j").isEmpty)
        let again = try run(["archive", dir + "/j", "--to", "s3://wt-prune/j"], s, cache: cache)
        #expect(again.status == 0 && again.stdout.contains("\(sealed.count) segments archived") && again.stdout.contains("nothing new"), "\(again.stdout)")
        #expect(try run(["cat", "s3://wt-prune/j"], s, cache: cache).stdout == before)
    }

    @Test(.enabled(if: enabled, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func recordArchiveUploadsSegmentsAsTheySealAndTheLastOneAtTheEnd() async throws {
        guard let s = try store() else { return }
        let peer = try PythonPeer()
        let dir = tempDir(), cache = tempDir()
        try await client(s).createBucket("wt-record")
        let rec = try run([
            "record", peer.url("/flood?n=3000&size=300&hold=1"), "--journal", dir + "/j", "--count", "3000",
            "--segment-size", "64K", "--archive", "s3://wt-record/live", "--quiet",
        ], s, cache: cache)
        #expect(rec.status == 0, "\(rec.stderr)")
        #expect(!(rec.stdout + rec.stderr).contains(SeaweedS3.secretKey))
        let sealed = try JournalArchiveSupport.sealedSegments(directory: dir + "/j")
        #expect(sealed.count >= 3)
        let m = try await RemoteJournal(location: S3Location(bucket: "wt-record", prefix: "live"), client: client(s), cacheRoot: cache).manifest()
        #expect(m.segments.map(\.name) == sealed.map(\.name))
        let l = try run(["cat", dir + "/j"], s, cache: cache)
        let r = try run(["cat", "s3://wt-record/live"], s, cache: cache)
        #expect(r.status == 0 && l.lines.count >= 3000 && l.stdout == r.stdout, "\(r.stderr)")
    }
}
