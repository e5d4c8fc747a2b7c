#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import WireTapeJournal

/// An archived journal read through a bounded local cache, so every local reader works on
/// it unchanged.
///
/// The cache entry of `s3://BUCKET/PREFIX` is a journal directory: the archive's index as
/// `index.sqlite` and each segment as a file of its full size that holds only the byte ranges
/// fetched so far (sparse; the ranges present are listed beside it). ``materialize(_:)``
/// fetches the manifest and the index first, then only the byte ranges a reader needs, with
/// ranged GETs:
/// - ``Need/everything``: every segment, whole (`cat` without a range, `verify`, `replay`);
/// - ``Need/summary``: the index and the last segment (`info`, `gaps`);
/// - ``Need/timeRange(from:to:)``: the blocks the index lists for the range, then a view
///   journal holding just those blocks (a seek by time fetches a block or two).
///
/// Fetched bytes are not trusted: the ordinary reader checks every block's CRC, so a damaged
/// object is reported as a damaged block of that segment.
public final class RemoteJournal: Sendable {
    /// What a reader needs from the archive.
    public enum Need: Sendable, Hashable {
        /// Every segment, whole.
        case everything
        /// The index, and the last segment (which readers of the index also scan).
        case summary
        /// Only the blocks whose wall-time span meets `[from, to]` (nil: unbounded).
        case timeRange(from: Int64?, to: Int64?)
    }

    /// The archive.
    public let location: S3Location
    /// The client.
    public let client: S3Client
    /// The cache root; this journal's entry is a folder under it.
    public let cacheRoot: String
    /// The cache's size bound in bytes: entries of other journals, least recently used
    /// first, are evicted to stay under it.
    public let cacheLimit: UInt64
    /// Ranged GETs in flight at most.
    public let parallelism: Int

    /// Creates a reader.
    public init(location: S3Location, client: S3Client, cacheRoot: String, cacheLimit: UInt64 = 2 << 30, parallelism: Int = 4) {
        self.location = location
        self.client = client
        self.cacheRoot = cacheRoot
        self.cacheLimit = cacheLimit
        self.parallelism = max(1, parallelism)
    }

