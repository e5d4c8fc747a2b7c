/// An error from the archive: talking to the object store, publishing or reading an archived
/// journal. It names the endpoint and the bucket (and the key when there is one), never a
/// credential.
///
/// ```swift
/// do { try await archiver.run() }
/// catch let e as ArchiveError where e.code == .accessDenied { print(e.message) }
/// ```
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The store refused the credentials or the signature (HTTP 403, `SignatureDoesNotMatch`,
        /// `InvalidAccessKeyId`).
        case accessDenied
        /// No credentials were given (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
        case noCredentials
        /// The bucket or the key does not exist.
        case notFound
        /// The store could not be reached or the connection broke.
        case network
        /// The store answered with an unexpected HTTP status.
        case httpStatus
        /// An uploaded object does not match what was sent (size or checksum), or a fetched
        /// object does not match the manifest.
        case verificationFailed
        /// The location, endpoint or another input is malformed.
        case invalidArgument
        /// There is no archived journal (no manifest) at the prefix.
        case noArchive
        /// The manifest is unreadable or from a newer version.
        case badManifest
        /// A local file could not be read or written (the journal, the cache).
        case io
    }

    /// What kind of failure this is.
    public var code: Code
    /// A sentence a person can act on; names the endpoint and bucket.
    public var message: String
    /// The endpoint (`http://127.0.0.1:8333`), when the error concerns the store.
    public var endpoint: String?
    /// The bucket, when the error concerns one.
    public var bucket: String?
    /// The underlying error, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, endpoint: String? = nil, bucket: String? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.bucket = bucket
        self.underlying = underlying
    }

    /// The message.
    public var description: String { message }
}

extension ArchiveError.Code {
    /// Matches a code in a `catch` pattern: `catch ArchiveError.Code.accessDenied`.
    public static func ~= (code: Self, error: any Error) -> Bool {
        (error as? ArchiveError)?.code == code
    }
}
