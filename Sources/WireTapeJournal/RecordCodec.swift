import WireTapeCore

/// The running values that record fields are delta-encoded against inside one block.
///
/// At the start of every block: `seq` = the block's first sequence number, `epoch`, `wall`
/// and `mono` = 0. Each record updates them to its own values.
struct DeltaState: Sendable {
    var seq: UInt64
    var epoch: UInt64 = 0
    var wall: Int64 = 0
    var mono: UInt64 = 0
    var isFirst = true

    init(firstSeq: UInt64) { seq = firstSeq }
}

/// The fixed part of a decoded record: everything but the body.
struct RecordHead: Sendable {
    var kindByte: UInt8
    var flags: UInt8
    var seq: UInt64
    var epoch: UInt64
    var wall: Int64
    var mono: UInt64
    /// Position of the body in the block's uncompressed bytes.
    var bodyStart: Int
    var bodyEnd: Int
}

/// Encodes and decodes records in the layout of SPEC.md §5.
enum RecordCodec {
    // Flag bits per kind (SPEC.md §5.3).
    static let frameBinary: UInt8 = 0x01
    static let lcCloseCode: UInt8 = 0x01, lcCloseReason: UInt8 = 0x02, lcError: UInt8 = 0x04, lcMessage: UInt8 = 0x08
    static let cnURL: UInt8 = 0x01, cnStatus: UInt8 = 0x02, cnError: UInt8 = 0x04, cnMessage: UInt8 = 0x08
    static let ssURL: UInt8 = 0x01, ssHeaders: UInt8 = 0x02, ssMessage: UInt8 = 0x04

    /// Writes the length prefix and common fields of a record whose body is `bodyCount` bytes,
    /// updating `state`. The caller appends exactly `bodyCount` body bytes next.
    @inline(__always)
    static func writeHead(
        kind: UInt8, flags: UInt8, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64,
        bodyCount: Int, payloadCount: Int? = nil, into buf: ByteBuffer, state: inout DeltaState
    ) {
        let dSeq = seq &- state.seq
        let dEpoch = zigzag(Int64(bitPattern: epoch &- state.epoch))
        let dWallRaw = wall &- state.wall
        let dWall = zigzag(dWallRaw)
        let dMono = zigzag(Int64(bitPattern: mono &- state.mono) &- dWallRaw)
        let pl = payloadCount.map { varintSize(UInt64($0)) } ?? 0
        let len = 2 + varintSize(dSeq) + varintSize(dEpoch) + varintSize(dWall) + varintSize(dMono) + pl + bodyCount
        buf.reserve(len + 10)
        buf.appendVarint(UInt64(len))
        buf.appendByte(kind)
        buf.appendByte(flags)
        buf.appendVarint(dSeq)
        buf.appendVarint(dEpoch)
        buf.appendVarint(dWall)
        buf.appendVarint(dMono)
        if let p = payloadCount { buf.appendVarint(UInt64(p)) }
        state.seq = seq
        state.epoch = epoch
        state.wall = wall
        state.mono = mono
        state.isFirst = false
    }

    /// Whether records of this kind keep their body in the payload area (SPEC.md §5.2).
    @inline(__always) static func isOutOfLine(_ kind: UInt8) -> Bool {
        kind == RecordKind.inboundFrame.rawValue || kind == RecordKind.outboundFrame.rawValue
    }

    /// Finds the two areas of a block's uncompressed bytes: `u32 heads length | heads |
    /// payloads`. Returns a reader over the heads and the payload area's bounds.
    static func openBlock(_ raw: UnsafeRawBufferPointer) throws(DecodeFailure) -> (ByteReader, payloadStart: Int, payloadEnd: Int) {
        var r = ByteReader(raw)
        let headsLength = try r.u32("heads length")
        guard Int(headsLength) <= r.remaining else {
            throw DecodeFailure(field: "heads length", position: 0, why: "\(headsLength) exceeds the \(r.remaining) bytes of the block")
        }
        let end = 4 + Int(headsLength)
        return (ByteReader(UnsafeRawBufferPointer(start: raw.baseAddress, count: end), from: 4), end, raw.count)
    }

