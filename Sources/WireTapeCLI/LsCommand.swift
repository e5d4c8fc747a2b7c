import ArgumentParser
import WireTapeArchive
import WireTapeCore
import WireTapeJournal

/// `wiretape ls s3://BUCKET/[PREFIX]`: the archived journals under a prefix.
public struct LsCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List archived journals in S3-compatible storage: feed URL, time span, size, epochs, outages.")

    @Argument(help: ArgumentHelp("Where to look: s3://BUCKET or s3://BUCKET/PREFIX.", valueName: "URL"))
    var location: String

    @OptionGroup var s3: S3Options

    @Flag(help: "Print one JSON object per journal.")
    var json = false

    public init() {}

    public func validate() throws { _ = try S3Location(parsing: location) }

    public func run() async throws {
        let out = JournalOutput.current
        let where_ = try S3Location(parsing: location)
        let client = try s3.client()
        let suffix = "/" + ArchiveManifest.key
        let keys = try await client.list(bucket: where_.bucket, prefix: where_.prefix.isEmpty ? "" : where_.prefix + "/")
            .map(\.key).filter { $0 == ArchiveManifest.key || $0.hasSuffix(suffix) }.sorted()
        if keys.isEmpty, !json { out.line("no archived journal under \(where_)") }
        for key in keys {
            let prefix = key == ArchiveManifest.key ? "" : String(key.dropLast(suffix.count))
            let here = S3Location(bucket: where_.bucket, prefix: prefix)
            let m = try ArchiveManifest.decode(try await client.get(bucket: where_.bucket, key: key), location: here)
            let s = m.summary
            let url = s.feed_url.map { Redaction.redact(url: $0) }
            if json {
                var l = JSONLine()
                l.add("location", "\(here)")
                l.addIfPresent("feed_url", url)
                if let a = s.first_wall_ns, let b = s.last_wall_ns {
                    l.add("first", JournalTime.format(a)); l.add("last", JournalTime.format(b))
                    l.add("first_wall_ns", a); l.add("last_wall_ns", b)
                }
                l.add("segments", m.segments.count); l.add("bytes", s.bytes); l.add("records", s.records)
                l.add("epochs", s.epochs); l.add("outages", s.outages)
                out.line(l.finish())
            } else {
                let span = s.first_wall_ns.flatMap { a in s.last_wall_ns.map { b in "\(JournalTime.format(a)) .. \(JournalTime.format(b))" } } ?? "(empty)"
                out.line(TerminalText.safe("\(here)  \(url ?? "(no feed URL)")  \(span)  \(s.bytes) bytes in \(m.segments.count) segments  \(s.records) records  \(s.epochs) epochs  \(s.outages) outages"))
            }
        }
    }
}
