#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An object as a listing or a `HEAD` shows it.
public struct S3Object: Sendable, Hashable {
    /// The full key.
    public var key: String
    /// Size in bytes.
    public var size: UInt64
    /// The ETag without quotes (the hex MD5 for a single-part upload without KMS encryption).
    public var etag: String
    /// User metadata (`x-amz-meta-*`, names without the prefix, lowercase); only from `HEAD`.
    public var metadata: [String: String] = [:]
}

/// A small S3 client over SwiftNIO (HTTP/1.1, TLS through NIOSSL): `PUT`, `HEAD`, `GET` with
/// a byte range, `ListObjectsV2`, `DELETE` and `CreateBucket`, path-style, every request
/// signed with ``SigV4Signer``. One connection per request; every request is bounded by
/// ``requestTimeout`` on the injected clock.
///
/// Errors are ``ArchiveError`` values naming the endpoint and bucket, never a credential.
public final class S3Client: Sendable {
    /// The store and credentials.
    public let configuration: S3Configuration
    /// The longest a single request may take before it fails with `network`.
    public let requestTimeout: Duration
    private let group: any EventLoopGroup
    private let clock: any Clock<Duration>
    private let sslContext: NIOSSLContext?
    private let now: @Sendable () -> Int64

    /// Creates a client.
    /// - Parameters:
    ///   - now: the Unix time in seconds used to sign (the default reads the system clock).
    public init(
        configuration: S3Configuration, requestTimeout: Duration = .seconds(120),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, clock: any Clock<Duration> = ContinuousClock(),
        now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }
    ) throws(ArchiveError) {
        self.configuration = configuration
        self.requestTimeout = requestTimeout
        self.group = group
        self.clock = clock
        self.now = now
        if configuration.endpoint.tls {
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                if let bundle = configuration.caBundle {
                    tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(bundle))]
                }
                sslContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw ArchiveError(.network, "cannot set up TLS for \(configuration.endpoint) (AWS_CA_BUNDLE \(configuration.caBundle ?? "unset")): \(error)", endpoint: "\(configuration.endpoint)")
            }
        } else {
            sslContext = nil
        }
    }

    /// A request body.
    enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// `size` bytes of the file at `path`, streamed in chunks.
        case file(path: String, size: UInt64)
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    // MARK: Operations

    /// Uploads `body` to `key`, with `Content-MD5` so the store checks what it received, and
    /// `metadata` as `x-amz-meta-*` headers.
    func put(bucket: String, key: String, body: Body, md5: [UInt8], sha256: [UInt8], metadata: [String: String] = [:]) async throws(ArchiveError) {
        var headers = [("Content-MD5", Base64Text.encode(md5)), ("Content-Type", "application/octet-stream")]
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { headers.append(("x-amz-meta-" + k, v)) }
        let r = try await send("PUT", bucket: bucket, key: key, headers: headers, body: body, payloadSHA256: sha256.hex)
        try check(r, bucket: bucket, key: key, "uploading")
    }

    /// Uploads `bytes` to `key`.
    public func put(bucket: String, key: String, bytes: [UInt8], metadata: [String: String] = [:]) async throws(ArchiveError) {
        try await put(bucket: bucket, key: key, body: .bytes(bytes), md5: Digest.md5(bytes), sha256: Digest.sha256(bytes), metadata: metadata)
    }

    /// Uploads the file at `path` (`size` bytes, whose MD5 and SHA-256 the caller computed).
    public func putFile(bucket: String, key: String, path: String, size: UInt64, md5: [UInt8], sha256: [UInt8], metadata: [String: String] = [:]) async throws(ArchiveError) {
        try await put(bucket: bucket, key: key, body: .file(path: path, size: size), md5: md5, sha256: sha256, metadata: metadata)
    }

    /// The object's size, ETag and metadata, or nil when there is no such key.
    public func head(bucket: String, key: String) async throws(ArchiveError) -> S3Object? {
        let r = try await send("HEAD", bucket: bucket, key: key)
        if r.status == .notFound { return nil }
        try check(r, bucket: bucket, key: key, "checking")
        var meta: [String: String] = [:]
        for (name, value) in r.headers where name.lowercased().hasPrefix("x-amz-meta-") {
            meta[String(name.lowercased().dropFirst(11))] = value
        }
        return S3Object(
            key: key, size: r.headers.first(name: "content-length").flatMap { UInt64($0) } ?? 0,
            etag: unquote(r.headers.first(name: "etag") ?? ""), metadata: meta)
    }

    /// The bytes of `key`, or of `range` of it (`Range: bytes=a-b`).
    /// - Throws: `notFound` when there is no such key.
    public func get(bucket: String, key: String, range: Range<UInt64>? = nil) async throws(ArchiveError) -> [UInt8] {
        var headers: [(String, String)] = []
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        let r = try await send("GET", bucket: bucket, key: key, headers: headers)
        try check(r, bucket: bucket, key: key, "reading")
        if let range, r.body.count != range.count {
            throw ArchiveError(
                .verificationFailed,
                "\(configuration.endpoint) returned \(r.body.count) bytes for bytes \(range.lowerBound)..<\(range.upperBound) of s3://\(bucket)/\(key), expected \(range.count)",
                endpoint: "\(configuration.endpoint)", bucket: bucket)
        }
        return r.body
    }

    /// Every object under `prefix` (ListObjectsV2, following continuation tokens).
    public func list(bucket: String, prefix: String) async throws(ArchiveError) -> [S3Object] {
        var out: [S3Object] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let r = try await send("GET", bucket: bucket, key: nil, query: query)
            try check(r, bucket: bucket, key: nil, "listing")
            let page = ListingXML(r.body)
            out += page.objects
            token = page.truncated ? page.nextToken : nil
        } while token != nil
        return out
    }

    /// Deletes `key` (no error when it does not exist).
    public func delete(bucket: String, key: String) async throws(ArchiveError) {
        let r = try await send("DELETE", bucket: bucket, key: key)
        if r.status == .notFound { return }
        try check(r, bucket: bucket, key: key, "deleting")
    }

    /// Creates `bucket` (no error when it already exists and is yours).
    public func createBucket(_ bucket: String) async throws(ArchiveError) {
        let r = try await send("PUT", bucket: bucket, key: nil)
        if r.status == .conflict, String(decoding: r.body, as: UTF8.self).contains("BucketAlreadyOwnedByYou") { return }
        try check(r, bucket: bucket, key: nil, "creating the bucket")
    }

    // MARK: Errors

    private func check(_ r: Response, bucket: String, key: String?, _ what: String) throws(ArchiveError) {
        guard !(200..<300).contains(Int(r.status.code)) else { return }
        let text = String(decoding: r.body, as: UTF8.self)
        let s3code = ListingXML.element("Code", in: text)
        let s3message = ListingXML.element("Message", in: text)
        let target = key.map { "s3://\(bucket)/\($0)" } ?? "bucket \(bucket)"
        let detail = [s3code, s3message].compactMap { $0 }.joined(separator: ": ")
        let said = "HTTP \(r.status.code)" + (detail.isEmpty ? "" : " \(detail)")
        let endpoint = "\(configuration.endpoint)"
        switch r.status {
        case .forbidden:
            throw ArchiveError(
                .accessDenied,
                "\(endpoint) refused \(what) \(target) (\(said)): check AWS_ACCESS_KEY_ID (\(configuration.credentials?.accessKeyID ?? "<none>")), AWS_SECRET_ACCESS_KEY and AWS_REGION (\(configuration.region))",
                endpoint: endpoint, bucket: bucket)
        case .notFound:
            throw ArchiveError(.notFound, "\(endpoint): \(target) does not exist (\(said))", endpoint: endpoint, bucket: bucket)
        default:
            throw ArchiveError(.httpStatus, "\(endpoint) answered \(said) \(what) \(target)", endpoint: endpoint, bucket: bucket)
        }
    }

    // MARK: Transport

    /// Sends one signed request and reads the whole response.
    func send(
        _ method: String, bucket: String, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
        body: Body = .none, payloadSHA256: String = SigV4Signer.emptySHA256
    ) async throws(ArchiveError) -> Response {
        let endpoint = configuration.endpoint
        guard let credentials = configuration.credentials else {
            throw ArchiveError(
                .noCredentials,
                "no credentials for \(endpoint) (bucket \(bucket)): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                endpoint: "\(endpoint)", bucket: bucket)
        }
        let path = "/" + bucket + (key.map { "/" + SigV4Signer.uriEncode($0, keepSlash: true) } ?? "")
        let amzDate = SigV4Signer.amzDate(unixSeconds: now())
        var signed = extra + [("Host", endpoint.hostHeader), ("x-amz-content-sha256", payloadSHA256), ("x-amz-date", amzDate)]
        if let t = credentials.sessionToken { signed.append(("x-amz-security-token", t)) }
        let signer = SigV4Signer(credentials: credentials, region: configuration.region)
        let authorization = signer.authorization(
            method: method, path: path, query: query, headers: signed, payloadSHA256: payloadSHA256, amzDate: amzDate)
        var headers = HTTPHeaders(signed)
        headers.add(name: "Authorization", value: authorization)
        switch body {
        case .none: headers.add(name: "Content-Length", value: "0")
        case .bytes(let b): headers.add(name: "Content-Length", value: "\(b.count)")
        case .file(_, let size): headers.add(name: "Content-Length", value: "\(size)")
        }
        let q = query.map { SigV4Signer.uriEncode($0.0, keepSlash: false) + "=" + SigV4Signer.uriEncode($0.1, keepSlash: false) }
            .joined(separator: "&")
        let head = HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: method), uri: q.isEmpty ? path : path + "?" + q, headers: headers)
        let target = key.map { "s3://\(bucket)/\($0)" } ?? "bucket \(bucket)"
        do {
            return try await withTimeout { try await self.exchange(head, body: body, isHead: method == "HEAD") }
        } catch let e as ArchiveError {
            throw e
        } catch {
            throw ArchiveError(
                .network, "cannot complete \(method) \(target) at \(endpoint): \(error)",
                endpoint: "\(endpoint)", bucket: bucket, underlying: error)
        }
    }

    private struct ClosedEarly: Error, CustomStringConvertible {
        var description: String { "the store closed the connection before the response ended" }
    }

    private struct Timeout: Error, CustomStringConvertible {
        var after: Duration
        var description: String { "no answer within \(after)" }
    }

    private func withTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let clock = self.clock
        let limit = requestTimeout
        return try await withThrowingTaskGroup(of: T?.self) { g in
            g.addTask { try await body() }
            g.addTask { try await clock.sleep(for: limit); return nil }
            defer { g.cancelAll() }
            guard let first = try await g.next(), let value = first else { throw Timeout(after: limit) }
            return value
        }
    }

    private func exchange(_ head: HTTPRequestHead, body: Body, isHead: Bool) async throws -> Response {
        let endpoint = configuration.endpoint
        let ssl = sslContext
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(30))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // SNI takes a name, never an address (a store reached by IP gets none).
                    let isAddress = endpoint.host.contains(":") || endpoint.host.split(separator: ".").count == 4
                        && endpoint.host.split(separator: ".").allSatisfy { UInt8($0) != nil }
                    if let ssl { try sync.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: isAddress ? nil : endpoint.host)) }
                    try sync.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(.head(head))
            switch body {
            case .none: break
            case .bytes(let b): try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: b))))
            case .file(let path, let size): try await Self.stream(path: path, size: size, to: outbound)
            }
            try await outbound.write(.end(nil))
            var response = Response(status: .ok, headers: [:], body: [])
            for try await part in inbound {
                switch part {
                case .head(let h): response.status = h.status; response.headers = h.headers
                case .body(let b): response.body.append(contentsOf: b.readableBytesView)
                case .end: return response
                }
            }
            if isHead && response.headers.first(name: "content-length") != nil { return response }
            throw ClosedEarly()
        }
    }

    private static func stream(path: String, size: UInt64, to outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = 1 << 20
        var offset: UInt64 = 0
        while offset < size {
            let n = Int(min(UInt64(chunk), size - offset))
            var buffer = ByteBufferAllocator().buffer(capacity: n)
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { p in
                max(0, pread(fd, p.baseAddress!, n, off_t(offset)))
            }
            guard got == n else { throw ArchiveError(.io, "\(path) is shorter than \(size) bytes (read \(offset + UInt64(got))): it changed while uploading") }
            try await outbound.write(.body(.byteBuffer(buffer)))
            offset += UInt64(n)
        }
    }

    private func unquote(_ s: String) -> String {
        s.hasPrefix("\"") && s.hasSuffix("\"") && s.count >= 2 ? String(s.dropFirst().dropLast()) : s
    }
}

