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
        bodyCount: Int, into buf: ByteBuffer, state: inout DeltaState
    ) {
        let dSeq = seq &- state.seq
        let dEpoch = zigzag(Int64(bitPattern: epoch &- state.epoch))
        let dWallRaw = wall &- state.wall
        let dWall = zigzag(dWallRaw)
        let dMono = zigzag(Int64(bitPattern: mono &- state.mono) &- dWallRaw)
        let len = 2 + varintSize(dSeq) + varintSize(dEpoch) + varintSize(dWall) + varintSize(dMono) + bodyCount
        buf.reserve(len + 10)
        buf.appendVarint(UInt64(len))
        buf.appendByte(kind)
        buf.appendByte(flags)
        buf.appendVarint(dSeq)
        buf.appendVarint(dEpoch)
        buf.appendVarint(dWall)
        buf.appendVarint(dMono)
        state.seq = seq
        state.epoch = epoch
        state.wall = wall
        state.mono = mono
        state.isFirst = false
    }

    /// Appends a frame record (the hot path: no allocation once `buf` has grown).
    @inline(__always)
    static func encodeFrame(
        direction: FrameDirection, binary: Bool, payload: UnsafeRawBufferPointer, seq: UInt64,
        epoch: UInt64, wall: Int64, mono: UInt64, into buf: ByteBuffer, state: inout DeltaState
    ) {
        writeHead(
            kind: direction == .inbound ? RecordKind.inboundFrame.rawValue : RecordKind.outboundFrame.rawValue,
            flags: binary ? frameBinary : 0, seq: seq, epoch: epoch, wall: wall, mono: mono,
            bodyCount: payload.count, into: buf, state: &state)
        buf.append(payload)
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
    static func decodeHead(_ r: inout ByteReader, state: inout DeltaState) throws(DecodeFailure) -> RecordHead? {
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
        state.seq &+= dSeq
        state.epoch = state.epoch &+ UInt64(bitPattern: dEpoch)
        state.wall = state.wall &+ dWall
        state.mono = state.mono &+ UInt64(bitPattern: dMonoMinusWall &+ dWall)
        state.isFirst = false
        r.position = end
        return RecordHead(
            kindByte: kind, flags: flags, seq: state.seq, epoch: state.epoch, wall: state.wall,
            mono: state.mono, bodyStart: sub.position, bodyEnd: end)
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
