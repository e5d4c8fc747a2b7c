import Foundation
import Testing
import WireTapeCLI

/// `producer | wiretape import DIR -` as a user runs it: a signal ends the import cleanly
/// (everything read is written, synced and sealed, and the count is printed), and a failure
/// says how many records the journal holds so a re-run does not duplicate them.
@Suite(.serialized)
struct ImportCommandTests {
    static func frameLine(_ i: Int) -> String {
        #"{"type":"frame","epoch":1,"wall_ns":\#(1_700_000_000_000_000_000 + i),"mono_ns":\#(i + 1),"dir":"in","opcode":"text","data":"m\#(i)"}"#
            + "\n"
    }

    func tempDir() -> String { NSTemporaryDirectory() + "wiretape-import-\(UUID().uuidString)" }

    @Test(arguments: [SIGINT, SIGTERM])
    func aSignalLandsEverythingReadAndSaysHowMany(_ signal: Int32) throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
        let n = 1036
        run.write((0..<n).map(Self.frameLine).joined() + #"{"type":"fra"#)
        // The producer stays open and silent, as a stalled `producer |` does.
        #expect(run.waitUntilInputRead(), "the import did not read its input")
        run.signal(signal)
        let result = run.wait()
        run.closeInput()
        #expect(result.status == 128 + signal, "\(result.stderr)")
        #expect(result.stderr.contains("imported \(n) records") && result.stderr.contains("synced and sealed"), "\(result.stderr)")
        #expect(result.stderr.contains("incomplete line"), "the partial last line is reported: \(result.stderr)")

        let cat = try CLIRun.wiretape(["cat", dir, "--format", "raw"])
        #expect(cat.stdout.split(separator: "\n").map(String.init) == (0..<n).map { "m\($0)" })
        let verify = try CLIRun.wiretape(["verify", dir])
        #expect(verify.status == 0 && verify.stdout.contains("\(n) records: OK"), "\(verify.stdout)\(verify.stderr)")
        let info = try CLIRun.wiretape(["info", dir])
        #expect(info.stdout.contains("1 (1 sealed)"), "the segment is sealed: \(info.stdout)")
    }

    @Test func aBadLineSaysWhatTheJournalHolds() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
        first.write((0..<5).map(Self.frameLine).joined())
        first.closeInput()
        #expect(first.wait().status == 0)

        let second = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
        second.write((5..<8).map(Self.frameLine).joined() + "{not json}\n" + Self.frameLine(9))
        second.closeInput()
        let result = second.wait()
        #expect(result.status != 0)
        #expect(result.stderr.contains("line 4"), "\(result.stderr)")
        #expect(result.stderr.contains("3 records of this import were appended; the journal holds 8 records (seq 1…8)"), "\(result.stderr)")
    }

    @Test func aLineOverTheCapNamesTheLineAndTheCap() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.start(["import", dir, "-", "--max-line-bytes", "4096"], stdin: true, timeout: .seconds(60))
        run.write(Self.frameLine(0) + String(repeating: "z", count: 100_000) + "\n")
        run.closeInput()
        let result = run.wait()
        #expect(result.status != 0)
        #expect(result.stderr.contains("line 2") && result.stderr.contains("4096") && result.stderr.contains("--max-line-bytes"), "\(result.stderr)")
        #expect(result.stderr.contains("the journal holds 1 records"), "\(result.stderr)")
    }

    /// The index stores exactly what the records hold: a text with a NUL byte (a close
    /// reason, a message) was cut at the NUL, so a fresh journal failed `verify` and
    /// `reindex` could not fix it.
    @Test func textsWithNULBytesAreIndexedWhole() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
        run.write(#"{"type":"lifecycle","state":"closed","epoch":1,"wall_ns":5,"mono_ns":5,"close_code":1011,"close_reason":"bye\u0000hidden","message":"m\u0000x"}"# + "\n")
        run.closeInput()
        #expect(run.wait().status == 0)
        for step in ["after import", "after reindex"] {
            let verify = try CLIRun.wiretape(["verify", dir])
            #expect(verify.status == 0 && verify.stdout.contains(": OK"), "\(step): \(verify.stdout)")
            if step == "after import" { #expect(try CLIRun.wiretape(["reindex", dir]).status == 0) }
        }
        let line = try CLIRun.wiretape(["cat", dir]).lines.first
        #expect(line?["close_reason"] as? String == "bye\u{0}hidden")
        let gaps = try CLIRun.wiretape(["gaps", dir, "--json"])
        #expect(gaps.status == 0 && !gaps.stdout.contains("\u{0}"), "gaps escapes control characters: \(gaps.stdout)")
    }

    /// Records from outside carry no known secret values, so credentials in their URLs,
    /// messages and headers are stored redacted by name.
    @Test func credentialsInImportedRecordsAreStoredRedactedByName() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
        run.write([
            #"{"type":"session","phase":"start","epoch":0,"wall_ns":1,"mono_ns":1,"url":"wss://bob:pw-0815@venue/ws?listenKey=LK-4711","headers":[["Authorization","Bearer TK-4711"],["Accept","json"]]}"#,
            #"{"type":"connect","outcome":"failed","epoch":0,"wall_ns":2,"mono_ns":2,"url":"wss://venue/ws?api_key=AK-4711","message":"refused (wss://venue/ws?api_key=AK-4711)"}"#,
            #"{"type":"lifecycle","state":"closed","epoch":1,"wall_ns":3,"mono_ns":3,"close_code":1008,"close_reason":"bad ws://h/?token=TK-0042","message":"see https://u:pw-0815@h/x"}"#,
        ].joined(separator: "\n") + "\n")
        run.closeInput()
        let imported = run.wait()
        #expect(imported.status == 0, "\(imported.stderr)")
        let cat = try CLIRun.wiretape(["cat", dir])
        #expect(cat.lines.count == 3, "\(cat.stdout)\(cat.stderr)")
        for secret in ["pw-0815", "LK-4711", "TK-4711", "AK-4711", "TK-0042"] {
            #expect(!cat.stdout.contains(secret), "\(secret) stored: \(cat.stdout)")
        }
        #expect(cat.stdout.contains("<redacted>") && cat.stdout.contains(#""Accept","json""#), "\(cat.stdout)")
    }
}
