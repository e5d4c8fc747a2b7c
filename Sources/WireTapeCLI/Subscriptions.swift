import WireTapeCore
import WireTapeResilience

/// Sends the `--send` messages of a new epoch, as an adapter re-subscribes after a reconnect
/// (`tap --reconnect`, `record`, `replay`). Each message that went out is reported to `sent`;
/// a failed one is reported to `failed` (by default a warning on stderr) and does not stop
/// the others.
func sendSubscriptions(
    _ messages: [String], via sink: any WSSink, epoch: UInt64,
    sent: (String) -> Void = { _ in },
    failed: ((String, any Error) -> Void)? = nil
) async {
    for m in messages {
        do {
            try await sink.send(.text(m))
            sent(m)
        } catch {
            if let failed { failed(m, error) } else { StandardOutput.warn("could not send '\(m)' in epoch \(epoch): \(error)") }
        }
    }
}

/// Follows a reconnecting session for a command that prints its edges (`tap --reconnect`,
/// `replay --reconnect`): reports each lifecycle edge to `edge`, once (a snapshot repeating the
/// last one reported is skipped), and sends `messages` in every new epoch, reporting each to
/// `sent`. Returns the following task; it ends after the session's terminal edge.
///
/// The session's first edge, `connecting` in epoch 0, is reported at once, before this returns.
/// The lifecycle watch keeps only the latest value, and a follower task starts after the session
/// does, so when the first connect is immediate (a replay on virtual time or at ×20) the watch
/// may already say `connected` by the time the task reads it, and `connecting@0` would be lost.
func followLifecycle(
    of connection: ReconnectingConnection, sending messages: [String],
    edge: @escaping @Sendable (LifecycleSnapshot) -> Void,
    sent: @escaping @Sendable (String, UInt64) -> Void
) -> Task<Void, Never> {
    let initial = LifecycleSnapshot(epoch: 0, state: .connecting)
    edge(initial)
    return Task {
        var sentEpoch: UInt64 = 0
        var reported = initial
        for await snapshot in connection.lifecycle.updates() {
            if reported.state == snapshot.state, reported.epoch == snapshot.epoch,
                reported.totalLagged == snapshot.totalLagged, reported.reconnects == snapshot.reconnects,
                reported.failedAttempts == snapshot.failedAttempts
            {
                continue
            }
            reported = snapshot
            edge(snapshot)
            guard snapshot.state == .connected, snapshot.epoch > sentEpoch else { continue }
            sentEpoch = snapshot.epoch
            await sendSubscriptions(messages, via: connection.sink, epoch: snapshot.epoch) { sent($0, snapshot.epoch) }
        }
    }
}
