/// RFC 6455 frames as bytes on the wire, for feeding the protocol engine in tests.
enum WireFrames {
    /// How the payload length is encoded.
    enum LengthEncoding { case minimal, sixteen, sixtyFour }

    /// One frame: `opcode` (the low 4 bits), `fin`, `rsv` (RSV1-3 in the low 3 bits), masked with
    /// `mask` when given, the length encoded as asked (or `declaredLength` instead of the
    /// payload's, for frames that lie about their size).
    static func frame(
        _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = nil,
        length: LengthEncoding = .minimal, declaredLength: UInt64? = nil
    ) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F)]
        let n = declaredLength ?? UInt64(payload.count)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        var encoding = length
        if encoding == .minimal { encoding = n < 126 ? .minimal : n <= 0xFFFF ? .sixteen : .sixtyFour }
        switch encoding {
        case .minimal: out.append(maskBit | UInt8(n))
        case .sixteen:
            out.append(maskBit | 126)
            out += [UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
        case .sixtyFour:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(n >> UInt64(shift) & 0xFF)) }
        }
        if let mask {
            out += mask
            out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        } else {
            out += payload
        }
        return out
    }

    static func text(_ s: String, fin: Bool = true, mask: [UInt8]? = nil) -> [UInt8] {
        frame(0x1, Array(s.utf8), fin: fin, mask: mask)
    }
}
