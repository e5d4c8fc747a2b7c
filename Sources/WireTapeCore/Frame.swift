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
