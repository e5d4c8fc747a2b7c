import Synchronization
import WireTapeCore
import WireTapeJournal

/// One replayed epoch: the producer task that paces its frames, the sink, the lifecycle watch.
final class ReplayConnection: Sendable {
    let connector: ReplayConnector
    let recorded: RecordedEpoch
    let epoch: UInt64
    let joinAt: UInt64?
    let mutations: [ReplayMutation]
    let seed: UInt64
    let stream: InboundStream
    let producer: InboundStream.Producer
    let lifecycle: LifecycleWatch
    let activity = ConnectionActivity()
    let slot: Int
    /// The most frames handed to the inbound stream at once.
    static let batchLimit = 1024
    /// Replay time when `connect()` returned: the epoch's frames are paced from here.
    let openedAt: Duration

    private struct State {
        var ended = false
        var pongs = true
        var demand = false
        var demandWaiter: CheckedContinuation<Void, Never>?
        var task: Task<Void, Never>?
    }
    private let state = Mutex(State())
    private let endedFlag = Atomic<Bool>(false)

    init(
        connector: ReplayConnector, recorded: RecordedEpoch, epoch: UInt64, joinAt: UInt64?,
        mutations: [ReplayMutation], seed: UInt64, config: WSConfig
    ) {
        self.connector = connector
        self.recorded = recorded
        self.epoch = epoch
        self.joinAt = joinAt
        self.mutations = mutations
        self.seed = seed
        (stream, producer) = InboundStream.makeStream(config: config)
        lifecycle = LifecycleWatch(LifecycleSnapshot(
            epoch: epoch, state: .connected,
            at: ReceiveTimestamp(wallNanos: recorded.connectedWall, monotonicNanos: recorded.connectedMono)))
        slot = connector.ledger.open(epoch: epoch, recorded: recorded)
        openedAt = connector.clock.now.offset
    }

    /// Starts the producer and returns the connection.
    func start() -> WSConnection {
        producer.setDemandHandler { [weak self] in self?.demandArrived() }
        producer.setTerminationHandler { [weak self] in
            // The consumer stopped iterating: nothing more will be taken.
            self?.close(.localClose(code: .goingAway, reason: "the consumer stopped reading"), error: nil)
        }
        connector.virtualTime?.beginWork()
        let task = Task { await self.run() }
        state.withLock { $0.task = task }
        let info = ConnectionInfo(
            remoteAddress: "replay:\(connector.recording.directory)#\(recorded.epoch)",
            connectedAt: ReceiveTimestamp(wallNanos: recorded.connectedWall, monotonicNanos: recorded.connectedMono))
        return WSConnection(
            inbound: stream, sink: ReplaySink(connection: self), lifecycle: lifecycle, info: info, activity: activity)
    }

    var isEnded: Bool { endedFlag.load(ordering: .acquiring) }
    var answersPings: Bool { state.withLock { $0.pongs } }
    private func setPongs(_ on: Bool) { state.withLock { $0.pongs = on } }

