import NIOCore
import NIOWebSocket
import Testing
import WireTapeCore

@testable import WireTapeNIO

struct RequestHeadTests {
    @Test func credentialsGoIntoTheRequestAndTheURLStaysClean() throws {
        let request = ConnectRequest(
            url: try WSURL("wss://venue.example:9443/ws?streams=btc"), headers: [HTTPHeaderField("Origin", "https://x")],
            subprotocols: ["a", "b"])
        let creds = Credentials(
            headers: [HTTPHeaderField("X-MBX-APIKEY", "k")], cookies: [("sid", "1"), ("t", "2")], query: [("token", "a b&c")])
        let head = NIOConnector.requestHead(request, credentials: creds)
        #expect(head.uri == "/ws?streams=btc&token=a%20b%26c")
        #expect(head.headers.first(name: "Host") == "venue.example:9443")
        #expect(head.headers.first(name: "Origin") == "https://x")
        #expect(head.headers.first(name: "X-MBX-APIKEY") == "k")
        #expect(head.headers.first(name: "Cookie") == "sid=1; t=2")
        #expect(head.headers.first(name: "Sec-WebSocket-Protocol") == "a, b")
        #expect(head.headers.first(name: "User-Agent") == "WireTape/0.1")
    }
}
