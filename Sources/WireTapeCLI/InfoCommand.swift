import ArgumentParser
import Foundation
import WireTapeJournal

/// `wiretape info`: a journal's span, sizes, counts, epochs and sessions.
public struct InfoCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show a journal's time span, sizes, compression, record counts, epochs and sessions.")

    @OptionGroup var journal: JournalDirectoryArgument
    @Flag(help: "Print one JSON object.")
    var json = false

    public init() {}

    public func run() async throws {
        let directory = try await journal.readable(.summary)
        let out = JournalOutput.current
        let s = try JournalSummary.load(directory: directory)
        let total = s.kinds.total
        if json {
            var l = JSONLine()
            l.add("directory", journal.directory)
            l.add("segments", s.segments)
            l.add("sealed_segments", s.sealedSegments)
            l.add("blocks", s.blocks)
            l.add("records", total)
            var k = JSONLine()
            for kind in RecordKind.allCases { k.add(kind.name, s.kinds[kind]) }
            l.addRaw("records_by_kind", json: k.finish())
            if let f = s.firstSeq, let la = s.lastSeq { l.add("first_seq", f); l.add("last_seq", la) }
            if let a = s.firstWall, let b = s.lastWall {
                l.add("first_wall_ns", a); l.add("last_wall_ns", b)
                l.add("first", JournalTime.format(a)); l.add("last", JournalTime.format(b))
                l.add("duration_s", Double(UInt64(bitPattern: b &- a)) / 1e9)
            }
            l.add("disk_bytes", s.diskBytes)
            l.add("uncompressed_bytes", s.rawBytes)
            l.add("stored_bytes", s.storedBytes)
            l.add("payload_bytes", s.payloadBytes)
            l.add("compression_ratio", (s.compressionRatio * 1000).rounded() / 1000)
            if let a = s.minEpoch, let b = s.maxEpoch { l.add("min_epoch", a); l.add("max_epoch", b) }
            l.add("connects", s.connects)
            l.add("unindexed_blocks", s.unindexedBlocks)
            l.add("index_missing", s.indexMissing)
            var sess: [String] = []
            for r in s.sessions {
                var j = JSONLine()
                j.add("seq", r.seq); j.add("phase", r.phase.name); j.add("wall_ns", r.wall); j.add("epoch", r.epoch)
                j.addIfPresent("url", r.url); j.addIfPresent("message", r.message)
                sess.append(j.finish())
            }
            l.addRaw("sessions", json: "[" + sess.joined(separator: ",") + "]")
            out.line(l.finish())
            return
        }
        out.line("journal      \(journal.directory)")
        out.line("segments     \(s.segments) (\(s.sealedSegments) sealed), \(s.blocks) blocks, \(s.diskBytes) bytes on disk")
        if let a = s.firstWall, let b = s.lastWall {
            out.line("time span    \(JournalTime.format(a)) .. \(JournalTime.format(b)) (\(formatDuration(Double(UInt64(bitPattern: b &- a)) / 1e9)))")
        }
        if let f = s.firstSeq, let l = s.lastSeq { out.line("sequence     \(f) .. \(l)") }
        out.line("size         \(s.rawBytes) bytes uncompressed, \(s.storedBytes) stored, ratio \(String(format: "%.2f", s.compressionRatio)); frame payloads \(s.payloadBytes) bytes")
        out.line("records      \(total): " + RecordKind.allCases.filter { s.kinds[$0] > 0 }.map { "\($0.name) \(s.kinds[$0])" }.joined(separator: ", "))
        if let a = s.minEpoch, let b = s.maxEpoch { out.line("epochs       \(a) .. \(b), \(s.connects) connected edges") }
        out.line("sessions     \(s.sessions.filter { $0.phase == .start }.count) started, \(s.sessions.filter { $0.phase == .end }.count) ended")
        if s.indexMissing {
            out.line("index        missing: everything above was read from the segments (`wiretape reindex` rebuilds it)")
        } else if s.unindexedBlocks > 0 {
            out.line("index        \(s.unindexedBlocks) newest blocks not indexed yet, read from the segments (a writer is appending, or run `wiretape repair` after a crash)")
        }
        for r in s.sessions {
            out.line(TerminalText.safe("  \(r.phase.name) #\(r.seq) \(JournalTime.format(r.wall)) epoch \(r.epoch)" + (r.url.map { " \($0)" } ?? "") + (r.message.map { ": \($0)" } ?? "")))
        }
    }
}
