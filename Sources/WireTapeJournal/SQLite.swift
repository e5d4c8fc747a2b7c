import CSQLite

/// `SQLITE_TRANSIENT`, which Swift does not import: SQLite copies the bound value.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The SQLite error of a failed call: its result code and message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The extended result code.
    public var code: Int32
    /// `sqlite3_errmsg` at the time of the failure.
    public var message: String
    /// `SQLite error 13: database or disk is full`.
    public var description: String { "SQLite error \(code): \(message)" }
}

/// A minimal owner of one `sqlite3*` connection. Not thread-safe: one owner at a time.
final class SQLiteDatabase {
    let handle: OpaquePointer
    let path: String

    init(path: String, readOnly: Bool) throws(JournalError) {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw JournalError(
                .index, "cannot open the index \(path): \(msg); run `wiretape reindex` to rebuild it", path: path,
                underlying: SQLiteError(code: rc, message: msg))
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32, _ what: String) -> JournalError {
        let msg = String(cString: sqlite3_errmsg(handle))
        let full = rc & 0xFF == SQLITE_FULL
        return JournalError(
            full ? .diskFull : .index,
            "index \(path): \(what) failed: \(msg)" + (full ? "; the file system is full (segments written so far stay readable; run `wiretape reindex` after freeing space)" : ""),
            path: path, underlying: SQLiteError(code: rc, message: msg))
    }

    func exec(_ sql: String) throws(JournalError) {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if let err { sqlite3_free(err) }
        if rc != SQLITE_OK { throw error(rc, "executing \(sql.prefix(60))") }
    }

    func prepare(_ sql: String) throws(JournalError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "preparing \(sql.prefix(60))") }
        return SQLiteStatement(stmt, db: self)
    }
}

/// A prepared statement; reset before each use.
final class SQLiteStatement {
    let stmt: OpaquePointer
    unowned let db: SQLiteDatabase

    init(_ stmt: OpaquePointer, db: SQLiteDatabase) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(stmt, i, v) }
    func bind(_ i: Int32, _ v: UInt64) { sqlite3_bind_int64(stmt, i, Int64(bitPattern: v)) }
    func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(stmt, i, Int64(v)) }
    func bind(_ i: Int32, _ v: String?) {
        // With its byte length, not as a C string: a text may hold NUL bytes (a close reason, a
        // message), and the index must store exactly what the record holds.
        guard var v else { sqlite3_bind_null(stmt, i); return }
        v.withUTF8 { u in
            if u.isEmpty { sqlite3_bind_text(stmt, i, "", 0, sqliteTransient) } else {
                sqlite3_bind_text(stmt, i, UnsafeRawPointer(u.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(u.count), sqliteTransient)
            }
        }
    }
    func bindOptional(_ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(stmt, i, v) } else { sqlite3_bind_null(stmt, i) }
    }

    /// Steps once; true when a row is available, false when done.
    func step() throws(JournalError) -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw db.error(rc, "running a statement")
    }

    /// Runs a statement that returns no rows.
    func run() throws(JournalError) {
        defer { sqlite3_reset(stmt) }
        _ = try step()
    }

    func int(_ col: Int32) -> Int64 { sqlite3_column_int64(stmt, col) }
    func uint(_ col: Int32) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(stmt, col)) }
    func isNull(_ col: Int32) -> Bool { sqlite3_column_type(stmt, col) == SQLITE_NULL }
    func text(_ col: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, col) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, col))), as: UTF8.self)
    }
}
