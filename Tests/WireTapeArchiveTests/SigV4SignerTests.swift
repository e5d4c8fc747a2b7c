import Foundation
import Testing
import WireTapeArchive

/// The signer against published and generated vectors.
@Suite struct SigV4SignerTests {
    static let docCredentials = S3Credentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    /// The AWS documentation's S3 example "GET Object" with `Range: bytes=0-9` (Signature
    /// Version 4, header form): its published signature.
    @Test func awsDocumentationRangeExample() {
        let signer = SigV4Signer(credentials: Self.docCredentials, region: "us-east-1")
        let auth = signer.authorization(
            method: "GET", path: "/test.txt", query: [],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4Signer.emptySHA256), ("x-amz-date", "20130524T000000Z"),
            ],
            payloadSHA256: SigV4Signer.emptySHA256, amzDate: "20130524T000000Z")
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    struct Vector: Decodable {
        var name, method, host, bucket: String
        var key: String?
        var query: [[String]], headers: [[String]]
        var payload_sha256, region, amz_date, canonical_request, authorization: String
        var session_token: String?
    }
    struct Vectors: Decodable {
        var access_key_id, secret_access_key: String
        var cases: [Vector]
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/sigv4-botocore.json")
        // The fixture is committed; a missing or malformed one is a test failure below.
        return (try? JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))) ?? Vectors(access_key_id: "", secret_access_key: "", cases: [])
    }()

    /// Vectors computed by botocore's S3SigV4Auth (tools/archive/sigv4_vectors.py): the same
    /// canonical request and Authorization header for every case.
    @Test func botocoreVectors() {
        let v = Self.vectors
        #expect(v.cases.count >= 10, "Fixtures/sigv4-botocore.json is missing or malformed")
        for c in v.cases {
            let creds = S3Credentials(accessKeyID: v.access_key_id, secretAccessKey: v.secret_access_key, sessionToken: c.session_token)
            let signer = SigV4Signer(credentials: creds, region: c.region)
            let path = "/" + ([c.bucket].filter { !$0.isEmpty } + (c.key.map { [SigV4Signer.uriEncode($0, keepSlash: true)] } ?? []))
                .joined(separator: "/")
            var headers = c.headers.map { ($0[0], $0[1]) }
            headers += [("Host", c.host), ("X-Amz-Content-SHA256", c.payload_sha256), ("X-Amz-Date", c.amz_date)]
            if let t = c.session_token { headers.append(("X-Amz-Security-Token", t)) }
            let query = c.query.map { ($0[0], $0[1]) }
            let canonical = signer.canonicalRequest(method: c.method, path: path, query: query, headers: headers, payloadSHA256: c.payload_sha256)
            #expect(canonical.text == c.canonical_request, "\(c.name)")
            let auth = signer.authorization(method: c.method, path: path, query: query, headers: headers, payloadSHA256: c.payload_sha256, amzDate: c.amz_date)
            #expect(auth == c.authorization, "\(c.name)")
        }
    }

    @Test func amzDateFormatsUTC() {
        #expect(SigV4Signer.amzDate(unixSeconds: 1_369_353_600) == "20130524T000000Z")
        #expect(SigV4Signer.amzDate(unixSeconds: 951_782_399) == "20000228T235959Z")
        #expect(SigV4Signer.amzDate(unixSeconds: 951_868_800) == "20000301T000000Z")
        #expect(SigV4Signer.amzDate(unixSeconds: 0) == "19700101T000000Z")
    }

    @Test func digestsMatchKnownValues() {
        #expect(Digest.sha256([UInt8]()).hex == SigV4Signer.emptySHA256)
        #expect(Digest.md5(Array("The quick brown fox jumps over the lazy dog".utf8)).hex == "9e107d9d372bb6826bd81d3542a419d6")
        // RFC 4231 test case 2.
        #expect(Digest.hmacSHA256(key: Array("Jefe".utf8), "what do ya want for nothing?".utf8).hex
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func credentialsNeverPrintTheSecret() {
        let c = S3Credentials(accessKeyID: "AK", secretAccessKey: "s3cr3t-value", sessionToken: "tok")
        #expect(!"\(c)".contains("s3cr3t-value"))
        #expect(!String(reflecting: c).contains("s3cr3t-value"))
        #expect(!"\(c)".contains("tok"))
    }
}
