import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeReplay
#if canImport(Glibc)
import Glibc
#endif

/// A journal written record by record with exact times (milliseconds from zero), the way the
/// recorder writes one: lifecycle edges, connect outcomes, frames.
struct Tape {
    static let wallBase: Int64 = 1_800_000_000_000_000_000
    static let monoBase: UInt64 = 7_000_000_000
    var records: [(body: RecordBody, epoch: UInt64, ms: Double)] = []

    static func at(_ ms: Double) -> ReceiveTimestamp {
        ReceiveTimestamp(wallNanos: wallBase + Int64(ms * 1_000_000), monotonicNanos: monoBase + UInt64(ms * 1_000_000))
    }

    mutating func edge(
        _ state: ConnState, epoch: UInt64, at ms: Double, code: UInt16? = nil, reason: String? = nil, error: String? = nil,
        message: String? = nil, by: CloseInitiator? = nil
    ) {
        records.append((.lifecycle(LifecycleEdge(
            state: state, closeCode: code, closeReason: reason, error: error, message: message, closedBy: by)), epoch, ms))
    }
    mutating func connected(epoch: UInt64, at ms: Double) {
        if records.isEmpty || epoch == 1 { edge(.connecting, epoch: epoch - 1, at: max(0, ms - 1)) }
        edge(.connected, epoch: epoch, at: ms)
    }
    mutating func text(_ s: String, epoch: UInt64, at ms: Double, out: Bool = false) {
        records.append((.frame(direction: out ? .outbound : .inbound, opcode: .text, payload: Array(s.utf8)), epoch, ms))
    }
    mutating func binary(_ b: [UInt8], epoch: UInt64, at ms: Double) {
        records.append((.frame(direction: .inbound, opcode: .binary, payload: b), epoch, ms))
    }
    mutating func failed(epoch: UInt64, at ms: Double, status: UInt16?, error: String, message: String = "refused", retryAfter: UInt32? = nil) {
        records.append((.connect(ConnectEvent(outcome: .attempt)), epoch, ms - 1))
        records.append((.connect(ConnectEvent(
            outcome: .failed, httpStatus: status, error: error, message: message, retryAfterSeconds: retryAfter)), epoch, ms))
    }

    /// Writes the tape into a fresh journal directory and returns its path.
    /// - Parameter blockSize: the writer's block size, when not its default (small blocks
    ///   spread an epoch over many).
    func write(blockSize: Int? = nil) throws -> String {
        var template = Array("/tmp/wiretape-replay-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let dir = String(cString: p!) + "/j"
        var options = JournalWriterOptions()
        if let blockSize { options.blockSize = blockSize }
        let w = try JournalWriter(directory: dir, options: options)
        for r in records.sorted(by: { $0.ms < $1.ms }) { try w.append(r.body, epoch: r.epoch, at: Self.at(r.ms)) }
        try w.close()
        return dir
    }

    /// Three epochs: 1 ends with a peer close 1011, 2 with a lost transport, 3 with the
    /// recorder's shutdown. Each epoch re-subscribes (`{"op":"sub","id":N}` outbound).
    static func threeOutages() -> Tape {
        var t = Tape()
        t.records.append((.session(SessionEvent(phase: .start, url: "ws://venue/feed")), 0, 0))
        t.connected(epoch: 1, at: 10)
        t.text(#"{"op":"sub","id":1}"#, epoch: 1, at: 11, out: true)
        for i in 0..<5 { t.text("e1-\(i)", epoch: 1, at: 20 + Double(i) * 10) }
        t.binary([0, 1, 2, 255], epoch: 1, at: 70)
        t.edge(.reconnecting, epoch: 1, at: 100, code: 1011, reason: "overloaded", error: "closedByPeer", message: "closed 1011", by: .peer)
        t.edge(.connecting, epoch: 1, at: 300)
        t.connected(epoch: 2, at: 310)
        t.text(#"{"op":"sub","id":2}"#, epoch: 2, at: 311, out: true)
        for i in 0..<3 { t.text("e2-\(i)", epoch: 2, at: 320 + Double(i) * 10) }
        t.edge(.reconnecting, epoch: 2, at: 400, code: 1006, error: "connectionLost", message: "lost")
        t.edge(.connecting, epoch: 2, at: 600)
        t.connected(epoch: 3, at: 610)
        t.text(#"{"op":"sub","id":3}"#, epoch: 3, at: 611, out: true)
        for i in 0..<4 { t.text("e3-\(i)", epoch: 3, at: 620 + Double(i) * 10) }
        t.edge(.closed, epoch: 3, at: 700, code: 1000, reason: "shutdown", by: .local)
        t.records.append((.session(SessionEvent(phase: .end, url: "ws://venue/feed")), 3, 701))
        return t
    }
}

let request = ConnectRequest(url: try! WSURL("ws://replay.invalid/feed"))

/// Every frame of a connection and how it ended.
struct Drained {
    var frames: [InboundFrame] = []
    var error: (any Error)?
    var wsError: WSError? { error as? WSError }
}

func drain(_ c: WSConnection) async -> Drained {
    var d = Drained()
    do { for try await f in c.inbound { d.frames.append(f) } } catch { d.error = error }
    return d
}

func texts(_ frames: [InboundFrame]) -> [String] {
    frames.map {
        switch $0.frame {
        case .text(let s): return s
        case .binary(let b): return "bin:" + b.map(String.init).joined(separator: ",")
        }
    }
}
