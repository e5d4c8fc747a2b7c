#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A WebSocket data message, as an adapter sees it.
///
/// Only data messages reach the adapter. Ping, pong and close frames are handled by the
/// transport (pongs are sent automatically) and surface only as lifecycle information.
/// Fragmented messages arrive here already reassembled.
public enum Frame: Sendable, Hashable {
    /// A text message; its payload was validated as UTF-8.
    case text(String)
    /// A binary message.
    case binary([UInt8])

    /// The payload size in bytes (UTF-8 bytes for text).
    public var byteCount: Int {
        switch self {
        case .text(let s): return s.utf8.count
        case .binary(let b): return b.count
        }
    }

    /// The opcode name used by the JSON-lines schema: `"text"` or `"binary"`.
    public var opcodeName: String {
        switch self {
        case .text: return "text"
        case .binary: return "binary"
        }
    }
}

/// The moment a frame was received, on two clocks.
///
/// `wallNanos` is UTC wall-clock time in nanoseconds since the Unix epoch, for people and
/// for seeking. `monotonicNanos` is a monotonic clock reading in nanoseconds (`CLOCK_MONOTONIC`
/// on Linux), for measuring intervals and pacing a replay; it has no meaning across reboots.
public struct ReceiveTimestamp: Sendable, Hashable {
    /// UTC wall-clock time, nanoseconds since 1970-01-01T00:00:00Z.
    public var wallNanos: Int64
    /// Monotonic time in nanoseconds since an arbitrary origin.
    public var monotonicNanos: UInt64

    /// Creates a timestamp from explicit readings.
    public init(wallNanos: Int64, monotonicNanos: UInt64) {
        self.wallNanos = wallNanos
        self.monotonicNanos = monotonicNanos
    }

    /// Reads both clocks now.
    ///
    /// Costs two `clock_gettime` calls (tens of nanoseconds with the vDSO).
    public static func now() -> ReceiveTimestamp {
        var wall = timespec()
        var mono = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        clock_gettime(CLOCK_MONOTONIC, &mono)
        return ReceiveTimestamp(
            wallNanos: Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec),
            monotonicNanos: UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec))
    }
}

/// A data frame as delivered on a connection's inbound stream.
public struct InboundFrame: Sendable, Hashable {
    /// The message.
    public var frame: Frame
    /// The connection epoch the frame arrived in (see ``LifecycleSnapshot/epoch``).
    public var epoch: UInt64
    /// When the bytes that completed this message were read from the socket.
    public var received: ReceiveTimestamp

    /// Creates an inbound frame.
    public init(frame: Frame, epoch: UInt64, received: ReceiveTimestamp) {
        self.frame = frame
        self.epoch = epoch
        self.received = received
    }
}

/// A data frame lent by its producer for the length of one call: its payload points into the
/// producer's own buffer (a replay's decoded journal block), so handing it over copies nothing.
///
/// Views reach a consumer that asked for them with ``InboundStream/divert(toViews:onEnd:)``
/// (the fast path of `wiretape replay --format raw`). They are valid only during the call that
/// hands them over: keep ``frame``, an owned copy, for anything that outlives it.
public struct InboundFrameView {
    /// Whether the message is binary; otherwise it is text.
    public var isBinary: Bool
    /// The payload bytes (for text, as recorded: UTF-8 unless the recording says otherwise),
    /// valid only during the call that lends the view.
    public var payload: UnsafeRawBufferPointer
    /// The connection epoch the frame arrived in (see ``LifecycleSnapshot/epoch``).
    public var epoch: UInt64
    /// When the bytes that completed this message were read from the socket.
    public var received: ReceiveTimestamp

    /// Creates a view of a frame whose payload the caller owns for the length of the call.
    public init(isBinary: Bool, payload: UnsafeRawBufferPointer, epoch: UInt64, received: ReceiveTimestamp) {
        self.isBinary = isBinary
        self.payload = payload
        self.epoch = epoch
        self.received = received
    }

    /// An owned copy: the frame an iterating consumer receives for this view. Text is decoded
    /// as UTF-8, an invalid sequence becoming U+FFFD as everywhere a ``Frame/text(_:)`` is made
    /// from bytes.
    public var frame: InboundFrame {
        InboundFrame(
            frame: isBinary ? .binary(Array(payload)) : .text(String(decoding: payload, as: UTF8.self)),
            epoch: epoch, received: received)
    }

    /// Calls `body` with views of `frames`, their payloads copied once into one scratch buffer
    /// (how a stream lends owned frames to a consumer that takes views).
    static func withViews<C: Collection, R>(
        of frames: C, _ body: (UnsafeBufferPointer<InboundFrameView>) -> R
    ) -> R where C.Element == InboundFrame {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(frames.reduce(0) { $0 + $1.frame.byteCount })
        for f in frames {
            switch f.frame {
            case .text(let s): bytes.append(contentsOf: s.utf8)
            case .binary(let b): bytes.append(contentsOf: b)
            }
        }
        return bytes.withUnsafeBytes { raw in
            var views: [InboundFrameView] = []
            views.reserveCapacity(frames.count)
            var offset = 0
            for f in frames {
                let n = f.frame.byteCount
                let isBinary: Bool
                if case .binary = f.frame { isBinary = true } else { isBinary = false }
                views.append(InboundFrameView(
                    isBinary: isBinary, payload: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]),
                    epoch: f.epoch, received: f.received))
                offset += n
            }
            return views.withUnsafeBufferPointer(body)
        }
    }
}

/// A view borrows its producer's memory for one call: it must not cross to another task.
@available(*, unavailable)
extension InboundFrameView: Sendable {}