    /// Encodes the body of a non-frame record into `scratch` and returns its flags.
    static func encodeBody(_ body: RecordBody, into scratch: ByteBuffer) -> UInt8 {
        scratch.clear()
        var flags: UInt8 = 0
        switch body {
        case .frame(_, let opcode, let payload):
            scratch.append(payload)
            if opcode == .binary { flags |= frameBinary }
        case .lifecycle(let e):
            scratch.appendString(e.stateName)
            if let c = e.closeCode { flags |= lcCloseCode; scratch.appendU16(c) }
            if let r = e.closeReason { flags |= lcCloseReason; scratch.appendString(r) }
            if let r = e.error { flags |= lcError; scratch.appendString(r) }
            if let r = e.message { flags |= lcMessage; scratch.appendString(r) }
        case .connect(let e):
            scratch.appendByte(e.outcome.rawValue)
            if let u = e.url { flags |= cnURL; scratch.appendString(u) }
            if let s = e.httpStatus { flags |= cnStatus; scratch.appendU16(s) }
            if let r = e.error { flags |= cnError; scratch.appendString(r) }
            if let r = e.message { flags |= cnMessage; scratch.appendString(r) }
        case .session(let e):
            scratch.appendByte(e.phase.rawValue)
            if let u = e.url { flags |= ssURL; scratch.appendString(u) }
            if !e.headers.isEmpty {
                flags |= ssHeaders
                scratch.appendVarint(UInt64(e.headers.count))
                for h in e.headers {
                    scratch.appendString(h.name)
                    scratch.appendString(h.value)
                }
            }
            if let m = e.message { flags |= ssMessage; scratch.appendString(m) }
        case .lag(let count, let bytes):
            scratch.appendVarint(count)
            scratch.appendVarint(bytes)
        case .annotation(let text):
            scratch.appendString(text)
        }
        return flags
    }

    /// Decodes the common part of the next record at `r.position`, advancing past the whole
    /// record. Returns nil at the end of the block's bytes.
    static func decodeHead(_ r: inout ByteReader, state: inout DeltaState, payload: inout Int, payloadEnd: Int) throws(DecodeFailure) -> RecordHead? {
        if r.remaining == 0 { return nil }
        let start = r.position
        let len = try r.varint("record length")
        guard len >= 2, len <= UInt64(r.remaining) else {
            throw DecodeFailure(field: "record length", position: start, why: "length \(len) does not fit the \(r.remaining) bytes left in the block")
        }
        let end = r.position + Int(len)
        var sub = ByteReader(UnsafeRawBufferPointer(start: r.base, count: end), from: r.position)
        let kind = try sub.u8("kind")
        let flags = try sub.u8("flags")
        let dSeq = try sub.varint("seq delta")
        let dEpoch = unzigzag(try sub.varint("epoch delta"))
        let dWall = unzigzag(try sub.varint("wall delta"))
        let dMonoMinusWall = unzigzag(try sub.varint("mono delta"))
        if state.isFirst {
            guard dSeq == 0 else {
                throw DecodeFailure(field: "seq delta", position: start, why: "first record of a block must have seq delta 0, found \(dSeq)")
            }
        } else {
            guard dSeq >= 1, state.seq <= UInt64.max - dSeq else {
                throw DecodeFailure(field: "seq delta", position: start, why: "sequence numbers must increase (delta \(dSeq))")
            }
        }
        var bodyStart = sub.position, bodyEnd = end
        if isOutOfLine(kind) {
            let n = try sub.varint("payload length")
            guard n <= UInt64(payloadEnd - payload) else {
                throw DecodeFailure(field: "payload length", position: start, why: "\(n) bytes exceed the \(payloadEnd - payload) left in the payload area")
            }
            bodyStart = payload
            bodyEnd = payload + Int(n)
            payload = bodyEnd
        }
        state.seq &+= dSeq
        state.epoch = state.epoch &+ UInt64(bitPattern: dEpoch)
        state.wall = state.wall &+ dWall
        state.mono = state.mono &+ UInt64(bitPattern: dMonoMinusWall &+ dWall)
        state.isFirst = false
        r.position = end
        return RecordHead(
            kindByte: kind, flags: flags, seq: state.seq, epoch: state.epoch, wall: state.wall,
            mono: state.mono, bodyStart: bodyStart, bodyEnd: bodyEnd)
    }

