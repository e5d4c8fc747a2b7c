import Testing
import WireTapeCore
@testable import WireTapeNIO

/// The package's WebSocket server against the package's client, on 127.0.0.1 port 0.
@Suite struct WSServerTests {
    func request(_ server: WSServer, path: String = "") throws -> ConnectRequest {
        ConnectRequest(url: try WSURL(server.url + path))
    }

    @Test("a refusal reaches the client as the HTTP status with its Retry-After; a reset as a lost handshake")
    func refusals() async throws {
        let server = try await WSServer.start { request in
            request.uri == "/busy" ? .reject(status: 503, headers: [HTTPHeaderField("Retry-After", "7")]) : .reset
        }
        defer { Task { await server.stop() } }
        do {
            _ = try await NIOConnector().connect(try request(server, path: "busy"))
            Issue.record("a refused upgrade cannot connect")
        } catch let e as WSError {
            #expect(e.code == .handshakeRejected)
            #expect(e.httpStatus == 503)
            #expect(e.retryAfterSeconds == 7)
        }
        do {
            _ = try await NIOConnector().connect(try request(server))
            Issue.record("a reset connection cannot connect")
        } catch let e as WSError {
            #expect(e.code == .connectionLost || e.code == .ioError, "\(e)")
        }
    }

    @Test("an accepted client's messages arrive unmasked; the server's close code and reason reach the client")
    func acceptEchoClose() async throws {
        let server = try await WSServer.start { _ in
            .accept { client in
                do {
                    for try await f in client.inbound {
                        try await client.sink.send(f.frame)
                        if case .text("bye") = f.frame { break }
                    }
                } catch {
                    Issue.record("the server side failed: \(error)")
                }
                await client.sink.close(code: WSCloseCode(4000), reason: "as recorded")
            }
        }
        defer { Task { await server.stop() } }
        let c = try await NIOConnector().connect(try request(server))
        try await c.sink.send(.text("héllo"))
        try await c.sink.send(.binary([0, 1, 255]))
        try await c.sink.send(.text("bye"))
        var got: [Frame] = []
        var end: WSError?
        do { for try await f in c.inbound { got.append(f.frame) } } catch { end = error as? WSError }
        #expect(got == [.text("héllo"), .binary([0, 1, 255]), .text("bye")])
        #expect(end?.code == .closedByPeer)
        #expect(end?.closeCode == WSCloseCode(4000))
        #expect(end?.closeReason == "as recorded")
    }
}
