import ArgumentParser
import WireTapeReplay

/// What `replay` and `serve` share: which part of the journal is played, how fast, how
/// connects map to recorded attempts, the mutations and the outbound comparison.
struct PlaybackOptions: ParsableArguments {
    @OptionGroup var range: TimeRangeOptions

    @Option(help: ArgumentHelp("Replay speed: a positive factor (1 = as recorded) or max (virtual time).", valueName: "N|max"))
    var speed: String = "1"

    @Option(name: .customLong("epoch"), help: ArgumentHelp("Only this recorded epoch, repeatable.", valueName: "N"))
    var epochs: [UInt64] = []

    @Option(name: .customLong("mutate"), help: ArgumentHelp("A mutation, repeatable (see above).", valueName: "SPEC"))
    var mutations: [String] = []

    @Option(help: "The seed of the mutations' randomness.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("by-time"), help: "Map connects by time (what the venue did at that moment) instead of by attempt.")
    var byTime = false

    @Option(name: .customLong("ignore-field"), help: ArgumentHelp("Compare sends as JSON ignoring this field, repeatable.", valueName: "NAME"))
    var ignoreFields: [String] = []

    var pacing: ReplayPacing? {
        if speed == "max" { return .asFastAsPossible }
        guard let n = Double(speed), n.isFinite, n > 0 else { return nil }
        return .speed(n)
    }

    func validate() throws {
        if pacing == nil { throw ValidationError("--speed must be a positive number or max, not \"\(speed)\"") }
        for m in mutations {
            do { _ = try ReplayMutation.parse(m) } catch { throw ValidationError("--mutate: \(error.message)") }
        }
    }

    /// The replay connector these options describe, over `directory`.
    func connector(directory: String, silenceEnd: SilenceEnd) throws -> ReplayConnector {
        let options = ReplayOptions(
            pacing: pacing ?? .recorded, mapping: byTime ? .byTime : .byAttempt,
            mutations: try mutations.map { s throws(ReplayError) in try ReplayMutation.parse(s) }, seed: seed,
            outbound: ignoreFields.isEmpty ? .exact : .jsonIgnoring(Set(ignoreFields)),
            silenceEnd: silenceEnd)
        let selection = ReplaySelection(
            fromWall: range.fromWall, toWall: range.toWall, epochs: epochs.isEmpty ? nil : Set(epochs))
        return try ReplayConnector(directory: directory, selection: selection, options: options)
    }
}