    /// Decodes a record body; nil for a kind this version does not know (skipped by readers).
    static func decodeBody(_ head: RecordHead, in block: UnsafeRawBufferPointer) throws(DecodeFailure) -> RecordBody? {
        guard let kind = RecordKind(rawValue: head.kindByte) else { return nil }
        var r = ByteReader(UnsafeRawBufferPointer(start: block.baseAddress, count: head.bodyEnd), from: head.bodyStart)
        let f = head.flags
        switch kind {
        case .inboundFrame, .outboundFrame:
            let payload = Array(try r.bytes(r.remaining, "payload"))
            return .frame(
                direction: kind == .inboundFrame ? .inbound : .outbound,
                opcode: f & frameBinary != 0 ? .binary : .text, payload: payload)
        case .lifecycle:
            let state = try r.string("lifecycle state")
            var e = LifecycleEdge(stateName: state)
            if f & lcCloseCode != 0 { e.closeCode = try r.u16("close code") }
            if f & lcCloseReason != 0 { e.closeReason = try r.string("close reason") }
            if f & lcError != 0 { e.error = try r.string("error") }
            if f & lcMessage != 0 { e.message = try r.string("message") }
            return .lifecycle(e)
        case .connect:
            let o = try r.u8("connect outcome")
            guard let outcome = ConnectOutcome(rawValue: o) else {
                throw DecodeFailure(field: "connect outcome", position: r.position - 1, why: "unknown outcome \(o)")
            }
            var e = ConnectEvent(outcome: outcome)
            if f & cnURL != 0 { e.url = try r.string("url") }
            if f & cnStatus != 0 { e.httpStatus = try r.u16("http status") }
            if f & cnError != 0 { e.error = try r.string("error") }
            if f & cnMessage != 0 { e.message = try r.string("message") }
            return .connect(e)
        case .session:
            let p = try r.u8("session phase")
            guard let phase = SessionPhase(rawValue: p) else {
                throw DecodeFailure(field: "session phase", position: r.position - 1, why: "unknown phase \(p)")
            }
            var e = SessionEvent(phase: phase)
            if f & ssURL != 0 { e.url = try r.string("url") }
            if f & ssHeaders != 0 {
                let n = try r.varint("header count")
                guard n <= UInt64(r.remaining / 2) else {
                    throw DecodeFailure(field: "header count", position: r.position, why: "\(n) headers cannot fit in \(r.remaining) bytes")
                }
                for _ in 0..<n {
                    let name = try r.string("header name")
                    let value = try r.string("header value")
                    e.headers.append(HTTPHeaderField(name, value))
                }
            }
            if f & ssMessage != 0 { e.message = try r.string("message") }
            return .session(e)
        case .lag:
            let count = try r.varint("lag count")
            let bytes = try r.varint("lag bytes")
            return .lag(count: count, bytes: bytes)
        case .annotation:
            return .annotation(try r.string("annotation text"))
        }
    }
}

/// Builds the uncompressed bytes of one block: record heads (with non-frame bodies inline)
/// in one area and frame payloads in another, so that payloads sit back to back for LZ4 and
/// the small, repetitive heads compress together (SPEC.md §5).
final class BlockBuilder {
    let heads: ByteBuffer
    let payloads: ByteBuffer
    let scratch = ByteBuffer(capacity: 1024)
    var state = DeltaState(firstSeq: 0)
    var count = 0

    init(capacity: Int) {
        heads = ByteBuffer(capacity: capacity / 8 + 1024)
        payloads = ByteBuffer(capacity: capacity + 1024)
    }

    /// Uncompressed size of the block so far.
    var rawCount: Int { 4 + heads.count + payloads.count }

    func reset(firstSeq: UInt64) {
        heads.clear()
        payloads.clear()
        state = DeltaState(firstSeq: firstSeq)
        count = 0
    }

    /// Appends a frame (the hot path: no allocation once the buffers have grown).
    @inline(__always)
    func addFrame(direction: FrameDirection, binary: Bool, payload: UnsafeRawBufferPointer, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64) {
        RecordCodec.writeHead(
            kind: direction == .inbound ? RecordKind.inboundFrame.rawValue : RecordKind.outboundFrame.rawValue,
            flags: binary ? RecordCodec.frameBinary : 0, seq: seq, epoch: epoch, wall: wall, mono: mono,
            bodyCount: 0, payloadCount: payload.count, into: heads, state: &state)
        payloads.append(payload)
        count += 1
    }

    /// Appends any record.
    func add(_ body: RecordBody, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64) {
        if case .frame(let d, let op, let payload) = body {
            payload.withUnsafeBytes { addFrame(direction: d, binary: op == .binary, payload: $0, seq: seq, epoch: epoch, wall: wall, mono: mono) }
            return
        }
        let flags = RecordCodec.encodeBody(body, into: scratch)
        RecordCodec.writeHead(
            kind: body.kind.rawValue, flags: flags, seq: seq, epoch: epoch, wall: wall, mono: mono,
            bodyCount: scratch.count, into: heads, state: &state)
        heads.append(scratch.bytes)
        count += 1
    }

    /// Writes `u32 heads length | heads | payloads` into `raw`.
    func assemble(into raw: ByteBuffer) {
        raw.clear()
        raw.reserve(rawCount)
        raw.appendU32(UInt32(heads.count))
        raw.append(heads.bytes)
        raw.append(payloads.bytes)
    }

    func shrink(to target: Int) {
        heads.shrink(to: target / 8 + 1024)
        payloads.shrink(to: target + 1024)
    }
}
