import Testing
import WireTapeCore

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
