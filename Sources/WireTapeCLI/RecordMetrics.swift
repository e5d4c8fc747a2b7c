import CoreMetrics
import Prometheus
import Synchronization
import WireTapeCore
import WireTapeNIO
import WireTapeRecorder
import WireTapeResilience

// CoreMetrics and Prometheus both name a Counter and a Gauge, and CoreMetrics a Recorder:
// in this module the names mean these.
typealias Counter = CoreMetrics.Counter
typealias Gauge = CoreMetrics.Gauge
typealias Recorder = WireTapeRecorder.Recorder

/// The Prometheus metrics of a `record` process (`--metrics-listen`), one set per feed, each
/// labelled `feed="<name>"`. Served by ``WireTapeNIO/MetricsEndpoint``.
///
/// The numbers are swift-metrics `Counter`s and `Gauge`s made by swift-prometheus's factory
/// over this process's own registry (no global bootstrap: tests run several recordings in one
/// process). They are brought up to date at each scrape from the recorder's counters and the
/// session's lifecycle — nothing is added to the live path.
///
/// | metric | kind | what |
/// |---|---|---|
/// | `wiretape_record_frames_total{direction}` | counter | frames written to the journal (`in`, `out`) |
/// | `wiretape_record_bytes_total{direction}` | counter | their payload bytes |
/// | `wiretape_record_lagged_frames_total` | counter | frames not kept (queue full), each in a lag record |
/// | `wiretape_record_lagged_bytes_total` | counter | their payload bytes |
/// | `wiretape_record_write_errors_total` | counter | records the journal refused |
/// | `wiretape_record_queue_frames` | gauge | frames waiting for the writer thread now |
/// | `wiretape_record_queue_bytes` | gauge | their bytes as counted against the queue's limit |
/// | `wiretape_session_epoch` | gauge | the current epoch |
/// | `wiretape_session_state{state}` | gauge | 1 for the current state, 0 for the others |
/// | `wiretape_session_reconnects_total` | counter | successful reconnects |
/// | `wiretape_session_failed_attempts_total` | counter | failed connection attempts |
/// | `wiretape_session_outages_total` | counter | times the feed went down |
/// | `wiretape_session_adapter_lagged_frames_total` | counter | frames the session's buffer dropped |
/// | `wiretape_archive_backlog_segments` | gauge | with `--archive`: sealed segments not uploaded yet |
final class RecordMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let feeds = Mutex<[Feed]>([])

    init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// Adds a feed's recording.
    func add(feed: String, recorder: Recorder, connection: ReconnectingConnection, status: RecordStatus) {
        let f = Feed(name: feed, factory: factory, recorder: recorder, connection: connection, status: status)
        feeds.withLock { $0.append(f) }
    }

    /// Brings every metric up to date and returns the Prometheus text.
    func render() -> [UInt8] {
        feeds.withLock { fs in
            for f in fs { f.refresh() }
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// Serves the metrics on `host:port` and announces the address on stderr (unless quiet).
    static func serve(on address: (host: String, port: Int), _ metrics: RecordMetrics, quiet: Bool) async throws -> MetricsEndpoint {
        do {
            let endpoint = try await MetricsEndpoint.start(host: address.host, port: address.port) { metrics.render() }
            if !quiet {
                let host = address.host.contains(":") ? "[\(address.host)]" : address.host
                JournalOutput.current.warn("wiretape record: event=metrics url=http://\(host):\(endpoint.port)\(MetricsEndpoint.path)")
            }
            return endpoint
        } catch {
            throw CommandError(.io, error.message)
        }
    }

    /// One feed's metrics and where their values come from.
    private final class Feed: Sendable {
        let recorder: Recorder
        let connection: ReconnectingConnection
        let status: RecordStatus
        let framesIn, framesOut, bytesIn, bytesOut, lagged, laggedBytes, writeErrors: Counter
        let reconnects, failedAttempts, outages, adapterLagged: Counter
        let queueFrames, queueBytes, epoch, archiveBacklog: Gauge
        let states: [(ConnState, Gauge)]
        /// The cumulative values already counted, in the order of ``counters``.
        private let counted = Mutex<[UInt64]>([])

        init(name: String, factory: PrometheusMetricsFactory, recorder: Recorder, connection: ReconnectingConnection, status: RecordStatus) {
            self.recorder = recorder
            self.connection = connection
            self.status = status
            let feed = [("feed", name)]
            func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
                Counter(label: label, dimensions: feed + extra, factory: factory)
            }
            func gauge(_ label: String, _ extra: [(String, String)] = []) -> Gauge {
                Gauge(label: label, dimensions: feed + extra, factory: factory)
            }
            framesIn = counter("wiretape_record_frames_total", [("direction", "in")])
            framesOut = counter("wiretape_record_frames_total", [("direction", "out")])
            bytesIn = counter("wiretape_record_bytes_total", [("direction", "in")])
            bytesOut = counter("wiretape_record_bytes_total", [("direction", "out")])
            lagged = counter("wiretape_record_lagged_frames_total")
            laggedBytes = counter("wiretape_record_lagged_bytes_total")
            writeErrors = counter("wiretape_record_write_errors_total")
            queueFrames = gauge("wiretape_record_queue_frames")
            queueBytes = gauge("wiretape_record_queue_bytes")
            epoch = gauge("wiretape_session_epoch")
            archiveBacklog = gauge("wiretape_archive_backlog_segments")
            states = ConnState.allCases.map { ($0, gauge("wiretape_session_state", [("state", $0.rawValue)])) }
            reconnects = counter("wiretape_session_reconnects_total")
            failedAttempts = counter("wiretape_session_failed_attempts_total")
            outages = counter("wiretape_session_outages_total")
            adapterLagged = counter("wiretape_session_adapter_lagged_frames_total")
        }

        /// Sets the gauges and advances the counters by what happened since the last scrape.
        func refresh() {
            let stats = recorder.stats
            let s = connection.snapshot
            let counters: [(Counter, UInt64)] = [
                (framesIn, stats.framesIn), (framesOut, stats.framesOut), (bytesIn, stats.bytesIn), (bytesOut, stats.bytesOut),
                (lagged, stats.lagged), (laggedBytes, stats.laggedBytes), (writeErrors, stats.writeErrors),
                (reconnects, s.reconnects), (failedAttempts, s.failedAttempts), (outages, status.outages),
                (adapterLagged, s.totalLagged),
            ]
            counted.withLock { done in
                if done.isEmpty { done = Array(repeating: 0, count: counters.count) }
                for (i, (c, now)) in counters.enumerated() where now > done[i] {
                    c.increment(by: Int64(now - done[i]))
                    done[i] = now
                }
            }
            queueFrames.record(Int64(stats.queuedFrames))
            queueBytes.record(Int64(stats.queuedBytes))
            epoch.record(Int64(s.epoch))
            if let backlog = status.archiveBacklog { archiveBacklog.record(Int64(backlog)) }
            for (state, g) in states { g.record(state == s.state ? 1 : 0) }
        }
    }
}
