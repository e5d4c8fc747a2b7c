import Testing
@testable import WireTapeReport

@Suite struct ContinuityCheckerTests {
    func feed(_ c: inout ContinuityChecker, _ json: String, epoch: UInt64 = 1, seq: UInt64 = 0) -> ContinuityIssue? {
        var s = json
        return s.withUTF8 { c.check(payload: UnsafeRawBufferPointer($0), epoch: epoch, seq: seq, wall: 0) }
    }

    @Test func jsonPathFindsNestedValues() {
        let doc = #"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","U":157,"u":160,"b":[["1.0","2"]]},"x":[1,{"y":"42"}]}"#
        var s = doc
        s.withUTF8 { u in
            let b = UnsafeRawBufferPointer(u)
            #expect(JSONPath("data.u")!.integer(in: b) == 160)
            #expect(JSONPath("x.1.y")!.integer(in: b) == 42)
            #expect(JSONPath("stream")!.value(in: b).map { String(decoding: $0, as: UTF8.self) } == "btcusdt@depth")
            #expect(JSONPath("data.missing")!.value(in: b) == nil)
            #expect(JSONPath("data.b")!.integer(in: b) == nil)
        }
        #expect(JSONPath("a..b") == nil && JSONPath("") == nil)
    }

    @Test func gapsDuplicatesAndResetsPerEpoch() {
        var c = ContinuityChecker(spec: ContinuitySpec(seqField: JSONPath("t")!, resetThreshold: 100))
        #expect(feed(&c, #"{"t":10}"#) == nil)
        #expect(feed(&c, #"{"t":11}"#) == nil)
        #expect(feed(&c, #"{"t":15}"#)?.missing == 3)
        #expect(feed(&c, #"{"t":15}"#)?.kind == .duplicate)
        #expect(feed(&c, #"{"t":16}"#) == nil)
        #expect(feed(&c, #"{"t":1}"#)?.kind == .duplicate)
        #expect(feed(&c, #"{"t":17}"#) == nil)
        #expect(feed(&c, #"{"t":5000}"#)?.kind == .gap)
        #expect(feed(&c, #"{"t":3}"#)?.kind == .reset)
        #expect(feed(&c, #"{"t":4}"#) == nil)
        // A new epoch starts a new sequence: no comparison with the previous epoch.
        #expect(feed(&c, #"{"t":900}"#, epoch: 2) == nil)
        #expect(feed(&c, #"{"other":1}"#, epoch: 2) == nil)
        #expect(c.epochs.count == 2)
        #expect(c.epochs[0].gaps == 2 && c.epochs[0].duplicates == 2 && c.epochs[0].resets == 1 && c.epochs[0].missing == 3 + 4982)
        #expect(c.epochs[1].checked == 1 && c.epochs[1].withoutField == 1 && c.epochs[1].isClean)
    }

    @Test func rangesAndFiltersAndKeys() {
        var spec = ContinuitySpec(seqField: JSONPath("u")!, firstField: JSONPath("U")!)
        spec.filterField = JSONPath("e")
        spec.filterValue = "depthUpdate"
        spec.keyField = JSONPath("s")
        var c = ContinuityChecker(spec: spec)
        #expect(feed(&c, #"{"e":"depthUpdate","s":"A","U":1,"u":5}"#) == nil)
        #expect(feed(&c, #"{"e":"depthUpdate","s":"B","U":100,"u":120}"#) == nil)
        #expect(feed(&c, #"{"e":"depthUpdate","s":"A","U":6,"u":9}"#) == nil)
        #expect(feed(&c, #"{"e":"trade","s":"A","U":50,"u":60}"#) == nil)
        let g = feed(&c, #"{"e":"depthUpdate","s":"A","U":12,"u":14}"#)
        #expect(g?.kind == .gap && g?.missing == 2 && g?.key == "A")
        #expect(feed(&c, #"{"e":"depthUpdate","s":"B","U":121,"u":130}"#) == nil)
        #expect(c.epochs[0].checked == 5)
    }
}
