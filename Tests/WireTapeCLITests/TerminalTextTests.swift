import Testing
@testable import WireTapeCLI

@Suite struct TerminalTextTests {
    @Test func controlCharactersBecomeVisibleEscapes() {
        #expect(TerminalText.safe("plain ✓ text\twith tab") == "plain ✓ text\twith tab")
        #expect(TerminalText.safe("\u{1b}]0;pwned\u{07}") == "\\u{1b}]0;pwned\\u{7}")
        #expect(TerminalText.safe("a\u{9b}31mb\u{7f}\nc\r") == "a\\u{9b}31mb\\u{7f}\\u{a}c\\u{d}")
    }

    @Test func prettyRecordsAreEscaped() {
        let line = CatCommand.pretty(.init(
            seq: 1, epoch: 1, wallNanos: 0, monoNanos: 0,
            body: .frame(direction: .inbound, opcode: .text, payload: Array("\u{1b}[2J gone".utf8))))
        #expect(!line.contains("\u{1b}"))
        #expect(line.contains("\\u{1b}[2J gone"))
    }
}
