import Testing
import WireTapeCore

@Suite("SecretScrubber and RedactionRules")
struct SecretScrubberTests {
    @Test func replacesEveryKnownValueAndMasksFields() {
        var s = SecretScrubber(fields: ["sign", "apiKey"])
        s.add(value: "k3y-abc123")
        s.add(value: "ab")  // too short to scrub by value
        let input = #"{"op":"auth","args":["k3y-abc123"],"apiKey": "zz", "sign" : 12.5e3,"nested":{"sign":{"a":[1,"}"]}},"x":"ab"}"#
        let out = s.scrub(input)
        #expect(out == #"{"op":"auth","args":["<redacted>"],"apiKey": "<redacted>", "sign" : "<redacted>","nested":{"sign":"<redacted>"},"x":"ab"}"#)
        #expect(s.scrub(Array("nothing here".utf8)) == nil)
        // A field name appearing as a value is not a member.
        #expect(s.scrub(#"{"op":"sign","v":1}"#) == #"{"op":"sign","v":1}"#)
    }

    @Test func percentDecodedValuesAreScrubbedToo() {
        var s = SecretScrubber()
        s.add(value: "a%2Bb%3Dc")
        #expect(s.scrub("x a+b=c y a%2Bb%3Dc") == "x <redacted> y <redacted>")
    }

    @Test func rulesFindSecretValuesInURLsAndHeaders() {
        let rules = RedactionRules(extraNames: ["Acct"])
        let url = "wss://user:pw12345@venue.test/ws?token=TTTT1&symbol=BTC&acct=A99999"
        let values = rules.secretValues(url: url, headers: [HTTPHeaderField("Authorization", "Bearer XYZ123"), HTTPHeaderField("Origin", "o")])
        #expect(values.contains("Bearer XYZ123") && values.contains("TTTT1") && values.contains("A99999") && values.contains("pw12345"))
        #expect(!values.contains("BTC") && !values.contains("o"))
        #expect(rules.redact(url: url) == "wss://<redacted>@venue.test/ws?token=<redacted>&symbol=BTC&acct=<redacted>")
    }
}
