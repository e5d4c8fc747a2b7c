/// A small, fast, seedable random-number generator (SplitMix64), so tests that inject
/// randomness (backoff jitter) get the same draws on every run.
///
/// Not for cryptography.
///
/// ```swift
/// var rng = SeededRandom(seed: 42)
/// let x = Double.random(in: 0..<1, using: &rng)   // the same on every run
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator; equal seeds give equal sequences.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
