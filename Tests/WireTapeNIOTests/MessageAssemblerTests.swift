import NIOCore
import Testing
import WireTapeCore

@testable import WireTapeNIO

/// The protocol engine over raw bytes: every receive rule, frames cut at every byte, several
/// frames in one read, both roles.
struct MessageAssemblerTests {
    /// A comparable rendering of an action.
    enum Seen: Equatable, CustomStringConvertible {
        case deliver(Frame)
        case pong([UInt8])
        case pongReceived
        case peerClose(UInt16, String)
        case fail(WSError.Code, UInt16?)

        init(_ action: MessageAssembler.Action) {
            switch action {
            case .deliver(let f): self = .deliver(f)
            case .pong(let p): self = .pong(Array(p.readableBytesView))
            case .pongReceived: self = .pongReceived
            case .peerClose(let code, let reason): self = .peerClose(code.rawValue, reason)
            case .fail(let e): self = .fail(e.code, e.closeCode?.rawValue)
            }
        }

        var description: String {
            switch self {
            case .deliver(let f): "deliver(\(f))"
            case .pong(let p): "pong(\(p))"
            case .pongReceived: "pongReceived"
            case .peerClose(let c, let r): "peerClose(\(c), \(r))"
            case .fail(let c, let cc): "fail(\(c), \(cc.map(String.init) ?? "-"))"
            }
        }
    }

    /// Feeds `reads` one after the other and collects every action.
    static func run(_ a: inout MessageAssembler, _ reads: [[UInt8]]) -> [Seen] {
        var seen: [Seen] = []
        for bytes in reads {
            var input = ByteBuffer(bytes: bytes)
            while let action = a.next(&input) { seen.append(Seen(action)) }
            #expect(input.readableBytes == 0, "every read is consumed")
        }
        return seen
    }

    static func run(_ reads: [[UInt8]], max: Int = 1 << 20, role: WebSocketRole = .client) -> [Seen] {
        var a = MessageAssembler(maxMessageSize: max, role: role)
        return run(&a, reads)
    }

    static let fail1002 = Seen.fail(.protocolViolation, 1002)
    static let fail1007 = Seen.fail(.invalidUTF8, 1007)
    static let fail1009 = Seen.fail(.messageTooLarge, 1009)

    /// A conversation that uses every path: 7-, 16- and 64-bit lengths, fragments with a
    /// control frame between them and a code point cut across fragments, an empty message,
    /// pings, pongs and a close.
    static func conversation(mask: [UInt8]?) -> (bytes: [UInt8], expected: [Seen]) {
        let big = [UInt8]((0..<300).map { UInt8($0 % 251) })
        let euro = Array("€".utf8)  // 3 bytes, cut across fragments
        var bytes: [UInt8] = []
        bytes += WireFrames.text("hello", mask: mask)
        bytes += WireFrames.frame(0x2, big, mask: mask)
        bytes += WireFrames.frame(0x1, Array("long".utf8), mask: mask, length: .sixtyFour)
        bytes += WireFrames.frame(0x1, Array("ab".utf8) + euro.prefix(1), fin: false, mask: mask)
        bytes += WireFrames.frame(0x9, [1, 2, 3], mask: mask)
        bytes += WireFrames.frame(0x0, Array(euro.dropFirst()), fin: false, mask: mask)
        bytes += WireFrames.frame(0x0, [], fin: false, mask: mask)
        bytes += WireFrames.frame(0x0, Array("cd".utf8), mask: mask)
        bytes += WireFrames.frame(0xA, [9], mask: mask)
        bytes += WireFrames.frame(0x2, [], mask: mask)
        bytes += WireFrames.frame(0x2, [7], fin: false, mask: mask, length: .sixteen)
        bytes += WireFrames.frame(0x0, [8], mask: mask)
        bytes += WireFrames.frame(0x8, [0x03, 0xE8] + Array("bye".utf8), mask: mask)
        let expected: [Seen] = [
            .deliver(.text("hello")), .deliver(.binary(big)), .deliver(.text("long")), .pong([1, 2, 3]),
            .deliver(.text("ab€cd")), .pongReceived, .deliver(.binary([])), .deliver(.binary([7, 8])),
            .peerClose(1000, "bye"),
        ]
        return (bytes, expected)
    }

