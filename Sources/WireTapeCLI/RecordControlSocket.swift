import Dispatch
import Synchronization
import WireTapeJournal
import WireTapeRecorder
import WireTapeReport

extension ControlSocketServer {
    /// How long a control request waits for the recorder's writer to append the note.
    static let recorderReplyTimeout: DispatchTimeInterval = .seconds(5)

    /// Serves `<journal>/control.sock` for a running recorder: `wiretape annotate DIR TEXT` hands
    /// the note to `recorder`, which appends it in sequence order with the live records, and the
    /// client is told the note's sequence number.
    static func serving(_ recorder: Recorder) throws(ControlError) -> ControlSocketServer {
        try ControlSocketServer(directory: recorder.directory) { request in
            switch request {
            case .annotate(let text, let wall):
                let written = DispatchSemaphore(value: 0)
                let result = Mutex<Result<UInt64, JournalError>?>(nil)
                recorder.annotate(text, wallNanos: wall) { r in
                    result.withLock { $0 = r }
                    written.signal()
                }
                guard written.wait(timeout: .now() + recorderReplyTimeout) == .success, let r = result.withLock({ $0 }) else {
                    return .error("the recorder did not append the note within \(recorderReplyTimeout)")
                }
                switch r {
                case .success(let seq): return .ok(seq: seq)
                case .failure(let e): return .error(e.message)
                }
            }
        }
    }
}
