import NIOCore
import WireTapeCore

/// The RFC 6455 receive side as a pure state machine over the connection's bytes: it parses
/// frames straight from the socket reads, applies every receive rule and says what to do, with
/// no I/O, so every rule is testable on its own. One engine for both ends: a client
/// (``NIOConnector``) requires unmasked frames from the server, a server (``WSServer``) requires
/// masked frames from the client and unmasks them.
///
/// Feed each read to ``next(_:)`` until it returns `nil` (the read is consumed; a frame cut
/// anywhere, even inside its header, continues with the next read). Payloads are processed as
/// their bytes arrive, not when the frame is complete, so text is checked "fail fast"
/// (RFC 6455 §8.1) even inside one large frame that arrives in pieces.
///
/// Enforced here (a violation closes with 1002 unless noted): no reserved bits (no extension
/// is negotiated); known opcodes only; masking by role (§5.1); control frames unfragmented and
/// at most 125 bytes (§5.5); 64-bit lengths with the top bit clear (§5.2); continuation only
/// inside a fragmented message and no new data frame inside one (§5.4); UTF-8 text, checked
/// as it arrives, across fragments (1007); the maximum message size, checked from the frame
/// header before any of its payload is buffered (1009); the close frame's payload (length,
/// code, UTF-8 reason). Not enforced: minimal length encoding (a sender's duty that a
/// recorder should not turn into lost data).
///
/// After a failure the engine reads no more data: it skips frames and reports only a close
/// frame from the peer (the answer to the close the connection sends).
struct MessageAssembler {
    /// What the connection handler must do.
    enum Action {
        /// A complete data message.
        case deliver(Frame)
        /// Answer with a pong carrying this payload.
        case pong(ByteBuffer)
        /// A pong arrived.
        case pongReceived
        /// The peer sent a close frame (code 1005 when it carried none).
        case peerClose(WSCloseCode, String)
        /// The peer broke the protocol: close with `error.closeCode` and fail with `error`.
        case fail(WSError)
    }

    /// A parsed frame header.
    struct Header: Equatable {
        var fin: Bool
        /// RSV1-3, in the low three bits.
        var rsv: UInt8
        var opcode: UInt8
        /// The masking key, big-endian, when the frame is masked.
        var maskKey: UInt32?
        /// The payload length as sent (up to 2^64 − 1; checked against the rules later).
        var length: UInt64
        /// Bytes the header occupies on the wire (2 to 14).
        var size: Int

        var isControl: Bool { opcode & 0x08 != 0 }
    }

    /// Opcodes (RFC 6455 §5.2).
    enum Opcode {
        static let continuation: UInt8 = 0x0
        static let text: UInt8 = 0x1
        static let binary: UInt8 = 0x2
        static let close: UInt8 = 0x8
        static let ping: UInt8 = 0x9
        static let pong: UInt8 = 0xA
    }

    private enum Stage {
        /// Waiting for a frame header (its first bytes may be in `headerBytes`).
        case header
        /// Inside a data frame's payload.
        case data(remaining: Int, fin: Bool)
        /// Inside a control frame's payload (collected in `control`).
        case control(opcode: UInt8, remaining: Int)
        /// After a failure: skipping a frame's payload.
        case skip(remaining: UInt64)
        /// After a failure: collecting a close frame's payload (to see the peer's answer).
        case skipClose(remaining: Int)
    }

    let maxMessageSize: Int
    /// Which end this is.
    let role: WebSocketRole
    private var stage = Stage.header
    private var failed = false
    /// The start of a header cut by the end of a read (at most 13 bytes).
    private var headerBytes: [UInt8] = []
    private var maskKey: UInt32?
    private var maskOffset = 0
    /// The opcode (text or binary) of the message in progress, `nil` between messages.
    private var messageOpcode: UInt8?
    private var message = ByteBuffer()
    private var messageSize = 0
    private var utf8 = UTF8Validator()
    private var control = ByteBuffer()

    init(maxMessageSize: Int, role: WebSocketRole = .client) {
        self.maxMessageSize = maxMessageSize
        self.role = role
    }

    /// Who sent the frames this assembler reads, for messages.
    private var peer: String { role == .client ? "server" : "client" }

    private mutating func failure(_ code: WSError.Code, _ close: WSCloseCode, _ message: String) -> Action {
        failed = true
        self.message = ByteBuffer()
        messageOpcode = nil
        return .fail(WSError(code, message, closeCode: close))
    }

