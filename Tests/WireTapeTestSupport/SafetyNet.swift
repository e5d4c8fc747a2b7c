import Synchronization

/// Runs `operation` and returns its result, or `nil` once `limit` has passed — a safety net
/// against a hang, never a timing assertion.
///
/// Unlike a task group racing a sleep, the caller does not wait for the operation after the
/// limit: a wait that ignores cancellation (a continuation on a manual clock that never
/// moves, `waitUntilEnded()` of a session that retries forever) is abandoned, not awaited, so
/// the test fails instead of hanging.
public func firstWithin<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let first = FirstResult<T>()
    return await withCheckedContinuation { continuation in
        first.arm(continuation)
        Task { first.offer(await operation()) }
        Task {
            try? await Task.sleep(for: limit)
            first.offer(nil)
        }
    }
}

/// Resumes a continuation with the first value offered; later offers are ignored.
final class FirstResult<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T?, Never>?, done: Bool)>((nil, false))

    func arm(_ continuation: CheckedContinuation<T?, Never>) { state.withLock { $0.continuation = continuation } }

    func offer(_ value: T?) {
        let c = state.withLock { s -> CheckedContinuation<T?, Never>? in
            guard !s.done else { return nil }
            s.done = true
            return s.continuation
        }
        c?.resume(returning: value)
    }
}
