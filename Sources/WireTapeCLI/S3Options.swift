import ArgumentParser
import Foundation
import WireTapeArchive

/// `--endpoint`: the S3-compatible store, for every command that takes an `s3://` location.
/// The rest of the configuration comes from the standard AWS environment variables
/// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`); see docs/archive.md.
struct S3Options: ParsableArguments {
    @Option(help: ArgumentHelp("The S3 endpoint (overrides AWS_ENDPOINT_URL), e.g. http://127.0.0.1:8333.", valueName: "URL"))
    var endpoint: String?

    /// A client for the configured store.
    func client() throws -> S3Client {
        try S3Client(configuration: S3Configuration.from(environment: ProcessInfo.processInfo.environment, endpoint: endpoint))
    }
}
