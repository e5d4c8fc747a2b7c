import Foundation
import Testing
@testable import WireTapeJournal

@Suite struct SchemaTests {
    @Test func schemaFileIsTheSchemaTheIndexUses() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let sql = try String(contentsOfFile: url.path + "/journal-format/schema.sql", encoding: .utf8)
        func norm(_ s: String) -> String { s.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n") }
        #expect(norm(sql) == norm(JournalIndex.schema))
    }

    @Test func rfc3339RoundTrips() {
        #expect(JournalTime.format(0) == "1970-01-01T00:00:00.000000000Z")
        #expect(JournalTime.format(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z")
        #expect(JournalTime.parse("2023-11-14T22:13:20.123456789Z") == 1_700_000_000_123_456_789)
        #expect(JournalTime.parse("2023-11-14T23:13:20.5+01:00") == 1_700_000_000_500_000_000)
        #expect(JournalTime.parse("1700000000000000000") == 1_700_000_000_000_000_000)
        #expect(JournalTime.parse("2023-11-14") == nil)
        #expect(JournalTime.parse("yesterday") == nil)
        #expect(JournalTime.format(-1) == "1969-12-31T23:59:59.999999999Z")
        for v: Int64 in [-86_400_000_000_001, 951_782_400_000_000_000, 4_102_444_800_999_999_999] {
            #expect(JournalTime.parse(JournalTime.format(v)) == v)
        }
    }
}
