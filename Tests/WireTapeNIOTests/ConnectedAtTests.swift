import Testing
import WireTapeCore
import WireTapeNIO
import WireTapeTestSupport

/// `ConnectionInfo.connectedAt` is the handshake's completion, which causally precedes the
/// connection's frames: a replay pacing on recorded times must never see a negative delay.
@Suite(.serialized)
struct ConnectedAtTests {
    let peer: PythonPeer
    init() throws { peer = try PythonPeer() }

    @Test func connectedAtIsNotLaterThanTheFirstFrameOfTheHandshakeRead() async throws {
        // The peer sends its messages right after the 101, so they usually share its socket read.
        for _ in 0..<5 {
            let c = try await NIOConnector().connect(ConnectRequest(url: try WSURL(peer.url("/text?n=3"))))
            var frames: [InboundFrame] = []
            for try await f in c.inbound { frames.append(f) }
            #expect(frames.count == 3)
            #expect(c.info.connectedAt.monotonicNanos > 0)
            #expect(c.info.connectedAt.monotonicNanos <= frames[0].received.monotonicNanos)
            #expect(c.info.connectedAt.wallNanos <= frames[0].received.wallNanos)
        }
    }
}
