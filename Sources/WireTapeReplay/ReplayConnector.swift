import Synchronization
import WireTapeCore
import WireTapeJournal
import WireTapeMock

/// How a `connect()` is matched to the recording.
public enum AttemptMapping: Sendable, Hashable {
    /// The Nth connect plays the Nth recorded attempt (failures and epochs alike).
    case byAttempt
    /// A connect at replay time *t* gets what the venue did at recorded time *t* (replay time
    /// zero is the selection's first record): inside an epoch it joins the epoch in progress
    /// (the frames it missed are counted); in a gap where failures were recorded it is refused
    /// like the nearest recorded failure; in a gap with no recorded failure the handshake lasts
    /// until the next epoch began; after the last epoch the recording is over.
    case byTime
}

/// When a recorded silence (an epoch the recorder left by its own liveness timeout) ends.
public enum SilenceEnd: Sendable, Hashable {
    /// Only when the adapter closes the connection (its liveness fires, as the recorder's did).
    case whenClosed
    /// At the recorded end, with a `livenessTimeout` error, for consumers without liveness.
    case atRecordedEnd
}

/// How a ``ReplayConnector`` plays a recording.
public struct ReplayOptions: Sendable {
    /// Speed: recorded, ×N, as fast as possible, or a test's manual clock.
    public var pacing: ReplayPacing
    /// How connects are matched to recorded attempts.
    public var mapping: AttemptMapping
    /// Mutations applied while replaying.
    public var mutations: [ReplayMutation]
    /// The seed of the mutations' randomness (`reorder-frames`).
    public var seed: UInt64
    /// How the adapter's sends are compared with the recorded ones.
    public var outbound: OutboundComparison
    /// When a recorded silence ends.
    public var silenceEnd: SilenceEnd
    /// The inbound limits (high-water marks) of each replayed connection.
    public var config: WSConfig

    /// Creates options; the default replays every attempt in order at recorded speed.
    public init(
        pacing: ReplayPacing = .recorded, mapping: AttemptMapping = .byAttempt, mutations: [ReplayMutation] = [],
        seed: UInt64 = 0, outbound: OutboundComparison = .exact, silenceEnd: SilenceEnd = .whenClosed,
        config: WSConfig = WSConfig()
    ) {
        self.pacing = pacing
        self.mapping = mapping
        self.mutations = mutations
        self.seed = seed
        self.outbound = outbound
        self.silenceEnd = silenceEnd
        self.config = config
    }
}

/// Counters of a replay, cumulative.
public struct ReplayStatistics: Sendable, Hashable {
    /// `connect()` calls answered.
    public var connects = 0
    /// Attempts refused (recorded failures, `refuse` mutations, by-time outages).
    public var refused = 0
    /// Connections opened (replayed epochs).
    public var epochs = 0
    /// Inbound frames delivered.
    public var framesDelivered = 0
    /// Frames not delivered because of `drop-frames`.
    public var framesDropped = 0
    /// Frames a by-time connect missed because it joined an epoch in progress.
    public var framesMissed = 0
    /// Frames not delivered because the adapter closed the connection before their time.
    public var framesUndelivered = 0
    /// Pings answered with a pong.
    public var pingsAnswered = 0
    /// Pings left unanswered (recorded silence, `stall`).
    public var pingsUnanswered = 0
    /// Frames the adapter sent.
    public var framesSent = 0
}

/// A `WSConnector` that plays a journal back: each `connect()` plays the next recorded
/// attempt. A failed attempt is thrown as the same classified `WSError`; a recorded epoch
/// becomes a `WSConnection` that delivers the epoch's inbound frames at their recorded
/// offsets (on ``clock``) and ends as the epoch ended. After the last attempt `connect()`
/// throws the end of the recording (see ``ReplayError/endOfRecordingError(attempts:)``).
///
/// ```swift
/// let replay = try ReplayConnector(directory: dir, options: ReplayOptions(pacing: .asFastAsPossible))
/// let session = ReconnectingConnector(wrapping: replay, config: config, clock: replay.clock).connect(request)
/// for try await frame in session.inbound { adapter.handle(frame) }
/// #expect(replay.outboundReport().isClean)
/// ```
public final class ReplayConnector: WSConnector, Sendable {
    /// The recording being replayed.
    public let recording: Recording
    /// The options in force.
    public let options: ReplayOptions
    /// The replay's clock: pass it to whatever runs above the replay.
    public let clock: ReplayClock
    /// Under `.asFastAsPossible`, the virtual time that moves ``clock``.
    public let virtualTime: VirtualTime?

