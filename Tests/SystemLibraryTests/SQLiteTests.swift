import CSQLite
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The system SQLite the journal's index links (Debian `libsqlite3-dev`): the version, WAL
/// mode, and a reader that sees the last committed state while a writer holds a transaction
/// open (the journal's readers run beside its writer).
@Suite struct SQLiteTests {
    /// `sqlite3_bind_text`'s "copy the string now" destructor (not imported into Swift).
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    struct SQLiteFailure: Error, CustomStringConvertible {
        var rc: Int32
        var message: String
        var description: String { "SQLite \(rc): \(message)" }
    }

    /// One connection; closed on deinit.
    final class DB {
        private var handle: OpaquePointer?

        init(_ path: String) throws {
            let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
            guard rc == SQLITE_OK else { throw SQLiteFailure(rc: rc, message: "open \(path)") }
        }
        deinit { sqlite3_close_v2(handle) }

        private func failure(_ rc: Int32) -> SQLiteFailure {
            SQLiteFailure(rc: rc, message: String(cString: sqlite3_errmsg(handle)))
        }

        func exec(_ sql: String) throws {
            let rc = sqlite3_exec(handle, sql, nil, nil, nil)
            guard rc == SQLITE_OK else { throw failure(rc) }
        }

        /// The first column of every row of `sql`, as text.
        func column(_ sql: String) throws -> [String] {
            var stmt: OpaquePointer?
            let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
            guard rc == SQLITE_OK else { throw failure(rc) }
            defer { sqlite3_finalize(stmt) }
            var out: [String] = []
            while true {
                let step = sqlite3_step(stmt)
                if step == SQLITE_DONE { return out }
                guard step == SQLITE_ROW else { throw failure(step) }
                out.append(sqlite3_column_text(stmt, 0).map { String(cString: $0) } ?? "NULL")
            }
        }

        func insert(_ value: String) throws {
            var stmt: OpaquePointer?
            var rc = sqlite3_prepare_v2(handle, "INSERT INTO t(v) VALUES (?)", -1, &stmt, nil)
            guard rc == SQLITE_OK else { throw failure(rc) }
            defer { sqlite3_finalize(stmt) }
            rc = sqlite3_bind_text(stmt, 1, value, -1, SQLiteTests.transient)
            guard rc == SQLITE_OK else { throw failure(rc) }
            rc = sqlite3_step(stmt)
            guard rc == SQLITE_DONE else { throw failure(rc) }
        }
    }

    static func tempDir() -> String {
        var template = Array("/tmp/wiretape-sqlite-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: p!)
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    @Test func versionIsAtLeast3_35() {
        #expect(sqlite3_libversion_number() >= 3_035_000, "SQLite \(String(cString: sqlite3_libversion()))")
        #expect(sqlite3_threadsafe() != 0)
    }

    @Test func walModeLetsAReaderSeeTheLastCommitWhileAWriterIsInATransaction() throws {
        let dir = Self.tempDir()
        defer {
            for f in ["db", "db-wal", "db-shm"] { unlink(dir + "/" + f) }
            rmdir(dir)
        }
        let path = dir + "/db"
        let writer = try DB(path)
        #expect(try writer.column("PRAGMA journal_mode=WAL") == ["wal"])
        try writer.exec("PRAGMA synchronous=NORMAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        try writer.insert("committed ✓")
        #expect(Self.exists(path + "-wal"), "WAL mode writes a -wal file beside the database")

        try writer.exec("BEGIN IMMEDIATE")
        try writer.insert("pending")
        let reader = try DB(path)
        #expect(try reader.column("PRAGMA journal_mode") == ["wal"], "WAL mode is persistent")
        // In rollback-journal mode this read would fail with SQLITE_BUSY; in WAL it sees the
        // last commit and not the open transaction.
        #expect(try reader.column("SELECT v FROM t ORDER BY id") == ["committed ✓"])
        try writer.exec("COMMIT")
        #expect(try reader.column("SELECT v FROM t ORDER BY id") == ["committed ✓", "pending"])
        // A second writer is refused while the first holds the write lock (no silent merge).
        try writer.exec("BEGIN IMMEDIATE")
        #expect(throws: SQLiteFailure.self) { try reader.exec("BEGIN IMMEDIATE") }
        try writer.exec("ROLLBACK")
        try writer.exec("PRAGMA wal_checkpoint(TRUNCATE)")
        #expect(try reader.column("SELECT count(*) FROM t") == ["2"])
    }
}
