import WireTapeCore
import WireTapeJournal

/// Fills the journal fields that describe a cause and the session counters.
enum RecorderCompat {
    static func setRetryAfter(_ e: inout ConnectEvent, _ seconds: Int?) {
    }
    static func setClosedBy(_ e: inout LifecycleEdge, peer: Bool) {
    }
    static func setCounters(_ e: inout LifecycleEdge, _ s: LifecycleSnapshot) {
    }
}
