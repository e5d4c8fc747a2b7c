import Testing
import WireTapeMock

@Suite("ManualClock", .timeLimit(.minutes(1)))
struct ManualClockTests {
    @Test func sleeperWakesOnlyWhenAdvancedPastItsDeadline() async throws {
        let clock = ManualClock()
        let woke = SendableFlag()
        let task = Task {
            try await clock.sleep(for: .seconds(5))
            woke.set()
        }
        await clock.waitForSleepers(count: 1)
        #expect(clock.pendingDeadlines == [ManualClock.Instant(offset: .seconds(5))])
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        #expect(!woke.isSet)
        clock.advance(by: .seconds(1))
        try await task.value
        #expect(woke.isSet)
        #expect(clock.now.offset == .seconds(5))
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleepersWakeInDeadlineOrder() async throws {
        let clock = ManualClock()
        let order = SendableLog<Int>()
        var tasks: [Task<Void, any Error>] = []
        for (i, s) in [3, 1, 2].enumerated() {
            tasks.append(Task {
                try await clock.sleep(for: .seconds(s))
                order.append(i)
            })
            await clock.waitForSleepers(count: i + 1)
        }
        clock.advance(by: .seconds(1))
        try await tasks[1].value
        clock.advance(by: .seconds(1))
        try await tasks[2].value
        clock.advance(by: .seconds(1))
        try await tasks[0].value
        #expect(order.values == [1, 2, 0])
    }

    @Test func pastDeadlineReturnsAtOnce() async throws {
        let clock = ManualClock()
        clock.advance(by: .seconds(10))
        try await clock.sleep(until: ManualClock.Instant(offset: .seconds(3)))
        #expect(clock.totalSleeps == 1)
        #expect(clock.sleeperCount == 0)
    }

    @Test func cancellationRemovesTheSleeperAndThrows() async throws {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .seconds(60)) }
        await clock.waitForSleepers(count: 1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func advanceToNextDeadlineJumpsExactly() async throws {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .milliseconds(1500)) }
        await clock.waitForSleepers()
        #expect(clock.advanceToNextDeadline() == ManualClock.Instant(offset: .milliseconds(1500)))
        try await task.value
        #expect(clock.advanceToNextDeadline() == nil)
    }
}
