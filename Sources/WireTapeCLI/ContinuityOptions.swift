import ArgumentParser
import WireTapeReport

/// The sequence-continuity options shared by `continuity` and `report`.
struct ContinuityOptions: ParsableArguments {
    @Option(name: .customLong("seq-field"), help: ArgumentHelp(
        "JSON path (dot-separated; numbers index arrays) of the message's sequence number in inbound text frames: u (Binance depth), t (trades), sequence (Coinbase).",
        valueName: "PATH"))
    var seqField: String?

    @Option(name: .customLong("first-field"), help: ArgumentHelp(
        "JSON path of the first id a message covers when it covers a range (Binance depth U); the next message's first id must be the previous last id + 1.",
        valueName: "PATH"))
    var firstField: String?

    @Option(name: .customLong("where"), help: ArgumentHelp(
        "Only frames whose value at PATH equals VALUE, e.g. stream=btcusdt@depth or type=l2update.", valueName: "PATH=VALUE"))
    var filter: String?

    @Option(name: .customLong("key"), help: ArgumentHelp(
        "Keep sequences apart per value of this JSON path (e.g. s or product_id).", valueName: "PATH"))
    var key: String?

    @Option(name: .customLong("reset-threshold"), help: "A step back by more than this is a reset; by less, a duplicate.")
    var resetThreshold: UInt64 = 1000

    /// The spec, or nil without --seq-field.
    func spec() throws -> ContinuitySpec? {
        guard let seqField else {
            if firstField != nil || filter != nil || key != nil { throw ValidationError("--first-field, --where and --key need --seq-field") }
            return nil
        }
        func path(_ s: String, _ name: String) throws -> JSONPath {
            guard let p = JSONPath(s) else { throw ValidationError("\(name) \"\(s)\" is not a JSON path (use dot-separated keys, e.g. data.u)") }
            return p
        }
        var spec = ContinuitySpec(seqField: try path(seqField, "--seq-field"), resetThreshold: resetThreshold)
        spec.firstField = try firstField.map { try path($0, "--first-field") }
        spec.keyField = try key.map { try path($0, "--key") }
        if let f = filter {
            guard let eq = f.firstIndex(of: "=") else { throw ValidationError("--where \"\(f)\" must be PATH=VALUE") }
            spec.filterField = try path(String(f[..<eq]), "--where")
            spec.filterValue = String(f[f.index(after: eq)...])
        }
        return spec
    }
}
