import Testing
import WireTapeCore

@Suite struct WSErrorCodeTests {
    @Test func everyCodeRoundTripsThroughItsNameAndUnknownNamesAreNil() {
        #expect(Set(WSError.Code.allCases.map(\.rawValue)).count == WSError.Code.allCases.count)
        for code in WSError.Code.allCases { #expect(WSError.Code(rawValue: code.rawValue) == code) }
        #expect(WSError.Code(rawValue: "somethingNew") == nil)
        #expect(WSError.Code(rawValue: "notConnected") == .notConnected)
    }

    @Test func aCatchPatternMatchesTheCode() {
        func classify(_ error: any Error) -> String {
            do { throw error } catch WSError.Code.handshakeRejected {
                return "rejected"
            } catch WSError.Code.connectionLost {
                return "lost"
            } catch {
                return "other"
            }
        }
        #expect(classify(WSError(.handshakeRejected, "HTTP 401", httpStatus: 401)) == "rejected")
        #expect(classify(WSError(.connectionLost, "reset")) == "lost")
        #expect(classify(WSError(.ioError, "x")) == "other")
        #expect(classify(CancellationError()) == "other")
    }
}
