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

    @Test func urlsInFreeTextAreRedactedWhateverSurroundsThem() {
        let text = "refused (wss://bob:pw@venue.example/ws?listenKey=abc&n=1) after \"ws://h/?token=t1\"; see <http://h/?x=1&api_key=k>"
        #expect(
            Redaction.redactURLs(inText: text)
                == "refused (wss://<redacted>@venue.example/ws?listenKey=<redacted>&n=1) after \"ws://h/?token=<redacted>\"; see <http://h/?x=1&api_key=<redacted>>")
        #expect(Redaction.redactURLs(inText: "no url here: a://") == "no url here: a://")
        #expect(Redaction.redactURLs(inText: "ws://h/?mine=v", extraNames: ["mine"]) == "ws://h/?mine=<redacted>")
        // Text that was redacted before is left as it is (no doubled placeholder).
        let once = "(ws://h:9/?token=<redacted>)"
        #expect(Redaction.redactURLs(inText: once) == once)
    }

    @Test func aMalformedHeaderErrorNeverShowsTheValue() {
        for line in ["Authorization Bearer s3cr3t-t0k", "Bad Name: s3cr3t-t0k", "X-Key:\ns3cr3t-t0k"] {
            do {
                _ = try HTTPHeaderField(parsing: line)
                Issue.record("'\(line)' parsed")
            } catch {
                #expect(!"\(error)".contains("s3cr3t-t0k"), "\(error)")
            }
        }
    }
}
