import Foundation
import Testing
import WireTapeCLI

/// `cat` on a journal that lost a segment: `--strict` fails before printing, naming the
/// segment and its records; without it the rest is printed with a warning.
@Suite(.serialized)
struct CatCommandTests {
    /// A journal of three segments (each import seals its own) of two annotations each.
    func threeSegments() throws -> (dir: String, segments: [String]) {
        let dir = NSTemporaryDirectory() + "wiretape-cat-\(UUID().uuidString)"
        for i in 0..<3 {
            let run = try CLIRun.start(["import", dir, "-"], stdin: true, timeout: .seconds(60))
            run.write((0..<2).map { #"{"type":"annotation","wall_ns":\#(1_000 * (2 * i + $0) + 1),"mono_ns":1,"epoch":0,"text":"a\#(2 * i + $0)"}"# + "\n" }.joined())
            run.closeInput()
            let r = run.wait()
            #expect(r.status == 0, "\(r.stderr)")
        }
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".wtj") }.sorted()
        return (dir, segments)
    }

    @Test(arguments: ["deleted", "dangling symlink"])
    func aMissingMiddleSegmentFailsUnderStrictAndWarnsOtherwise(_ how: String) throws {
        let (dir, segments) = try threeSegments()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(segments.count == 3, "\(segments)")
        let middle = dir + "/" + segments[1]
        try FileManager.default.removeItem(atPath: middle)
        if how == "dangling symlink" { try FileManager.default.createSymbolicLink(atPath: middle, withDestinationPath: dir + "/gone") }

        let strict = try CLIRun.wiretape(["cat", dir, "--strict"])
        #expect(strict.status != 0)
        #expect(strict.stdout.isEmpty, "nothing is printed before the error")
        #expect(strict.stderr.contains(segments[1]) && strict.stderr.contains("records 3...4"), "\(strict.stderr)")

        let lenient = try CLIRun.wiretape(["cat", dir, "--format", "raw", "--kind", "annotation"])
        #expect(lenient.stderr.contains("warning: segment \(segments[1])") && lenient.stderr.contains("records 3...4"), "\(lenient.stderr)")
        #expect(lenient.stdout.isEmpty || lenient.status == 0, "\(lenient.status) \(lenient.stderr)")
        let all = try CLIRun.wiretape(["cat", dir])
        let texts = all.lines.compactMap { $0["text"] as? String }
        #expect(texts == ["a0", "a1", "a4", "a5"], "the other segments are printed: \(texts) \(all.stderr)")
    }
}
