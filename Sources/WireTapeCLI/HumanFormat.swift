import Foundation

/// Durations for people: `1.234 s` under a minute, `1h02m03s` above.
func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "? s" }
    if s < 60 { return String(format: "%.3f s", s) }
    let t = s >= Double(Int.max) ? Int.max : Int(s)
    return String(format: "%dh%02dm%02ds", t / 3600, t % 3600 / 60, t % 60)
}
