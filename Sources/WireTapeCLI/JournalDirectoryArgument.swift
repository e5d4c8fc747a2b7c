import ArgumentParser
import Foundation
import WireTapeArchive

/// The journal directory, the first positional argument of every command that reads or
/// appends to a journal (`cat DIR`, `import DIR`, `info DIR`, …). Commands whose positional
/// argument is a URL (`record URL`) take `--journal DIR` instead.
///
/// Readers also accept an archived journal, `s3://BUCKET/PREFIX` (``readable(_:)``): it is
/// read through a bounded local cache that holds only what the command needs.
struct JournalDirectoryArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The journal directory (readers also take an archived journal, s3://BUCKET/PREFIX).", valueName: "DIR"))
    var directory: String

    @OptionGroup var s3: S3Options

    @Option(help: ArgumentHelp("Cache for s3:// journals (default $XDG_CACHE_HOME/wiretape or ~/.cache/wiretape).", valueName: "DIR"))
    var cache: String?

    @Option(name: .customLong("cache-limit-mb"), help: "Size bound of the s3:// cache in MiB; other journals are evicted, least recently used first.")
    var cacheLimitMB: UInt64 = 2048

    /// Whether DIR names an archived journal.
    var isRemote: Bool { S3Location.isRemote(directory) }

    /// The directory to read: DIR itself, or for `s3://BUCKET/PREFIX` the cache directory
    /// holding what `need` requires (fetched with ranged GETs).
    func readable(_ need: RemoteJournal.Need = .everything) async throws -> String {
        guard isRemote else { return directory }
        let env = ProcessInfo.processInfo.environment
        let remote = RemoteJournal(
            location: try S3Location(parsing: directory), client: try s3.client(),
            cacheRoot: cache ?? RemoteJournal.defaultCacheRoot(environment: env), cacheLimit: cacheLimitMB << 20)
        return try await remote.materialize(need)
    }

    /// DIR, for commands that write to a journal: an `s3://` location is refused (archives
    /// are written by `wiretape archive` only).
    func writable() throws -> String {
        if isRemote {
            throw ValidationError("\(directory) is an archived journal, which is read-only; this command needs a local journal directory")
        }
        return directory
    }
}