    /// The default cache root: `$XDG_CACHE_HOME/wiretape`, else `~/.cache/wiretape`.
    public static func defaultCacheRoot(environment: [String: String]) -> String {
        if let x = environment["XDG_CACHE_HOME"], !x.isEmpty { return x + "/wiretape" }
        return (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/wiretape"
    }

    /// This journal's cache entry.
    public var entry: String {
        let e = client.configuration.endpoint
        let safe = { (s: String) in String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }) }
        return cacheRoot + "/" + safe("\(e.host)_\(e.port)") + "/" + location.bucket + "/" + (location.prefix.isEmpty ? "_" : safe(location.prefix))
    }

    /// The journal directory inside the entry.
    public var journalDirectory: String { entry + "/journal" }

    /// Bytes fetched from the store by this reader so far.
    public var bytesFetched: UInt64 { counter.withLock { $0 } }
    private let counter = Mutex<UInt64>(0)

    /// Reads the manifest.
    /// - Throws: `noArchive` when there is none at the prefix.
    public func manifest() async throws(ArchiveError) -> ArchiveManifest {
        do {
            return try ArchiveManifest.decode(try await client.get(bucket: location.bucket, key: location.key(ArchiveManifest.key)), location: location)
        } catch let e where e.code == .notFound {
            throw ArchiveError(
                .noArchive, "no archived journal at \(location) on \(client.configuration.endpoint) (no \(ArchiveManifest.key)); `wiretape ls s3://\(location.bucket)/` lists what is there",
                endpoint: "\(client.configuration.endpoint)", bucket: location.bucket)
        }
    }

    /// Makes the cache hold what `need` requires and returns the directory to read.
    public func materialize(_ need: Need) async throws(ArchiveError) -> String {
        let m = try await manifest()
        let dir = journalDirectory
        try prepareEntry(m)
        let indexPath = dir + "/" + JournalFormat.indexFileName
        if !FileManager.default.fileExists(atPath: indexPath) {
            let bytes = try await fetch(key: location.key(m.index.key), range: nil)
            guard Digest.md5(bytes).hex == m.index.md5 else {
                throw ArchiveError(
                    .verificationFailed, "\(location)/\(m.index.key) does not match its manifest (MD5); the archive is damaged: run `wiretape archive` again from the recording host",
                    endpoint: "\(client.configuration.endpoint)", bucket: location.bucket)
            }
            try write(bytes, to: indexPath + ".part")
            guard rename(indexPath + ".part", indexPath) == 0 else { throw ArchiveError(.io, "cannot rename into \(indexPath)") }
        }
        var wanted: [(segment: ArchiveManifest.Segment, range: Range<UInt64>)] = []
        var view: [(segment: String, offset: UInt64, storedLength: UInt32)]?
        switch need {
        case .everything:
            wanted = m.segments.map { ($0, 0..<$0.size) }
        case .summary:
            if let last = m.segments.last { wanted = [(last, 0..<last.size)] }
        case .timeRange(let from, let to):
            var blocks: [(segment: String, offset: UInt64, storedLength: UInt32)] = []
            do {
                try JournalIndexQuery(directory: dir).forEachBlock(fromWall: from, toWall: to) { r in
                    blocks.append((r.segment, r.offset, r.storedLength))
                }
            } catch { throw ArchiveError(.io, "reading the cached index \(indexPath): \(error.message)", underlying: error) }
            let byName = Dictionary(uniqueKeysWithValues: m.segments.map { ($0.name, $0) })
            // Each segment's header and dictionary record: everything before its first block.
            let prefixes: [String: UInt64]
            do { prefixes = try JournalArchiveSupport.segmentPrefixes(directory: dir) } catch {
                throw ArchiveError(.io, "reading the cached index \(indexPath): \(error.message)", underlying: error)
            }
            for b in blocks {
                guard let s = byName[b.segment] else { continue }
                wanted.append((s, 0..<(prefixes[b.segment] ?? UInt64(JournalFormat.segmentHeaderSize))))
                wanted.append((s, b.offset..<b.offset + UInt64(JournalFormat.blockHeaderSize) + UInt64(b.storedLength)))
            }
            view = blocks
        }
        try await fetchMissing(wanted)
        touch()
        evict()
        guard let view else { return dir }
        // Views of readers that have ended are removed; this one lives until the next read.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: entry)) ?? [] where name.hasPrefix("view-") {
            if let pid = Int32(name.dropFirst(5)), pid == getpid() || Glibc.kill(pid, 0) != 0 {
                try? FileManager.default.removeItem(atPath: entry + "/" + name)
            }
        }
        let viewDir = entry + "/view-\(getpid())"
        do { try JournalArchiveSupport.extractBlocks(from: dir, blocks: view, into: viewDir) } catch {
            throw ArchiveError(.io, "building the view of \(location) in \(viewDir): \(error.message)", underlying: error)
        }
        return viewDir
    }

    // MARK: Cache entry

    /// Starts a fresh entry when the manifest changed in a way cached bytes do not survive
    /// (another journal under the same prefix, or a new index).
    private func prepareEntry(_ m: ArchiveManifest) throws(ArchiveError) {
        let fm = FileManager.default
        let dir = journalDirectory
        let manifestPath = entry + "/manifest.json"
        if let old = fm.contents(atPath: manifestPath).flatMap({ try? ArchiveManifest.decode([UInt8]($0), location: location) }) {
            let newByName = Dictionary(uniqueKeysWithValues: m.segments.map { ($0.name, $0.md5) })
            for s in old.segments where newByName[s.name] != s.md5 {
                try? fm.removeItem(atPath: dir + "/" + s.name)
                try? fm.removeItem(atPath: rangesPath(s.name))
            }
            if old.index != m.index { try? fm.removeItem(atPath: dir + "/" + JournalFormat.indexFileName) }
        }
        do {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: entry + "/ranges", withIntermediateDirectories: true)
        } catch { throw ArchiveError(.io, "cannot create the cache entry \(entry): \(error)") }
        try write(m.encoded(), to: manifestPath)
    }

    private func rangesPath(_ segment: String) -> String { entry + "/ranges/" + segment }

    /// The byte ranges of `segment` present in the cache.
    func presentRanges(_ segment: String) -> [Range<UInt64>] {
        guard let text = try? String(contentsOfFile: rangesPath(segment), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let p = line.split(separator: " ")
            guard p.count == 2, let a = UInt64(p[0]), let b = UInt64(p[1]), a < b else { return nil }
            return a..<b
        }
    }

    private func recordRange(_ segment: String, _ r: Range<UInt64>) throws(ArchiveError) {
        let merged = RangeSet(presentRanges(segment) + [r])
        try write(Array(merged.ranges.map { "\($0.lowerBound) \($0.upperBound)\n" }.joined().utf8), to: rangesPath(segment))
    }

    private func fetchMissing(_ wanted: [(segment: ArchiveManifest.Segment, range: Range<UInt64>)]) async throws(ArchiveError) {
        var jobs: [(ArchiveManifest.Segment, Range<UInt64>)] = []
        var bySegment: [String: (ArchiveManifest.Segment, [Range<UInt64>])] = [:]
        for w in wanted { bySegment[w.segment.name, default: (w.segment, [])].1.append(w.range) }
        for (name, (segment, ranges)) in bySegment.sorted(by: { $0.key < $1.key }) {
            // Coalesce: ranges closer than 64 KiB become one GET.
            var need = RangeSet(ranges, mergingGapsBelow: 64 << 10)
            for p in presentRanges(name) { need.subtract(p) }
            jobs += need.ranges.map { (segment, $0) }
        }
        guard !jobs.isEmpty else { return }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func start() {
                    let (s, r) = jobs[next]
                    next += 1
                    group.addTask { try await self.fetchRange(s, r) }
                }
                while next < jobs.count && next < parallelism { start() }
                while try await group.next() != nil { if next < jobs.count { start() } }
            }
        } catch let e as ArchiveError {
            throw e
        } catch {
            throw ArchiveError(.io, "fetching from \(location): \(error)")
        }
    }

    private func fetchRange(_ s: ArchiveManifest.Segment, _ r: Range<UInt64>) async throws(ArchiveError) {
        let bytes = try await fetch(key: location.key(ArchiveManifest.segmentsFolder + s.name), range: r.lowerBound == 0 && r.upperBound == s.size ? nil : r)
        guard bytes.count == r.count else {
            throw ArchiveError(
                .verificationFailed, "\(location)/segments/\(s.name) is \(bytes.count) bytes where the manifest says \(s.size); the archive is damaged",
                endpoint: "\(client.configuration.endpoint)", bucket: location.bucket)
        }
        let path = journalDirectory + "/" + s.name
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Full size from the start: absent ranges are holes (zeros) the reader never reaches.
        _ = ftruncate(fd, off_t(s.size))
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(r.lowerBound)) }
        guard written == bytes.count else { throw ArchiveError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        try rangesLock.withLock { (_: inout Void) throws(ArchiveError) in try self.recordRange(s.name, r) }
    }
    private let rangesLock = Mutex<Void>(())

    private func fetch(key: String, range: Range<UInt64>?) async throws(ArchiveError) -> [UInt8] {
        let bytes = try await client.get(bucket: location.bucket, key: key, range: range)
        counter.withLock { $0 += UInt64(bytes.count) }
        return bytes
    }

    private func write(_ bytes: [UInt8], to path: String) throws(ArchiveError) {
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw ArchiveError(.io, "cannot write \(path)")
        }
    }

    // MARK: Bounding the cache

    private func touch() {
        try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: entry + "/manifest.json")
    }

    /// Evicts other entries, least recently used first, while the cache exceeds its bound.
    private func evict() {
        let fm = FileManager.default
        var entries: [(path: String, used: Date, bytes: UInt64)] = []
        let hosts = (try? fm.contentsOfDirectory(atPath: cacheRoot)) ?? []
        for h in hosts {
            for b in (try? fm.contentsOfDirectory(atPath: cacheRoot + "/" + h)) ?? [] {
                for p in (try? fm.contentsOfDirectory(atPath: cacheRoot + "/" + h + "/" + b)) ?? [] {
                    let path = cacheRoot + "/" + h + "/" + b + "/" + p
                    let used = (try? fm.attributesOfItem(atPath: path + "/manifest.json")[.modificationDate] as? Date) ?? .distantPast
                    entries.append((path, used, Self.allocatedBytes(path)))
                }
            }
        }
        var total = entries.reduce(0) { $0 + $1.bytes }
        for e in entries.sorted(by: { $0.used < $1.used }) where total > cacheLimit && e.path != entry {
            try? fm.removeItem(atPath: e.path)
            total -= e.bytes
        }
    }

    /// Disk blocks in use under `path` (sparse files count what they hold).
    static func allocatedBytes(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        while let name = walker.nextObject() as? String {
            var st = stat()
            if lstat(path + "/" + name, &st) == 0, st.st_mode & S_IFMT == S_IFREG { total += UInt64(st.st_blocks) * 512 }
        }
        return total
    }
}

/// Sorted, disjoint half-open ranges.
struct RangeSet: Equatable {
    private(set) var ranges: [Range<UInt64>] = []

    /// Merges `input`; ranges whose gap is below `gap` become one.
    init(_ input: [Range<UInt64>], mergingGapsBelow gap: UInt64 = 0) {
        for r in input.filter({ !$0.isEmpty }).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = ranges.last, r.lowerBound <= last.upperBound + gap {
                ranges[ranges.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                ranges.append(r)
            }
        }
    }

    /// Removes `cut` from every range.
    mutating func subtract(_ cut: Range<UInt64>) {
        var out: [Range<UInt64>] = []
        for r in ranges {
            if r.upperBound <= cut.lowerBound || r.lowerBound >= cut.upperBound { out.append(r); continue }
            if r.lowerBound < cut.lowerBound { out.append(r.lowerBound..<cut.lowerBound) }
            if r.upperBound > cut.upperBound { out.append(cut.upperBound..<r.upperBound) }
        }
        ranges = out
    }
}
