import Testing
import WireTapeCore
@testable import WireTapeJournal

/// Values at the limits of their ranges are stored and shown exactly, never wrapped or trapped.
@Suite struct JournalLimitsTests {
    @Test func extremeWallTimesFormatAndSummarise() throws {
        let d = TempDir(); defer { d.cleanup() }
        let w = try JournalWriter(directory: d.path)
        try w.append(.lifecycle(LifecycleEdge(state: .reconnecting)), epoch: 0, at: ReceiveTimestamp(wallNanos: .min, monotonicNanos: 0))
        try w.append(.lifecycle(LifecycleEdge(state: .connected)), epoch: 1, at: ReceiveTimestamp(wallNanos: .max, monotonicNanos: .max))
        try w.close()
        #expect(JournalTime.format(.min) == "1677-09-21T00:12:43.145224192Z")
        #expect(JournalTime.format(.max) == "2262-04-11T23:47:16.854775807Z")
        #expect(JournalTime.parse("2262-04-11T23:47:16.854775808Z") == nil, "one past the range does not wrap")
        let s = try JournalSummary.load(directory: d.path)
        #expect(s.firstWall == .min && s.lastWall == .max)
        let gaps = try JournalGap.find(directory: d.path)
        #expect(gaps.first?.durationNanos == UInt64.max)
    }

    @Test func noRecordAfterTheLastSequenceNumber() throws {
        let d = TempDir(); defer { d.cleanup() }
        let w = try JournalWriter(directory: d.path)
        try w.append(.annotation("last"), epoch: 0, at: ts(1), seq: .max)
        #expect { try w.append(.annotation("one more"), epoch: 0, at: ts(2)) } throws: {
            ($0 as? JournalError)?.code == .invalidArgument
        }
        try w.close()
        #expect(try readAll(d.path).0.map(\.seq) == [.max])
    }
}
