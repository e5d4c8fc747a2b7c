import Synchronization
import WireTapeCore
import WireTapeMock

/// How fast a replay runs.
public enum ReplayPacing: Sendable {
    /// Recorded speed multiplied by `factor` (1 = as recorded, 10 = ten times faster), on the
    /// machine's continuous clock.
    case speed(Double)
    /// As fast as possible on virtual time: every wait is skipped, order is kept. See
    /// ``VirtualTime`` for how time moves and its limits.
    case asFastAsPossible
    /// Stepped by a clock the test owns: nothing moves until the test advances it.
    case manual(ManualClock)

    /// Recorded speed.
    public static var recorded: ReplayPacing { .speed(1) }
}

/// The one clock of a replay: frames are paced on it, and a `ReconnectingConnector` above the
/// replay must be given it (`ReconnectingConnector(wrapping: replay, clock: replay.clock)`)
/// so that its backoff and liveness timers see the same time as the frames.
///
/// An instant is an offset from the clock's origin (the moment the replay was created). At
/// `.speed(N)` the clock runs N times faster than the continuous clock: a recorded gap of 10 s
/// passes in 1 s of real time at ×10, and so does a 10 s backoff. Under `.asFastAsPossible` and
/// `.manual` it is a ``WireTapeMock/ManualClock``.
public struct ReplayClock: Clock, Sendable {
    /// A reading of a ``ReplayClock``: time since its origin, the same type as the manual
    /// clock's readings (so virtual and scaled replays share their instants).
    public typealias Instant = ManualClock.Instant

    enum Backend: Sendable {
        case scaled(origin: ContinuousClock.Instant, speed: Double)
        case manual(ManualClock)
    }
    let backend: Backend

    init(_ backend: Backend) { self.backend = backend }

    /// A clock running `speed` times faster than the continuous clock, starting now.
    public static func scaled(speed: Double) -> ReplayClock {
        ReplayClock(.scaled(origin: ContinuousClock.now, speed: speed))
    }

    /// A clock that reads and waits on `manual`.
    public static func manual(_ manual: ManualClock) -> ReplayClock { ReplayClock(.manual(manual)) }

    /// The current instant.
    public var now: Instant {
        switch backend {
        case .scaled(let origin, let speed):
            let real = origin.duration(to: ContinuousClock.now)
            return Instant(offset: speed == 1 ? real : real * speed)
        case .manual(let m):
            return m.now
        }
    }

    /// One nanosecond.
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// The manual clock behind this clock, under `.manual` and `.asFastAsPossible`.
    public var manualClock: ManualClock? {
        if case .manual(let m) = backend { return m }
        return nil
    }

    /// Suspends until `deadline`. Under `.speed(N)` the real wait is the remaining time divided by N.
    /// - Throws: `CancellationError` when the task is cancelled.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        switch backend {
        case .scaled(let origin, _):
            let real = realDuration(of: deadline.offset)
            // Zero tolerance: pacing wants the deadline, not a coalesced timer.
            try await ContinuousClock().sleep(until: origin.advanced(by: real), tolerance: tolerance ?? .zero)
        case .manual(let m):
            try await m.sleep(until: deadline, tolerance: nil)
        }
    }

    /// How long `duration` of this clock's time lasts in real time: `duration / N` at ×N;
    /// zero under `.manual` and `.asFastAsPossible`, whose time only moves when advanced.
    public func realDuration(of duration: Duration) -> Duration {
        switch backend {
        case .scaled(_, let speed): return speed == 1 ? duration : duration / speed
        case .manual: return .zero
        }
    }

    /// `now` as nanoseconds since the origin.
    var nowNanos: UInt64 {
        let c = now.offset.components
        return UInt64(max(0, c.seconds)) &* 1_000_000_000 &+ UInt64(max(0, c.attoseconds / 1_000_000_000))
    }
}

extension Duration {
    /// A duration of `nanos` nanoseconds.
    static func nanos(_ nanos: UInt64) -> Duration { .nanoseconds(Int64(clamping: nanos)) }
}
