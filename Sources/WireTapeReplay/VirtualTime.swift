import Synchronization
import WireTapeMock

/// Virtual time for ``ReplayPacing/asFastAsPossible``: a ``WireTapeMock/ManualClock`` that the
/// replay moves forward itself, so that every wait is skipped and order is kept.
///
/// Two things move it:
/// - **Frames.** A connection due to deliver a frame at time *t* moves the clock to *t* itself
///   when no other sleeper is due before *t* (the common case inside a burst of frames): no
///   sleeping, no hand-off.
/// - **Timers.** Otherwise (an outage, a backoff, a liveness timer, a recorded silence) a
///   driver task moves the clock to the earliest pending deadline, one deadline at a time, but
///   only once the system looks *quiescent*: no replay connection is busy delivering frames
///   (frames wait for the consumer to take them), and neither the clock's sleepers nor the
///   replay's own events (sends, pings, closes, connects, frames taken) changed for three
///   consecutive short real-time checks (``settleWindow`` each).
///
/// Limits: Swift concurrency cannot tell that every task is parked, so quiescence is observed,
/// not proven. An adapter that computes for longer than the settle window without touching the
/// replay or the clock may see a timer fire "early" in its own view. Frames are never reordered
/// and never skipped, and the replay's own waits are exact; what can vary across runs is only
/// the interleaving of adapter work with timers that are due at the same virtual moment.
public final class VirtualTime: Sendable {
    /// The clock that is moved.
    public let clock: ManualClock
    /// How long each real-time quiescence check lasts.
    public let settleWindow: Duration

    private struct State {
        var busy = 0
        var events: UInt64 = 0
        var driver: Task<Void, Never>?
        var stopped = false
    }
    private let state = Mutex(State())

    /// Creates virtual time on a fresh clock.
    public init(clock: ManualClock = ManualClock(), settleWindow: Duration = .microseconds(200)) {
        self.clock = clock
        self.settleWindow = settleWindow
    }

    deinit { state.withLock { $0.driver?.cancel() } }

    /// Notes that a replay connection started (or resumed) delivering.
    func beginWork() { state.withLock { $0.busy += 1; $0.events &+= 1 } }
    /// Notes that a replay connection is idle (waiting on the clock, on a close, or ended).
    func endWork() { state.withLock { $0.busy -= 1; $0.events &+= 1 } }
    /// Notes an event that the driver must see as activity.
    func touch() { state.withLock { $0.events &+= 1 } }

    /// Starts the driver task once.
    func startDriver() {
        state.withLock { s in
            guard s.driver == nil, !s.stopped else { return }
            s.driver = Task { [weak self] in await self?.drive() }
        }
    }

    /// Stops the driver.
    func stop() {
        let t = state.withLock { s -> Task<Void, Never>? in
            s.stopped = true
            return s.driver
        }
        t?.cancel()
    }

    /// Moves the clock to `t` for a frame due then (see the type's discussion).
    func reach(_ t: Duration) async throws {
        let now = clock.now.offset
        guard t > now else { return }
        if let d = clock.nextDeadline, d.offset < t {
            // A timer is due first: wait on the clock like everyone else; the driver steps.
            endWork()
            defer { beginWork() }
            try await clock.sleep(until: ManualClock.Instant(offset: t))
            return
        }
        clock.advance(to: ManualClock.Instant(offset: t))
    }

    private var signature: (UInt64, Int, UInt64, Int) {
        let (events, busy) = state.withLock { ($0.events, $0.busy) }
        return (clock.totalSleeps, clock.sleeperCount, events, busy)
    }

    /// Waits until nothing observable changed for three settle windows and nothing is busy
    /// (but the caller, when `excludingSelf`).
    func settle(excludingSelf: Bool = false) async throws {
        let allowedBusy = excludingSelf ? 1 : 0
        var last = signature
        var stable = 0
        while stable < 3 {
            try await ContinuousClock().sleep(for: settleWindow)
            let s = signature
            if s == last && s.3 <= allowedBusy { stable += 1 } else { stable = 0; last = s }
        }
    }

    private func drive() async {
        while !Task.isCancelled {
            do { try await settle() } catch { return }
            if clock.advanceToNextDeadline() == nil {
                // Nothing is waiting on time: wait for the next sleeper (an event, not a poll)
                // or for cancellation (checked at each settle window).
                await withTaskCancellationHandler {
                    await clock.waitForSleepers(count: 1)
                } onCancel: { [clock] in
                    // Wake the waiter: a sleeper that is cancelled at once.
                    let wake = Task { try? await clock.sleep(until: clock.now.advanced(by: .seconds(1_000_000_000))) }
                    Task {
                        await clock.waitForSleepers(count: 1)
                        wake.cancel()
                    }
                }
            }
        }
    }
}
