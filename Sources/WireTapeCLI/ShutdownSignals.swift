import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT and SIGTERM as events: while installed, the signals no longer kill the process;
/// `handler` runs (on a Dispatch queue) with the signal number, so a live command can close its
/// connection with a handshake and flush before exiting.
final class ShutdownSignals: Sendable {
    // DispatchSourceSignal is thread-safe (its own queue serializes handlers); the array is
    // immutable after `init`, and `cancel()` is documented as callable from any thread.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    /// Installs the handler for SIGINT and SIGTERM.
    init(_ handler: @escaping @Sendable (Int32) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { handler(sig) }
            s.resume()
            sources.append(s)
        }
        self.sources = sources
    }

    /// Restores the default dispositions.
    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    /// The signal's name for messages: `SIGINT`, `SIGTERM`.
    static func name(_ sig: Int32) -> String { sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)" }
}
