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

/// Starts a reconnecting session for a command that prints its edges (`tap --reconnect`,
/// `replay --reconnect`): reports every lifecycle edge to `edge` — none skipped, in order, from
/// `connecting` in epoch 0 — and sends `messages` in every new epoch, reporting each to `sent`.
/// Returns the session and the task that sends; the task ends after the terminal edge.
///
/// The observer is registered before the session starts (a latest-value reader would coalesce
/// a quick `stale`, `connected` pair, or miss `connecting@0` when the first connect is
/// immediate, as in a replay on virtual time). `edge` runs on the publisher's thread, before
/// the session delivers the epoch's first frame, so an edge line precedes that epoch's frames;
/// it must be quick (format and write one line).
func followLifecycle(
    connecting request: ConnectRequest, through connector: ReconnectingConnector, sending messages: [String],
    edge: @escaping @Sendable (LifecycleSnapshot) -> Void,
    sent: @escaping @Sendable (String, UInt64) -> Void
) -> (ReconnectingConnection, Task<Void, Never>) {
    let (epochs, newEpoch) = AsyncStream.makeStream(of: UInt64.self)
    let connection = connector.connect(
        request,
        observingEdges: { snapshot in
            edge(snapshot)
            if snapshot.state == .connected { newEpoch.yield(snapshot.epoch) }
            if snapshot.state.isTerminal { newEpoch.finish() }
        })
    let sender = Task {
        var sentEpoch: UInt64 = 0
        for await epoch in epochs where epoch > sentEpoch {
            sentEpoch = epoch
            await sendSubscriptions(messages, via: connection.sink, epoch: epoch) { sent($0, epoch) }
        }
    }
    return (connection, sender)
}
