import CCrypto

/// SHA-256, MD5 and HMAC-SHA256 from the system's libcrypto: what AWS Signature V4 and S3's
/// `Content-MD5` need. Streaming digests (``Digest/update(_:)``) hash files of any size in
/// one pass.
public struct Digest: ~Copyable {
    /// The algorithms in use here.
    public enum Algorithm: Sendable { case sha256, md5 }

    private let context: OpaquePointer

    /// Starts a digest.
    public init(_ algorithm: Algorithm) {
        // EVP_MD_CTX_new fails only when memory is exhausted.
        context = EVP_MD_CTX_new()!
        EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_md5(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    /// Adds bytes.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added.
    public consuming func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var n: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(context, $0.baseAddress, &n) }
        return Array(out.prefix(Int(n)))
    }

    /// The SHA-256 of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var d = Digest(.sha256)
        d.update(bytes)
        return d.finish()
    }

    /// The MD5 of `bytes`.
    public static func md5(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var d = Digest(.md5)
        d.update(bytes)
        return d.finish()
    }

    /// HMAC-SHA256 of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], _ message: some Sequence<UInt8>) -> [UInt8] {
        let m = Array(message)
        var out = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        key.withUnsafeBytes { k in
            m.withUnsafeBytes { mb in
                out.withUnsafeMutableBufferPointer { o in
                    _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), mb.baseAddress?.assumingMemoryBound(to: UInt8.self), mb.count, o.baseAddress, &n)
                }
            }
        }
        return out
    }
}

extension Sequence<UInt8> {
    /// Lowercase hexadecimal.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var s = [UInt8]()
        for b in self { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 15)]) }
        return String(decoding: s, as: UTF8.self)
    }

}
