import Foundation
import Testing
import WireTapeArchive
import WireTapeTestSupport

/// The S3 client against a real store (SeaweedFS with signature checking on).
@Suite(.serialized) struct S3ClientTests {
    static let requireAll = ProcessInfo.processInfo.environment["WIRETAPE_REQUIRE_ALL"] == "1"

    func store() throws -> SeaweedS3? {
        if let why = SeaweedS3.unavailable {
            if Self.requireAll { Issue.record("\(why), and WIRETAPE_REQUIRE_ALL=1: this test must run here") }
            return nil
        }
        return try SeaweedS3()
    }

    func client(_ s: SeaweedS3, secret: String = SeaweedS3.secretKey) throws -> S3Client {
        var env = s.environment
        env["AWS_SECRET_ACCESS_KEY"] = secret
        return try S3Client(configuration: S3Configuration.from(environment: env), requestTimeout: .seconds(60))
    }

    @Test(.enabled(if: SeaweedS3.unavailable == nil || requireAll, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func putHeadRangedGetListDelete() async throws {
        guard let s = try store() else { return }
        let c = try client(s)
        try await c.createBucket("wt-client")
        try await c.createBucket("wt-client")  // idempotent
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try await c.put(bucket: "wt-client", key: "a/b c/é.bin", bytes: bytes, metadata: ["wiretape-md5": Digest.md5(bytes).hex])
        let head = try #require(try await c.head(bucket: "wt-client", key: "a/b c/é.bin"))
        #expect(head.size == 300_000)
        #expect(head.etag == Digest.md5(bytes).hex)
        #expect(head.metadata["wiretape-md5"] == Digest.md5(bytes).hex)
        #expect(try await c.get(bucket: "wt-client", key: "a/b c/é.bin") == bytes)
        #expect(try await c.get(bucket: "wt-client", key: "a/b c/é.bin", range: 1000..<1080) == Array(bytes[1000..<1080]))
        try await c.put(bucket: "wt-client", key: "a/other", bytes: [1, 2, 3])
        try await c.put(bucket: "wt-client", key: "z", bytes: [])
        let listed = try await c.list(bucket: "wt-client", prefix: "a/")
        #expect(Set(listed.map(\.key)) == ["a/b c/é.bin", "a/other"])
        #expect(listed.first { $0.key == "a/other" }?.etag == Digest.md5([1, 2, 3]).hex)
        try await c.delete(bucket: "wt-client", key: "a/other")
        #expect(try await c.head(bucket: "wt-client", key: "a/other") == nil)
        await #expect(throws: ArchiveError.self) { try await c.get(bucket: "wt-client", key: "missing") }
    }

    @Test(.enabled(if: SeaweedS3.unavailable == nil || requireAll, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func wrongSecretIsAccessDeniedNamingEndpointAndBucketNotTheSecret() async throws {
        guard let s = try store() else { return }
        try await client(s).createBucket("wt-denied")
        let wrong = "Wrong-Secret-Value-0123456789"
        let c = try client(s, secret: wrong)
        do {
            try await c.put(bucket: "wt-denied", key: "k", bytes: [1])
            Issue.record("a wrong secret was accepted")
        } catch let e {
            #expect(e.code == .accessDenied)
            #expect(e.message.contains(s.endpoint))
            #expect(e.message.contains("wt-denied"))
            #expect(!e.message.contains(wrong))
            #expect(!"\(e)".contains(wrong) && !String(reflecting: e).contains(wrong))
        }
    }

    @Test(.enabled(if: SeaweedS3.unavailable == nil || requireAll, Comment(rawValue: SeaweedS3.unavailable ?? "")))
    func httpsThroughNIOSSLWithAPrivateCA() async throws {
        guard SeaweedS3.unavailable == nil else { _ = try store(); return }
        let s = try SeaweedS3(tls: (try TestCertificates.path("server.pem"), try TestCertificates.path("server.key")))
        var env = s.environment
        env["AWS_ENDPOINT_URL"] = s.tlsEndpoint
        env["AWS_CA_BUNDLE"] = try TestCertificates.path("ca.pem")
        let c = try S3Client(configuration: S3Configuration.from(environment: env), requestTimeout: .seconds(60))
        try await c.createBucket("wt-tls")
        let bytes = Array("over TLS, signed with libcrypto, encrypted by BoringSSL".utf8)
        try await c.put(bucket: "wt-tls", key: "k", bytes: bytes)
        #expect(try await c.get(bucket: "wt-tls", key: "k", range: 0..<8) == Array(bytes[0..<8]))
        // Without the CA the certificate is refused: TLS really is in the path.
        env["AWS_CA_BUNDLE"] = nil
        let untrusting = try S3Client(configuration: S3Configuration.from(environment: env), requestTimeout: .seconds(60))
        do { _ = try await untrusting.head(bucket: "wt-tls", key: "k"); Issue.record("an untrusted certificate was accepted") } catch let e {
            #expect(e.code == .network && e.message.contains("wt-tls"))
        }
    }

    @Test func unreachableStoreIsANetworkError() async throws {
        // Port 1 on loopback: nothing listens there.
        let config = try S3Configuration.from(environment: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "secret-xyz"], endpoint: "http://127.0.0.1:1")
        let c = try S3Client(configuration: config, requestTimeout: .seconds(30))
        await #expect(throws: ArchiveError.self) { try await c.head(bucket: "bkt", key: "k") }
        do { _ = try await c.head(bucket: "bkt", key: "k") } catch let e {
            #expect(e.code == .network)
            #expect(e.message.contains("127.0.0.1:1") && e.message.contains("bkt") && !e.message.contains("secret-xyz"))
        }
    }

    @Test func missingCredentialsAreRefusedBeforeSending() async throws {
        let c = try S3Client(configuration: S3Configuration.from(environment: [:], endpoint: "http://127.0.0.1:1"))
        do { _ = try await c.head(bucket: "bkt", key: "k"); Issue.record("no error") } catch let e {
            #expect(e.code == .noCredentials)
        }
    }

    @Test func locationsAndEndpointsParse() throws {
        let l = try S3Location(parsing: "s3://my-bucket/feeds//btc/")
        #expect(l.bucket == "my-bucket" && l.prefix == "feeds/btc" && l.key("manifest.json") == "feeds/btc/manifest.json")
        #expect(try S3Location(parsing: "s3://bkt").prefix == "")
        #expect(throws: ArchiveError.self) { try S3Location(parsing: "s3://A_B/x") }
        let e = try S3Configuration.Endpoint(parsing: "http://127.0.0.1:8333/")
        #expect(e.hostHeader == "127.0.0.1:8333" && !e.tls)
        #expect(try S3Configuration.Endpoint(parsing: "https://s3.eu-west-1.amazonaws.com").hostHeader == "s3.eu-west-1.amazonaws.com")
        #expect(throws: ArchiveError.self) { try S3Configuration.Endpoint(parsing: "ftp://x") }
        let c = try S3Configuration.from(environment: ["AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "sk-123"])
        #expect(c.endpoint.description == "https://s3.eu-west-1.amazonaws.com" && !c.description.contains("sk-123"))
    }
}