    @Test func severalFramesInOneRead() {
        let (bytes, expected) = Self.conversation(mask: nil)
        #expect(Self.run([bytes]) == expected)
    }

    @Test(arguments: [WebSocketRole.client, .server])
    func framesCutAtEveryByteBoundary(role: WebSocketRole) {
        let (bytes, expected) = Self.conversation(mask: role == .server ? [0x37, 0xFA, 0x21, 0x3D] : nil)
        for cut in 0...bytes.count {
            let seen = Self.run([Array(bytes[..<cut]), Array(bytes[cut...])], role: role)
            #expect(seen == expected, "cut at byte \(cut)")
        }
        // Three pieces, at every pair of cuts in the first 40 bytes (headers cut twice).
        for i in 0...40 {
            for j in i...40 {
                let seen = Self.run([Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])], role: role)
                #expect(seen == expected, "cuts at \(i) and \(j)")
            }
        }
        #expect(Self.run(bytes.map { [$0] }, role: role) == expected, "one byte per read")
    }

    @Test func maskingByRole() {
        #expect(Self.run([WireFrames.text("x", mask: [1, 2, 3, 4])]) == [Self.fail1002], "a server must not mask")
        #expect(Self.run([WireFrames.text("x")], role: .server) == [Self.fail1002], "a client must mask")
        #expect(Self.run([WireFrames.text("x", mask: [1, 2, 3, 4])], role: .server) == [.deliver(.text("x"))])
    }

    @Test(arguments: [UInt8(1), 2, 4, 3, 7])
    func reservedBitsFail(rsv: UInt8) {
        #expect(Self.run([WireFrames.frame(0x1, [65], rsv: rsv)]) == [Self.fail1002])
        #expect(Self.run([WireFrames.frame(0x9, [], rsv: rsv)]) == [Self.fail1002])
    }

    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    func reservedOpcodesFail(opcode: UInt8) {
        #expect(Self.run([WireFrames.frame(opcode, [1])]) == [Self.fail1002])
    }

    @Test func controlFrameRules() {
        #expect(Self.run([WireFrames.frame(0x9, [UInt8](repeating: 1, count: 125))]) == [.pong([UInt8](repeating: 1, count: 125))])
        #expect(Self.run([WireFrames.frame(0x9, [UInt8](repeating: 1, count: 126))]) == [Self.fail1002], "over 125 bytes")
        #expect(Self.run([WireFrames.frame(0x9, [1], fin: false)]) == [Self.fail1002], "fragmented")
        #expect(Self.run([WireFrames.frame(0x8, [], fin: false)]) == [Self.fail1002], "fragmented close")
        // The length is checked from the header alone: no payload needs to arrive.
        #expect(Self.run([Array(WireFrames.frame(0xA, [], declaredLength: 1000))]) == [Self.fail1002])
    }

    @Test func sixtyFourBitLengthWithTheTopBitSetFails() {
        let header = WireFrames.frame(0x2, [], length: .sixtyFour, declaredLength: 1 << 63)
        #expect(Self.run([header], max: Int.max) == [Self.fail1002])
    }

    @Test func fragmentationRules() {
        #expect(Self.run([WireFrames.frame(0x0, [65])]) == [Self.fail1002], "continuation with nothing to continue")
        #expect(Self.run([WireFrames.text("a", fin: false) + WireFrames.text("b")]) == [Self.fail1002], "text inside a message")
        #expect(
            Self.run([WireFrames.text("a", fin: false) + WireFrames.frame(0x2, [1])]) == [Self.fail1002], "binary inside a message")
    }

    @Test func maximumMessageSizeIsCheckedBeforeBuffering() {
        #expect(Self.run([WireFrames.text("abcde")], max: 5) == [.deliver(.text("abcde"))], "exactly the maximum")
        // A 1 GiB frame announced by its header fails before any payload arrives.
        #expect(Self.run([WireFrames.frame(0x2, [], declaredLength: 1 << 30)], max: 5) == [Self.fail1009])
        #expect(Self.run([WireFrames.frame(0x2, [], declaredLength: UInt64(Int64.max))], max: 5) == [Self.fail1009])
        // Across fragments.
        let fragments = WireFrames.text("abc", fin: false) + WireFrames.frame(0x0, Array("def".utf8))
        #expect(Self.run([fragments], max: 5) == [Self.fail1009])
        // A later message starts from zero again.
        let two = WireFrames.text("abc", fin: false) + WireFrames.frame(0x0, Array("de".utf8)) + WireFrames.text("fghij")
        #expect(Self.run([two], max: 5) == [.deliver(.text("abcde")), .deliver(.text("fghij"))])
    }

    @Test func invalidUTF8FailsAsSoonAsItArrivesEvenInsideOneFrame() {
        // One frame of 20 bytes announced; only a valid prefix and the bad byte have arrived.
        let valid: [UInt8] = [0x61, 0x62, 0xC3, 0xA9, 0xE2, 0x82, 0xAC]  // "abé€"
        let payload = valid + [0xF4, 0x90] + [UInt8](repeating: 0x61, count: 11)
        let bytes = WireFrames.frame(0x1, payload)
        let head = Array(bytes.prefix(2 + valid.count))
        var a = MessageAssembler(maxMessageSize: 100)
        #expect(Self.run(&a, [head]) == [], "valid so far")
        #expect(Self.run(&a, [[0xF4]]) == [], "still a valid prefix")
        #expect(Self.run(&a, [[0x90]]) == [Self.fail1007], "fails on the byte that makes it invalid, before the frame ends")
        // Across fragments, and a code point cut by the final fragment.
        #expect(Self.run([WireFrames.frame(0x1, [0xED, 0xA0, 0x80], fin: false)]) == [Self.fail1007])
        #expect(Self.run([WireFrames.frame(0x1, [0x61, 0xCE])]) == [Self.fail1007], "truncated at fin, one frame")
        #expect(
            Self.run([WireFrames.frame(0x1, [0x61, 0xCE], fin: false) + WireFrames.frame(0x0, [])]) == [Self.fail1007],
            "truncated at fin, fragments")
        #expect(Self.run([WireFrames.frame(0x2, [0xFF])]) == [.deliver(.binary([0xFF]))], "binary is not validated")
    }

    @Test func closeFrameRules() {
        #expect(Self.run([WireFrames.frame(0x8, [])]) == [.peerClose(1005, "")])
        #expect(Self.run([WireFrames.frame(0x8, [0x03, 0xE9] + Array("bye".utf8))]) == [.peerClose(1001, "bye")])
        #expect(Self.run([WireFrames.frame(0x8, [0x03])]) == [Self.fail1002], "1-byte payload")
        #expect(Self.run([WireFrames.frame(0x8, [0x03, 0xED])]) == [Self.fail1002], "1005 on the wire")
        #expect(Self.run([WireFrames.frame(0x8, [0x03, 0xE8, 0xFF])]) == [Self.fail1007], "reason not UTF-8")
    }

    @Test func afterAFailureOnlyThePeersCloseIsReported() {
        // What came before the failure is reported first; after it, data, pings and even
        // invalid frames are skipped, and the close answering ours is still found.
        let bytes =
            WireFrames.text("before") + WireFrames.frame(0x1, Array("bad".utf8), rsv: 1) + WireFrames.frame(0x9, [1])
            + WireFrames.text("after") + WireFrames.frame(0x5, [1, 2]) + WireFrames.frame(0x8, [0x03, 0xEA])
        let expected: [Seen] = [.deliver(.text("before")), Self.fail1002, .peerClose(1002, "")]
        #expect(Self.run([bytes]) == expected)
        for cut in 0...bytes.count {
            #expect(Self.run([Array(bytes[..<cut]), Array(bytes[cut...])]) == expected, "cut at \(cut)")
        }
        // The rest of a frame that failed on its UTF-8 is skipped too.
        let utf8 = WireFrames.frame(0x1, [0x61, 0xFF, 0x61, 0x61]) + WireFrames.frame(0x8, [0x03, 0xEF])
        #expect(Self.run([Array(utf8.prefix(4)), Array(utf8.dropFirst(4))]) == [Self.fail1007, .peerClose(1007, "")])
    }
}
