import Foundation
import WireTapeCore
import WireTapeJournal

/// The project's one JSON-lines codec (journal-format/SPEC.md §9): every command that prints
/// or reads records — `tap`, `cat`, `import`, `demo`, `record`, `replay` — speaks it through
/// this type, so the field names, their order and the cause of a disconnect are decided here
/// and nowhere else.
///
/// Live output (`tap`, `replay`) is the journal's form without `seq`:
/// `{"type":"frame","epoch":1,"wall_ns":…,"mono_ns":…,"dir":"in","opcode":"text","data":"…"}`.
/// Lines are built only when a line is printed.
enum RecordJSON {
    // MARK: Encoding

    /// The JSON line of a journal record (without newline).
    static func line(_ r: JournalRecord) -> String {
        line(r.body, seq: r.seq, epoch: r.epoch, wallNanos: r.wallNanos, monoNanos: r.monoNanos)
    }

    /// The JSON line of a record body with its header fields; `seq` is omitted when nil.
    static func line(_ body: RecordBody, seq: UInt64?, epoch: UInt64, wallNanos: Int64, monoNanos: UInt64) -> String {
        var l = head(type: body.kind.typeName, seq: seq, epoch: epoch, wallNanos: wallNanos, monoNanos: monoNanos)
        add(body, to: &l)
        return l.finish()
    }

    /// A live frame as `tap` and `replay` print it: the record's form without `seq`.
    static func line(_ frame: Frame, direction: FrameDirection, epoch: UInt64, at: ReceiveTimestamp) -> String {
        var l = head(type: "frame", seq: nil, epoch: epoch, wallNanos: at.wallNanos, monoNanos: at.monotonicNanos)
        l.add("dir", direction.rawValue)
        l.add("opcode", frame.opcodeName)
        switch frame {
        case .text(let s): l.add("data", s)
        case .binary(let b): l.add("data_b64", Base64.encode(b))
        }
        return l.finish()
    }

    /// A live lifecycle edge as `tap` and `replay` print it: the journal's form of the
    /// snapshot (``WireTapeJournal/LifecycleEdge/init(_:)``), plus `http_status` when a
    /// rejected handshake caused it (the journal keeps that in the connect record).
    static func line(_ snapshot: LifecycleSnapshot) -> String {
        let edge = LifecycleEdge(snapshot)
        var l = head(
            type: "lifecycle", seq: nil, epoch: snapshot.epoch, wallNanos: snapshot.at.wallNanos,
            monoNanos: snapshot.at.monotonicNanos)
        add(.lifecycle(edge), to: &l)
        if edge.error != nil, case .error(let e) = snapshot.lastDisconnect, let status = e.httpStatus {
            l.add("http_status", status)
        }
        return l.finish()
    }

    private static func head(type: String, seq: UInt64?, epoch: UInt64, wallNanos: Int64, monoNanos: UInt64) -> JSONLine {
        var l = JSONLine()
        l.add("type", type)
        if let seq { l.add("seq", seq) }
        l.add("epoch", epoch)
        l.add("wall_ns", wallNanos)
        l.add("mono_ns", monoNanos)
        return l
    }

    private static func add(_ body: RecordBody, to l: inout JSONLine) {
        switch body {
        case .frame(let dir, let op, let payload):
            l.add("dir", dir.rawValue)
            l.add("opcode", op.rawValue)
            if op == .text, let s = String(validating: payload, as: UTF8.self) {
                l.add("data", s)
            } else {
                l.add("data_b64", Base64.encode(payload))
            }
        case .lifecycle(let e):
            l.add("state", e.stateName)
            if let c = e.closeCode { l.add("close_code", Int(c)) }
            l.addIfPresent("close_reason", e.closeReason)
            l.addIfPresent("closed_by", e.closedBy?.rawValue)
            l.addIfPresent("error", e.error)
            l.addIfPresent("message", e.message)
            if let c = e.counters {
                l.add("total_lagged", c.totalLagged)
                l.add("total_lagged_bytes", c.totalLaggedBytes)
                l.add("reconnects", c.reconnects)
                l.add("failed_attempts", c.failedAttempts)
            }
        case .connect(let e):
            l.add("outcome", e.outcome.name)
            l.addIfPresent("url", e.url)
            if let s = e.httpStatus { l.add("http_status", Int(s)) }
            if let r = e.retryAfterSeconds { l.add("retry_after_s", UInt64(r)) }
            l.addIfPresent("error", e.error)
            l.addIfPresent("message", e.message)
        case .session(let e):
            l.add("phase", e.phase.name)
            l.addIfPresent("url", e.url)
            if !e.headers.isEmpty {
                var bytes: [UInt8] = [UInt8(ascii: "[")]
                for (i, h) in e.headers.enumerated() {
                    if i > 0 { bytes.append(UInt8(ascii: ",")) }
                    bytes.append(UInt8(ascii: "["))
                    JSONLine.appendString(h.name, to: &bytes)
                    bytes.append(UInt8(ascii: ","))
                    JSONLine.appendString(h.value, to: &bytes)
                    bytes.append(UInt8(ascii: "]"))
                }
                bytes.append(UInt8(ascii: "]"))
                l.addRaw("headers", json: String(decoding: bytes, as: UTF8.self))
            }
            l.addIfPresent("message", e.message)
        case .lag(let count, let bytes):
            l.add("count", count)
            l.add("bytes", bytes)
        case .annotation(let text):
            l.add("text", text)
        }
    }

