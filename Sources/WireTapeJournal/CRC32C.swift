import CCRC32C

/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), as used by iSCSI,
/// ext4 and SCTP. Uses the CPU's CRC32 instruction (SSE4.2) when there is one, otherwise
/// software slicing-by-16; see docs/journal-design.md for measured throughput.
///
/// ```swift
/// CRC32C.checksum([UInt8]("123456789".utf8)) == 0xE306_9283
/// ```
public enum CRC32C {
    /// Sixteen 256-entry tables for slicing-by-16, laid out table-major (table k at k*256).
    static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 16 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            t[i] = c
        }
        for i in 0..<256 {
            var c = t[i]
            for k in 1..<16 {
                c = t[Int(c & 0xFF)] ^ (c >> 8)
                t[k * 256 + i] = c
            }
        }
        return t
    }()

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }

    /// Whether the hardware instruction is used on this machine: the one flag ``update(_:_:)``
    /// dispatches on (tests assert it is set on x86-64 CPUs with SSE4.2).
    public static let usesHardware = wiretape_crc32c_hw_available() != 0

    /// Continues a CRC-32C: `update(checksum(a), b) == checksum(a + b)`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        if usesHardware { return wiretape_crc32c_hw_update(crc, base, bytes.count) }
        return softwareUpdate(crc, bytes)
    }

    /// The hardware implementation alone, or `nil` on a CPU without the instruction; for
    /// tests that check each implementation against known values.
    static func hardwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard usesHardware else { return nil }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return wiretape_crc32c_hw_update(crc, base, bytes.count)
    }

    /// The software implementation (slicing-by-16), also the reference in tests.
    static func softwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return tables.withUnsafeBufferPointer { tp -> UInt32 in
            let t = tp.baseAddress!
            var c = ~crc
            var p = base
            var n = bytes.count
            while n >= 16 {
                let a = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ c
                let b = UInt32(littleEndian: (p + 4).loadUnaligned(as: UInt32.self))
                let d = UInt32(littleEndian: (p + 8).loadUnaligned(as: UInt32.self))
                let e = UInt32(littleEndian: (p + 12).loadUnaligned(as: UInt32.self))
                c = t[15 * 256 + Int(a & 0xFF)] ^ t[14 * 256 + Int((a >> 8) & 0xFF)]
                    ^ t[13 * 256 + Int((a >> 16) & 0xFF)] ^ t[12 * 256 + Int(a >> 24)]
                    ^ t[11 * 256 + Int(b & 0xFF)] ^ t[10 * 256 + Int((b >> 8) & 0xFF)]
                    ^ t[9 * 256 + Int((b >> 16) & 0xFF)] ^ t[8 * 256 + Int(b >> 24)]
                    ^ t[7 * 256 + Int(d & 0xFF)] ^ t[6 * 256 + Int((d >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((d >> 16) & 0xFF)] ^ t[4 * 256 + Int(d >> 24)]
                    ^ t[3 * 256 + Int(e & 0xFF)] ^ t[2 * 256 + Int((e >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((e >> 16) & 0xFF)] ^ t[Int(e >> 24)]
                p += 16
                n -= 16
            }
            while n >= 8 {
                let lo = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: (p + 4).loadUnaligned(as: UInt32.self))
                c = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                p += 8
                n -= 8
            }
            while n > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                n -= 1
            }
            return ~c
        }
    }
}