    /// Consumes bytes of `input` up to the next thing to do and returns it; `nil` once every
    /// byte of `input` is consumed with nothing (more) to do.
    mutating func next(_ input: inout ByteBuffer) -> Action? {
        while true {
            switch stage {
            case .header:
                guard let header = readHeader(&input) else { return nil }
                if failed {
                    if header.opcode == Opcode.close && header.length <= 125 {
                        maskKey = header.maskKey
                        maskOffset = 0
                        control.clear()
                        stage = .skipClose(remaining: Int(header.length))
                    } else {
                        stage = .skip(remaining: header.length)
                    }
                    continue
                }
                if let problem = check(header) {
                    // The rest of this frame is skipped, so a close that follows is still seen.
                    stage = .skip(remaining: header.length)
                    return problem
                }
                maskKey = header.maskKey
                maskOffset = 0
                let length = Int(header.length)  // checked: at most maxMessageSize or 125
                if header.isControl {
                    if length <= input.readableBytes {
                        var payload = input.readSlice(length: length)!
                        unmask(&payload)
                        return controlFrame(header.opcode, payload)
                    }
                    control.clear()
                    stage = .control(opcode: header.opcode, remaining: length)
                    continue
                }
                if header.fin && messageOpcode == nil && length <= input.readableBytes {
                    // The common case: a whole single-frame message within this read.
                    var payload = input.readSlice(length: length)!
                    unmask(&payload)
                    return wholeMessage(opcode: header.opcode, payload)
                }
                if messageOpcode == nil {
                    messageOpcode = header.opcode
                    messageSize = 0
                    message.clear()
                    utf8 = UTF8Validator()
                }
                messageSize += length
                stage = .data(remaining: length, fin: header.fin)
            case .data(let remaining, let fin):
                if remaining > 0 {
                    guard input.readableBytes > 0 else { return nil }
                    let n = min(remaining, input.readableBytes)
                    var chunk = input.readSlice(length: n)!
                    unmask(&chunk)
                    if messageOpcode == Opcode.text {
                        let ok = chunk.withUnsafeReadableBytes { utf8.feed($0) }
                        if !ok {
                            stage = .skip(remaining: UInt64(remaining - n))
                            return failure(.invalidUTF8, .invalidPayload, "a text message is not valid UTF-8")
                        }
                    }
                    message.writeBuffer(&chunk)
                    stage = .data(remaining: remaining - n, fin: fin)
                    if n < remaining { return nil }
                }
                stage = .header
                if fin, let opcode = messageOpcode {
                    if opcode == Opcode.text && !utf8.isComplete {
                        return failure(.invalidUTF8, .invalidPayload, "a text message is not valid UTF-8")
                    }
                    messageOpcode = nil
                    let frame: Frame =
                        opcode == Opcode.text
                        // Validated as it arrived, so decoding cannot substitute replacement characters.
                        ? .text(String(buffer: message)) : .binary(Array(message.readableBytesView))
                    message = ByteBuffer()
                    return .deliver(frame)
                }
            case .control(let opcode, let remaining):
                guard input.readableBytes > 0 else { return nil }
                let n = min(remaining, input.readableBytes)
                var chunk = input.readSlice(length: n)!
                unmask(&chunk)
                control.writeBuffer(&chunk)
                if n < remaining {
                    stage = .control(opcode: opcode, remaining: remaining - n)
                    return nil
                }
                stage = .header
                return controlFrame(opcode, control)
            case .skip(let remaining):
                if remaining == 0 {
                    stage = .header
                    continue
                }
                guard input.readableBytes > 0 else { return nil }
                let n = min(remaining, UInt64(input.readableBytes))
                input.moveReaderIndex(forwardBy: Int(n))
                stage = .skip(remaining: remaining - n)
            case .skipClose(let remaining):
                if remaining > 0 {
                    guard input.readableBytes > 0 else { return nil }
                    let n = min(remaining, input.readableBytes)
                    var chunk = input.readSlice(length: n)!
                    unmask(&chunk)
                    control.writeBuffer(&chunk)
                    stage = .skipClose(remaining: remaining - n)
                    if n < remaining { return nil }
                }
                stage = .header
                var payload = control
                let code = payload.readInteger(as: UInt16.self).map { WSCloseCode($0) } ?? .noStatusReceived
                return .peerClose(code, "")
            }
        }
    }

    /// Reads a frame header, or keeps its first bytes when the read ends inside it.
    private mutating func readHeader(_ input: inout ByteBuffer) -> Header? {
        if headerBytes.isEmpty {
            let parsed = input.withUnsafeReadableBytes { Self.parseHeader($0) }
            if let header = parsed {
                input.moveReaderIndex(forwardBy: header.size)
                return header
            }
            // Fewer than 14 bytes: the rest of the header comes with the next read.
            headerBytes.append(contentsOf: input.readableBytesView)
            input.moveReaderIndex(to: input.writerIndex)
            return nil
        }
        while let byte = input.readInteger(as: UInt8.self) {
            headerBytes.append(byte)
            if let header = headerBytes.withUnsafeBytes({ Self.parseHeader($0) }) {
                headerBytes.removeAll(keepingCapacity: true)
                return header
            }
        }
        return nil
    }

