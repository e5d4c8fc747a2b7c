import Testing
import WireTapeCore
import WireTapeMock
@testable import WireTapeResilience

@Suite("CircuitBreaker")
struct CircuitBreakerTests {
    static let permanent: [WSError] = [
        WSError(.handshakeRejected, "401", httpStatus: 401),
        WSError(.handshakeRejected, "403", httpStatus: 403),
        WSError(.handshakeRejected, "404", httpStatus: 404),
        WSError(.tlsFailure, "certificate verify failed"),
        WSError(.invalidURL, "bad"),
    ]
    static let transient: [WSError] = [
        WSError(.connectionRefused, "refused"),
        WSError(.connectionLost, "reset", closeCode: .abnormalClosure),
        WSError(.connectTimeout, "timeout"),
        WSError(.handshakeTimeout, "timeout"),
        WSError(.handshakeRejected, "500", httpStatus: 500),
        WSError(.handshakeRejected, "503", httpStatus: 503),
        WSError(.handshakeRejected, "429", httpStatus: 429),
        WSError(.dnsFailure, "nxdomain"),
    ]

    @Test(arguments: permanent) func permanentFailuresStopAtOnce(_ e: WSError) {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        guard case .unrecoverable = b.attemptFailed(e, at: .zero) else {
            Issue.record("\(e) should be unrecoverable")
            return
        }
    }

    @Test(arguments: transient) func transientFailuresAreRetriedForever(_ e: WSError) {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        for i in 0..<1000 {
            let r8 = b.attemptFailed(e, at: .seconds(i))
            #expect(r8 == .retry(minimumDelay: nil))
        }
    }

    @Test func retryAfterIsHonouredAndCapped() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(maximumRetryAfter: .seconds(60)))
        let e429 = WSError(.handshakeRejected, "429", httpStatus: 429, responseHeaders: [HTTPHeaderField("Retry-After", "7")])
        let r9 = b.attemptFailed(e429, at: .zero)
        #expect(r9 == .retry(minimumDelay: .seconds(7)))
        let e503 = WSError(.handshakeRejected, "503", httpStatus: 503, responseHeaders: [HTTPHeaderField("retry-after", "3600")])
        let r10 = b.attemptFailed(e503, at: .zero)
        #expect(r10 == .retry(minimumDelay: .seconds(60)))
    }

    @Test func repeatedPolicyClosesWithinTheWindowOpenTheBreaker() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(policyCloseLimit: 3, policyCloseWindow: .seconds(60)))
        let close = DisconnectCause.peerClosed(code: .policyViolation, reason: "rate limited")
        let r11 = b.connectionEnded(close, at: .seconds(0))
        #expect(r11 == .retry(minimumDelay: nil))
        let r12 = b.connectionEnded(close, at: .seconds(30))
        #expect(r12 == .retry(minimumDelay: nil))
        guard case .unrecoverable = b.connectionEnded(close, at: .seconds(59)) else {
            Issue.record("three 1008 closes within 60 s must be unrecoverable")
            return
        }
    }

    @Test func policyClosesSpreadOutStayTransient() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy(policyCloseLimit: 3, policyCloseWindow: .seconds(60)))
        let close = DisconnectCause.error(WSError(.closedByPeer, "1008", closeCode: .policyViolation))
        for t in stride(from: 0, to: 600, by: 31) {
            let r13 = b.connectionEnded(close, at: .seconds(t))
            #expect(r13 == .retry(minimumDelay: nil))
        }
    }

    @Test func otherClosesAndLocalClosesAreTransient() {
        var b = CircuitBreaker(policy: CircuitBreakerPolicy())
        for c: DisconnectCause in [
            .peerClosed(code: .internalError, reason: ""), .peerClosed(code: .normalClosure, reason: ""),
            .peerClosed(code: .goingAway, reason: ""), .localClose(code: .normalClosure, reason: "forced"),
            .error(WSError(.connectionLost, "1006", closeCode: .abnormalClosure)),
            .error(WSError(.livenessTimeout, "idle")),
        ] {
            let r14 = b.connectionEnded(c, at: .zero)
            #expect(r14 == .retry(minimumDelay: nil))
        }
    }
}
