import WireTapeCore

/// The project's JSON-lines schema for live objects (frames and lifecycle edges), shared by
/// `tap` and the journal commands so that every command speaks the same field names:
/// `type`, `seq`, `epoch`, `wall_ns`, `mono_ns`, `dir`, `opcode`, `data` / `data_b64`,
/// `state`, and on final lifecycle edges `close_code`, `close_reason` or `error`, `message`,
/// `http_status`.
public enum SchemaLines {
    /// A frame: `{"type":"frame","epoch":1,"wall_ns":…,"mono_ns":…,"dir":"in","opcode":"text","data":"…"}`.
    public static func frame(_ frame: Frame, epoch: UInt64, at: ReceiveTimestamp, dir: String = "in") -> String {
        var line = JSONLine()
        line.add("type", "frame")
        line.add("epoch", epoch)
        line.add("wall_ns", at.wallNanos)
        line.add("mono_ns", at.monotonicNanos)
        line.add("dir", dir)
        addPayload(frame, to: &line)
        return line.finish()
    }

    /// Adds `opcode` and `data` (text) or `data_b64` (binary).
    public static func addPayload(_ frame: Frame, to line: inout JSONLine) {
        line.add("opcode", frame.opcodeName)
        switch frame {
        case .text(let s): line.add("data", s)
        case .binary(let b): line.add("data_b64", Base64.encode(b))
        }
    }

    /// A lifecycle edge: `{"type":"lifecycle","state":"closed","epoch":1,…}` plus the cause.
    public static func lifecycle(_ snapshot: LifecycleSnapshot) -> String {
        var line = JSONLine()
        line.add("type", "lifecycle")
        line.add("state", snapshot.state.rawValue)
        line.add("epoch", snapshot.epoch)
        line.add("wall_ns", snapshot.at.wallNanos)
        line.add("mono_ns", snapshot.at.monotonicNanos)
        if snapshot.totalLagged > 0 { line.add("total_lagged", snapshot.totalLagged) }
        if snapshot.reconnects > 0 { line.add("reconnects", snapshot.reconnects) }
        if snapshot.failedAttempts > 0 { line.add("failed_attempts", snapshot.failedAttempts) }
        if snapshot.state != .connected, let cause = snapshot.lastDisconnect { addCause(cause, to: &line) }
        return line.finish()
    }

    /// Adds `close_code` and `close_reason`, or `error`, `message` and the HTTP status.
    public static func addCause(_ cause: DisconnectCause, to line: inout JSONLine) {
        switch cause {
        case .peerClosed(let code, let reason):
            line.add("close_code", Int(code.rawValue))
            line.add("close_reason", reason)
            line.add("closed_by", "peer")
        case .localClose(let code, let reason):
            line.add("close_code", Int(code.rawValue))
            line.add("close_reason", reason)
            line.add("closed_by", "local")
        case .error(let e):
            line.add("error", e.code.rawValue)
            line.add("message", e.message)
            if let status = e.httpStatus { line.add("http_status", status) }
            if let code = e.closeCode { line.add("close_code", Int(code.rawValue)) }
            if let reason = e.closeReason { line.add("close_reason", reason) }
        }
    }
}
