import Synchronization

/// A `Clock` that only moves when a test moves it.
///
/// Sleepers suspend until the test calls ``advance(by:)`` or ``advance(to:)`` past their
/// deadline; then they wake in deadline order. Nothing depends on wall time, so a test of
/// timeouts, backoff or pacing is exact and instant.
///
/// Tests usually need to know that the code under test has *started* waiting before they
/// move time; ``waitForSleepers(count:)`` suspends (without polling) until that many sleepers
/// are registered, and ``pendingDeadlines`` shows when they want to wake.
///
/// ```swift
/// let clock = ManualClock()
/// let task = Task { try await clock.sleep(for: .seconds(5)) }
/// await clock.waitForSleepers(count: 1)
/// clock.advance(by: .seconds(5))   // the sleeper wakes
/// try await task.value
/// ```
///
/// `ManualClock` is a reference type: copies share the same time and sleepers.
public final class ManualClock: Clock, Sendable {
    /// The time reading of a ``ManualClock``: an offset from the clock's origin.
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// The time since the clock was created (its origin is `.zero`).
        public var offset: Duration

        /// Creates an instant at `offset` from the origin.
        public init(offset: Duration) { self.offset = offset }

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        /// The duration from this instant to `other`.
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        /// Whether `lhs` is earlier than `rhs`.
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        /// E.g. `t+1.5 seconds`.
        public var description: String { "t+\(offset)" }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct SleeperWaiter {
        var count: Int
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
        /// IDs cancelled before their continuation was registered.
        var cancelledEarly: Set<UInt64> = []
        var sleeperWaiters: [SleeperWaiter] = []
        var totalSleeps: UInt64 = 0

        /// Removes and returns the waiters whose sleeper count is now reached.
        mutating func satisfiedWaiters() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            sleeperWaiters.removeAll { w in
                if sleepers.count >= w.count {
                    ready.append(w.continuation)
                    return true
                }
                return false
            }
            return ready
        }
    }

    private let state = Mutex(State())

    /// Creates a clock at instant zero with no sleepers.
    public init() {}

    /// The current instant.
    public var now: Instant { state.withLock { $0.now } }

    /// The smallest step this clock can measure: any duration.
    public var minimumResolution: Duration { .zero }

    /// The number of tasks currently sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// How many sleeps have started on this clock (including ones that returned at once
    /// because their deadline had passed, and cancelled ones).
    public var totalSleeps: UInt64 { state.withLock { $0.totalSleeps } }

    /// The deadlines of the current sleepers, earliest first.
    public var pendingDeadlines: [Instant] {
        state.withLock { $0.sleepers.values.map(\.deadline).sorted() }
    }

    /// The earliest deadline of a current sleeper, if any.
    public var nextDeadline: Instant? { pendingDeadlines.first }

    /// Suspends until `deadline` is reached by ``advance(by:)`` or ``advance(to:)``.
    ///
    /// Returns at once if the deadline has already passed.
    /// - Throws: `CancellationError` if the task is cancelled while sleeping.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id: UInt64? = state.withLock { s in
            s.totalSleeps += 1
            guard deadline > s.now else { return nil }
            s.nextID += 1
            return s.nextID
        }
        guard let id else {
            try Task.checkCancellation()
            return
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let outcome: (resume: Bool, cancelled: Bool, waiters: [CheckedContinuation<Void, Never>]) =
                    state.withLock { s in
                        if s.cancelledEarly.remove(id) != nil { return (true, true, []) }
                        if deadline <= s.now { return (true, false, []) }
                        s.sleepers[id] = Sleeper(deadline: deadline, continuation: c)
                        return (false, false, s.satisfiedWaiters())
                    }
                for w in outcome.waiters { w.resume() }
                if outcome.resume {
                    if outcome.cancelled { c.resume(throwing: CancellationError()) } else { c.resume() }
                }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                if let sl = s.sleepers.removeValue(forKey: id) { return sl }
                s.cancelledEarly.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward by `duration` and wakes every sleeper whose deadline is reached,
    /// earliest first.
    /// - Precondition: `duration` is not negative.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "ManualClock cannot move backwards")
        advance(to: now.advanced(by: duration))
    }

    /// Moves time forward to `instant` (no-op if it is not later than now) and wakes every
    /// sleeper whose deadline is reached, earliest first.
    public func advance(to instant: Instant) {
        let woken: [Sleeper] = state.withLock { s in
            if instant > s.now { s.now = instant }
            let due = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in due.keys { s.sleepers.removeValue(forKey: id) }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Advances to the earliest pending deadline, if there is one, and returns it.
    @discardableResult
    public func advanceToNextDeadline() -> Instant? {
        guard let next = nextDeadline else { return nil }
        advance(to: next)
        return next
    }

    /// Suspends until at least `count` tasks are sleeping on this clock.
    ///
    /// This is how a test knows the code under test reached its next wait before moving time.
    /// It does not poll; it is resumed by the sleeper that makes the count.
    public func waitForSleepers(count: Int = 1) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.sleepers.count >= count { return true }
                s.sleeperWaiters.append(SleeperWaiter(count: count, continuation: c))
                return false
            }
            if ready { c.resume() }
        }
    }
}
