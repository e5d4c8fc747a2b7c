#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WireTapeJournal

/// Publishes a journal's sealed segments to `s3://BUCKET/PREFIX` (docs/archive.md):
///
/// 1. every sealed segment not yet in the store (same size and MD5) is uploaded with
///    `Content-MD5`, then checked with `HEAD` (size, and ETag or `x-amz-meta-wiretape-md5`);
///    at most ``parallelism`` at a time;
/// 2. an index snapshot covering exactly the archived segments is uploaded and checked;
/// 3. `manifest.json`, naming every segment and the index, is written **last**.
///
/// A reader only trusts what the manifest names, so an interrupted run never shows a
/// half-published journal; the next run skips what is already there and verified. A run
/// with nothing new uploads nothing and leaves the manifest alone.
public struct Archiver: Sendable {
    /// What a run did.
    public struct Report: Sendable {
        /// Segments uploaded (and verified) by this run.
        public var uploaded: [String] = []
        /// Sealed segments that were already archived.
        public var alreadyArchived = 0
        /// Bytes uploaded (segments and index).
        public var bytesUploaded: UInt64 = 0
        /// Whether a new manifest was published.
        public var publishedManifest = false
        /// Local segments deleted by `pruneLocalAfter`.
        public var pruned: [String] = []
        /// Segments in the published (or unchanged) manifest.
        public var archivedSegments = 0
        /// Local segments not sealed yet (never uploaded).
        public var unsealedSkipped = 0
    }

    /// The S3 client.
    public var client: S3Client
    /// Where to publish.
    public var location: S3Location
    /// Uploads in flight at most.
    public var parallelism: Int
    /// Delete local sealed segments older than this (by modification time) once verified in
    /// the store; nil keeps them.
    public var pruneLocalAfter: Duration?

    /// Creates an archiver.
    public init(client: S3Client, location: S3Location, parallelism: Int = 4, pruneLocalAfter: Duration? = nil) {
        self.client = client
        self.location = location
        self.parallelism = max(1, parallelism)
        self.pruneLocalAfter = pruneLocalAfter
    }

    private func ioError(_ e: JournalError) -> ArchiveError {
        ArchiveError(.io, e.message, underlying: e)
    }

