/// A growable byte buffer that records and blocks are encoded into, reused across blocks so
/// the append path does not allocate per record.
///
/// Not thread-safe; owned by one writer or one encoder.
final class GrowableBytes {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes written so far.
    var count: Int = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var newCap = capacity
        while newCap < needed { newCap *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
        nb.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = nb
        capacity = newCap
    }

    /// Shrinks the allocation back to `capacity` bytes when it grew beyond (after a huge record).
    func shrink(to target: Int) {
        guard capacity > target * 2, count <= target else { return }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: target, alignment: 16)
        nb.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = nb
        capacity = target
    }

    @inline(__always) func clear() { count = 0 }

    @inline(__always) func appendByte(_ b: UInt8) {
        reserve(1)
        base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always) func appendU16(_ v: UInt16) {
        reserve(2)
        base.storeBytes(of: v.littleEndian, toByteOffset: count, as: UInt16.self)
        count += 2
    }

    @inline(__always) func appendU32(_ v: UInt32) {
        reserve(4)
        base.storeBytes(of: v.littleEndian, toByteOffset: count, as: UInt32.self)
        count += 4
    }

    @inline(__always) func appendU64(_ v: UInt64) {
        reserve(8)
        base.storeBytes(of: v.littleEndian, toByteOffset: count, as: UInt64.self)
        count += 8
    }

    /// Appends an unsigned LEB128 varint.
    @inline(__always) func appendVarint(_ value: UInt64) {
        reserve(10)
        var v = value
        var p = base + count
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, as: UInt8.self)
            v >>= 7
            p += 1
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: v), as: UInt8.self)
        count = p - base + 1
    }

    @inline(__always) func append(_ bytes: UnsafeRawBufferPointer) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: src, byteCount: bytes.count)
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// Appends a varint length and the UTF-8 bytes of `s`.
    func appendString(_ s: String) {
        var s = s
        s.withUTF8 { u in
            appendVarint(UInt64(u.count))
            append(UnsafeRawBufferPointer(u))
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    func toArray() -> [UInt8] { Array(bytes) }

    func storeU32(_ v: UInt32, at offset: Int) {
        base.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// The number of bytes of the LEB128 encoding of `v`.
@inline(__always)
func varintSize(_ v: UInt64) -> Int {
    v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7
}

/// Zigzag-encodes a signed difference so small magnitudes of either sign stay small.
@inline(__always) func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
/// Inverse of ``zigzag(_:)``.
@inline(__always) func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

/// Why a bounded read failed: the field and the byte position, for error messages.
struct DecodeFailure: Error, Sendable {
    var field: String
    var position: Int
    var why: String
}

/// A bounds-checked little-endian reader over raw bytes. Every read checks the remaining
/// length; a short or malformed field throws ``DecodeFailure`` naming the field.
struct ByteReader {
    let base: UnsafeRawPointer?
    let end: Int
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) {
        base = UnsafeRawPointer(bytes.baseAddress)
        end = bytes.count
        position = start
    }

    var remaining: Int { end - position }

    @inline(__always) func need(_ n: Int, _ field: String) throws(DecodeFailure) {
        if n < 0 || n > end - position {
            throw DecodeFailure(field: field, position: position, why: "needs \(n) bytes, \(end - position) left")
        }
    }

    @inline(__always) mutating func u8(_ field: String) throws(DecodeFailure) -> UInt8 {
        try need(1, field)
        let v = base!.load(fromByteOffset: position, as: UInt8.self)
        position += 1
        return v
    }

    @inline(__always) mutating func u16(_ field: String) throws(DecodeFailure) -> UInt16 {
        try need(2, field)
        let v = UInt16(littleEndian: base!.loadUnaligned(fromByteOffset: position, as: UInt16.self))
        position += 2
        return v
    }

    @inline(__always) mutating func u32(_ field: String) throws(DecodeFailure) -> UInt32 {
        try need(4, field)
        let v = UInt32(littleEndian: base!.loadUnaligned(fromByteOffset: position, as: UInt32.self))
        position += 4
        return v
    }

    @inline(__always) mutating func u64(_ field: String) throws(DecodeFailure) -> UInt64 {
        try need(8, field)
        let v = UInt64(littleEndian: base!.loadUnaligned(fromByteOffset: position, as: UInt64.self))
        position += 8
        return v
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes that fits in 64 bits.
    @inline(__always) mutating func varint(_ field: String) throws(DecodeFailure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = position
        while true {
            if position >= end {
                throw DecodeFailure(field: field, position: start, why: "varint runs past the end")
            }
            let b = base!.load(fromByteOffset: position, as: UInt8.self)
            position += 1
            if shift == 63 && b > 1 {
                throw DecodeFailure(field: field, position: start, why: "varint overflows 64 bits")
            }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 {
                throw DecodeFailure(field: field, position: start, why: "varint longer than 10 bytes")
            }
        }
    }

    /// A view of the next `n` bytes.
    mutating func bytes(_ n: Int, _ field: String) throws(DecodeFailure) -> UnsafeRawBufferPointer {
        try need(n, field)
        let r = UnsafeRawBufferPointer(start: base! + position, count: n)
        position += n
        return r
    }

    /// A varint length then that many bytes of UTF-8 (validated).
    mutating func string(_ field: String) throws(DecodeFailure) -> String {
        let start = position
        let n = try varint(field + " length")
        guard n <= UInt64(remaining) else {
            throw DecodeFailure(field: field, position: start, why: "length \(n) exceeds the \(remaining) bytes left")
        }
        let b = try bytes(Int(n), field)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw DecodeFailure(field: field, position: start, why: "not valid UTF-8")
        }
        return s
    }
}
