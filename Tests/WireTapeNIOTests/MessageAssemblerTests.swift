import NIOCore
import NIOWebSocket
import Testing
import WireTapeCore

@testable import WireTapeNIO

struct MessageAssemblerTests {
    let allocator = ByteBufferAllocator()
    func frame(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true, rsv1: Bool = false) -> WebSocketFrame {
        WebSocketFrame(fin: fin, rsv1: rsv1, opcode: opcode, data: allocator.buffer(bytes: bytes))
    }
    func text(_ s: String, fin: Bool = true) -> WebSocketFrame { frame(.text, Array(s.utf8), fin: fin) }

    func failure(_ action: MessageAssembler.Action) -> (WSError.Code, WSCloseCode?)? {
        if case .fail(let e) = action { return (e.code, e.closeCode) }
        return nil
    }
    func delivered(_ action: MessageAssembler.Action) -> Frame? {
        if case .deliver(let f) = action { return f }
        return nil
    }

    @Test func singleFramesAreDelivered() {
        var a = MessageAssembler(maxMessageSize: 100)
        #expect(delivered(a.receive(text("hi"))) == .text("hi"))
        #expect(delivered(a.receive(frame(.binary, [1, 2]))) == .binary([1, 2]))
    }

    @Test func fragmentsAreReassembledWithControlFramesInBetween() {
        var a = MessageAssembler(maxMessageSize: 100)
        guard case .none = a.receive(text("ab", fin: false)) else { Issue.record("expected buffering"); return }
        guard case .pong(let p) = a.receive(frame(.ping, [7])) else { Issue.record("expected a pong"); return }
        #expect(Array(p.readableBytesView) == [7])
        guard case .none = a.receive(frame(.continuation, Array("cd".utf8), fin: false)) else { Issue.record(""); return }
        #expect(delivered(a.receive(frame(.continuation, Array("ef".utf8)))) == .text("abcdef"))
        #expect(delivered(a.receive(text("next"))) == .text("next"), "state resets after a message")
    }

    @Test func protocolViolationsCloseWith1002() {
        var a = MessageAssembler(maxMessageSize: 100)
        #expect(failure(a.receive(frame(.text, [65], rsv1: true)))! == (.protocolViolation, .protocolError))
        var b = MessageAssembler(maxMessageSize: 100)
        #expect(failure(b.receive(frame(WebSocketOpcode(encodedWebSocketOpcode: 3)!, [])))! == (.protocolViolation, .protocolError))
        var c = MessageAssembler(maxMessageSize: 100)
        #expect(failure(c.receive(frame(.continuation, [65])))! == (.protocolViolation, .protocolError))
        var d = MessageAssembler(maxMessageSize: 100)
        _ = d.receive(text("a", fin: false))
        #expect(failure(d.receive(text("b")))! == (.protocolViolation, .protocolError))
        var e = MessageAssembler(maxMessageSize: 100)
        var masked = text("x")
        masked.maskKey = WebSocketMaskingKey([1, 2, 3, 4])
        #expect(failure(e.receive(masked))! == (.protocolViolation, .protocolError))
    }

    @Test func invalidUTF8ClosesWith1007AsSoonAsItIsKnown() {
        var a = MessageAssembler(maxMessageSize: 100)
        #expect(failure(a.receive(frame(.text, [0xED, 0xA0, 0x80], fin: false)))! == (.invalidUTF8, .invalidPayload))
        var b = MessageAssembler(maxMessageSize: 100)
        #expect(failure(b.receive(frame(.text, [0x61, 0xCE])))! == (.invalidUTF8, .invalidPayload), "truncated at fin")
        var c = MessageAssembler(maxMessageSize: 100)
        #expect(delivered(c.receive(frame(.binary, [0xFF]))) == .binary([0xFF]), "binary is not validated")
    }

    @Test func oversizedMessagesCloseWith1009() {
        var a = MessageAssembler(maxMessageSize: 5)
        _ = a.receive(text("abc", fin: false))
        #expect(failure(a.receive(frame(.continuation, Array("def".utf8))))! == (.messageTooLarge, .messageTooBig))
        var b = MessageAssembler(maxMessageSize: 5)
        #expect(delivered(b.receive(text("abcde"))) == .text("abcde"), "exactly the maximum is accepted")
    }

    @Test func closeFramesAreParsedAndChecked() {
        var a = MessageAssembler(maxMessageSize: 100)
        guard case .peerClose(let code, let reason) = a.receive(frame(.connectionClose, [0x03, 0xE9] + Array("bye".utf8))) else {
            Issue.record("expected a close")
            return
        }
        #expect(code == .goingAway && reason == "bye")
        guard case .peerClose(let none, _) = a.receive(frame(.connectionClose, [])) else { Issue.record(""); return }
        #expect(none == .noStatusReceived)
        #expect(failure(a.receive(frame(.connectionClose, [0x03])))! == (.protocolViolation, .protocolError))
        #expect(failure(a.receive(frame(.connectionClose, [0x03, 0xED])))! == (.protocolViolation, .protocolError), "1005 on the wire")
        #expect(failure(a.receive(frame(.connectionClose, [0x03, 0xE8, 0xFF])))! == (.invalidUTF8, .invalidPayload))
    }
}

