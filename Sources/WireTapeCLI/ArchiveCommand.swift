import ArgumentParser
import WireTapeArchive

/// `wiretape archive DIR --to s3://BUCKET/PREFIX`: publishes a journal's sealed segments.
public struct ArchiveCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Upload a journal's sealed segments and index to S3-compatible object storage.",
        discussion: """
            Only sealed segments are uploaded; each is verified (size and MD5) after its upload, \
            and the manifest naming them is written last, so readers never see a half-published \
            archive. A second run uploads nothing new; an interrupted run resumes. Credentials \
            come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (docs/archive.md).
            """)

    @Argument(help: ArgumentHelp("The journal directory.", valueName: "DIR"))
    var directory: String

    @Option(help: ArgumentHelp("Where to publish: s3://BUCKET/PREFIX.", valueName: "URL"))
    var to: String

    @OptionGroup var s3: S3Options

    @Option(help: "Uploads in flight at most.")
    var parallel = 4

    @Option(
        name: .customLong("prune-local-after"),
        help: ArgumentHelp("Delete local sealed segments older than this (e.g. 90s, 30m, 12h, 7d) once verified in the store.", valueName: "DURATION"))
    var pruneLocalAfter: String?

    @Flag(name: .customLong("create-bucket"), help: "Create the bucket when it does not exist.")
    var createBucket = false

    public init() {}

    public func validate() throws {
        _ = try S3Location(parsing: to)
        if parallel < 1 { throw ValidationError("--parallel must be at least 1") }
        if let p = pruneLocalAfter, ArchiveCommand.parseDuration(p) == nil {
            throw ValidationError("--prune-local-after \"\(p)\" is not a duration such as 90s, 30m, 12h or 7d")
        }
    }

    /// Seconds in `90`, `90s`, `30m`, `12h` or `7d`.
    static func parseDuration(_ s: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let u = s.last, let mult = units[u], let v = Int64(s.dropLast()), v >= 0 { return .seconds(v * mult) }
        return Int64(s).flatMap { $0 >= 0 ? .seconds($0) : nil }
    }

    public func run() async throws {
        let out = JournalOutput.current
        let location = try S3Location(parsing: to)
        let client = try s3.client()
        if createBucket { try await client.createBucket(location.bucket) }
        let archiver = Archiver(client: client, location: location, parallelism: parallel, pruneLocalAfter: pruneLocalAfter.flatMap(Self.parseDuration))
        let report = try await archiver.run(directory: directory) { line in out.warn(line) }
        var line = "archive \(location): \(report.archivedSegments) segments archived; \(report.uploaded.count) uploaded now (\(report.bytesUploaded) bytes), \(report.alreadyArchived) already there"
        line += report.publishedManifest ? "; manifest published" : "; nothing new, manifest unchanged"
        if report.unsealedSkipped > 0 { line += "; \(report.unsealedSkipped) unsealed segment(s) not uploaded" }
        if !report.pruned.isEmpty { line += "; pruned \(report.pruned.count) local segment(s)" }
        out.line(line)
    }
}
