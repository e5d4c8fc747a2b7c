import Testing
import WireTapeCore

struct RedactionAndHeaderTests {
    @Test func secretHeaderNamesAreRecognised() {
        // Every credential header the venues WireTape records use, spelled as they send them,
        // and names caught by their parts (token, secret, key, ...).
        let venueHeaders = [
            "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-MBX-APIKEY", "CB-ACCESS-KEY",
            "CB-ACCESS-SIGN", "CB-ACCESS-PASSPHRASE", "OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-PASSPHRASE",
            "X-API-KEY", "listenKey", "jwt",
        ]
        let byPart = [
            "X-Auth-Token", "api_key", "Session-Id", "X-Client-Secret", "password", "X-Passphrase", "X-Signature",
            "apikey", "X-Api-Key-Id", "X-Credential", "private-key",
        ]
        for name in venueHeaders + byPart + venueHeaders.map({ $0.lowercased() }) + venueHeaders.map({ $0.uppercased() }) {
            #expect(Redaction.isSecret(name: name), "\(name)")
        }
        for name in ["Origin", "User-Agent", "Accept", "X-Request-Id"] {
            #expect(!Redaction.isSecret(name: name), "\(name)")
        }
        #expect(HTTPHeaderField("Authorization", "Bearer x").description == "Authorization: <redacted>")
    }

    @Test func urlTextLosesUserInfoAndSecretQueryValues() {
        #expect(Redaction.redact(url: "wss://user:pw@venue.example/ws?token=a&x=1") == "wss://<redacted>@venue.example/ws?token=<redacted>&x=1")
        #expect(Redaction.redact(url: "ws://host/path@x") == "ws://host/path@x", "an @ after the authority is not user info")
        #expect(Redaction.redact(url: "not a url") == "not a url")
    }

    @Test func headerLinesParseAndRejectMalformedInput() throws {
        let h = try HTTPHeaderField(parsing: "X-Test:  some value ")
        #expect(h.name == "X-Test" && h.value == "some value")
        #expect(throws: HeaderParseError.self) { try HTTPHeaderField(parsing: "no colon") }
        #expect(throws: HeaderParseError.self) { try HTTPHeaderField(parsing: "bad name: v") }
        #expect(throws: HeaderParseError.self) { try HTTPHeaderField(parsing: ": v") }
    }
}