    /// Parses the frame header at the start of `bytes`; `nil` when it is not complete.
    static func parseHeader(_ bytes: UnsafeRawBufferPointer) -> Header? {
        guard bytes.count >= 2 else { return nil }
        let b0 = bytes[0]
        let b1 = bytes[1]
        var size = 2
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            size = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(bytes[i]) }
            size = 10
        }
        var maskKey: UInt32?
        if b1 & 0x80 != 0 {
            guard bytes.count >= size + 4 else { return nil }
            var key: UInt32 = 0
            for i in size..<(size + 4) { key = key << 8 | UInt32(bytes[i]) }
            maskKey = key
            size += 4
        }
        return Header(fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode: b0 & 0x0F, maskKey: maskKey, length: length, size: size)
    }

    /// The header rules; the failure to report, or `nil` when the frame may be read.
    private mutating func check(_ header: Header) -> Action? {
        if header.rsv != 0 {
            return failure(.protocolViolation, .protocolError, "the \(peer) set reserved bits (RSV1-3) without a negotiated extension")
        }
        switch header.opcode {
        case Opcode.continuation, Opcode.text, Opcode.binary, Opcode.close, Opcode.ping, Opcode.pong: break
        default: return failure(.protocolViolation, .protocolError, "the \(peer) used the reserved opcode \(header.opcode)")
        }
        switch (role, header.maskKey) {
        case (.client, .some):
            return failure(.protocolViolation, .protocolError, "the server sent a masked frame (RFC 6455 §5.1)")
        case (.server, nil):
            return failure(.protocolViolation, .protocolError, "the client sent an unmasked frame (RFC 6455 §5.1)")
        default: break
        }
        if header.length & (1 << 63) != 0 {
            return failure(.protocolViolation, .protocolError, "the \(peer) sent a 64-bit frame length with the top bit set (RFC 6455 §5.2)")
        }
        if header.isControl {
            if !header.fin {
                return failure(.protocolViolation, .protocolError, "the \(peer) sent a fragmented control frame (RFC 6455 §5.5)")
            }
            if header.length > 125 {
                return failure(
                    .protocolViolation, .protocolError,
                    "the \(peer) sent a control frame of \(header.length) bytes; the limit is 125 (RFC 6455 §5.5)")
            }
            return nil
        }
        if header.opcode == Opcode.continuation {
            if messageOpcode == nil {
                return failure(.protocolViolation, .protocolError, "a continuation frame arrived with no message in progress")
            }
        } else if messageOpcode != nil {
            return failure(
                .protocolViolation, .protocolError,
                "a new \(header.opcode == Opcode.text ? "text" : "binary") frame arrived inside a fragmented message")
        }
        let sofar = messageOpcode == nil ? 0 : messageSize
        if header.length > UInt64(maxMessageSize - sofar) {
            let size = header.length.addingReportingOverflow(UInt64(sofar))
            return failure(
                .messageTooLarge, .messageTooBig,
                "a message of at least \(size.overflow ? "2^64" : String(size.partialValue)) bytes exceeds the maximum message size of \(maxMessageSize) bytes"
            )
        }
        return nil
    }

    /// XORs the masking key over `chunk` (the server role), continuing where the frame's
    /// previous chunk ended.
    private mutating func unmask(_ chunk: inout ByteBuffer) {
        guard let key = maskKey else { return }
        let start = maskOffset
        chunk.withUnsafeMutableReadableBytes { p in
            for i in 0..<p.count {
                p[i] ^= UInt8(truncatingIfNeeded: key >> (24 - 8 * UInt32((start + i) & 3)))
            }
        }
        maskOffset = (start + chunk.readableBytes) & 3
    }

    private mutating func wholeMessage(opcode: UInt8, _ payload: ByteBuffer) -> Action {
        if opcode == Opcode.binary { return .deliver(.binary(Array(payload.readableBytesView))) }
        // The standard library's validating decoder checks the UTF-8 and builds the string in one pass.
        guard let text = payload.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
            return failure(.invalidUTF8, .invalidPayload, "a text message is not valid UTF-8")
        }
        return .deliver(.text(text))
    }

    private mutating func controlFrame(_ opcode: UInt8, _ payload: ByteBuffer) -> Action {
        switch opcode {
        case Opcode.ping: return .pong(payload)
        case Opcode.pong: return .pongReceived
        default: return closeFrame(payload)
        }
    }

    private mutating func closeFrame(_ payload: ByteBuffer) -> Action {
        var data = payload
        switch data.readableBytes {
        case 0:
            return .peerClose(.noStatusReceived, "")
        case 1:
            return failure(.protocolViolation, .protocolError, "the \(peer) sent a close frame with a 1-byte payload")
        default:
            let raw = data.readInteger(as: UInt16.self)!
            let code = WSCloseCode(raw)
            guard code.isValidOnWire else {
                return failure(.protocolViolation, .protocolError, "the \(peer) sent the invalid close code \(raw)")
            }
            let ok = data.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
            guard ok else {
                return failure(.invalidUTF8, .invalidPayload, "the \(peer)'s close reason is not valid UTF-8")
            }
            return .peerClose(code, String(buffer: data))
        }
    }
}

/// Which end of a WebSocket connection a handler plays: it decides masking (clients mask what
/// they send, servers never do) and which frames are accepted.
enum WebSocketRole: Sendable {
    /// The connecting end (``NIOConnector``).
    case client
    /// The accepting end (``WSServer``).
    case server
}
