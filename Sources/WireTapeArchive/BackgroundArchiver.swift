import Synchronization
import WireTapeJournal

/// When the background archiver runs its next pass: a pure decision. After a pass that
/// published everything sealed, wait ``interval``; after a failure, back off exponentially
/// from ``initialBackoff`` up to ``maxBackoff`` (the store may be down for a while; the
/// recorder never waits on it).
public struct ArchiveSchedule: Sendable, Equatable {
    /// The wait between passes when all is well.
    public var interval: Duration
    /// The first wait after a failure, doubled per consecutive failure.
    public var initialBackoff: Duration
    /// The longest wait after failures.
    public var maxBackoff: Duration
    /// Consecutive failed passes.
    public private(set) var failures = 0

    /// Creates a schedule.
    public init(interval: Duration = .seconds(5), initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60)) {
        self.interval = interval
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// Records the outcome of a pass and returns the wait before the next one.
    public mutating func next(afterSuccess ok: Bool) -> Duration {
        if ok { failures = 0; return interval }
        failures += 1
        var wait = initialBackoff
        for _ in 1..<failures where wait < maxBackoff { wait = wait * 2 }
        return min(wait, maxBackoff)
    }
}

/// Archives a journal that is being recorded: a pass of ``Archiver`` whenever the set of
/// sealed segments changed, on a schedule with retries and backoff (``ArchiveSchedule``),
/// on the injected clock. It only reads sealed segments, so the recorder never waits on it.
/// ``backlog`` is the number of sealed segments not yet published.
public final class BackgroundArchiver: Sendable {
    /// The archiver each pass runs.
    public let archiver: Archiver
    /// The journal directory.
    public let directory: String
    private let note: @Sendable (String) -> Void
    private let state = Mutex<(backlog: Int, published: Set<String>, schedule: ArchiveSchedule)>((0, [], ArchiveSchedule()))

    /// Creates a background archiver; `note` receives a line for each upload and failure.
    public init(archiver: Archiver, directory: String, schedule: ArchiveSchedule = ArchiveSchedule(), note: @escaping @Sendable (String) -> Void) {
        self.archiver = archiver
        self.directory = directory
        self.note = note
        state.withLock { $0.schedule = schedule }
    }

    /// Sealed segments not yet published (as of the last pass).
    public var backlog: Int { state.withLock { $0.backlog } }

    /// Runs passes until cancelled.
    public func run<C: Clock>(clock: C) async where C.Duration == Duration {
        while !Task.isCancelled {
            let ok = await pass()
            let wait = state.withLock { $0.schedule.next(afterSuccess: ok) }
            do { try await clock.sleep(for: wait) } catch { return }
        }
    }

    /// One pass: publishes what was sealed since the last successful pass. Returns false
    /// when it failed (the next pass retries).
    @discardableResult
    public func pass() async -> Bool {
        let sealed = Set(((try? JournalArchiveSupport.sealedSegments(directory: directory)) ?? []).map(\.name))
        let pending = sealed.subtracting(state.withLock { $0.published })
        state.withLock { $0.backlog = pending.count }
        guard !pending.isEmpty else { return true }
        do {
            let report = try await archiver.run(directory: directory)
            state.withLock { $0.published.formUnion(sealed); $0.backlog = 0 }
            if !report.uploaded.isEmpty {
                note("archive: \(report.uploaded.count) segment(s) published to \(archiver.location), backlog 0")
            }
            return true
        } catch {
            note("archive: upload to \(archiver.location) failed (\(pending.count) sealed segment(s) waiting), will retry: \(error.message)")
            return false
        }
    }
}
