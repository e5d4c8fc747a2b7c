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
    static let lcClosedBy: UInt8 = 0x10, lcCounters: UInt8 = 0x20
    static let cnURL: UInt8 = 0x01, cnStatus: UInt8 = 0x02, cnError: UInt8 = 0x04, cnMessage: UInt8 = 0x08
    static let cnRetryAfter: UInt8 = 0x10
    static let ssURL: UInt8 = 0x01, ssHeaders: UInt8 = 0x02, ssMessage: UInt8 = 0x04

    /// Encodes the body of a non-frame record into `scratch` and returns its flags.
    static func encodeBody(_ body: RecordBody, into scratch: GrowableBytes) -> UInt8 {
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
            if let by = e.closedBy { flags |= lcClosedBy; scratch.appendByte(by == .peer ? 0 : 1) }
            if let c = e.counters {
                flags |= lcCounters
                scratch.appendVarint(c.totalLagged)
                scratch.appendVarint(c.totalLaggedBytes)
                scratch.appendVarint(c.reconnects)
                scratch.appendVarint(c.failedAttempts)
            }
        case .connect(let e):
            scratch.appendByte(e.outcome.rawValue)
            if let u = e.url { flags |= cnURL; scratch.appendString(u) }
            if let s = e.httpStatus { flags |= cnStatus; scratch.appendU16(s) }
            if let r = e.error { flags |= cnError; scratch.appendString(r) }
            if let r = e.message { flags |= cnMessage; scratch.appendString(r) }
            if let s = e.retryAfterSeconds { flags |= cnRetryAfter; scratch.appendVarint(UInt64(s)) }
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
            if f & lcClosedBy != 0 {
                let by = try r.u8("closed by")
                guard by <= 1 else {
                    throw DecodeFailure(field: "closed by", position: r.position - 1, why: "unknown initiator \(by)")
                }
                e.closedBy = by == 0 ? .peer : .local
            }
            if f & lcCounters != 0 {
                e.counters = LifecycleCounters(
                    totalLagged: try r.varint("total lagged"), totalLaggedBytes: try r.varint("total lagged bytes"),
                    reconnects: try r.varint("reconnects"), failedAttempts: try r.varint("failed attempts"))
            }
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
            if f & cnRetryAfter != 0 {
                let v = try r.varint("retry after")
                guard v <= UInt64(UInt32.max) else {
                    throw DecodeFailure(field: "retry after", position: r.position, why: "\(v) s exceeds 2^32-1")
                }
                e.retryAfterSeconds = UInt32(v)
            }
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

/// The number of column areas before the payload area (SPEC.md §5).
let blockColumnCount = 8

/// Builds the uncompressed bytes of one block in the columnar layout of SPEC.md §5: one area
/// per record field (kinds, flags, seq deltas, epoch deltas, wall deltas, mono deltas, body
/// lengths, inline bodies), then the frame payloads back to back. Constant columns compress to
/// almost nothing and the payloads form one stream for LZ4.
final class BlockBuilder {
    // One buffer per column, as separate properties: the append path then touches no array
    // (no bounds checks or reference counting per field).
    let kinds: GrowableBytes, flags: GrowableBytes, seqs: GrowableBytes, epochs: GrowableBytes
    let walls: GrowableBytes, monos: GrowableBytes, lengths: GrowableBytes, bodies: GrowableBytes
    let payloads: GrowableBytes
    var columns: [GrowableBytes] { [kinds, flags, seqs, epochs, walls, monos, lengths, bodies] }
    let scratch = GrowableBytes(capacity: 1024)
    var state = DeltaState(firstSeq: 0)
    var count = 0

    init(capacity: Int) {
        let c = capacity / 16 + 256
        kinds = GrowableBytes(capacity: c); flags = GrowableBytes(capacity: c); seqs = GrowableBytes(capacity: c)
        epochs = GrowableBytes(capacity: c); walls = GrowableBytes(capacity: c); monos = GrowableBytes(capacity: c)
        lengths = GrowableBytes(capacity: c); bodies = GrowableBytes(capacity: c)
        payloads = GrowableBytes(capacity: capacity + 1024)
    }

    /// Uncompressed size of the block so far.
    var rawCount: Int {
        4 * blockColumnCount + payloads.count + kinds.count + flags.count + seqs.count + epochs.count
            + walls.count + monos.count + lengths.count + bodies.count
    }

    func reset(firstSeq: UInt64) {
        for c in columns { c.clear() }
        payloads.clear()
        state = DeltaState(firstSeq: firstSeq)
        count = 0
    }

    @inline(__always)
    private func addHead(kind: UInt8, flags: UInt8, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64, bodyLength: Int) {
        let dWallRaw = wall &- state.wall
        kinds.appendByte(kind)
        self.flags.appendByte(flags)
        seqs.appendVarint(seq &- state.seq)
        epochs.appendVarint(zigzag(Int64(bitPattern: epoch &- state.epoch)))
        walls.appendVarint(zigzag(dWallRaw))
        monos.appendVarint(zigzag(Int64(bitPattern: mono &- state.mono) &- dWallRaw))
        lengths.appendVarint(UInt64(bodyLength))
        state.seq = seq
        state.epoch = epoch
        state.wall = wall
        state.mono = mono
        state.isFirst = false
        count += 1
    }

    /// Appends a frame (the hot path: no allocation once the buffers have grown).
    @inline(__always)
    func addFrame(direction: FrameDirection, binary: Bool, payload: UnsafeRawBufferPointer, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64) {
        addHead(
            kind: direction == .inbound ? RecordKind.inboundFrame.rawValue : RecordKind.outboundFrame.rawValue,
            flags: binary ? RecordCodec.frameBinary : 0, seq: seq, epoch: epoch, wall: wall, mono: mono,
            bodyLength: payload.count)
        payloads.append(payload)
    }

    /// Appends a non-frame record whose body was encoded by ``RecordCodec/encodeBody(_:into:)``.
    func addEncoded(kind: UInt8, flags: UInt8, body: UnsafeRawBufferPointer, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64) {
        addHead(kind: kind, flags: flags, seq: seq, epoch: epoch, wall: wall, mono: mono, bodyLength: body.count)
        bodies.append(body)
    }

    /// Appends any record.
    func add(_ body: RecordBody, seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64) {
        if case .frame(let d, let op, let payload) = body {
            payload.withUnsafeBytes { addFrame(direction: d, binary: op == .binary, payload: $0, seq: seq, epoch: epoch, wall: wall, mono: mono) }
            return
        }
        let flags = RecordCodec.encodeBody(body, into: scratch)
        addEncoded(kind: body.kind.rawValue, flags: flags, body: scratch.bytes, seq: seq, epoch: epoch, wall: wall, mono: mono)
    }

    /// Writes the column lengths, the columns and the payloads into `raw`.
    func assemble(into raw: GrowableBytes) {
        raw.clear()
        raw.reserve(rawCount)
        for c in columns { raw.appendU32(UInt32(c.count)) }
        for c in columns { raw.append(c.bytes) }
        raw.append(payloads.bytes)
    }

    func shrink(to target: Int) {
        for c in columns { c.shrink(to: target / 16 + 256) }
        payloads.shrink(to: target + 1024)
    }
}

/// Reads the records of a block's uncompressed bytes (SPEC.md §5), one column cursor per field.
struct BlockColumns {
    var kinds: ByteReader, flags: ByteReader, seqs: ByteReader, epochs: ByteReader
    var walls: ByteReader, monos: ByteReader, lengths: ByteReader
    var inline: Int, inlineEnd: Int
    var payload: Int, payloadEnd: Int
    var index = 0

    init(_ raw: UnsafeRawBufferPointer) throws(DecodeFailure) {
        var r = ByteReader(raw)
        var start = 4 * blockColumnCount
        guard raw.count >= start else {
            throw DecodeFailure(field: "column lengths", position: 0, why: "the block has \(raw.count) bytes, fewer than the \(start) of the column lengths")
        }
        func col(_ i: Int, _ r: inout ByteReader, _ start: inout Int) throws(DecodeFailure) -> (Int, Int) {
            let n = Int(try r.u32("column \(i) length"))
            guard n <= raw.count - start else {
                throw DecodeFailure(field: "column \(i) length", position: i * 4, why: "\(n) bytes exceed the \(raw.count - start) left in the block")
            }
            defer { start += n }
            return (start, start + n)
        }
        let c0 = try col(0, &r, &start), c1 = try col(1, &r, &start), c2 = try col(2, &r, &start), c3 = try col(3, &r, &start)
        let c4 = try col(4, &r, &start), c5 = try col(5, &r, &start), c6 = try col(6, &r, &start), c7 = try col(7, &r, &start)
        func reader(_ c: (Int, Int)) -> ByteReader { ByteReader(UnsafeRawBufferPointer(start: raw.baseAddress, count: c.1), from: c.0) }
        kinds = reader(c0); flags = reader(c1); seqs = reader(c2); epochs = reader(c3)
        walls = reader(c4); monos = reader(c5); lengths = reader(c6)
        inline = c7.0; inlineEnd = c7.1
        payload = start; payloadEnd = raw.count
    }

    /// The next record's head, or nil after the last one.
    @inline(__always)
    mutating func next(state: inout DeltaState) throws(DecodeFailure) -> RecordHead? {
        if kinds.remaining == 0 { return nil }
        let kind = try kinds.u8("kind")
        let fl = try flags.u8("flags")
        let dSeq = try seqs.varint("seq delta")
        let dEpoch = unzigzag(try epochs.varint("epoch delta"))
        let dWall = unzigzag(try walls.varint("wall delta"))
        let dMonoMinusWall = unzigzag(try monos.varint("mono delta"))
        let len = try lengths.varint("body length")
        if state.isFirst {
            guard dSeq == 0 else {
                throw DecodeFailure(field: "seq delta", position: seqs.position, why: "the first record of a block must have seq delta 0, found \(dSeq)")
            }
        } else {
            guard dSeq >= 1, state.seq <= UInt64.max - dSeq else {
                throw DecodeFailure(field: "seq delta", position: seqs.position, why: "sequence numbers must increase (delta \(dSeq))")
            }
        }
        let bodyStart: Int
        if kind == RecordKind.inboundFrame.rawValue || kind == RecordKind.outboundFrame.rawValue {
            guard len <= UInt64(payloadEnd - payload) else {
                throw DecodeFailure(field: "body length", position: lengths.position, why: "\(len) bytes exceed the \(payloadEnd - payload) left in the payload area")
            }
            bodyStart = payload
            payload += Int(len)
        } else {
            guard len <= UInt64(inlineEnd - inline) else {
                throw DecodeFailure(field: "body length", position: lengths.position, why: "\(len) bytes exceed the \(inlineEnd - inline) left in the bodies column")
            }
            bodyStart = inline
            inline += Int(len)
        }
        state.seq &+= dSeq
        state.epoch = state.epoch &+ UInt64(bitPattern: dEpoch)
        state.wall = state.wall &+ dWall
        state.mono = state.mono &+ UInt64(bitPattern: dMonoMinusWall &+ dWall)
        state.isFirst = false
        index += 1
        return RecordHead(
            kindByte: kind, flags: fl, seq: state.seq, epoch: state.epoch, wall: state.wall,
            mono: state.mono, bodyStart: bodyStart, bodyEnd: bodyStart + Int(len))
    }

    /// Checks that every column was consumed exactly (no stray bytes).
    func checkExhausted() throws(DecodeFailure) {
        let rest = flags.remaining + seqs.remaining + epochs.remaining + walls.remaining + monos.remaining + lengths.remaining
        if rest > 0 || inline != inlineEnd || payload != payloadEnd {
            throw DecodeFailure(field: "columns", position: 0, why: "\(rest + inlineEnd - inline + payloadEnd - payload) bytes belong to no record (columns of different lengths)")
        }
    }
}
