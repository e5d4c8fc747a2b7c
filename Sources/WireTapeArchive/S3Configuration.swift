/// Where an S3-compatible store is and how to sign for it: from the standard AWS environment
/// variables (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_CA_BUNDLE`) and `--endpoint`. Requests use path-style addressing
/// (`ENDPOINT/BUCKET/KEY`), which every S3-compatible store and AWS S3 accept.
public struct S3Configuration: Sendable, CustomStringConvertible {
    /// The endpoint: `http` or `https`, a host and a port.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// True for `https`.
        public var tls: Bool
        /// The host name or address.
        public var host: String
        /// The TCP port.
        public var port: Int

        /// Parses `http://host:port` or `https://host[:port]` (a trailing `/` is allowed; no
        /// path, no user info).
        public init(parsing url: String) throws(ArchiveError) {
            var rest = Substring(url)
            if rest.hasPrefix("https://") { tls = true; rest = rest.dropFirst(8) }
            else if rest.hasPrefix("http://") { tls = false; rest = rest.dropFirst(7) }
            else { throw ArchiveError(.invalidArgument, "the endpoint \"\(url)\" must start with http:// or https://") }
            while rest.hasSuffix("/") { rest = rest.dropLast() }
            guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@") else {
                throw ArchiveError(.invalidArgument, "the endpoint \"\(url)\" must be scheme://host[:port] with no path or user info")
            }
            if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
                guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                    throw ArchiveError(.invalidArgument, "the endpoint \"\(url)\" has an invalid port")
                }
                host = String(rest[..<colon])
                port = p
            } else {
                host = String(rest)
                port = tls ? 443 : 80
            }
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        }

        /// The `Host` header: the host, and the port when it is not the scheme's default.
        public var hostHeader: String {
            let h = host.contains(":") ? "[\(host)]" : host
            return port == (tls ? 443 : 80) ? h : "\(h):\(port)"
        }

        /// `scheme://host[:port]`.
        public var description: String { (tls ? "https://" : "http://") + hostHeader }
    }

    /// The store.
    public var endpoint: Endpoint
    /// The signing region.
    public var region: String
    /// The credentials; nil when none were given (requests are then refused before sending).
    public var credentials: S3Credentials?
    /// A PEM file of extra certificate authorities to trust for `https` (`AWS_CA_BUNDLE`),
    /// for a store behind a private CA; the system's roots are trusted either way.
    public var caBundle: String?

    /// Creates a configuration.
    public init(endpoint: Endpoint, region: String, credentials: S3Credentials?, caBundle: String? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.caBundle = caBundle
    }

    /// Reads the configuration from `environment`; `endpoint` (from `--endpoint`) wins over
    /// `AWS_ENDPOINT_URL`. Without either, AWS S3 in the region (`https://s3.REGION.amazonaws.com`).
    /// The region is `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    public static func from(environment: [String: String], endpoint: String? = nil) throws(ArchiveError) -> S3Configuration {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let region = value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") ?? "us-east-1"
        let url = endpoint ?? value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL") ?? "https://s3.\(region).amazonaws.com"
        var credentials: S3Credentials?
        if let id = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: value("AWS_SESSION_TOKEN"))
        }
        return S3Configuration(endpoint: try Endpoint(parsing: url), region: region, credentials: credentials, caBundle: value("AWS_CA_BUNDLE"))
    }

    /// The endpoint, the region and the access key id; never the secret.
    public var description: String {
        "\(endpoint) region \(region) key \(credentials?.accessKeyID ?? "<none>")"
    }
}

/// An archive location, `s3://BUCKET/PREFIX`: the bucket and a key prefix (no leading or
/// trailing `/`; empty for the bucket's root).
public struct S3Location: Sendable, Hashable, CustomStringConvertible {
    /// The bucket.
    public var bucket: String
    /// The key prefix, without leading or trailing `/`.
    public var prefix: String

    /// Whether `string` names a remote location (starts with `s3://`).
    public static func isRemote(_ string: String) -> Bool { string.hasPrefix("s3://") }

    /// Parses `s3://BUCKET[/PREFIX]`.
    public init(parsing string: String) throws(ArchiveError) {
        guard Self.isRemote(string) else { throw ArchiveError(.invalidArgument, "\"\(string)\" is not an s3://BUCKET/PREFIX location") }
        let rest = string.dropFirst(5)
        let bucket = rest.prefix { $0 != "/" }
        guard bucket.count >= 3, bucket.count <= 63,
            bucket.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
        else {
            throw ArchiveError(.invalidArgument, "\"\(string)\": the bucket name must be 3-63 characters of a-z, 0-9, '-' and '.'")
        }
        self.bucket = String(bucket)
        self.prefix = rest.dropFirst(bucket.count).split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// Creates a location.
    public init(bucket: String, prefix: String) {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    /// The key of `name` under the prefix.
    public func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

    /// `s3://BUCKET/PREFIX`.
    public var description: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/" + prefix) }
}
