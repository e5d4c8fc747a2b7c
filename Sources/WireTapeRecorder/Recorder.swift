#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeResilience

/// Tuning for a ``Recorder``.
public struct RecorderOptions: Sendable {
    /// The most frames waiting for the writer thread; beyond it frames are counted as lag
    /// (default 32,768: 80 ms of a 400k frames/s burst).
    public var queueRecords: Int = 32_768
    /// The most bytes waiting for the writer thread: payloads plus ``RecordQueue/overheadPerRecord``
    /// each (default 8 MiB). The writer holds at most one more queue's worth while it writes.
    public var queueBytes: Int = 8 << 20
    /// How long the writer holds records to restore their causal order across threads
    /// (default 5 ms). See docs/recorder.md, "Timestamps".
    public var reorderWindow: Duration = .milliseconds(5)
    /// Names and JSON fields to redact beyond the built-in rules.
    public var redaction = RedactionRules()
    /// Whether epochs come from a followed `ReconnectingConnection` (``Recorder/connect(_:through:)``
    /// or ``Recorder/follow(_:)``; the default). Without one (or while ``Recorder/follow(_:)``
    /// has not been called yet), every leaf connection is its own epoch.
    public var followsLifecycle = true
    /// Called on the writer thread before each record is written, with its kind. Tests use it
    /// to throttle or pause the writer; leave `nil` in production.
    public var writeHook: (@Sendable (RecordKind) -> Void)?

    /// The defaults.
    public init() {}
}

/// What a ``Recorder`` has done so far. Every count is cumulative.
public struct RecorderStats: Sendable, Hashable {
    /// Inbound frames written.
    public var framesIn: UInt64 = 0
    /// Outbound frames written.
    public var framesOut: UInt64 = 0
    /// Payload bytes of inbound frames written.
    public var bytesIn: UInt64 = 0
    /// Payload bytes of outbound frames written.
    public var bytesOut: UInt64 = 0
    /// Records of any kind written.
    public var records: UInt64 = 0
    /// Frames that could not be queued (the writer fell behind); each is in a lag record.
    public var lagged: UInt64 = 0
    /// Payload bytes of ``lagged``.
    public var laggedBytes: UInt64 = 0
    /// Frames of connections the resilient layer abandoned (handshake after the attempt
    /// timeout; never delivered to the adapter), not recorded.
    public var abandonedFrames: UInt64 = 0
    /// Records whose monotonic time was raised to keep `mono_ns` non-decreasing.
    public var clamped: UInt64 = 0
    /// Records the journal refused (I/O errors); see ``lastError``.
    public var writeErrors: UInt64 = 0
    /// The last journal error, if any.
    public var lastError: String?
    /// Frames waiting in the queue for the writer thread now (a level, not a count).
    public var queuedFrames: UInt64 = 0
    /// Bytes of ``queuedFrames`` as counted against ``RecorderOptions/queueBytes``.
    public var queuedBytes: UInt64 = 0
    /// The latest epoch recorded.
    public var epoch: UInt64 = 0
    /// The sequence number of the last record written, if any.
    public var lastSeq: UInt64?

    /// All counters zero: nothing recorded.
    public init() {}
}

/// Records a live session into a journal without ever making the live path wait for the disk.
///
/// The recorder owns a ``WireTapeJournal/JournalWriter`` and a dedicated writer thread (the
/// journal API is synchronous; the cooperative pool must not block on disk). The live path —
/// the socket's event loop teeing inbound frames, senders, the connect path — only appends to
/// a bounded queue (count and bytes); when the writer falls behind, what does not fit is
/// counted and a `lag` record with the exact count and bytes is written where it is missing.
///
/// ```swift
/// let recorder = try Recorder(directory: "/var/tape/btc")   // takes the journal's lock
/// recorder.start(url: url, headers: headers)
/// let stack = ReconnectingConnector(wrapping: recorder.connector(wrapping: NIOConnector()))
/// let connection = recorder.connect(request, through: stack)   // follows it from its first edge
/// for try await frame in connection.inbound { … }
/// await connection.shutdown()
/// let stats = await recorder.finish(reason: "interrupted")
/// ```
public final class Recorder: Sendable {
    /// The journal directory.
    public let directory: String
    /// The options in force.
    public let options: RecorderOptions
    let queue: RecordQueue
    private let box: WriterBox
    private let state = Mutex(Shared())
    private let nextConnection = Atomic<UInt64>(0)
    /// The followed session's latest edge, kept by the recorder's own edge observer (a box of
    /// its own: the observer, held by the session's watch, must not keep the recorder alive).
    private let followed = LatestEdge()

