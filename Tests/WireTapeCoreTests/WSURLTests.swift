import Testing
import WireTapeCore

struct WSURLTests {
    @Test func parsesSchemesPortsAndTargets() throws {
        let a = try WSURL("wss://stream.binance.com:9443/ws/btcusdt@trade")
        #expect(a.isSecure && a.host == "stream.binance.com" && a.port == 9443 && a.requestTarget == "/ws/btcusdt@trade")
        #expect(a.hostHeader == "stream.binance.com:9443")
        let b = try WSURL("ws://example.com")
        #expect(!b.isSecure && b.port == 80 && b.requestTarget == "/" && b.hostHeader == "example.com")
        let c = try WSURL("ws://example.com?x=1")
        #expect(c.requestTarget == "/?x=1")
        let d = try WSURL("ws://[::1]:8080/feed")
        #expect(d.host == "::1" && d.port == 8080 && d.hostIsIPAddress && d.hostHeader == "[::1]:8080")
        #expect(try WSURL("wss://127.0.0.1/").hostIsIPAddress)
        #expect(try WSURL("WSS://Example.com:443/").hostHeader == "Example.com")
    }

    @Test(arguments: [
        "http://example.com/", "ws://", "ws://host:0/", "ws://host:70000/", "ws://host:abc/",
        "ws://user:pw@host/", "ws://host/#frag", "ws://[::1/",
    ])
    func rejectsInvalidURLsWithACode(_ text: String) {
        #expect {
            _ = try WSURL(text)
        } throws: { error in
            (error as? WSError)?.code == .invalidURL && (error as? WSError)?.message.contains(text) == true
        }
    }

    @Test func redactedDescriptionHidesSecretQueryValues() throws {
        let url = try WSURL("wss://venue.example/ws?listenKey=abc123&streams=btc&token=zzz")
        #expect(url.redactedDescription == "wss://venue.example/ws?listenKey=<redacted>&streams=btc&token=<redacted>")
    }
}

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

struct WSErrorTests {
    func rejected(_ status: Int) -> WSError { WSError(.handshakeRejected, "x", httpStatus: status) }

    @Test func handshakeStatusClassification() {
        for s in [400, 401, 403, 404, 410] { #expect(rejected(s).failureClass == .permanent, "\(s)") }
        for s in [408, 429, 500, 502, 503] { #expect(rejected(s).failureClass == .transient, "\(s)") }
    }

    @Test func codeClassification() {
        #expect(WSError(.tlsFailure, "").failureClass == .permanent)
        #expect(WSError(.invalidURL, "").failureClass == .permanent)
        for code: WSError.Code in [.dnsFailure, .connectionRefused, .connectTimeout, .connectionLost, .closedByPeer] {
            #expect(WSError(code, "").failureClass == .transient, "\(code)")
        }
    }

    @Test func retryAfterIsParsed() {
        let e = WSError(.handshakeRejected, "", httpStatus: 429, responseHeaders: [HTTPHeaderField("Retry-After", " 12 ")])
        #expect(e.retryAfterSeconds == 12)
        #expect(WSError(.handshakeRejected, "").retryAfterSeconds == nil)
    }

    @Test func closeCodes() {
        #expect(WSCloseCode.normalClosure.isClean && WSCloseCode.goingAway.isClean && !WSCloseCode.internalError.isClean)
        #expect(!WSCloseCode.noStatusReceived.isValidOnWire && !WSCloseCode.abnormalClosure.isValidOnWire)
        #expect(WSCloseCode(4001).isValidOnWire && !WSCloseCode(999).isValidOnWire && !WSCloseCode(1016).isValidOnWire)
    }
}
