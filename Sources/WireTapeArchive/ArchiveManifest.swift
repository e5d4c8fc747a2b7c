import Foundation
import WireTapeJournal

/// `PREFIX/manifest.json`: what an archived journal holds. Written last, after every object it
/// names was uploaded and verified, so a reader that finds a manifest finds a complete
/// journal (see docs/archive.md, "The publish protocol").
public struct ArchiveManifest: Codable, Sendable, Equatable {
    /// One archived segment.
    public struct Segment: Codable, Sendable, Equatable {
        /// `seg-<20 digits>.wtj`; the object is `PREFIX/segments/<name>`.
        public var name: String
        /// Bytes.
        public var size: UInt64
        /// Hex MD5 of the object, compared with the store's ETag after the upload.
        public var md5: String
        /// Sequence range, blocks and records (from the seal).
        public var first_seq: UInt64, last_seq: UInt64, blocks: UInt32, records: UInt64
    }

    /// The index snapshot: `PREFIX/<key>`, covering exactly ``segments``.
    public struct Index: Codable, Sendable, Equatable {
        /// The key under the prefix (`index-<last seq>.sqlite`).
        public var key: String
        /// Bytes and hex MD5.
        public var size: UInt64, md5: String
    }

    /// What `wiretape ls` shows without reading anything else.
    public struct Summary: Codable, Sendable, Equatable {
        /// The feed URL of the first session (already redacted by the recorder).
        public var feed_url: String?
        /// Wall-time span (Unix ns) and sequence span.
        public var first_wall_ns: Int64?, last_wall_ns: Int64?, first_seq: UInt64?, last_seq: UInt64?
        /// Records, and bytes of all segments.
        public var records: UInt64, bytes: UInt64
        /// Distinct epochs seen, and outages: lifecycle edges that left `connected`.
        public var epochs: UInt64, outages: UInt64
    }

    /// `"wiretape-archive"`.
    public var format = "wiretape-archive"
    /// The manifest version (1).
    public var version = 1
    /// Segments in sequence order.
    public var segments: [Segment]
    /// The index.
    public var index: Index
    /// The summary.
    public var summary: Summary

    /// The manifest's key under the prefix.
    public static let key = "manifest.json"
    /// The folder of segment objects under the prefix.
    public static let segmentsFolder = "segments/"

    /// Encodes as JSON (sorted keys, so equal manifests are equal bytes).
    public func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        // Encoding plain structs of strings and integers cannot fail.
        return Array((try? e.encode(self)) ?? Data())
    }

    /// Decodes a manifest.
    /// - Throws: `badManifest` when it is not one, or from a newer version.
    public static func decode(_ bytes: [UInt8], location: S3Location) throws(ArchiveError) -> ArchiveManifest {
        let m: ArchiveManifest
        do { m = try JSONDecoder().decode(ArchiveManifest.self, from: Data(bytes)) } catch {
            throw ArchiveError(.badManifest, "\(location)/\(key) is not a WireTape archive manifest: \(error)", bucket: location.bucket)
        }
        guard m.format == "wiretape-archive", m.version == 1 else {
            throw ArchiveError(.badManifest, "\(location)/\(key) is version \(m.version) of \(m.format); this wiretape reads version 1", bucket: location.bucket)
        }
        return m
    }

    /// The summary of the journal whose index snapshot is in `directory` (as `index.sqlite`).
    static func summarize(indexDirectory directory: String, segments: [Segment]) throws(JournalError) -> Summary {
        let q = try JournalIndexQuery(directory: directory)
        var s = Summary(records: 0, bytes: segments.reduce(0) { $0 + $1.size }, epochs: 0, outages: 0)
        var epochs = Set<UInt64>()
        try q.forEachBlock { r in
            s.first_wall_ns = min(s.first_wall_ns ?? r.minWall, r.minWall)
            s.last_wall_ns = max(s.last_wall_ns ?? r.maxWall, r.maxWall)
            if s.first_seq == nil { s.first_seq = r.firstSeq }
            s.last_seq = r.lastSeq
            s.records += UInt64(r.recordCount)
            if r.maxEpoch - r.minEpoch < 1024 { for e in r.minEpoch...r.maxEpoch { epochs.insert(e) } }
        }
        var connected = false
        for row in try q.lifecycleEdges() {
            epochs.insert(row.epoch)
            let isUp = row.edge.stateName == "connected" || row.edge.stateName == "resumed"
            if connected && !isUp && row.edge.stateName != "connecting" { s.outages += 1 }
            connected = isUp
        }
        s.epochs = UInt64(epochs.count)
        s.feed_url = try q.sessions().first(where: { $0.url != nil })?.url
        return s
    }
}
