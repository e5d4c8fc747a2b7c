import Testing
import WireTapeCore
@testable import WireTapeReplay

@Suite("Outbound checks")
struct OutboundReportTests {
    @Test("matched, mismatched, missing and extra, with epoch and index")
    func verdicts() async throws {
        let replay = try ReplayConnector(directory: try Tape.threeOutages().write(), options: ReplayOptions(pacing: .asFastAsPossible))
        let c1 = try await replay.connect(request)
        try await c1.sink.send(.text(#"{"op":"sub","id":1}"#))
        _ = await drain(c1)
        let c2 = try await replay.connect(request)
        try await c2.sink.send(.text(#"{"op":"sub","id":99}"#))
        try await c2.sink.send(.text("extra"))
        _ = await drain(c2)
        let c3 = try await replay.connect(request)
        _ = await drain(c3)
        let r = replay.outboundReport()
        #expect(r.matched == 1)
        #expect(r.mismatched == 1)
        #expect(r.extra == 1)
        #expect(r.missing == 1)
        #expect(!r.isClean)
        let mismatch = r.problems.first { $0.verdict == .mismatched }
        #expect(mismatch?.epoch == 2)
        #expect(mismatch?.index == 0)
        #expect(r.problems.first { $0.verdict == .extra }?.index == 1)
        #expect(r.problems.first { $0.verdict == .missing }?.epoch == 3)
    }

    @Test("JSON-equal ignoring named fields")
    func jsonIgnoring() {
        let cmp = OutboundComparison.jsonIgnoring(["id", "ts"])
        #expect(cmp.matches(sent: .text(#"{"op":"sub","id":7,"args":[{"ts":1,"ch":"a"}]}"#), recorded: .text(#"{"id":1,"args":[{"ch":"a","ts":2}],"op":"sub"}"#)))
        #expect(!cmp.matches(sent: .text(#"{"op":"sub","ch":"b"}"#), recorded: .text(#"{"op":"sub","ch":"a"}"#)))
        #expect(!OutboundComparison.exact.matches(sent: .text(#"{"op":"sub","id":7}"#), recorded: .text(#"{"op":"sub","id":1}"#)))
        #expect(cmp.matches(sent: .binary([1, 2]), recorded: .binary([1, 2])))
        #expect(!cmp.matches(sent: .text("not json"), recorded: .text("not json either")))
    }
}
