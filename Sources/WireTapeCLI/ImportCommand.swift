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
            of epoch 0 with wall and monotonic time both set to the receive time. URLs, messages, \
            close reasons and headers of jsonl records are stored with credentials redacted by name \
            (user info, secret query parameters and headers). \
            The journal directory is created when missing. A malformed line (or one longer than \
            --max-line-bytes) stops the import with its line number; records before it stay in the \
            journal. SIGINT or SIGTERM stops reading: every record read so far is written, synced \
            and its segment sealed, and the import says how many landed (exit 130 or 143). After \
            any failure (a full disk included) it says how many records the journal holds, so a \
            re-run does not duplicate them.
            """)

    /// Input formats.
    public enum Format: String, ExpressibleByArgument, Sendable { case jsonl, frames }

    @OptionGroup var journal: JournalDirectoryArgument

    @Argument(help: "Input file, or - for standard input.")
    var input: String = "-"

    @Option(help: "jsonl or frames.")
    var format: Format = .jsonl

    @Option(
        name: .customLong("max-line-bytes"),
        help: ArgumentHelp("jsonl: the longest line accepted (default: 4 × the 64 MiB record limit).", valueName: "BYTES"),
        transform: NumericOption.integer(in: 1...Int.max))
    var maxLineBytes: Int = 4 * JournalWriterOptions().maxRecordBytes

    public init() {}

    public func run() async throws {
        let directory = try journal.writable()
        let fd: Int32 = input == "-" ? 0 : open(input, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError(.io, "cannot open \(input): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        // A bulk import compresses each full block on a second thread while it parses the next
        // (same bytes on disk; docs/journal-design.md, "Compression on a second thread").
        var options = JournalWriterOptions()
        options.compressOnSecondThread = true
        let writer = try JournalWriter(directory: directory, options: options)
        if !writer.recovery.isClean {
            JournalOutput.current.warn("wiretape: recovered \(directory) before appending:\n\(writer.recovery)")
        }
        // Signals stop the reading, never the process: what was read is written and sealed.
        let interrupt = try InterruptPipe()
        let signals = ShutdownSignals { interrupt.raise($0) }
        defer { signals.cancel() }
        let reader = ChunkReader(fd: fd, interrupt: interrupt)
        // A progress line on a terminal, in MiB of input read (out of the file's size when it
        // is a regular file; a pipe has no total).
        var st = stat()
        let size: UInt64? = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? UInt64(st.st_size) : nil
        let progress = Progress(label: "import", unit: "MiB", total: size.map { $0 >> 20 })
        reader.onRead = { progress.update(done: $0 >> 20) }
        var count = 0
        do {
            defer { progress.finish() }  // cleared before anything else is printed
            switch format {
            case .frames: try importFrames(reader, writer: writer, count: &count)
            case .jsonl: try importJSONLines(reader, writer: writer, count: &count)
            }
        } catch let stop as ChunkReader.Interrupted {
            let partial = reader.buffered.count
            do {
                try writer.sync()
                try writer.close()
            } catch {
                throw CommandError(.io, "\(ShutdownSignals.name(stop.signal)): \(error); \(holding(directory, count))")
            }
            JournalOutput.current.warn(
                "wiretape: \(ShutdownSignals.name(stop.signal)): imported \(count) records into \(directory), synced and sealed"
                    + (partial > 0 ? "; the last \(partial) bytes read (an incomplete \(format == .jsonl ? "line" : "frame")) were not imported" : ""))
            throw ExitCode(128 + stop.signal)
        } catch {
            // Whatever failed (a bad line, a full disk), say what the journal now holds.
            try? writer.close()
            throw CommandError((error as? CommandError)?.code ?? .io, "\(error); \(holding(directory, count))")
        }
        do {
            try writer.close()
        } catch {
            throw CommandError(.io, "\(error); \(holding(directory, count))")
        }
        JournalOutput.current.warn("imported \(count) records into \(directory)")
    }

    /// "N records of this import were written; the journal holds M records (seq a…b)", read
    /// back from the journal itself so it is true whatever failed.
    private func holding(_ directory: String, _ count: Int) -> String {
        let appended = "\(count) records of this import were appended"
        guard let s = try? JournalSummary.load(directory: directory) else { return appended + " (the journal could not be read back)" }
        let range = s.firstSeq.flatMap { f in s.lastSeq.map { " (seq \(f)…\($0))" } } ?? ""
        return appended + "; the journal holds \(s.kinds.total) records\(range)"
    }

    private var inputName: String { input == "-" ? "stdin" : input }

    /// Parses frames in place in the reader's buffer and hands each payload pointer straight
    /// to the writer: no per-frame copy or allocation.
    private func importFrames(_ reader: ChunkReader, writer: JournalWriter, count: inout Int) throws {
        let maxRecord = writer.options.maxRecordBytes
        var offset: UInt64 = 0
        func fail(_ why: String) -> CommandError {
            CommandError(.badInput, "\(inputName): frame \(count + 1) at byte \(offset): \(why)")
        }
        // Bytes the next frame needs buffered: its 12-byte header, then header and payload.
        var need = 12
        while try reader.fill(toHold: need) || !reader.buffered.isEmpty {
            let buf = reader.buffered
            guard buf.count >= need else {
                throw fail(need == 12 ? "truncated header (\(buf.count) of 12 bytes)" : "truncated payload (\(need - 12) bytes declared)")
            }
            var i = 0
            need = 12
            while buf.count - i >= 12 {
                let len = Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                guard len <= maxRecord else {
                    reader.consume(i)
                    throw fail("length \(len) exceeds the \(maxRecord)-byte record limit (not a frames file?)")
                }
                guard buf.count - i - 12 >= len else {
                    need = 12 + len
                    break
                }
                let time = UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: i + 4, as: UInt64.self))
                try writer.appendFrame(
                    direction: .inbound, opcode: .text, payload: UnsafeRawBufferPointer(rebasing: buf[(i + 12)..<(i + 12 + len)]),
                    epoch: 0, at: ReceiveTimestamp(wallNanos: Int64(bitPattern: time), monotonicNanos: time))
                i += 12 + len
                offset += 12 + UInt64(len)
                count += 1
            }
            reader.consume(i)
        }
    }

    private func importJSONLines(_ reader: ChunkReader, writer: JournalWriter, count: inout Int) throws {
        var lineNo = 0
        func fail(_ why: String) -> CommandError {
            CommandError(.badInput, "\(inputName): line \(lineNo): \(why)")
        }
        while true {
            let next: ArraySlice<UInt8>?
            do {
                next = try reader.readLine(maxLength: maxLineBytes)
            } catch let long as ChunkReader.LineTooLong {
                lineNo += 1
                throw fail("longer than \(long.limit) bytes (\(long.length) read without a newline); see --max-line-bytes")
            }
            guard let line = next else { break }
            lineNo += 1
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            var record: JournalRecord
            do {
                record = try RecordJSON.parse(line, nextSeq: writer.nextSeq)
            } catch let e as CommandError {
                throw fail(e.message)
            }
            // Lines from elsewhere (another tool's log, an old tap) may carry credentials in
            // URLs and messages: they are stored redacted by name (frames as they are).
            record.body = record.body.redactedByName()
            let appended = Result { () throws(JournalError) in try writer.append(record) }
            if case .failure(let e) = appended {
                guard e.code == .invalidArgument else { throw e }
                throw fail(e.message)
            }
            count += 1
        }
    }
}