    // MARK: Encoding frames into an output buffer (the `cat` fast path)

    /// The most bytes ``appendFrameLine(_:to:)`` writes for a payload of `n` bytes: the fixed
    /// members plus six bytes per payload byte (`\u00XX`, the worst escape; base64 needs less).
    static func frameLineBound(payloadCount n: Int) -> Int { 256 + 6 * n }

    /// Appends the JSON line of a frame view and its newline straight into `out`: the same
    /// bytes as `line(view.record) + "\n"` (field order, escaping, UTF-8 check), without
    /// building a String or copying the payload first. Frames whose worst-case line does not
    /// fit the buffer take the String path.
    static func appendFrameLine(_ v: RecordView, to out: OutputBuffer) {
        appendFrameLine(
            seq: v.seq, epoch: v.epoch, wallNanos: v.wallNanos, monoNanos: v.monoNanos, inbound: v.kind == .inboundFrame,
            text: v.opcode == .text, payload: v.payload, to: out
        ) { line(v.record) }
    }

    /// Appends a live inbound frame's line (as `tap` and `replay` print it: no `seq`) and its
    /// newline straight into `out`, from a view lent by the stream: no `Frame` is built. A
    /// text payload that is not valid UTF-8 (an imported frame) is written as `data_b64`, as
    /// `cat` writes it.
    static func appendFrameLine(_ f: InboundFrameView, to out: OutputBuffer) {
        appendFrameLine(
            seq: nil, epoch: f.epoch, wallNanos: f.received.wallNanos, monoNanos: f.received.monotonicNanos, inbound: true,
            text: !f.isBinary, payload: f.payload, to: out
        ) { line(f.frame.frame, direction: .inbound, epoch: f.epoch, at: f.received) }
    }

    /// ``appendFrameLine(_:to:)-(InboundFrameView,_)`` for an owned frame: the same bytes as
    /// `line(frame, direction: .inbound, …) + "\n"`.
    static func appendFrameLine(_ f: InboundFrame, to out: OutputBuffer) {
        func write(_ payload: UnsafeRawBufferPointer, text: Bool) {
            appendFrameLine(
                seq: nil, epoch: f.epoch, wallNanos: f.received.wallNanos, monoNanos: f.received.monotonicNanos, inbound: true,
                text: text, payload: payload, to: out
            ) { line(f.frame, direction: .inbound, epoch: f.epoch, at: f.received) }
        }
        switch f.frame {
        case .text(var s): s.withUTF8 { write(UnsafeRawBufferPointer($0), text: true) }
        case .binary(let b): b.withUnsafeBytes { write($0, text: false) }
        }
    }

