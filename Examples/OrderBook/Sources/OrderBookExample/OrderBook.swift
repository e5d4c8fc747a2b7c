import Foundation

/// One side of a depth feed's book: price level → quantity, both as the venue spells them
/// (decimal strings), so a book compares exactly.
public typealias BookSide = [String: String]

/// A price-level order book with the sequence number of the last message applied.
public struct OrderBook: Sendable, Hashable {
    /// Bids: price → quantity.
    public var bids: BookSide
    /// Asks: price → quantity.
    public var asks: BookSide
    /// The sequence number of the snapshot or update last applied.
    public var seq: UInt64

    /// Creates a book.
    public init(bids: BookSide = [:], asks: BookSide = [:], seq: UInt64 = 0) {
        self.bids = bids
        self.asks = asks
        self.seq = seq
    }

    /// The highest bid price.
    public var bestBid: String? { bids.keys.max { Double($0)! < Double($1)! } }
    /// The lowest ask price.
    public var bestAsk: String? { asks.keys.min { Double($0)! < Double($1)! } }

    /// Applies price levels: a quantity of zero removes the level.
    mutating func apply(bids newBids: [[String]], asks newAsks: [[String]]) {
        for level in newBids { Self.set(&bids, level) }
        for level in newAsks { Self.set(&asks, level) }
    }

    private static func set(_ side: inout BookSide, _ level: [String]) {
        guard level.count == 2 else { return }
        if Double(level[1]) == 0 { side[level[0]] = nil } else { side[level[0]] = level[1] }
    }
}

/// A message of the depth feed: `{"type":"snapshot"|"update","seq":N,"bids":[[p,q]...],"asks":[...]}`.
struct DepthMessage: Decodable {
    var type: String
    var seq: UInt64
    var bids: [[String]]
    var asks: [[String]]
}

/// The adapter's decisions, as a pure state machine: messages in, messages to send out, no I/O.
///
/// The feed numbers its messages across reconnects (as many venues do: the sequence belongs to
/// the book, not to the socket). So after a reconnect the tracker keeps its book and checks
/// that the first update continues the sequence; if messages were missed — during the outage,
/// or dropped in mid-epoch — it marks the book unsynced, ignores updates, and asks for a
/// snapshot (``OrderBookTracker/resyncRequest``) until one arrives.
public struct OrderBookTracker: Sendable {
    /// What the tracker saw, in order; a test asserts on it.
    public enum Event: Sendable, Hashable {
        /// A snapshot replaced the book.
        case snapshot(epoch: UInt64, seq: UInt64)
        /// The first update of a new epoch continued the sequence: no resync needed.
        case resumed(epoch: UInt64, seq: UInt64)
        /// Messages `expected..<got` were missed; a snapshot was requested.
        case gap(epoch: UInt64, expected: UInt64, got: UInt64)
        /// A message that was not JSON of the expected shape.
        case unreadable(epoch: UInt64)
    }

    /// The instrument.
    public let symbol: String
    /// The book; valid when ``synced``.
    public private(set) var book = OrderBook()
    /// Whether the book is complete (a snapshot arrived and no update was missed since).
    public private(set) var synced = false
    /// What happened, in order.
    public private(set) var events: [Event] = []
    /// The book at the end of each epoch (when the next epoch's first message arrived, or at
    /// ``finish()``), by epoch.
    public private(set) var bookAtEndOfEpoch: [UInt64: OrderBook] = [:]
    private var epoch: UInt64 = 0
    private var awaitingSnapshot = false

    /// Creates a tracker for `symbol`.
    public init(symbol: String) { self.symbol = symbol }

    /// What to send when a connection (a new epoch) is up.
    public var subscription: String { #"{"op":"subscribe","channel":"depth","symbol":"\#(symbol)"}"# }
    /// What to send to ask for a fresh snapshot.
    public var resyncRequest: String { #"{"op":"snapshot","symbol":"\#(symbol)"}"# }

    /// Takes one text message received in `epoch`; returns the messages to send.
    public mutating func receive(_ text: String, epoch newEpoch: UInt64) -> [String] {
        let firstOfEpoch = newEpoch != epoch
        if firstOfEpoch {
            if epoch > 0 { bookAtEndOfEpoch[epoch] = book }
            epoch = newEpoch
        }
        guard let m = try? JSONDecoder().decode(DepthMessage.self, from: Data(text.utf8)) else {
            events.append(.unreadable(epoch: epoch))
            return []
        }
        if m.type == "snapshot" {
            book = OrderBook(seq: m.seq)
            book.apply(bids: m.bids, asks: m.asks)
            synced = true
            awaitingSnapshot = false
            events.append(.snapshot(epoch: epoch, seq: m.seq))
            return []
        }
        guard synced else { return [] }  // updates before the first snapshot or during a resync
        if m.seq <= book.seq { return [] }  // already applied (a duplicate)
        guard m.seq == book.seq + 1 else {
            events.append(.gap(epoch: epoch, expected: book.seq + 1, got: m.seq))
            synced = false
            if awaitingSnapshot { return [] }
            awaitingSnapshot = true
            return [resyncRequest]
        }
        if firstOfEpoch { events.append(.resumed(epoch: epoch, seq: m.seq)) }
        book.apply(bids: m.bids, asks: m.asks)
        book.seq = m.seq
        return []
    }

    /// Notes the end of the session: the current epoch's book is final.
    public mutating func finish() {
        if epoch > 0 { bookAtEndOfEpoch[epoch] = book }
    }
}
