import Testing
@testable import WireTapeReport

@Suite struct BucketSeriesTests {
    @Test func blockInsideOneBucketCountsWhole() {
        var s = BucketSeries(start: 0, end: 9_999, width: 1000)
        s.add(BlockSpan(firstSeq: 1, lastSeq: 10, minWall: 1100, maxWall: 1900, inbound: 7, outbound: 3, payloadBytes: 700))
        #expect(s.buckets.count == 10)
        #expect(s.buckets[1].inbound == 7 && s.buckets[1].outbound == 3 && s.buckets[1].bytes == 700)
        #expect(s.buckets.enumerated().allSatisfy { $0.offset == 1 || $0.element.inbound == 0 })
    }

    @Test func blockAcrossBucketsSpreadsAndKeepsTheTotal() {
        var s = BucketSeries(start: 0, end: 3_999, width: 1000)
        s.add(BlockSpan(firstSeq: 1, lastSeq: 100, minWall: 500, maxWall: 2500, inbound: 101, outbound: 0, payloadBytes: 1001))
        #expect(s.buckets.map(\.inbound).reduce(0, +) == 101)
        #expect(s.buckets.map(\.bytes).reduce(0, +) == 1001)
        #expect(s.buckets[0].inbound == 25)
        #expect(s.buckets[1].inbound == 51)
        #expect(s.buckets[3].inbound == 0)
    }

    @Test func partOutsideTheRangeIsDropped() {
        var s = BucketSeries(start: 1000, end: 1999, width: 1000)
        s.add(BlockSpan(firstSeq: 1, lastSeq: 100, minWall: 0, maxWall: 2000, inbound: 100, outbound: 0, payloadBytes: 0))
        #expect(s.buckets.count == 1)
        #expect(s.buckets[0].inbound == 50)
    }

    @Test func widthIsNiceAndCoversTheSpan() {
        #expect(BucketSeries.width(forSpan: 86_400_000_000_000, target: 1500) == 60_000_000_000)
        #expect(BucketSeries.width(forSpan: 10_000_000_000, target: 1500) == 10_000_000)
        #expect(BucketSeries.width(forSpan: 0, target: 10) == 1_000_000)
    }
}
