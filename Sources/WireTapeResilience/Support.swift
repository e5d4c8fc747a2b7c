import Synchronization
import WireTapeCore

/// A clock read as "time since creation", so the shell works with plain durations for any
/// `Clock<Duration>` (a `ContinuousClock` in production, a manual clock in tests).
struct TimeSource: Sendable {
    let now: @Sendable () -> Duration
    let sleepUntil: @Sendable (Duration) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleepUntil = { t in try await clock.sleep(until: origin.advanced(by: t), tolerance: nil) }
    }
}

/// A random-number generator shared by reference, so one injected generator feeds every
/// connection of a connector.
final class RandomSource: Sendable {
    private let draw: @Sendable () -> UInt64

    init<R: RandomNumberGenerator & Sendable>(_ rng: R) {
        let box = Mutex(rng)
        draw = { box.withLock { $0.next() } }
    }

    /// A generator view to pass as `inout`.
    struct Generator: RandomNumberGenerator {
        let source: RandomSource
        mutating func next() -> UInt64 { source.draw() }
    }
}

/// A single-consumer mailbox of events for the supervisor loop.
final class Mailbox<Event: Sendable>: Sendable {
    private struct State {
        var queue: [Event] = []
        var head = 0
        var waiter: CheckedContinuation<Event, Never>?
    }
    private let state = Mutex(State())

    func post(_ event: Event) {
        let waiter: CheckedContinuation<Event, Never>? = state.withLock { s in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.queue.append(event)
            return nil
        }
        waiter?.resume(returning: event)
    }

    func next() async -> Event {
        await withCheckedContinuation { (c: CheckedContinuation<Event, Never>) in
            let event: Event? = state.withLock { s in
                guard s.head < s.queue.count else {
                    s.waiter = c
                    return nil
                }
                let e = s.queue[s.head]
                s.head += 1
                if s.head == s.queue.count {
                    s.queue.removeAll(keepingCapacity: true)
                    s.head = 0
                }
                return e
            }
            if let event { c.resume(returning: event) }
        }
    }
}

/// A one-shot signal: ``wait()`` returns once ``signal()`` was called (before or after).
final class OneShot: Sendable {
    private struct State {
        var signalled = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func signal() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            guard !s.signalled else { return [] }
            s.signalled = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now: Bool = state.withLock { s in
                if s.signalled { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}

/// The counters behind the lifecycle watch, updated by the supervisor and the pump and
/// published atomically (under one lock, so snapshots never go back in time).
final class LifecycleBook: Sendable {
    struct Counters: Sendable {
        var epoch: UInt64 = 0
        var state: ConnState = .connecting
        var totalLagged: UInt64 = 0
        var totalLaggedBytes: UInt64 = 0
        var reconnects: UInt64 = 0
        var failedAttempts: UInt64 = 0
        var lastDisconnect: DisconnectCause?

        var snapshot: LifecycleSnapshot {
            LifecycleSnapshot(
                epoch: epoch, state: state, totalLagged: totalLagged, totalLaggedBytes: totalLaggedBytes,
                reconnects: reconnects, failedAttempts: failedAttempts, lastDisconnect: lastDisconnect)
        }
    }

    let watch: LifecycleWatch
    private let counters = Mutex(Counters())

    init() { watch = LifecycleWatch(Counters().snapshot) }

    var current: Counters { counters.withLock { $0 } }

    /// Applies `change` and publishes the result (as terminal if the state is terminal).
    func update(_ change: (inout Counters) -> Void) {
        counters.withLock { c in
            guard !c.state.isTerminal else { return }
            change(&c)
            if c.state.isTerminal { watch.finish(c.snapshot) } else { watch.publish(c.snapshot) }
        }
    }

    /// Counts frames dropped by the inbound buffer.
    func addLag(frames: Int, bytes: Int) {
        guard frames > 0 else { return }
        counters.withLock { c in
            c.totalLagged += UInt64(frames)
            c.totalLaggedBytes += UInt64(bytes)
            if !c.state.isTerminal { watch.publish(c.snapshot) }
        }
    }
}

/// Per-epoch progress noted by the pump for the liveness check: the time of the last
/// message and the bytes read by then, plus the "a probe is outstanding" flag.
final class ProgressTracker: Sendable {
    private let lastMessageNanos = Atomic<Int64>(-1)
    private let bytesAtLastMessage = Atomic<UInt64>(0)
    let messages = Atomic<UInt64>(0)
    let stale = Atomic<Bool>(false)

    func messageArrived(at now: Duration, bytesRead: UInt64) {
        bytesAtLastMessage.store(bytesRead, ordering: .relaxed)
        lastMessageNanos.store(now.nanoseconds, ordering: .releasing)
        messages.add(1, ordering: .relaxed)
    }

    func observation(_ activity: ConnectionActivity) -> LivenessMachine.Observation {
        let t = lastMessageNanos.load(ordering: .acquiring)
        return LivenessMachine.Observation(
            bytesRead: activity.bytesRead, pongsReceived: activity.pongsReceived,
            lastMessageAt: t < 0 ? nil : .nanoseconds(t),
            bytesReadAtLastMessage: bytesAtLastMessage.load(ordering: .relaxed))
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let c = components
        let (s, o) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return o ? (c.seconds < 0 ? .min : .max) : s &+ c.attoseconds / 1_000_000_000
    }
}