    /// Archives `directory`.
    /// - Parameter progress: called with a line for each object published.
    public func run(directory: String, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws(ArchiveError) -> Report {
        var report = Report()
        let sealed: [SealedSegment]
        do {
            sealed = try JournalArchiveSupport.sealedSegments(directory: directory)
            let all = try FileManager.default.contentsOfDirectory(atPath: directory).filter { JournalFormat.parseSegmentFileName($0) != nil }
            report.unsealedSkipped = all.count - sealed.count
        } catch let e as JournalError {
            throw ioError(e)
        } catch {
            throw ArchiveError(.io, "cannot list \(directory): \(error)")
        }
        let bucket = location.bucket
        let previous: ArchiveManifest?
        do {
            previous = try ArchiveManifest.decode(try await client.get(bucket: bucket, key: location.key(ArchiveManifest.key)), location: location)
        } catch let e where e.code == .notFound {
            previous = nil
        }
        var remote: [String: S3Object] = [:]
        for o in try await client.list(bucket: bucket, prefix: location.key(ArchiveManifest.segmentsFolder)) { remote[o.key] = o }

        // 1. Segments, in parallel, each verified after upload.
        let results = try await uploadSegments(
            sealed, directory: directory, remote: remote, archived: previous?.segments ?? [], progress: progress)
        var entries: [String: ArchiveManifest.Segment] = [:]
        for p in previous?.segments ?? [] { entries[p.name] = p }
        for r in results {
            entries[r.entry.name] = r.entry
            if r.uploaded { report.uploaded.append(r.entry.name); report.bytesUploaded += r.entry.size } else { report.alreadyArchived += 1 }
        }
        let segments = entries.values.sorted { $0.name < $1.name }
        report.archivedSegments = segments.count

        // 2.-3. Index and manifest, unless nothing changed.
        if let previous, previous.segments == segments {
            progress("up to date: \(segments.count) segments already archived in \(location), nothing uploaded")
        } else if !segments.isEmpty {
            let (manifest, indexBytes) = try await publishIndex(directory: directory, segments: segments, previous: previous)
            report.bytesUploaded += indexBytes
            let bytes = manifest.encoded()
            try await client.put(bucket: bucket, key: location.key(ArchiveManifest.key), bytes: bytes)
            try await verify(key: location.key(ArchiveManifest.key), size: UInt64(bytes.count), md5: Digest.md5(bytes).hex)
            report.publishedManifest = true
            progress("published \(location)/\(ArchiveManifest.key): \(segments.count) segments, index \(manifest.index.key)")
            if let old = previous?.index.key, old != manifest.index.key { try? await client.delete(bucket: bucket, key: location.key(old)) }
        } else {
            progress("nothing sealed to archive in \(directory)")
        }

        // Prune only what the store holds, verified.
        if let age = pruneLocalAfter {
            let cutoff = Date().addingTimeInterval(-Double(age.components.seconds) - Double(age.components.attoseconds) / 1e18)
            for s in sealed where entries[s.name] != nil {
                let path = directory + "/" + s.name
                guard let m = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date, m <= cutoff else { continue }
                if unlink(path) == 0 { report.pruned.append(s.name); progress("pruned local \(s.name) (archived and verified)") }
            }
        }
        return report
    }

    private struct SegmentResult: Sendable { var entry: ArchiveManifest.Segment; var uploaded: Bool }

    private func uploadSegments(
        _ sealed: [SealedSegment], directory: String, remote: [String: S3Object], archived: [ArchiveManifest.Segment],
        progress: @escaping @Sendable (String) -> Void
    ) async throws(ArchiveError) -> [SegmentResult] {
        let known = Dictionary(archived.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        do {
            return try await withThrowingTaskGroup(of: SegmentResult.self) { group in
                var results: [SegmentResult] = []
                var next = 0
                func start() {
                    let s = sealed[next]
                    next += 1
                    let existing = remote[self.location.key(ArchiveManifest.segmentsFolder + s.name)]
                    // Already published: the manifest names it with this size and the store
                    // holds that very object (sealed segments never change), so no re-hash.
                    if let k = known[s.name], k.size == s.size, let o = existing, o.size == k.size, o.etag == k.md5 {
                        group.addTask { SegmentResult(entry: k, uploaded: false) }
                        return
                    }
                    group.addTask { try await self.archiveSegment(s, directory: directory, existing: existing, published: known[s.name], progress: progress) }
                }
                while next < sealed.count && next < parallelism { start() }
                while let r = try await group.next() {
                    results.append(r)
                    if next < sealed.count { start() }
                }
                return results
            }
        } catch let e as ArchiveError {
            throw e
        } catch {
            throw ArchiveError(.io, "archiving \(directory) failed: \(error)")
        }
    }

    private func archiveSegment(
        _ s: SealedSegment, directory: String, existing: S3Object?, published: ArchiveManifest.Segment?, progress: @Sendable (String) -> Void
    ) async throws(ArchiveError) -> SegmentResult {
        let path = directory + "/" + s.name
        let (md5, sha) = try Self.digests(path: path, size: s.size)
        if let published, published.size != s.size || published.md5 != md5.hex {
            // Sealed segments never change: a different one under the same name is another journal.
            throw ArchiveError(
                .invalidArgument,
                "\(location) already holds a different \(s.name) (another journal was archived there); archive \(directory) to another prefix",
                endpoint: "\(client.configuration.endpoint)", bucket: location.bucket)
        }
        let entry = ArchiveManifest.Segment(
            name: s.name, size: s.size, md5: md5.hex, first_seq: s.firstSeq, last_seq: s.lastSeq, blocks: s.blockCount, records: s.recordCount)
        let key = location.key(ArchiveManifest.segmentsFolder + s.name)
        if let o = existing, o.size == s.size, o.etag == md5.hex {
            return SegmentResult(entry: entry, uploaded: false)
        }
        try await client.putFile(bucket: location.bucket, key: key, path: path, size: s.size, md5: md5, sha256: sha, metadata: ["wiretape-md5": md5.hex])
        try await verify(key: key, size: s.size, md5: md5.hex)
        progress("uploaded \(s.name) (\(s.size) bytes, verified)")
        return SegmentResult(entry: entry, uploaded: true)
    }

    /// HEAD the object: its size, and its ETag or our metadata MD5, must match.
    private func verify(key: String, size: UInt64, md5: String) async throws(ArchiveError) {
        let head = try await client.head(bucket: location.bucket, key: key)
        guard let head, head.size == size, head.etag == md5 || head.metadata["wiretape-md5"] == md5 else {
            throw ArchiveError(
                .verificationFailed,
                "\(client.configuration.endpoint): s3://\(location.bucket)/\(key) does not match what was uploaded (expected \(size) bytes, MD5 \(md5); found \(head.map { "\($0.size) bytes, ETag \($0.etag)" } ?? "no object")); run `wiretape archive` again",
                endpoint: "\(client.configuration.endpoint)", bucket: location.bucket)
        }
    }

    private func publishIndex(
        directory: String, segments: [ArchiveManifest.Segment], previous: ArchiveManifest?
    ) async throws(ArchiveError) -> (ArchiveManifest, UInt64) {
        let work = NSTemporaryDirectory() + "wiretape-archive-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: work) }
        do { try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true) } catch {
            throw ArchiveError(.io, "cannot create \(work): \(error)")
        }
        var previousPath: String?
        let local = Set(segments.map(\.name)).filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        if let previous, segments.contains(where: { !local.contains($0.name) }) {
            // Some archived segments were pruned locally: keep their rows from the last index.
            let bytes = try await client.get(bucket: location.bucket, key: location.key(previous.index.key))
            let path = work + "/previous.sqlite"
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw ArchiveError(.io, "cannot write \(path)") }
            previousPath = path
        }
        let lastSeq = segments.map(\.last_seq).max() ?? 0
        let indexPath = work + "/" + JournalFormat.indexFileName
        let summary: ArchiveManifest.Summary
        do {
            try JournalArchiveSupport.snapshotIndex(
                directory: directory, segments: segments.map(\.name), lastSeq: lastSeq, previous: previousPath, to: indexPath)
            summary = try ArchiveManifest.summarize(indexDirectory: work, segments: segments)
        } catch {
            throw ioError(error)
        }
        guard let data = FileManager.default.contents(atPath: indexPath) else { throw ArchiveError(.io, "cannot read \(indexPath)") }
        let bytes = [UInt8](data)
        let md5 = Digest.md5(bytes).hex
        let digits = String(lastSeq)
        let key = "index-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "-" + md5.prefix(8) + ".sqlite"
        try await client.put(bucket: location.bucket, key: location.key(key), bytes: bytes)
        try await verify(key: location.key(key), size: UInt64(bytes.count), md5: md5)
        let manifest = ArchiveManifest(segments: segments, index: .init(key: key, size: UInt64(bytes.count), md5: md5), summary: summary)
        return (manifest, UInt64(bytes.count))
    }

    /// MD5 and SHA-256 of a file in one pass.
    static func digests(path: String, size: UInt64) throws(ArchiveError) -> ([UInt8], [UInt8]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var md5 = Digest(.md5)
        var sha = Digest(.sha256)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var done: UInt64 = 0
        while done < size {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, min($0.count, Int(size - done)), off_t(done)) }
            guard n > 0 else { throw ArchiveError(.io, "cannot read \(path) at byte \(done): \(n < 0 ? String(cString: strerror(errno)) : "end of file")") }
            buffer.withUnsafeBytes { b in
                let part = UnsafeRawBufferPointer(rebasing: b[0..<n])
                md5.update(part)
                sha.update(part)
            }
            done += UInt64(n)
        }
        return (md5.finish(), sha.finish())
    }
}