/// Base64 (RFC 4648, padded) for `Content-MD5`.
enum Base64Text {
    static func encode(_ b: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            let n = min(3, b.count - i)
            let v = UInt32(b[i]) << 16 | (n > 1 ? UInt32(b[i + 1]) << 8 : 0) | (n > 2 ? UInt32(b[i + 2]) : 0)
            out.append(table[Int(v >> 18 & 63)])
            out.append(table[Int(v >> 12 & 63)])
            out.append(n > 1 ? table[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(n > 2 ? table[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The parts of a ListObjectsV2 (and error) XML document the client reads.
struct ListingXML {
    var objects: [S3Object] = []
    var truncated = false
    var nextToken: String?

    init(_ body: [UInt8]) {
        let text = String(decoding: body, as: UTF8.self)
        truncated = Self.element("IsTruncated", in: text) == "true"
        nextToken = Self.element("NextContinuationToken", in: text)
        var rest = Substring(text)
        while let start = rest.range(of: "<Contents>"), let end = rest.range(of: "</Contents>", range: start.upperBound..<rest.endIndex) {
            let item = String(rest[start.upperBound..<end.lowerBound])
            if let key = Self.element("Key", in: item) {
                objects.append(S3Object(
                    key: key, size: Self.element("Size", in: item).flatMap { UInt64($0) } ?? 0,
                    etag: (Self.element("ETag", in: item) ?? "").trimmingQuotes))
            }
            rest = rest[end.upperBound...]
        }
    }

    /// The unescaped text of the first `<name>` element in `text`.
    static func element(_ name: String, in text: String) -> String? {
        guard let a = text.range(of: "<\(name)>"), let b = text.range(of: "</\(name)>", range: a.upperBound..<text.endIndex) else { return nil }
        return unescape(String(text[a.upperBound..<b.lowerBound]))
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].firstIndex(of: ";") {
                let entity = s[s.index(after: i)..<semi]
                var scalar: Unicode.Scalar?
                switch entity {
                case "amp": scalar = "&"
                case "lt": scalar = "<"
                case "gt": scalar = ">"
                case "quot": scalar = "\""
                case "apos": scalar = "'"
                default:
                    if entity.hasPrefix("#x") { scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init) }
                    else if entity.hasPrefix("#") { scalar = UInt32(entity.dropFirst()).flatMap(Unicode.Scalar.init) }
                }
                if let scalar {
                    out.unicodeScalars.append(scalar)
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }
}

extension String {
    fileprivate var trimmingQuotes: String {
        var s = Substring(self)
        if s.hasPrefix("&quot;") { s = s.dropFirst(6) }
        if s.hasSuffix("&quot;") { s = s.dropLast(6) }
        while s.hasPrefix("\"") { s = s.dropFirst() }
        while s.hasSuffix("\"") { s = s.dropLast() }
        return String(s)
    }
}
