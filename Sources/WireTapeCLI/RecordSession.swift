import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeRecorder
import WireTapeReport
import WireTapeResilience

/// Stop requests for the recordings of one `record` process: SIGINT/SIGTERM stop every feed.
///
/// Each recording registers what to do with ``onStop(_:)``; ``stop(_:)`` runs every handler
/// once, and a handler registered after the stop runs at once.
final class StopRequests: Sendable {
    private let state = Mutex<(reason: String?, handlers: [@Sendable (String) -> Void])>((nil, []))

    /// Registers `handler`, called once with the reason when the stop is requested.
    func onStop(_ handler: @escaping @Sendable (String) -> Void) {
        let reason = state.withLock { s -> String? in
            if s.reason == nil { s.handlers.append(handler) }
            return s.reason
        }
        if let reason { handler(reason) }
    }

    /// Asks every recording to stop (the first reason wins).
    func stop(_ reason: String) {
        let handlers = state.withLock { s -> [@Sendable (String) -> Void] in
            guard s.reason == nil else { return [] }
            s.reason = reason
            defer { s.handlers = [] }
            return s.handlers
        }
        for h in handlers { h(reason) }
    }
}

/// The work of `record`, apart from argument parsing.
struct RecordSession {
    /// How a recording ended.
    struct Outcome {
        /// Why it stopped (`SIGTERM`, `count reached`, …).
        var reason: String
        /// A one-line failure when it did not end by request.
        var failure: String?
        /// The recorder's final counters.
        var stats: RecorderStats
    }

    var request: ConnectRequest
    var messages: [String]
    var count: Int?
    var duration: Double?
    var config: ReconnectConfig

    /// Records until `stops` fires, --count, --duration or an unrecoverable failure; never
    /// throws (a feed's failure is its outcome, so that it does not stop the other feeds).
    func run(
        recorder: Recorder, leaf: any WSConnector, status: RecordStatus, stops: StopRequests,
        metrics: (RecordMetrics, feed: String)? = nil
    ) async -> Outcome {
        recorder.start(url: request.url.description, headers: request.headers)
        // `wiretape annotate DIR TEXT` hands notes to the recorder while it runs.
        var control: ControlSocketServer?
        do { control = try .serving(recorder) } catch {
            status.note("wiretape annotate cannot reach this recording: \(error.message)")
        }
        let stack = ReconnectingConnector(wrapping: recorder.connector(wrapping: leaf), config: config)
        let connection = recorder.connect(request, through: stack)
        if let (m, feed) = metrics { m.add(feed: feed, recorder: recorder, connection: connection, status: status) }
        status.started()

        let stopReason = Mutex<String?>(nil)
        let stop: @Sendable (String) -> Void = { reason in
            let first = stopReason.withLock { r -> Bool in
                guard r == nil else { return false }
                r = reason
                return true
            }
            if first { Task { await connection.shutdown(code: .normalClosure, reason: reason) } }
        }
        stops.onStop(stop)
        let timer: Task<Void, Never>? = duration.map { seconds in
            Task {
                try? await ContinuousClock().sleep(for: .seconds(seconds))
                if !Task.isCancelled { stop("duration reached") }
            }
        }
        // The --send messages in every new epoch (as an adapter re-subscribes), and the status.
        let messages = self.messages
        let follower = Task {
            var sentEpoch: UInt64 = 0
            for await snapshot in connection.lifecycle.edges() {
                status.edge(snapshot)
                guard snapshot.state == .connected, snapshot.epoch > sentEpoch else { continue }
                sentEpoch = snapshot.epoch
                await sendSubscriptions(messages, via: connection.sink, epoch: snapshot.epoch, failed: { _, error in
                    status.note("could not send a --send message in epoch \(snapshot.epoch): \(error)")
                })
            }
        }
        let ticker = Task {
            while !Task.isCancelled {
                try? await ContinuousClock().sleep(for: .seconds(1))
                status.tick(recorder.stats, connection.snapshot)
            }
        }

        // The adapter side: frames are recorded at the leaf; here they are only counted.
        var received = 0
        do {
            for try await _ in connection.inbound {
                received += 1
                if let count, received >= count {
                    stop("count reached")
                    break
                }
            }
        } catch {
            // An unrecoverable session ends the stream with its cause; reported below.
        }
        let final = await connection.waitUntilEnded()
        await follower.value
        timer?.cancel()
        ticker.cancel()
        control?.stop()
        let reason = stopReason.withLock { $0 } ?? final.lastDisconnect.map { "\($0)" } ?? final.state.rawValue
        let stats = await recorder.finish(reason: final.state == .unrecoverable ? "unrecoverable: \(reason)" : reason)
        status.finished(stats, final, reason: reason)
        var outcome = Outcome(reason: reason, stats: stats)
        if final.state == .unrecoverable {
            outcome.failure = "unrecoverable: \(final.lastDisconnect.map { "\($0)" } ?? "no cause recorded")"
        } else if stats.writeErrors > 0 {
            outcome.failure = "\(stats.writeErrors) records could not be written to the journal: \(stats.lastError ?? "?")"
        }
        return outcome
    }
}
