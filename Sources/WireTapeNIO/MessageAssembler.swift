import NIOCore
import NIOWebSocket
import WireTapeCore

/// The RFC 6455 receive rules as a pure state machine: it takes decoded frames and says what
/// to do, with no I/O, so every rule is testable on its own. One engine for both ends: a
/// client (``NIOConnector``) requires unmasked frames from the server, a server (``WSServer``)
/// requires masked frames from the client and unmasks them.
///
/// Enforced here: masking by role (RFC 6455 §5.1); no reserved bits (no extension is negotiated); known
/// opcodes only; continuation only inside a fragmented message and no new data frame inside
/// one; fail-fast UTF-8 validation of text across fragments; the maximum message size; the
/// close frame's payload (length, code, UTF-8 reason). Control frame size and fragmentation
/// are already checked by NIO's frame decoder.
struct MessageAssembler {
    /// What the connection handler must do for a frame.
    enum Action {
        /// Nothing to deliver yet (a fragment was buffered).
        case none
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

    let maxMessageSize: Int
    /// Which end this is.
    let role: WebSocketRole
    private var partialOpcode: WebSocketOpcode?
    private var partial: ByteBuffer?
    private var partialSize = 0
    private var utf8 = UTF8Validator()

    init(maxMessageSize: Int, role: WebSocketRole = .client) {
        self.maxMessageSize = maxMessageSize
        self.role = role
    }

    /// Who sent the frames this assembler reads, for messages.
    private var peer: String { role == .client ? "server" : "client" }

    private func failure(_ code: WSError.Code, _ close: WSCloseCode, _ message: String) -> Action {
        .fail(WSError(code, message, closeCode: close))
    }

    /// Decides what to do with one frame from the peer.
    mutating func receive(_ received: WebSocketFrame) -> Action {
        var frame = received
        switch (role, frame.maskKey) {
        case (.client, .some):
            return failure(.protocolViolation, .protocolError, "the server sent a masked frame (RFC 6455 §5.1)")
        case (.server, nil):
            return failure(.protocolViolation, .protocolError, "the client sent an unmasked frame (RFC 6455 §5.1)")
        case (.server, .some):
            frame.data = frame.unmaskedData
            frame.maskKey = nil
        case (.client, nil):
            break
        }
        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            return failure(
                .protocolViolation, .protocolError,
                "the \(peer) set reserved bits (RSV1-3) without a negotiated extension")
        }
        switch frame.opcode {
        case .ping:
            return .pong(frame.data)
        case .pong:
            return .pongReceived
        case .connectionClose:
            return closeFrame(frame.data)
        case .text, .binary:
            if partialOpcode != nil {
                return failure(
                    .protocolViolation, .protocolError,
                    "a new \(frame.opcode == .text ? "text" : "binary") frame arrived inside a fragmented message")
            }
            return dataFrame(opcode: frame.opcode, fin: frame.fin, payload: frame.data)
        case .continuation:
            guard let opcode = partialOpcode else {
                return failure(
                    .protocolViolation, .protocolError, "a continuation frame arrived with no message in progress")
            }
            return dataFrame(opcode: opcode, fin: frame.fin, payload: frame.data)
        default:
            return failure(
                .protocolViolation, .protocolError, "the \(peer) used the reserved opcode \(frame.opcode)")
        }
    }

    private mutating func dataFrame(opcode: WebSocketOpcode, fin: Bool, payload: ByteBuffer) -> Action {
        let size = partialSize + payload.readableBytes
        if size > maxMessageSize {
            return failure(
                .messageTooLarge, .messageTooBig,
                "a message of at least \(size) bytes exceeds the maximum message size of \(maxMessageSize) bytes")
        }
        if fin && partialOpcode == nil {
            // The common case, a single-frame message: the standard library's validating
            // decoder checks the UTF-8 and builds the string in one pass.
            if opcode == .binary { return .deliver(.binary(Array(payload.readableBytesView))) }
            guard let text = payload.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
                return failure(.invalidUTF8, .invalidPayload, "a text message is not valid UTF-8")
            }
            return .deliver(.text(text))
        }
        if opcode == .text {
            let ok = payload.withUnsafeReadableBytes { utf8.feed($0) }
            if !ok || (fin && !utf8.isComplete) {
                return failure(.invalidUTF8, .invalidPayload, "a text message is not valid UTF-8")
            }
        }
        if partial == nil {
            partial = payload
        } else {
            var copy = payload
            partial!.writeBuffer(&copy)
        }
        partialOpcode = opcode
        partialSize = size
        guard fin else { return .none }
        let message = partial!
        partial = nil
        partialOpcode = nil
        partialSize = 0
        utf8 = UTF8Validator()
        return .deliver(Self.makeFrame(opcode, message))
    }

    private static func makeFrame(_ opcode: WebSocketOpcode, _ payload: ByteBuffer) -> Frame {
        if opcode == .text {
            // Validated above, so decoding cannot substitute replacement characters.
            return .text(String(buffer: payload))
        }
        return .binary(Array(payload.readableBytesView))
    }

    private func closeFrame(_ payload: ByteBuffer) -> Action {
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
