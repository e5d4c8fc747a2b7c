/// Credentials for an S3-compatible store. The secret never appears in a description, a
/// log line or an error: ``description`` shows the access key id only.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    /// The access key id (`AWS_ACCESS_KEY_ID`): not secret, it names the key.
    public var accessKeyID: String
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    public var secretAccessKey: String
    /// A session token for temporary credentials (`AWS_SESSION_TOKEN`), sent as
    /// `x-amz-security-token`.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key id and `<redacted>` for the secret.
    public var description: String { "S3Credentials(\(accessKeyID), secret <redacted>)" }
}

/// AWS Signature Version 4 for S3 (header form): a pure value that turns a request into its
/// `Authorization` header. It reads no clock and does no I/O; the caller passes the time.
///
/// Canonical URI: the path as sent, each byte outside `A-Z a-z 0-9 - _ . ~ /` percent-encoded
/// once (S3 does not normalise or double-encode). Canonical query: pairs sorted by encoded
/// name then value, both encoded with `/` encoded too. Every header given is signed.
///
/// ```swift
/// let signer = SigV4Signer(credentials: creds, region: "us-east-1")
/// let auth = signer.authorization(method: "GET", path: "/bucket/key", query: [], headers: h,
///                                 payloadSHA256: SigV4Signer.emptySHA256, amzDate: "20130524T000000Z")
/// ```
public struct SigV4Signer: Sendable {
    /// The credentials that sign.
    public var credentials: S3Credentials
    /// The region (`us-east-1`; S3-compatible stores accept any, often `us-east-1`).
    public var region: String
    /// The service name in the credential scope.
    public var service: String

    /// The SHA-256 of an empty payload, hex.
    public static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Creates a signer.
    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// `x-amz-date` form of a Unix time: `YYYYMMDD'T'HHMMSS'Z'` (UTC).
    public static func amzDate(unixSeconds: Int64) -> String {
        let days = unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400
        let secs = unixSeconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s }
        return pad(y, 4) + pad(m, 2) + pad(d, 2) + "T" + pad(secs / 3600, 2) + pad(secs / 60 % 60, 2) + pad(secs % 60, 2) + "Z"
    }

    /// Percent-encodes per SigV4: unreserved bytes stay, everything else is `%XX` (uppercase).
    /// - Parameter keepSlash: true for paths, false for query names and values.
    public static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 15)]))
            }
        }
        return out
    }

    /// The canonical request (SigV4 step 1) for an already-encoded `path`.
    public func canonicalRequest(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadSHA256: String
    ) -> (text: String, signedHeaders: String) {
        let q = query.map { (Self.uriEncode($0.0, keepSlash: false), Self.uriEncode($0.1, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        var merged: [String: String] = [:]
        for (name, value) in headers {
            let n = name.lowercased()
            let v = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[n] = merged[n].map { $0 + "," + v } ?? v
        }
        let names = merged.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(merged[$0]!)\n" }.joined()
        let signed = names.joined(separator: ";")
        return ([method, path, q, canonicalHeaders, signed, payloadSHA256].joined(separator: "\n"), signed)
    }

    /// The `Authorization` header value for a request. `headers` must already hold every
    /// header to sign, including `host`, `x-amz-date`, `x-amz-content-sha256` and (with a
    /// session token) `x-amz-security-token`.
    public func authorization(
        method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadSHA256: String, amzDate: String
    ) -> String {
        let (canonical, signed) = canonicalRequest(method: method, path: path, query: query, headers: headers, payloadSHA256: payloadSHA256)
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Digest.sha256(canonical.utf8).hex)"
        var key = Digest.hmacSHA256(key: Array(("AWS4" + credentials.secretAccessKey).utf8), day.utf8)
        for part in [region, service, "aws4_request"] { key = Digest.hmacSHA256(key: key, part.utf8) }
        let signature = Digest.hmacSHA256(key: key, toSign.utf8).hex
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"
    }
}