    private struct Shared {
        var stats = RecorderStats()
        var started = false
        var finished = false
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// Opens the journal for writing (taking its lock) without connecting anything yet.
    ///
    /// - Throws: ``WireTapeJournal/JournalError`` — code `locked` when another writer holds
    ///   the journal (open the recorder *before* connecting, so a second recorder is refused
    ///   before it touches the venue).
    public init(directory: String, journal: JournalWriterOptions = .init(), options: RecorderOptions = .init())
        throws(JournalError)
    {
        self.directory = directory
        self.options = options
        box = WriterBox(try JournalWriter(directory: directory, options: journal))
        queue = RecordQueue(maxRecords: options.queueRecords, maxBytes: options.queueBytes)
    }

    /// Writes the session start (URL and request headers, redacted) and starts the writer
    /// thread. Call once, before connecting.
    public func start(url: String, headers: [HTTPHeaderField] = []) {
        let first = state.withLock { s -> Bool in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        queue.pushControl(.secrets(options.redaction.secretValues(url: url, headers: headers)))
        queue.pushControl(.sessionStart(url: url, headers: headers, at: .now()))
        let window = UInt64(max(0, options.reorderWindow.components.seconds)) * 1_000_000_000
            + UInt64(max(0, options.reorderWindow.components.attoseconds / 1_000_000_000))
        let orderer = RecordOrderer(
            windowNanos: window, followsLifecycle: options.followsLifecycle, rules: options.redaction,
            scrubber: SecretScrubber(fields: options.redaction.fields))
        box.start(recorder: self, orderer: orderer)
    }

    /// A connector that records every attempt, frame and send of `inner`. Put it *under*
    /// `ReconnectingConnector`.
    public func connector(wrapping inner: any WSConnector) -> RecordingConnector {
        RecordingConnector(inner: inner, recorder: self)
    }

    /// Starts a resilient session through `connector` (built over ``connector(wrapping:)``)
    /// and follows it from its first edge: the recorder's edge observer is registered before
    /// the session starts (`ReconnectingConnector.connect(_:observingEdges:)`), so every edge
    /// is recorded, `connecting` in epoch 0 first, and the first leaf connection is attributed
    /// by the session however quickly it connects. Prefer it to ``follow(_:)``, which follows
    /// a session that is already running.
    public func connect(_ request: ConnectRequest, through connector: ReconnectingConnector) -> ReconnectingConnection {
        connector.connect(request, observingEdges: edgeObserver())
    }

    /// Follows the resilient session's lifecycle watch: records every edge with its epoch,
    /// cause and counters, and decides which leaf connection became which epoch.
    ///
    /// The session is already running when this is called: edges published in between are
    /// coalesced into the current one, and a leaf connection completed before it is its own
    /// epoch. ``connect(_:through:)`` has neither gap.
    public func follow(_ connection: ReconnectingConnection) {
        follow(lifecycle: connection.lifecycle)
    }

    /// Records each edge (on the publisher's thread: it only appends to the queue) and keeps
    /// the latest for ``followedSnapshot``.
    private func edgeObserver() -> @Sendable (LifecycleSnapshot) -> Void {
        let queue = self.queue
        let followed = self.followed
        return { snapshot in
            followed.edge.withLock { $0 = snapshot }
            queue.pushControl(.lifecycle(snapshot))
        }
    }

    /// Follows a lifecycle watch (see ``follow(_:)``).
    ///
    /// Every edge is recorded, even two published a microsecond apart: the recorder observes
    /// the watch without coalescing (`LifecycleWatch.observeEdges`), on the publisher's thread,
    /// and only appends the edge to its queue there. Snapshots that change nothing but the lag counters
    /// (the inbound buffer shedding) are not edges and are not queued; the next edge carries
    /// the counters.
    public func follow(lifecycle watch: LifecycleWatch) {
        watch.observeEdges(edgeObserver())
    }

    /// Appends a user's note (an `annotation` record) in sequence order with the live records,
    /// in the current epoch, stamped now; `completion` is called once, on the writer thread,
    /// with the record's sequence number.
    ///
    /// This is what `wiretape annotate` on a live journal reaches through the control socket.
    ///
    /// - Parameters:
    ///   - text: the note.
    ///   - wallNanos: the note's wall time (Unix nanoseconds); `nil` means now. Records are
    ///     appended in time order, so a time more than a second away from now is refused.
    ///   - completion: the sequence number, or a ``WireTapeJournal/JournalError``: `closed`
    ///     when the recording has ended, `invalidArgument` for a refused time, or the journal's
    ///     write error.
    public func annotate(
        _ text: String, wallNanos: Int64? = nil, completion: @escaping @Sendable (Result<UInt64, JournalError>) -> Void
    ) {
        var at = ReceiveTimestamp.now()
        if let wallNanos {
            guard abs(wallNanos - at.wallNanos) <= 1_000_000_000 else {
                completion(.failure(JournalError(
                    .invalidArgument,
                    "a live recording appends notes at the current time; say in the text which other moment the note is about")))
                return
            }
            at.wallNanos = wallNanos
        }
        let started = state.withLock { $0.started }
        guard started, queue.pushControl(.annotation(text: text, at: at, reply: completion)) else {
            completion(.failure(JournalError(.closed, "the recording of \(directory) is not running; no note can be added to it now")))
            return
        }
    }

    /// Appends a user's note; see ``annotate(_:wallNanos:completion:)``.
    /// - Returns: the record's sequence number.
    public func annotate(_ text: String, wallNanos: Int64? = nil) async throws(JournalError) -> UInt64 {
        let result = await withCheckedContinuation { (c: CheckedContinuation<Result<UInt64, JournalError>, Never>) in
            annotate(text, wallNanos: wallNanos) { c.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Registers credential values to scrub from every later record.
    public func registerSecrets(_ values: [String]) {
        guard !values.isEmpty else { return }
        queue.pushControl(.secrets(values))
    }

    /// A snapshot of the counters.
    public var stats: RecorderStats {
        var s = state.withLock { $0.stats }
        let lag = queue.lagged
        s.lagged = lag.count
        s.laggedBytes = lag.bytes
        let depth = queue.depth
        s.queuedFrames = UInt64(depth.frames)
        s.queuedBytes = UInt64(depth.bytes)
        return s
    }

    /// The followed session's epoch and snapshot now (read synchronously when a leaf
    /// connection is closed, to tell an accepted connection from an abandoned one).
    var followedSnapshot: LifecycleSnapshot? { followed.edge.withLock { $0 } }

    func newConnectionID() -> UInt64 { nextConnection.add(1, ordering: .relaxed).newValue }

    /// Writes the session end (`reason`), flushes, syncs and closes the journal, and returns
    /// the final counters. Frames teed after this call are counted as lag.
    ///
    /// Call it after the session ended (`shutdown` returned) so the final lifecycle edge is in.
    @discardableResult
    public func finish(reason: String) async -> RecorderStats {
        let first = state.withLock { s in
            defer { s.finished = true }
            return !s.finished && s.started
        }
        if first {
            queue.pushControl(.sessionEnd(message: reason, at: .now()))
            queue.stop()
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.done || !s.started { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
        return stats
    }

    // MARK: Writer thread

    fileprivate func writerDone() {
        let waiters = state.withLock { s in
            s.done = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }

    fileprivate func update(_ body: (inout RecorderStats) -> Void) {
        state.withLock { body(&$0.stats) }
    }
}

/// Owns the `JournalWriter` and runs the writer thread.
///
/// `@unchecked Sendable`: `writer` is set in `init` on the creating thread and from then on
/// touched only by the writer thread, which `start` creates (`pthread_create` orders the
/// hand-over); `started` is guarded by `startLock`.
private final class WriterBox: @unchecked Sendable {
    private var writer: JournalWriter?
    private let startLock = Mutex(false)

    init(_ writer: JournalWriter) { self.writer = writer }

    func start(recorder: Recorder, orderer: RecordOrderer) {
        let go = startLock.withLock { started -> Bool in
            defer { started = true }
            return !started
        }
        guard go else { return }
        let context = ThreadContext(box: self, recorder: recorder, orderer: orderer)
        let arg = Unmanaged.passRetained(context).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let ctx = Unmanaged<ThreadContext>.fromOpaque(arg!).takeRetainedValue()
            ctx.box.run(recorder: ctx.recorder, orderer: ctx.orderer)
            return nil
        }, arg)
        if rc == 0 {
            pthread_detach(t)
        } else {
            Unmanaged<ThreadContext>.fromOpaque(arg).release()
            recorder.update { $0.lastError = "could not start the writer thread (pthread_create \(rc))" }
            recorder.writerDone()
        }
    }

    /// Publishes the writer thread's counters; the lag counters belong to the live path
    /// (counted where frames are shed) and are kept.
    private func publish(_ local: RecorderStats, to recorder: Recorder) {
        recorder.update { s in
            let (lagged, laggedBytes) = (s.lagged, s.laggedBytes)
            s = local
            s.lagged = lagged
            s.laggedBytes = laggedBytes
        }
    }

    private func run(recorder: Recorder, orderer initial: RecordOrderer) {
        var orderer = initial
        let queue = recorder.queue
        let hook = recorder.options.writeHook
        var batch: [RecorderEvent] = []
        var out: [OrderedRecord] = []
        batch.reserveCapacity(1024)
        var local = RecorderStats()
        while true {
            // Records held for the reorder window: wake when the window passes, not per push.
            let holding = orderer.hasPending
            let wait: UInt64 = holding ? max(orderer.windowNanos / 2, 500_000) : 100_000_000
            let stopping = queue.take(into: &batch, timeoutNanos: wait, wakeOnPush: !holding)
            for e in batch { orderer.push(e) }
            batch.removeAll(keepingCapacity: true)
            let now = ReceiveTimestamp.now().monotonicNanos
            orderer.ready(nowMono: now, draining: stopping, into: &out)
            if let writer {
                for r in out { write(r, writer, hook: hook, &local) }
                do { try writer.flushIfDue(monoNanos: now) } catch { note(error, &local) }
            } else {
                for r in out { r.reply?(.failure(JournalError(.closed, "the journal writer is closed"))) }
            }
            out.removeAll(keepingCapacity: true)
            local.clamped = orderer.clamped
            local.abandonedFrames = orderer.abandonedFrames
            publish(local, to: recorder)
            if stopping { break }
        }
        if let writer {
            do {
                try writer.flush()
                try writer.sync()
                try writer.close()
            } catch { note(error, &local) }
            self.writer = nil
        }
        publish(local, to: recorder)
        recorder.writerDone()
    }

    private func note(_ error: JournalError, _ stats: inout RecorderStats) {
        stats.writeErrors += 1
        stats.lastError = "\(error)"
    }

    private func write(_ r: OrderedRecord, _ writer: JournalWriter, hook: (@Sendable (RecordKind) -> Void)?, _ stats: inout RecorderStats) {
        var failure: JournalError?
        var seq: UInt64?
        switch r.body {
        case .frame(let dir, let frame):
            hook?(dir == .inbound ? .inboundFrame : .outboundFrame)
            func put(_ p: UnsafeRawBufferPointer, _ op: FrameOpcode) {
                do { seq = try writer.appendFrame(direction: dir, opcode: op, payload: p, epoch: r.epoch, at: r.at) } catch {
                    failure = error
                }
            }
            switch frame {
            case .text(var s): s.withUTF8 { put(UnsafeRawBufferPointer($0), .text) }
            case .binary(let b): b.withUnsafeBytes { put($0, .binary) }
            }
            if failure == nil {
                if dir == .inbound {
                    stats.framesIn += 1
                    stats.bytesIn += UInt64(frame.byteCount)
                } else {
                    stats.framesOut += 1
                    stats.bytesOut += UInt64(frame.byteCount)
                }
            }
        case .record(let body):
            hook?(body.kind)
            do { seq = try writer.append(body, epoch: r.epoch, at: r.at) } catch { failure = error }
        }
        if let reply = r.reply {
            if let seq { reply(.success(seq)) } else { reply(.failure(failure ?? JournalError(.io, "the note was not written"))) }
        }
        if let failure {
            note(failure, &stats)
        } else {
            stats.records += 1
            stats.lastSeq = seq
            if r.epoch > stats.epoch { stats.epoch = r.epoch }
        }
    }
}

private final class ThreadContext: Sendable {
    let box: WriterBox
    let recorder: Recorder
    let orderer: RecordOrderer
    init(box: WriterBox, recorder: Recorder, orderer: RecordOrderer) {
        self.box = box
        self.recorder = recorder
        self.orderer = orderer
    }
}

/// The latest edge of the session a ``Recorder`` follows.
private final class LatestEdge: Sendable {
    let edge = Mutex<LifecycleSnapshot?>(nil)
}
