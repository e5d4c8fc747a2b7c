import NIOCore
import NIOWebSocket
import Testing
import WireTapeCore

@testable import WireTapeNIO

struct UTF8ValidatorTests {
    @Test func acceptsValidTextAndRejectsTheClassicTraps() {
        #expect(UTF8Validator.isValid(Array("héllo wörld €𝄞".utf8)))
        let invalid: [[UInt8]] = [
            [0xC0, 0x80],  // overlong NUL
            [0xE0, 0x80, 0x80],  // overlong
            [0xED, 0xA0, 0x80],  // UTF-16 surrogate
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],
            [0x80],  // lone continuation
            [0xCE],  // truncated
        ]
        for bytes in invalid { #expect(!UTF8Validator.isValid(bytes), "\(bytes)") }
    }

    @Test func failsFastAcrossFragments() {
        var v = UTF8Validator()
        let prefix = v.feed([0xCE])  // a valid prefix
        #expect(prefix && !v.isComplete)
        let rest = v.feed([0xBA])
        #expect(rest && v.isComplete)
        let surrogate = v.feed([0xED, 0xA0])
        #expect(!surrogate, "the surrogate is refused at its second byte")
    }
}
