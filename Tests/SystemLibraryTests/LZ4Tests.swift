import CLZ4
import Testing

/// The system liblz4 the journal links (Debian `liblz4-dev`): the block API round-trips, and
/// it does NOT detect corruption by itself, which is why every journal block carries its own
/// CRC-32C (FINDINGS.md; journal-format/SPEC.md).
@Suite struct LZ4Tests {
    /// Seeded, moderately compressible bytes: market-data-like text with random digits.
    static func sample(_ count: Int, seed: UInt64 = 0x5EED) -> [UInt8] {
        var state = seed
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let price = 60_000 + (state >> 33) % 1000
            out += Array("{\"e\":\"trade\",\"s\":\"BTCUSDT\",\"p\":\"\(price).\((state >> 20) % 100)\"}".utf8)
        }
        return Array(out.prefix(count))
    }

    static func compress(_ input: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(LZ4_compressBound(Int32(input.count))))
        let n = input.withUnsafeBytes { i in
            out.withUnsafeMutableBytes { o in
                LZ4_compress_default(
                    i.baseAddress!.assumingMemoryBound(to: CChar.self), o.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(i.count), Int32(o.count))
            }
        }
        precondition(n > 0, "LZ4_compress_default failed")
        return Array(out.prefix(Int(n)))
    }

    /// Decompresses into a buffer of `capacity` bytes; the result code and the bytes written.
    static func decompress(_ block: [UInt8], capacity: Int) -> (Int32, [UInt8]) {
        var out = [UInt8](repeating: 0, count: capacity)
        let n = block.withUnsafeBytes { i in
            out.withUnsafeMutableBytes { o in
                LZ4_decompress_safe(
                    i.baseAddress!.assumingMemoryBound(to: CChar.self), o.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(i.count), Int32(o.count))
            }
        }
        return (n, n > 0 ? Array(out.prefix(Int(n))) : [])
    }

    @Test func versionIsAtLeast1_9() {
        #expect(LZ4_versionNumber() >= 10900, "liblz4 \(String(cString: LZ4_versionString()))")
    }

    @Test(arguments: [1, 100, 4096, 65_536, 1 << 20])
    func blockRoundTripsAndCompresses(_ size: Int) {
        let input = Self.sample(size)
        let block = Self.compress(input)
        let (n, back) = Self.decompress(block, capacity: size)
        #expect(n == Int32(size))
        #expect(back == input)
        if size >= 4096 {
            #expect(block.count * 2 < input.count, "repetitive JSON compresses at least 2:1 (\(block.count) of \(input.count))")
        }
    }

    @Test func aTruncatedBlockIsAnError() {
        let input = Self.sample(65_536)
        let block = Self.compress(input)
        let (n, _) = Self.decompress(Array(block.prefix(block.count / 2)), capacity: input.count)
        #expect(n < 0, "a block cut in half is malformed")
    }

    /// A flipped byte inside a literal run decodes to the right length with no error and the
    /// wrong content: the raw block API gives no integrity guarantee.
    @Test func aFlippedLiteralByteIsNotDetected() {
        // Incompressible bytes are stored as literals after a short token header.
        var state: UInt64 = 42
        let input = (0..<4096).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        var block = Self.compress(input)
        #expect(block.count > input.count, "incompressible input is stored as literals")
        block[block.count / 2] ^= 0x20
        let (n, back) = Self.decompress(block, capacity: input.count)
        #expect(n == Int32(input.count), "no error from LZ4_decompress_safe")
        #expect(back != input, "but the content differs")
        #expect(zip(back, input).filter { $0 != $1 }.count == 1, "exactly the flipped byte")
    }
}
