import WireTapeCore

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