    private func demandArrived() {
        let w = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.demandWaiter {
                s.demandWaiter = nil
                return w
            }
            s.demand = true
            return nil
        }
        w?.resume()
    }

    private func waitForDemand() async {
        let v = connector.virtualTime
        // Waiting for the consumer is not idleness: virtual time must not move meanwhile.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.demand || s.ended {
                    s.demand = false
                    return true
                }
                s.demandWaiter = c
                return false
            }
            if now { c.resume() }
        }
        v?.touch()
    }

    /// Ends the connection once: publishes the final lifecycle edge, then ends the stream.
    func close(_ cause: DisconnectCause, error: WSError?) {
        let (first, waiter, task) = state.withLock { s -> (Bool, CheckedContinuation<Void, Never>?, Task<Void, Never>?) in
            guard !s.ended else { return (false, nil, nil) }
            s.ended = true
            endedFlag.store(true, ordering: .releasing)
            let w = s.demandWaiter
            s.demandWaiter = nil
            return (true, w, s.task)
        }
        guard first else { return }
        lifecycle.finish(LifecycleSnapshot(epoch: epoch, state: .closed, lastDisconnect: cause))
        if let error { producer.finish(throwing: error) } else { producer.finish() }
        connector.ledger.end(slot: slot)
        connector.virtualTime?.touch()
        waiter?.resume()
        if case .localClose = cause { task?.cancel() }
    }

    /// Ends the connection the way the recorded (or mutated) epoch ended.
    private func end(_ end: EpochEnd) {
        switch end {
        case .peerClose(let raw, let reason):
            let code = WSCloseCode(raw)
            let error: WSError? = code.isClean || code == .noStatusReceived ? nil : WSError(
                .closedByPeer,
                "the server closed the connection with code \(code)\(reason.isEmpty ? "" : " \"\(reason)\"") (replayed)",
                closeCode: code, closeReason: reason)
            close(.peerClosed(code: code, reason: reason), error: error)
        case .connectionLost(let message):
            let e = WSError(.connectionLost, "\(message) (replayed)", closeCode: .abnormalClosure)
            close(.error(e), error: e)
        case .silence(let message):
            let e = WSError(.livenessTimeout, "\(message) (replayed silence reached its recorded end)")
            close(.error(e), error: e)
        case .error(let code, let message, let cc):
            let known = WSError.Code(rawValue: code)
            let e = WSError(
                known ?? .ioError, "\(known == nil ? code + ": " : "")\(message) (replayed)",
                closeCode: cc.map(WSCloseCode.init(rawValue:)))
            close(.error(e), error: e)
        case .localClose(let raw, let reason):
            // The recorder closed this epoch itself; the replay ends it as a clean close.
            close(.peerClosed(code: WSCloseCode(raw), reason: reason), error: nil)
        case .endOfRecording:
            let e = ReplayError.endOfRecordingError(attempts: connector.recording.attempts.count)
            close(.error(e), error: e)
        }
    }

    // MARK: The producer

    private func wait(until t: Duration) async throws {
        if let v = connector.virtualTime {
            try await v.reach(t)
        } else {
            let clock = connector.clock
            if clock.now.offset < t { try await clock.sleep(until: ReplayClock.Instant(offset: t)) }
        }
        if Task.isCancelled { throw CancellationError() }
    }

    private func run() async {
        let virtual = connector.virtualTime
        defer { virtual?.endWork() }
        let clock = connector.clock
        let recording = connector.recording
        let e = recorded
        // Replay time at which the epoch's recorded handshake falls.
        let base: Duration = joinAt == nil ? openedAt : .nanos(e.connectedMono &- recording.startMono)
        var plan = FramePlan(mutations: mutations, seed: seed)
        let plain = mutations.isEmpty
        var window: [Int: InboundFrame] = [:]
        // Without mutations, frames are lent to the stream as views of the cursor's decoded
        // block (no copy unless the consumer wants owned frames); mutated frames are owned,
        // since a reorder holds them across blocks.
        var records: [RecordView] = []
        var views: [InboundFrameView] = []
        var batch: [InboundFrame] = []
        if plain {
            records.reserveCapacity(Self.batchLimit)
            views.reserveCapacity(Self.batchLimit)
        } else {
            batch.reserveCapacity(Self.batchLimit)
        }
        var batchBytes = 0
        var batchDue: Duration = .zero
        var index = 0
        var delivered = 0
        var missed = 0
        var undelivered = 0
        // Virtual time: frames due before the earliest other deadline are delivered in batches,
        // the clock moved to the batch's last frame; a frame due after it waits on the clock.
        var horizon: Duration = virtual?.clock.nextDeadline?.offset ?? .seconds(Int64.max / 2)

        // Virtual time: before time first moves, the adapter gets to react to the new
        // connection (subscribe, start its timers). Frames due at once go out before that, so
        // a seek's first frame does not wait for the settle.
        var settled = false
        func settleOnce() async {
            guard let virtual, !settled else { return }
            settled = true
            try? await virtual.settle(excludingSelf: true)
            horizon = virtual.clock.nextDeadline?.offset ?? .seconds(Int64.max / 2)
        }

        func flush() async {
            if let virtual, batchDue > virtual.clock.now.offset {
                await settleOnce()
                virtual.clock.advance(to: .init(offset: batchDue))
            }
            let count = views.count + batch.count
            guard count > 0 else { return }
            if isEnded {
                undelivered += count
                views.removeAll(keepingCapacity: true)
                batch.removeAll(keepingCapacity: true)
                return
            }
            activity.recordRead(bytes: batchBytes, at: clock.nowNanos)
            delivered += count
            var more = true
            if !views.isEmpty { more = views.withUnsafeBufferPointer { producer.yield(views: $0) } }
            if !batch.isEmpty { more = producer.yield(contentsOf: batch) && more }
            views.removeAll(keepingCapacity: true)
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            if !more && !isEnded { await waitForDemand() }
        }

        /// Waits until `due` (flushing first when it must wait); false when the epoch ended.
        func reach(_ due: Duration) async -> Bool {
            if let virtual {
                if due >= horizon {
                    await flush()
                    await settleOnce()
                    do { try await virtual.reach(due) } catch { return false }
                    horizon = virtual.clock.nextDeadline?.offset ?? .seconds(Int64.max / 2)
                    if Task.isCancelled { return false }
                }
                if due > batchDue { batchDue = due }
                return true
            }
            if due > clock.now.offset {
                await flush()
                do { try await wait(until: due) } catch { return false }
            }
            return true
        }

        func append(_ f: InboundFrame) async {
            batch.append(f)
            batchBytes += f.frame.byteCount
            if batch.count >= Self.batchLimit { await flush() }
        }

        /// Performs steps; returns false when the epoch ended (a mutation, or a local close).
        func perform(_ steps: [FramePlan.Step]) async -> Bool {
            for step in steps {
                switch step {
                case .frame(let j, let offset):
                    guard await reach(base + offset) else { return false }
                    if let f = window[j] { await append(f) }
                case .pause(let offset, let duration, let pongs):
                    guard await reach(base + offset) else { return false }
                    await flush()
                    setPongs(pongs)
                    // Virtual time: let the adapter's timers (liveness) register before the
                    // silence is skipped over, or they would wake after it.
                    if let virtual { try? await virtual.settle(excludingSelf: true) }
                    guard await reach(base + offset + duration) else { return false }
                    await flush()
                    setPongs(true)
                case .end(let how):
                    await flush()
                    end(how)
                    return false
                }
                if isEnded { return false }
            }
            return true
        }

        var running = true
        do {
            let filter = RecordFilter(
                fromSeq: e.firstSeq, fromWall: recording.selection.fromWall, toWall: recording.selection.toWall,
                epoch: e.frameEpochFilter, direction: .inbound)
            let options = ReadOptions(filter: filter)
            let cursor = try connector.takeLoadedIndex()?.cursor(options) ?? JournalCursor(directory: recording.directory, options: options)
            while running {
                try cursor.nextViews(into: &records, limit: Self.batchLimit)
                if records.isEmpty { break }
                for v in records {
                    if let j = joinAt, v.monoNanos < j {
                        missed += 1
                        index += 1
                        continue
                    }
                    if missed > 0 {
                        connector.count { [missed] in $0.framesMissed += missed }
                        missed = 0
                    }
                    let view = InboundFrameView(
                        isBinary: v.opcode == .binary, payload: v.payload, epoch: epoch,
                        received: ReceiveTimestamp(wallNanos: v.wallNanos, monotonicNanos: v.monoNanos))
                    let recordedOffset: Duration = .nanos(v.monoNanos &- e.connectedMono)
                    let i = index
                    index += 1
                    if plain {
                        // The common case, without the mutation machinery: a frame that is
                        // already due joins the batch without any suspension point.
                        let due = base + recordedOffset
                        // Frames due now go out before the first settle (see `settleOnce`).
                        if let virtual, !settled, !views.isEmpty, due > virtual.clock.now.offset { await flush() }
                        if virtual != nil ? due < horizon : due <= clock.now.offset {
                            if due > batchDue { batchDue = due }
                        } else {
                            guard await reach(due) else { running = false; break }
                            if isEnded { running = false }
                        }
                        views.append(view)
                        batchBytes += v.payload.count
                        if !running { break }
                    } else {
                        window[i] = view.frame
                        let steps = plan.frame(index: i, recorded: recordedOffset)
                        running = await perform(steps)
                        for case .frame(let j, _) in steps { window[j] = nil }
                        if !plan.isHolding(i) { window[i] = nil }
                        if !running { break }
                    }
                }
                // The views borrow the cursor's block: hand them over before it reads on.
                if !views.isEmpty {
                    await flush()
                    if isEnded { running = false }
                }
            }
            if running { running = await perform(plan.finish(frameCount: index)) }
            await flush()
        } catch {
            let e = WSError(.ioError, "the replay could not read \(recording.directory): \(error)", underlying: error)
            close(.error(e), error: e)
            running = false
        }
        connector.count { [delivered, missed, undelivered, dropped = plan.dropped] in
            $0.framesDelivered += delivered
            $0.framesMissed += missed
            $0.framesUndelivered += undelivered
            $0.framesDropped += dropped
        }
        guard running, !isEnded else { return }
        if let virtual { try? await virtual.settle(excludingSelf: true) }
        // After the last frame: end as the epoch ended, at its recorded time.
        switch e.end {
        case .silence:
            setPongs(false)
            guard connector.options.silenceEnd == .atRecordedEnd else { return }  // until the adapter closes
        default:
            break
        }
        guard await reach(base + plan.scaled(.nanos(e.endMono &- e.connectedMono))) else { return }
        await flush()
        end(e.end)
    }
}

/// The outbound half of a replayed connection: records sends for the outbound check and
/// answers pings unless the replay is in a silence.
struct ReplaySink: WSSink {
    let connection: ReplayConnection

    func send(_ frame: Frame) async throws {
        guard !connection.isEnded else {
            throw WSError(.sinkClosed, "send after the replayed connection ended (epoch \(connection.epoch))")
        }
        connection.connector.ledger.record(frame, slot: connection.slot)
        connection.connector.count { $0.framesSent += 1 }
        connection.connector.virtualTime?.touch()
    }

    func sendPing(_ payload: [UInt8]) async throws {
        guard !connection.isEnded else {
            throw WSError(.sinkClosed, "ping after the replayed connection ended (epoch \(connection.epoch))")
        }
        if connection.answersPings {
            connection.activity.recordPongReceived(at: connection.connector.clock.nowNanos)
            connection.connector.count { $0.pingsAnswered += 1 }
        } else {
            connection.connector.count { $0.pingsUnanswered += 1 }
        }
        connection.connector.virtualTime?.touch()
    }

    func close(code: WSCloseCode, reason: String) async {
        connection.close(.localClose(code: code, reason: reason), error: nil)
    }
}
