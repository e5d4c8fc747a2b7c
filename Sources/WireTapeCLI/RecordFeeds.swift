import ArgumentParser
import Foundation
import WireTapeRecorder

/// `wiretape record --config FEEDS.json`: several feeds in one process, each into its own
/// journal, each with its own flags.
///
/// The file holds one entry per feed. `name` labels the feed (status lines, metrics), `url` is
/// the URL, and every other key is one of `record`'s flags by its long name, with the flag's
/// value: a string or number, a list for a repeatable flag, `true` for a flag without value.
///
/// ```json
/// {"feeds": [
///   {"name": "btc", "url": "wss://stream.example/ws", "journal": "/var/tape/btc",
///    "send": ["{\"op\":\"subscribe\",\"args\":[\"trades.BTCUSDT\"]}"], "idle-timeout": 20},
///   {"name": "eth", "url": "wss://stream.example/ws", "journal": "/var/tape/eth",
///    "header": ["Authorization: Bearer …"], "redact-field": ["sign"]}
/// ]}
/// ```
///
/// Each entry is parsed and validated exactly like a `record` command line, before anything
/// connects. Process-wide flags (`--metrics-listen`, `--quiet`) stay on the command line.
struct RecordFeeds {
    /// One feed: its name and its command.
    struct Feed {
        var name: String
        var command: RecordCommand
    }

    /// The feeds, in the file's order.
    var feeds: [Feed]

    /// Flags that belong to the whole process, not to a feed.
    static let processFlags: Set<String> = ["config", "metrics-listen", "quiet"]

    /// A flag's value in the file.
    private enum Value: Decodable {
        case text(String), number(Double), flag(Bool), list([Value])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) {
                self = .flag(b)
            } else if let n = try? c.decode(Double.self) {
                self = .number(n)
            } else if let s = try? c.decode(String.self) {
                self = .text(s)
            } else {
                self = .list(try c.decode([Value].self))
            }
        }

        /// The command-line words of `--name` with this value.
        func words(_ name: String) throws -> [String] {
            switch self {
            case .text(let s): return ["--" + name, s]
            case .number(let n): return ["--" + name, n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)]
            case .flag(let on): return on ? ["--" + name] : []
            case .list(let values):
                return try values.flatMap { v -> [String] in
                    if case .list = v { throw CommandError(.badInput, "\"\(name)\" is a list of lists; give a list of values") }
                    return try v.words(name)
                }
            }
        }
    }

    private struct File: Decodable {
        var feeds: [[String: Value]]
    }

    /// Reads and checks `path`.
    /// - Throws: ``CommandError`` (`badInput`) naming the file, the feed and what is wrong.
    static func load(_ path: String) throws -> RecordFeeds {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CommandError(.io, "cannot read \(path): \(error.localizedDescription)")
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw CommandError(.badInput, "\(path) is not a feeds file ({\"feeds\": [{\"name\": …, \"url\": …, \"journal\": …}, …]}): \(error)")
        }
        guard !file.feeds.isEmpty else { throw CommandError(.badInput, "\(path) lists no feeds") }
        var feeds: [Feed] = []
        var names = Set<String>(), journals = Set<String>()
        for (i, entry) in file.feeds.enumerated() {
            guard case .text(let name)? = entry["name"], !name.isEmpty,
                name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) })
            else {
                throw CommandError(.badInput, "\(path), feed \(i + 1): \"name\" must be a name of letters, digits, '.', '_' or '-'")
            }
            func fail(_ message: String) -> CommandError { CommandError(.badInput, "\(path), feed \"\(name)\": \(message)") }
            guard names.insert(name).inserted else { throw fail("the name is used by another feed") }
            guard case .text(let url)? = entry["url"] else { throw fail("\"url\" (a ws:// or wss:// URL) is missing") }
            var arguments = [url]
            for key in entry.keys.sorted() where key != "name" && key != "url" {
                guard !processFlags.contains(key) else {
                    throw fail("\"\(key)\" applies to the whole process: give --\(key) on the command line")
                }
                do { arguments += try entry[key]!.words(key) } catch let e as CommandError { throw fail(e.message) }
            }
            let command: RecordCommand
            do { command = try RecordCommand.parse(arguments) } catch {
                throw fail(RecordCommand.message(for: error))
            }
            guard let journal = command.journal else { throw fail("\"journal\" (the feed's journal directory) is missing") }
            let key = URL(fileURLWithPath: journal).standardizedFileURL.path
            guard journals.insert(key).inserted else { throw fail("the journal \(journal) is another feed's; each feed needs its own") }
            feeds.append(Feed(name: name, command: command))
        }
        return RecordFeeds(feeds: feeds)
    }

    /// Records every feed at once until each ends (a stop request ends them all); prints one
    /// line per feed saying how it ended. Returns whether any failed.
    func run(stops: StopRequests, metrics: RecordMetrics?, quiet: Bool) async -> Bool {
        let mode = RecordCommand.statusMode(quiet: quiet)
        let board = StatusBoard(rows: feeds.count)
        let outcomes = await withTaskGroup(of: (Int, RecordSession.Outcome).self) { group in
            for (i, feed) in feeds.enumerated() {
                // A parsed command is a value whose property wrappers are not marked Sendable;
                // this copy goes to one task only and is only read there.
                nonisolated(unsafe) let command = feed.command
                let name = feed.name
                group.addTask {
                    (i, await command.record(feed: name, stops: stops, metrics: metrics, mode: mode, board: (board, i)))
                }
            }
            var all = [RecordSession.Outcome?](repeating: nil, count: feeds.count)
            for await (i, o) in group { all[i] = o }
            return all.compactMap { $0 }
        }
        for (feed, o) in zip(feeds, outcomes) {
            if let failure = o.failure {
                JournalOutput.current.warn("wiretape record: feed=\(feed.name) result=failed error=\(Self.quoted(failure))")
            } else {
                JournalOutput.current.warn(
                    "wiretape record: feed=\(feed.name) result=ok reason=\(Self.quoted(o.reason)) frames=\(o.stats.framesIn)")
            }
        }
        return outcomes.contains { $0.failure != nil }
    }

    private static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: " ") + "\""
    }
}
