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

