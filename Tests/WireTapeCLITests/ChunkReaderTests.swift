import Foundation
import Testing
@testable import WireTapeCLI

/// The line reader under `import`: a long line from a pipe costs linear work (it was
/// quadratic: every 64 KiB pipe read re-copied the whole line), and a line over the cap fails
/// as soon as the cap is passed, not at the end of an endless line.
struct ChunkReaderTests {
    /// Writes `pieces` to a pipe from another thread, 64 KiB at a time as a pipe delivers them.
    func pipe(_ pieces: [[UInt8]]) -> Int32 {
        var fds: [Int32] = [0, 0]
        precondition(Foundation.pipe(&fds) == 0)
        signal(SIGPIPE, SIG_IGN)  // a reader that stops early ends the writer with EPIPE
        let writeFD = fds[1]
        Thread.detachNewThread {
            for piece in pieces {
                var done = 0
                while done < piece.count {
                    let n = piece[done...].withUnsafeBytes { write(writeFD, $0.baseAddress, min($0.count, 64 << 10)) }
                    if n <= 0 { break }
                    done += n
                }
            }
            close(writeFD)
        }
        return fds[0]
    }

    @Test func readsAreReportedForImportsProgressLine() throws {
        let lines = (0..<200_000).map { "line \($0)\n" }.joined()
        let fd = pipe([Array(lines.utf8)])
        defer { close(fd) }
        let reader = ChunkReader(fd: fd)
        var reports: [UInt64] = []
        reader.onRead = { reports.append($0) }
        var n = 0
        while try reader.readLine() != nil { n += 1 }
        #expect(n == 200_000)
        #expect(reports.count > 1 && reports == reports.sorted(), "one report per read, rising")
        #expect(reports.last == UInt64(lines.utf8.count) && reader.bytesRead == UInt64(lines.utf8.count))
    }

    @Test func aLongLineFromAPipeIsReadWithLinearCopying() throws {
        let length = 24 << 20
        let fd = pipe([Array(repeating: UInt8(ascii: "x"), count: length), Array("\nshort\n".utf8)])
        defer { close(fd) }
        let reader = ChunkReader(fd: fd)
        #expect(try reader.readLine()?.count == length)
        #expect(try reader.readLine().map { String(decoding: $0, as: UTF8.self) } == "short")
        #expect(try reader.readLine() == nil)
        // Geometric growth: the line is moved a few times (each move at most the line so far).
        #expect(reader.movedBytes < 3 * length, "moved \(reader.movedBytes) bytes for a \(length)-byte line")
    }

    @Test func aLineOverTheCapFailsWithoutReadingToItsEnd() throws {
        // 64 MiB with no newline and a 1 MiB cap: the reader stops after about a chunk.
        let fd = pipe([Array(repeating: UInt8(ascii: "y"), count: 64 << 20)])
        defer { close(fd) }
        let reader = ChunkReader(fd: fd)
        #expect {
            _ = try reader.readLine(maxLength: 1 << 20)
        } throws: { error in
            guard let e = error as? ChunkReader.LineTooLong else { return false }
            return e.limit == 1 << 20 && e.length > 1 << 20 && e.length <= (1 << 20) + ChunkReader.chunk
        }
    }

    @Test func aCompleteLineOverTheCapFailsToo() throws {
        let fd = pipe([Array("12345678\nok\n".utf8)])
        defer { close(fd) }
        let reader = ChunkReader(fd: fd)
        #expect(throws: ChunkReader.LineTooLong.self) { try reader.readLine(maxLength: 4) }
    }

    @Test func aRaisedSignalEndsABlockedRead() throws {
        var fds: [Int32] = [0, 0]
        #expect(Foundation.pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        _ = "a\npartial".withCString { write(fds[1], $0, 9) }
        let interrupt = try InterruptPipe()
        let reader = ChunkReader(fd: fds[0], interrupt: interrupt)
        #expect(try reader.readLine().map { String(decoding: $0, as: UTF8.self) } == "a")
        interrupt.raise(SIGTERM)
        // The producer is silent (the pipe stays open): without the interrupt this blocks forever.
        #expect {
            _ = try reader.readLine()
        } throws: { ($0 as? ChunkReader.Interrupted)?.signal == SIGTERM }
        #expect(reader.buffered.count == "partial".utf8.count)
    }
}