    enum Planned: Sendable {
        case failed(RecordedFailure)
        case connected(Int)
    }

    private struct State {
        var next = 0
        var epochs: UInt64 = 0
        var stats = ReplayStatistics()
        var refusalsLeft: [Int: (count: Int, status: Int)] = [:]
    }
    private let plan: [Planned]
    private let state: Mutex<State>
    let ledger = OutboundLedger()
    /// The index connection that loaded the recording, handed to the first connection that
    /// reads (its pages and statements are warm: a seek's first frame comes sooner).
    private let loadedIndex: Mutex<JournalIndexQuery?>

    /// Replays `recording`.
    /// - Throws: ``ReplayError`` `.invalidMutation` when a mutation names an epoch the recording
    ///   does not have, `.invalidOption` for a speed that is not a positive number.
    public convenience init(recording: Recording, options: ReplayOptions = ReplayOptions()) throws(ReplayError) {
        try self.init(recording: recording, options: options, index: nil)
    }

    private init(recording: Recording, options: ReplayOptions, index: sending JournalIndexQuery?) throws(ReplayError) {
        self.recording = recording
        self.options = options
        loadedIndex = Mutex(index)
        switch options.pacing {
        case .speed(let s):
            guard s.isFinite, s > 0 else { throw ReplayError(.invalidOption, "the replay speed must be a positive number, got \(s)") }
            clock = .scaled(speed: s)
            virtualTime = nil
        case .asFastAsPossible:
            let v = VirtualTime()
            virtualTime = v
            clock = .manual(v.clock)
        case .manual(let m):
            clock = .manual(m)
            virtualTime = nil
        }
        for m in options.mutations where m.epoch > recording.epochs.count {
            throw ReplayError(
                .invalidMutation,
                "mutation \(m) names epoch \(m.epoch), but the recording has \(recording.epochs.count) connected epoch(s)")
        }
        var plan: [Planned] = []
        var refusals: [Int: (count: Int, status: Int)] = [:]
        for a in recording.attempts {
            switch a {
            case .failed(let f): plan.append(.failed(f))
            case .connected(let i):
                for case .refuse(let e, let count, let status) in options.mutations where e == i + 1 {
                    let f = RecordedFailure(
                        code: "handshakeRejected", message: "replay mutation: the server answered HTTP \(status)",
                        httpStatus: status, startedMono: 0, failedMono: 0)
                    plan += Array(repeating: .failed(f), count: count)
                    refusals[i, default: (0, status)].count += count
                }
                plan.append(.connected(i))
            }
        }
        self.plan = plan
        self.state = Mutex(State(refusalsLeft: refusals))
    }

    /// Loads `directory` (or the part `selection` names) and replays it.
    /// - Throws: ``ReplayError``.
    public convenience init(
        directory: String, selection: ReplaySelection = ReplaySelection(), options: ReplayOptions = ReplayOptions()
    ) throws(ReplayError) {
        let index = try? JournalIndexQuery(directory: directory)
        let recording = try Recording.load(directory: directory, selection: selection, index: index)
        try self.init(recording: recording, options: options, index: index)
    }

    /// The index connection the recording was loaded with, once (nil afterwards).
    func takeLoadedIndex() -> JournalIndexQuery? { loadedIndex.withLock { $0.take() } }

    deinit { virtualTime?.stop() }

    /// The counters so far.
    public var statistics: ReplayStatistics { state.withLock { $0.stats } }

    /// The adapter's sends per replayed epoch compared with the recording (see ``ReplayOptions/outbound``).
    public func outboundReport() -> OutboundReport { ledger.report(options.outbound) }

    func count(_ update: @Sendable (inout ReplayStatistics) -> Void) { state.withLock { update(&$0.stats) } }

