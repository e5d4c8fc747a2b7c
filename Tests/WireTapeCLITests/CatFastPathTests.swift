import ArgumentParser
import Foundation
import Testing
import WireTapeCore
import WireTapeJournal
@testable import WireTapeCLI

/// `cat --format jsonl|raw` read borrowed views and encode frames straight into the output
/// buffer: the bytes must be those of the one codec's String path, record for record.
@Suite struct CatFastPathTests {
    /// Text payloads that exercise every escape and every UTF-8 rule, binary payloads of every
    /// base64 tail, records that are not frames, a negative wall time and a frame too large for
    /// the in-place path.
    static let payloads: [(FrameOpcode, [UInt8])] = {
        var p: [(FrameOpcode, [UInt8])] = [
            (.text, []), (.text, Array("plain ascii".utf8)), (.text, Array("q\"b\\s/n\nr\rt\t".utf8)),
            (.text, (0..<0x20).map { UInt8($0) } + [0x7F]), (.text, Array("é€𝄞 mixed ascii".utf8)),
            (.text, [0x80]), (.text, [0xC0, 0x80]), (.text, [0xC2]), (.text, [0xE0, 0x80, 0x80]), (.text, [0xE0, 0xA0, 0x80]),
            (.text, [0xED, 0xA0, 0x80]), (.text, [0xED, 0x9F, 0xBF]), (.text, [0xF0, 0x8F, 0xBF, 0xBF]), (.text, [0xF0, 0x90, 0x80, 0x80]),
            (.text, [0xF4, 0x8F, 0xBF, 0xBF]), (.text, [0xF4, 0x90, 0x80, 0x80]), (.text, [0xF5, 0x80, 0x80, 0x80]), (.text, [0xFF]),
            (.text, Array("12345678abcdefgh".utf8) + [0xE2, 0x82]),
        ]
        for n in 0..<5 { p.append((.binary, (0..<n).map { UInt8(200 + $0) })) }
        p.append((.text, Array(repeating: UInt8(ascii: "\""), count: 200_000)))
        return p
    }()

    func journal() throws -> String {
        let dir = tempDir() + "/j"
        let w = try JournalWriter(directory: dir)
        var i: Int64 = 0
        for (op, bytes) in Self.payloads {
            i += 1
            let wall = i == 3 ? -5 : 1_700_000_000_000_000_000 + i
            try w.append(.frame(direction: i % 2 == 0 ? .outbound : .inbound, opcode: op, payload: bytes), epoch: UInt64(i), at: ReceiveTimestamp(wallNanos: wall, monotonicNanos: UInt64(i)))
            if i == 4 { try w.append(.annotation("note \"x\""), epoch: 1, at: ReceiveTimestamp(wallNanos: wall, monotonicNanos: UInt64(i))) }
        }
        try w.close()
        return dir
    }

    @Test func jsonLinesAreTheCodecsBytes() async throws {
        let dir = try journal()
        var expected = ""
        let c = try JournalCursor(directory: dir)
        var frames = 0
        while let r = try c.next() {
            expected += RecordJSON.line(r) + "\n"
            if case .frame = r.body { frames += 1 }
        }
        #expect(frames == Self.payloads.count)
        let (out, err, code) = await CLIRun.inProcess(["cat", dir, "--format", "jsonl"])
        #expect(code == 0, "\(err)")
        #expect(out == expected)
    }

    @Test func rawIsThePayloadsOnePerLine() async throws {
        let dir = try journal()
        var expected: [UInt8] = []
        for (_, bytes) in Self.payloads { expected += bytes + [10] }
        let capture = JournalOutput.capture()
        try await JournalOutput.$current.withValue(capture) {
            let cmd = try CatCommand.parse([dir, "--format", "raw"])
            try await cmd.run()
        }
        #expect(capture.stdoutBytes == expected)
        #expect(capture.stderr.isEmpty, "\(capture.stderr)")
    }

    /// The UTF-8 check agrees with `String(validating:)` on every short byte string of a
    /// seeded random sample biased to the bytes that matter (leads, continuations, ASCII).
    @Test func theUTF8CheckAgreesWithTheStandardLibrary() {
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var rng: UInt64 = 12345
        func next() -> Int { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Int(rng >> 33) }
        for _ in 0..<200_000 {
            let n = next() % 13
            let bytes = (0..<n).map { _ in interesting[next() % interesting.count] }
            let ours = bytes.withUnsafeBytes { RecordJSON.isValidUTF8($0) }
            #expect(ours == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
    }
}

/// `replay` prints live frame lines (no `seq`) straight into its output buffer, from owned
/// frames and from views: the bytes of the codec's String path, `RecordJSON.line(_:direction:…)`.
@Suite struct LiveFrameLineTests {
    func written(_ body: (OutputBuffer) -> Void) -> String {
        let sink = JournalOutput.capture()
        let out = OutputBuffer(sink)
        body(out)
        out.flush()
        return sink.stdout
    }

    @Test func ownedAndLentFramesPrintTheCodecsBytes() {
        for (i, (op, bytes)) in CatFastPathTests.payloads.enumerated() {
            let at = ReceiveTimestamp(wallNanos: i == 2 ? -5 : 1_700_000_000_000_000_000 + Int64(i), monotonicNanos: UInt64(i))
            let frame: Frame = op == .text ? .text(String(decoding: bytes, as: UTF8.self)) : .binary(bytes)
            let owned = InboundFrame(frame: frame, epoch: UInt64(i), received: at)
            let expected = RecordJSON.line(frame, direction: .inbound, epoch: UInt64(i), at: at) + "\n"
            #expect(written { RecordJSON.appendFrameLine(owned, to: $0) } == expected, "payload \(i)")
            let lent = bytes.withUnsafeBytes { payload in
                written { RecordJSON.appendFrameLine(InboundFrameView(isBinary: op == .binary, payload: payload, epoch: UInt64(i), received: at), to: $0) }
            }
            if op == .binary || String(validating: bytes, as: UTF8.self) != nil {
                #expect(lent == expected, "payload \(i)")
            } else {
                // A text payload that is not UTF-8 keeps its bytes, as `cat` prints it.
                #expect(lent.contains(#""opcode":"text","data_b64":""# + Base64.encode(bytes) + "\""), "payload \(i)")
            }
        }
    }
}
