import Testing
import WireTapeArchive

/// The background archiver's retry decisions, without a store or a clock.
@Suite struct ArchiveScheduleTests {
    @Test func successWaitsTheIntervalFailuresBackOffToTheCapAndResetOnSuccess() {
        var s = ArchiveSchedule(interval: .seconds(5), initialBackoff: .seconds(1), maxBackoff: .seconds(10))
        #expect(s.next(afterSuccess: true) == .seconds(5))
        #expect(s.next(afterSuccess: false) == .seconds(1))
        #expect(s.next(afterSuccess: false) == .seconds(2))
        #expect(s.next(afterSuccess: false) == .seconds(4))
        #expect(s.next(afterSuccess: false) == .seconds(8))
        #expect(s.next(afterSuccess: false) == .seconds(10))
        #expect(s.next(afterSuccess: false) == .seconds(10))
        #expect(s.failures == 6)
        #expect(s.next(afterSuccess: true) == .seconds(5))
        #expect(s.failures == 0)
        #expect(s.next(afterSuccess: false) == .seconds(1))
    }
}
