/// A generator that always returns the same bits, to pin a jitter draw to one end.
///
/// WireTapeResilience draws jitter as `next() >> 11` scaled to `[0, 1)`, so ``zero`` gives
/// the full base delay and ``max`` the shortest one. Do not use it with the standard
/// library's `random(in:using:)` on ranges whose size is not a power of two: that method
/// rejects some draws and asks again, which never ends with a constant generator.
public struct FixedRandom: RandomNumberGenerator, Sendable {
    /// The bits returned by every call.
    public var bits: UInt64
    /// Creates a generator returning `bits` forever.
    public init(bits: UInt64) { self.bits = bits }
    /// Always the lowest draw.
    public static let zero = FixedRandom(bits: 0)
    /// Always the highest draw.
    public static let max = FixedRandom(bits: .max)
    /// Returns ``bits``.
    public mutating func next() -> UInt64 { bits }
}