    /// Plays the next recorded attempt (or, by time, what the venue did now).
    /// - Throws: the recorded failure as a `WSError`, or the end of the recording.
    public func connect(_ request: ConnectRequest) async throws -> WSConnection {
        virtualTime?.startDriver()
        virtualTime?.touch()
        switch options.mapping {
        case .byAttempt: return try await connectByAttempt(request.config)
        case .byTime: return try await connectByTime(request.config)
        }
    }

    private func connectByAttempt(_ config: WSConfig) async throws -> WSConnection {
        let taken: (Planned, UInt64)? = state.withLock { s in
            s.stats.connects += 1
            guard s.next < plan.count else { return nil }
            let p = plan[s.next]
            s.next += 1
            if case .connected = p { s.epochs += 1; s.stats.epochs += 1 } else { s.stats.refused += 1 }
            return (p, s.epochs)
        }
        guard let (planned, epochNumber) = taken else { throw ReplayError.endOfRecordingError(attempts: plan.count) }
        switch planned {
        case .failed(let f):
            if f.failedMono > f.startedMono { try await clock.sleep(for: .nanos(f.failedMono - f.startedMono)) }
            throw f.wsError
        case .connected(let i):
            return open(recording.epochs[i], epoch: epochNumber, joinAt: nil, config: config)
        }
    }

    private func connectByTime(_ config: WSConfig) async throws -> WSConnection {
        let t = clock.now.offset
        let recordedNow = recording.startMono &+ UInt64(max(0, t.components.seconds)) &* 1_000_000_000
            &+ UInt64(max(0, t.components.attoseconds / 1_000_000_000))
        let epochs = recording.epochs
        // The epoch in progress at recordedNow, or the next one and the failures before it.
        var failuresInGap: [RecordedFailure] = []
        var previousEnd: UInt64 = 0
        var target: (index: Int, join: UInt64?)? = nil
        for (i, e) in epochs.enumerated() {
            if recordedNow >= e.connectedMono && recordedNow < e.endMono { target = (i, recordedNow); break }
            if recordedNow < e.connectedMono {
                failuresInGap = recording.failures(between: previousEnd, and: e.connectedMono)
                target = (i, nil)
                break
            }
            previousEnd = e.endMono
        }
        state.withLock { $0.stats.connects += 1 }
        guard let (index, join) = target else { throw ReplayError.endOfRecordingError(attempts: recording.attempts.count) }
        let refusal: Int? = state.withLock { s in
            guard var r = s.refusalsLeft[index], r.count > 0 else { return nil }
            r.count -= 1
            s.refusalsLeft[index] = r
            s.stats.refused += 1
            return r.status
        }
        if let status = refusal {
            throw RecordedFailure(
                code: "handshakeRejected", message: "replay mutation: the server answered HTTP \(status)",
                httpStatus: status, startedMono: 0, failedMono: 0
            ).wsError
        }
        let e = epochs[index]
        if join == nil {
            if let f = failuresInGap.last(where: { $0.failedMono <= recordedNow }) ?? failuresInGap.first {
                state.withLock { $0.stats.refused += 1 }
                throw f.wsError
            }
            // No failure was recorded before this epoch: the handshake lasts until it began.
            try await clock.sleep(until: ReplayClock.Instant(offset: .nanos(e.connectedMono - recording.startMono)))
        }
        let number = state.withLock { s -> UInt64 in
            s.epochs += 1
            s.stats.epochs += 1
            return s.epochs
        }
        return open(e, epoch: number, joinAt: join, config: config)
    }

    private func open(_ e: RecordedEpoch, epoch: UInt64, joinAt: UInt64?, config: WSConfig) -> WSConnection {
        let mutations = options.mutations.filter { $0.epoch == e.ordinal }
        let connection = ReplayConnection(
            connector: self, recorded: e, epoch: epoch, joinAt: joinAt, mutations: mutations,
            seed: options.seed &+ UInt64(e.ordinal) &* 0x9E37_79B9, config: config)
        return connection.start()
    }
}

extension Recording {
    /// Failed attempts whose failure lies in `(from, to]`.
    func failures(between from: UInt64, and to: UInt64) -> [RecordedFailure] {
        attempts.compactMap { a in
            if case .failed(let f) = a, f.failedMono > from || (from == 0 && f.failedMono >= from), f.failedMono <= to { return f }
            return nil
        }
    }
}
