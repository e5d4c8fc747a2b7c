import Foundation
import Testing
import WireTapeCLI
import WireTapeTestSupport

struct JSONLineTests {
    @Test func escapesPerRFC8259() {
        var line = JSONLine()
        line.add("s", "a\"b\\c\nd\u{01}é")
        line.add("n", -5)
        line.add("b", true)
        #expect(line.finish() == #"{"s":"a\"b\\c\nd\u0001é","n":-5,"b":true}"#)
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 100])
    func base64RoundTrips(_ n: Int) {
        let bytes = (0..<n).map { UInt8(($0 * 37) % 256) }
        let text = Base64.encode(bytes)
        #expect(Data(base64Encoded: text).map(Array.init) == bytes)
        #expect(Base64.decode(text) == bytes)
    }

    @Test func base64RejectsGarbage() {
        #expect(Base64.decode("ab$=") == nil)
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("a=bc") == nil)
    }
}
