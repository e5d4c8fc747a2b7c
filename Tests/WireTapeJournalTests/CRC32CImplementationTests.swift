import Foundation
import Testing
import WireTapeCore
@testable import WireTapeJournal

/// Both CRC-32C implementations against known values (RFC 3720 B.4 and values from an
/// independent bitwise implementation), on seeded data, and which one runs here.
@Suite struct CRC32CImplementationTests {
    /// Seeded bytes: an LCG's top byte (the expected values below were computed from the same
    /// sequence by a bitwise reference implementation, outside this code base).
    static func seeded(_ n: Int, seed: UInt64 = 0xC0FFEE) -> [UInt8] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: s >> 56)
        }
    }

    /// (length, CRC-32C from 0, CRC-32C continued from 0x12345678) of `seeded(length)`.
    static let known: [(Int, UInt32, UInt32)] = [
        (0, 0x0000_0000, 0x1234_5678), (1, 0x6689_AB3B, 0x9DDA_93AF), (7, 0x39E4_579B, 0x29C3_D040),
        (8, 0xBD4C_CD70, 0xF706_A067), (9, 0xB8DA_3847, 0x7C04_D1AE), (15, 0xB0AF_A0B8, 0xE7B3_4267),
        (16, 0x8C23_2340, 0x01B4_E22D), (17, 0x46B8_06C6, 0x98DB_4EB6), (63, 0xF0E0_91A9, 0x6B86_F40C),
        (64, 0x19D2_1526, 0x8EF3_D2F9), (65, 0xA10A_EE31, 0x2C5D_1279), (1000, 0x87F3_B3F2, 0xBBCF_0C57),
        (4096, 0x4220_91E3, 0xDB43_4257), (65_537, 0x8140_1EB9, 0x5D79_0CA8),
    ]

    /// RFC 3720 B.4 and the classic check value.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test func softwareMatchesKnownValues() {
        for (bytes, crc) in Self.vectors {
            #expect(bytes.withUnsafeBytes { CRC32C.softwareUpdate(0, $0) } == crc)
        }
        for (n, fromZero, fromSeed) in Self.known {
            let data = Self.seeded(n)
            #expect(data.withUnsafeBytes { CRC32C.softwareUpdate(0, $0) } == fromZero, "\(n) bytes")
            #expect(data.withUnsafeBytes { CRC32C.softwareUpdate(0x1234_5678, $0) } == fromSeed, "\(n) bytes")
        }
    }

    @Test(.enabled(if: CRC32C.usesHardware, "this CPU has no CRC32 instruction (SSE4.2); the software path is the one in use"))
    func hardwareMatchesKnownValues() {
        for (bytes, crc) in Self.vectors {
            #expect(bytes.withUnsafeBytes { CRC32C.hardwareUpdate(0, $0) } == crc)
        }
        for (n, fromZero, fromSeed) in Self.known {
            let data = Self.seeded(n)
            #expect(data.withUnsafeBytes { CRC32C.hardwareUpdate(0, $0) } == fromZero, "\(n) bytes")
            #expect(data.withUnsafeBytes { CRC32C.hardwareUpdate(0x1234_5678, $0) } == fromSeed, "\(n) bytes")
        }
    }

    /// The public entry points give the known values whichever path runs, at every alignment.
    @Test func publicChecksumMatchesKnownValuesAtEveryAlignment() {
        for (bytes, crc) in Self.vectors { #expect(CRC32C.checksum(bytes) == crc) }
        for (n, fromZero, fromSeed) in Self.known {
            let data = Self.seeded(n)
            #expect(CRC32C.checksum(data) == fromZero, "\(n) bytes")
            #expect(data.withUnsafeBytes { CRC32C.update(0x1234_5678, $0) } == fromSeed, "\(n) bytes")
            // The same bytes starting at each offset of an 8-byte word.
            for shift in 1..<8 {
                let padded = [UInt8](repeating: 0xA5, count: shift) + data
                let crc = padded.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[shift...])) }
                #expect(crc == fromZero, "\(n) bytes at offset \(shift)")
            }
        }
    }

    /// Every single-bit flip of a 4 KiB block changes its checksum (a CRC detects all of them).
    @Test func everySingleBitFlipChangesTheChecksum() {
        let data = Self.seeded(4096, seed: 7)
        let good = CRC32C.checksum(data)
        var missed = 0
        for i in stride(from: 0, to: data.count, by: 13) {
            var bad = data
            bad[i] ^= UInt8(1) << UInt8(i % 8)
            if CRC32C.checksum(bad) == good { missed += 1 }
        }
        #expect(missed == 0)
    }

    static let cpuHasSSE42: Bool = {
        #if arch(x86_64)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains("sse4_2") }
        #else
        return false
        #endif
    }()

    /// On x86-64 with SSE4.2 (per /proc/cpuinfo) the hardware instruction must be the path taken.
    @Test func hardwarePathIsTakenWhereTheCPUHasIt() throws {
        #if arch(x86_64)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        #expect(!cpuinfo.isEmpty, "/proc/cpuinfo is readable")
        #expect(CRC32C.usesHardware == Self.cpuHasSSE42, "SSE4.2 in /proc/cpuinfo: \(Self.cpuHasSSE42); hardware path: \(CRC32C.usesHardware)")
        #else
        #expect(!CRC32C.usesHardware, "no hardware path outside x86-64")
        #endif
    }
}