    /// The one writer of frame lines: `{"type":"frame"[,"seq":…],"epoch":…,"wall_ns":…,
    /// "mono_ns":…,"dir":…,"opcode":…,"data"|"data_b64":…}` and a newline, written in place;
    /// `fallback` gives the line when its worst case does not fit the buffer.
    private static func appendFrameLine(
        seq: UInt64?, epoch: UInt64, wallNanos: Int64, monoNanos: UInt64, inbound: Bool, text: Bool,
        payload: UnsafeRawBufferPointer, to out: OutputBuffer, fallback: () -> String
    ) {
        let bound = frameLineBound(payloadCount: payload.count)
        guard bound <= OutputBuffer.capacity else {
            out.append(fallback())
            out.append(byte: 10)
            return
        }
        let start = out.reserve(bound)
        var p = start
        @inline(__always) func put(_ s: StaticString) {
            p.update(from: s.utf8Start, count: s.utf8CodeUnitCount)
            p += s.utf8CodeUnitCount
        }
        put(#"{"type":"frame""#)
        if let seq {
            put(#","seq":"#)
            p = writeDecimal(seq, at: p)
        }
        put(#","epoch":"#)
        p = writeDecimal(epoch, at: p)
        put(#","wall_ns":"#)
        if wallNanos < 0 {
            p.pointee = UInt8(ascii: "-")
            p += 1
        }
        p = writeDecimal(wallNanos.magnitude, at: p)
        put(#","mono_ns":"#)
        p = writeDecimal(monoNanos, at: p)
        put(inbound ? #","dir":"in""# : #","dir":"out""#)
        if text {
            put(#","opcode":"text""#)
            if isValidUTF8(payload) {
                put(#","data":""#)
                p = writeEscaped(payload, at: p)
            } else {
                put(#","data_b64":""#)
                p = writeBase64(payload, at: p)
            }
        } else {
            put(#","opcode":"binary","data_b64":""#)
            p = writeBase64(payload, at: p)
        }
        put("}\n")
        out.commit(p - start)
    }

    @inline(__always)
    private static func writeDecimal(_ value: UInt64, at p: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch for up to 20 digits
        return withUnsafeMutableBytes(of: &digits) { d in
            var v = value
            var i = 24
            repeat {
                i -= 1
                d[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
                v /= 10
            } while v != 0
            let n = 24 - i
            p.update(from: d.baseAddress!.assumingMemoryBound(to: UInt8.self) + i, count: n)
            return p + n
        }
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    /// Writes `bytes` as the inside of a JSON string, escaped as ``JSONLine/appendString(_:to:)`` does.
    @inline(__always)
    private static func writeEscaped(_ bytes: UnsafeRawBufferPointer, at start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = start
        let hex = hexDigits.utf8Start
        for b in bytes {
            if b >= 0x20 && b != 0x22 && b != 0x5C {
                p.pointee = b
                p += 1
                continue
            }
            p.pointee = 92
            switch b {
            case 0x22: p[1] = 0x22; p += 2
            case 0x5C: p[1] = 0x5C; p += 2
            case 0x0A: p[1] = UInt8(ascii: "n"); p += 2
            case 0x0D: p[1] = UInt8(ascii: "r"); p += 2
            case 0x09: p[1] = UInt8(ascii: "t"); p += 2
            default:
                p[1] = UInt8(ascii: "u"); p[2] = 48; p[3] = 48
                p[4] = hex[Int(b >> 4)]; p[5] = hex[Int(b & 15)]
                p += 6
            }
        }
        p.pointee = 0x22
        return p + 1
    }

    private static let base64Alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Writes `data` as base64 (as ``Base64/encode(_:)``) and the closing quote.
    private static func writeBase64(_ data: UnsafeRawBufferPointer, at start: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var p = start
        let a = base64Alphabet.utf8Start
        var i = 0
        while i + 3 <= data.count {
            let n = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            p[0] = a[Int(n >> 18 & 63)]; p[1] = a[Int(n >> 12 & 63)]
            p[2] = a[Int(n >> 6 & 63)]; p[3] = a[Int(n & 63)]
            p += 4
            i += 3
        }
        let rest = data.count - i
        if rest > 0 {
            let n = UInt32(data[i]) << 16 | (rest == 2 ? UInt32(data[i + 1]) << 8 : 0)
            p[0] = a[Int(n >> 18 & 63)]; p[1] = a[Int(n >> 12 & 63)]
            p[2] = rest == 2 ? a[Int(n >> 6 & 63)] : UInt8(ascii: "=")
            p[3] = UInt8(ascii: "=")
            p += 4
        }
        p.pointee = 0x22
        return p + 1
    }

    /// Whether `bytes` is well-formed UTF-8, by the rule `String(validating:as: UTF8.self)`
    /// applies (no overlong forms, no surrogates, nothing above U+10FFFF).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return true }
        var i = 0
        while i < n {
            // Eight ASCII bytes at a time.
            while i + 8 <= n, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 { i += 8 }
            if i >= n { break }
            let b0 = base[i]
            if b0 < 0x80 { i += 1; continue }
            @inline(__always) func cont(_ k: Int) -> Bool { i + k < n && base[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2...0xDF:
                guard cont(1) else { return false }
                i += 2
            case 0xE0...0xEF:
                guard cont(1), cont(2) else { return false }
                let b1 = base[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return false }
                if b0 == 0xED && b1 > 0x9F { return false }
                i += 3
            case 0xF0...0xF4:
                guard cont(1), cont(2), cont(3) else { return false }
                let b1 = base[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return false }
                if b0 == 0xF4 && b1 > 0x8F { return false }
                i += 4
            default:
                return false
            }
        }
        return true
    }

    // MARK: Decoding

    /// Parses one JSON line into a record; `nextSeq` is used when the line has no `seq`.
    /// - Throws: ``CommandError`` (code `badInput`) naming the field that is wrong.
    static func parse(_ line: ArraySlice<UInt8>, nextSeq: UInt64) throws -> JournalRecord {
        let any: Any
        do { any = try JSONSerialization.jsonObject(with: Data(line), options: []) } catch {
            throw fail("not valid JSON (\((error as NSError).userInfo["NSDebugDescription"] as? String ?? "syntax error"))")
        }
        guard let o = any as? [String: Any] else { throw fail("expected a JSON object") }
        guard let type = try string(o, "type") else { throw fail("missing field \"type\"") }
        let seq = try uint(o, "seq") ?? nextSeq
        let epoch = try uint(o, "epoch") ?? 0
        guard let wall = try int(o, "wall_ns") else { throw fail("missing field \"wall_ns\"") }
        let mono = try uint(o, "mono_ns") ?? UInt64(bitPattern: wall)
        let body: RecordBody
        switch type {
        case "frame": body = try frame(o)
        case "lifecycle": body = try lifecycle(o)
        case "connect": body = try connect(o)
        case "session": body = try session(o)
        case "lag":
            body = .lag(count: try uint(o, "count") ?? 0, bytes: try uint(o, "bytes") ?? 0)
        case "annotation":
            guard let text = try string(o, "text") else { throw fail("missing field \"text\"") }
            body = .annotation(text)
        default:
            throw fail("unknown record type \"\(type)\" (expected frame, lifecycle, connect, session, lag or annotation)")
        }
        return JournalRecord(seq: seq, epoch: epoch, wallNanos: wall, monoNanos: mono, body: body)
    }

    private static func frame(_ o: [String: Any]) throws -> RecordBody {
        let dirName = try string(o, "dir") ?? "in"
        guard let dir = FrameDirection(rawValue: dirName) else {
            throw fail("field \"dir\" must be \"in\" or \"out\", found \"\(dirName)\"")
        }
        let data = try string(o, "data")
        let b64 = try string(o, "data_b64")
        let opName = try string(o, "opcode") ?? (b64 != nil ? "binary" : "text")
        guard let op = FrameOpcode(rawValue: opName) else {
            throw fail("field \"opcode\" must be \"text\" or \"binary\", found \"\(opName)\"")
        }
        let payload: [UInt8]
        if let data {
            payload = Array(data.utf8)
        } else if let b64 {
            guard let p = Base64.decode(b64) else { throw fail("field \"data_b64\" is not valid base64") }
            payload = p
        } else {
            throw fail("a frame needs \"data\" or \"data_b64\"")
        }
        return .frame(direction: dir, opcode: op, payload: payload)
    }

    private static func lifecycle(_ o: [String: Any]) throws -> RecordBody {
        guard let state = try string(o, "state") else { throw fail("missing field \"state\"") }
        guard ConnState(rawValue: state) != nil else {
            throw fail("field \"state\" must be one of \(ConnState.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(state)\"")
        }
        let code = try int(o, "close_code")
        if let c = code, !(0...65535).contains(c) { throw fail("field \"close_code\" \(c) is not a 16-bit close code") }
        var closedBy: CloseInitiator? = nil
        if let by = try string(o, "closed_by") {
            guard let v = CloseInitiator(rawValue: by) else {
                throw fail("field \"closed_by\" must be \"peer\" or \"local\", found \"\(by)\"")
            }
            closedBy = v
        }
        var counters: LifecycleCounters? = nil
        if ["total_lagged", "total_lagged_bytes", "reconnects", "failed_attempts"].contains(where: { o[$0] != nil }) {
            counters = LifecycleCounters(
                totalLagged: try uint(o, "total_lagged") ?? 0, totalLaggedBytes: try uint(o, "total_lagged_bytes") ?? 0,
                reconnects: try uint(o, "reconnects") ?? 0, failedAttempts: try uint(o, "failed_attempts") ?? 0)
        }
        return .lifecycle(LifecycleEdge(
            stateName: state, closeCode: code.map { UInt16($0) }, closeReason: try string(o, "close_reason"),
            error: try string(o, "error"), message: try string(o, "message"), closedBy: closedBy, counters: counters))
    }

    private static func connect(_ o: [String: Any]) throws -> RecordBody {
        let name = try string(o, "outcome") ?? "attempt"
        guard let outcome = ConnectOutcome(name: name) else {
            throw fail("field \"outcome\" must be attempt, connected or failed, found \"\(name)\"")
        }
        let status = try int(o, "http_status")
        if let s = status, !(0...65535).contains(s) { throw fail("field \"http_status\" \(s) is out of range") }
        let retryAfter = try uint(o, "retry_after_s")
        if let r = retryAfter, r > UInt64(UInt32.max) {
            throw fail("field \"retry_after_s\" \(r) is out of range (0...4294967295)")
        }
        return .connect(ConnectEvent(
            outcome: outcome, url: try string(o, "url"), httpStatus: status.map { UInt16($0) },
            error: try string(o, "error"), message: try string(o, "message"),
            retryAfterSeconds: retryAfter.map { UInt32($0) }))
    }

    private static func session(_ o: [String: Any]) throws -> RecordBody {
        let phaseName = try string(o, "phase") ?? "start"
        guard let phase = SessionPhase.allCases.first(where: { $0.name == phaseName }) else {
            throw fail("field \"phase\" must be start or end, found \"\(phaseName)\"")
        }
        var headers: [HTTPHeaderField] = []
        if let h = o["headers"] {
            guard let arr = h as? [Any] else { throw fail("field \"headers\" must be an array of [name, value] pairs") }
            for pair in arr {
                guard let p = pair as? [Any], p.count == 2, let n = p[0] as? String, let v = p[1] as? String else {
                    throw fail("field \"headers\" must be an array of [name, value] string pairs")
                }
                headers.append(HTTPHeaderField(n, v))
            }
        }
        return .session(SessionEvent(phase: phase, url: try string(o, "url"), headers: headers, message: try string(o, "message")))
    }

    private static func fail(_ s: String) -> CommandError { CommandError(.badInput, s) }

    /// The exact decimal text of a JSON number member, or nil when absent or null.
    private static func integerText(_ o: [String: Any], _ key: String) throws -> String? {
        guard let v = o[key] else { return nil }
        if v is NSNull { return nil }
        // JSON true/false arrive as NSNumber too, with the objCType of a C char.
        guard !(v is String), let n = v as? NSNumber, String(cString: n.objCType) != "c" else {
            throw fail("field \"\(key)\" must be an integer")
        }
        let text = n.stringValue
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw fail("field \"\(key)\" must be an integer, found \(text)")
        }
        return text
    }

    /// A signed 64-bit integer member (SPEC.md §9: `wall_ns`, `close_code`, `http_status`).
    private static func int(_ o: [String: Any], _ key: String) throws -> Int64? {
        guard let text = try integerText(o, key) else { return nil }
        guard let v = Int64(text) else {
            throw fail("field \"\(key)\" \(text) is out of range (-9223372036854775808...9223372036854775807)")
        }
        return v
    }

    /// An unsigned 64-bit integer member (SPEC.md §9: `seq`, `epoch`, `mono_ns`, counts).
    private static func uint(_ o: [String: Any], _ key: String) throws -> UInt64? {
        guard let text = try integerText(o, key) else { return nil }
        if text.hasPrefix("-") { throw fail("field \"\(key)\" must not be negative, found \(text)") }
        guard let v = UInt64(text) else { throw fail("field \"\(key)\" \(text) is out of range (0...18446744073709551615)") }
        return v
    }

    private static func string(_ o: [String: Any], _ key: String) throws -> String? {
        guard let v = o[key] else { return nil }
        if v is NSNull { return nil }
        guard let s = v as? String else { throw fail("field \"\(key)\" must be a string") }
        return s
    }
}
