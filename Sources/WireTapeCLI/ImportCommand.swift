import ArgumentParser
import WireTapeCore
import WireTapeJournal

#if canImport(Glibc)
import Glibc
#endif

/// `wiretape import DIR [FILE|-]`: appends records from JSON lines or a frames file.
public struct ImportCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Append records (JSON lines, or a u32 length|u64 time|payload frames file) to a journal.",
        discussion: """
            jsonl: one record per line in the JSON-lines schema (journal-format/SPEC.md §9); \
            records without "seq" get the next sequence number, frames without "dir" are inbound. \
            frames: u32 LE length | u64 LE receive time ns | payload, imported as inbound text frames \
            of epoch 0 with wall and monotonic time both set to the receive time. \
            The journal directory is created when missing. A malformed line stops the import with \
            its line number; records before it stay in the journal.
            """)

    /// Input formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, frames }

    @OptionGroup var journal: JournalDirectoryArgument

    @Argument(help: "Input file, or - for standard input.")
    var input: String = "-"

    @Option(help: "jsonl or frames.")
    var format: Format = .jsonl

    public init() {}

    public func run() async throws {
        let directory = journal.directory
        let fd: Int32 = input == "-" ? 0 : open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError(.io, "cannot open \(input): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        let writer = try JournalWriter(directory: directory)
        if !writer.recovery.isClean {
            JournalOutput.current.warn("wiretape: recovered \(directory) before appending:\n\(writer.recovery)")
        }
        var count = 0
        do {
            switch format {
            case .frames: count = try importFrames(fd: fd, writer: writer)
            case .jsonl: count = try importJSONLines(fd: fd, writer: writer)
            }
        } catch {
            try? writer.close()
            throw error
        }
        try writer.close()
        JournalOutput.current.warn("imported \(count) records into \(directory)")
    }

    private var inputName: String { input == "-" ? "stdin" : input }

    private func importFrames(fd: Int32, writer: JournalWriter) throws -> Int {
        var reader = ChunkReader(fd: fd)
        var count = 0
        var offset: UInt64 = 0
        func fail(_ why: String) -> CommandError {
            CommandError(.badInput, "\(inputName): frame \(count + 1) at byte \(offset): \(why); \(count) frames were imported")
        }
        while true {
            guard let head = try reader.read(12) else { break }
            guard head.count == 12 else { throw fail("truncated header (\(head.count) of 12 bytes)") }
            let len = head.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            let time = head.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self)) }
            guard Int(len) <= writer.options.maxRecordBytes else {
                throw fail("length \(len) exceeds the \(writer.options.maxRecordBytes)-byte record limit (not a frames file?)")
            }
            guard let payload = try reader.read(Int(len)), payload.count == Int(len) else {
                throw fail("truncated payload (\(len) bytes declared)")
            }
            try payload.withUnsafeBytes { p in
                _ = try writer.appendFrame(
                    direction: .inbound, opcode: .text, payload: p, epoch: 0,
                    at: ReceiveTimestamp(wallNanos: Int64(bitPattern: time), monotonicNanos: time))
            }
            offset += 12 + UInt64(len)
            count += 1
        }
        return count
    }

    private func importJSONLines(fd: Int32, writer: JournalWriter) throws -> Int {
        var reader = ChunkReader(fd: fd)
        var lineNo = 0
        var count = 0
        func fail(_ why: String) -> CommandError {
            CommandError(.badInput, "\(inputName): line \(lineNo): \(why); \(count) records before it were imported")
        }
        while let line = try reader.readLine() {
            lineNo += 1
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let record: JournalRecord
            do {
                record = try RecordJSON.parse(line, nextSeq: writer.nextSeq)
            } catch let e as CommandError {
                throw fail(e.message)
            }
            let appended = Result { () throws(JournalError) in try writer.append(record) }
            if case .failure(let e) = appended {
                guard e.code == .invalidArgument else { throw e }
                throw fail(e.message)
            }
            count += 1
        }
        return count
    }
}
