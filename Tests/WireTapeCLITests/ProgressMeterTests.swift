import Testing
@testable import WireTapeCLI

@Suite struct ProgressMeterTests {
    @Test func quietForTheFirstSecondThenRateAndETA() {
        var m = ProgressMeter(unit: "blocks", total: 1000)
        #expect(m.update(done: 100, elapsed: 500_000_000) == nil)
        #expect(m.update(done: 400, elapsed: 2_000_000_000) == "400/1000 blocks (40%), 200 blocks/s, ETA 3 s")
        // At most one line per 200 ms.
        #expect(m.update(done: 410, elapsed: 2_100_000_000) == nil)
        #expect(m.update(done: 1000, elapsed: 5_000_000_000) == "1000/1000 blocks (100%), 200 blocks/s, ETA 0 s")
        #expect(m.hasShown)
    }

    @Test func unknownTotal() {
        var m = ProgressMeter(unit: "records", total: nil)
        #expect(m.update(done: 3_000_000, elapsed: 1_500_000_000) == "3000000 records, 2.0M records/s")
    }

    @Test func disabledProgressPrintsNothing() {
        let p = Progress(label: "x", unit: "blocks", total: 10, enabled: false)
        p.update(done: 5)
        p.finish()
        // Captured sinks are never a terminal: the default is off.
        #expect(Progress(label: "x", unit: "blocks", total: 1).isEnabled == false)
    }
}
