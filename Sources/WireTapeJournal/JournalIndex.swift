import CSQLite

/// Per-kind record counts of a block or a journal, indexed by `RecordKind.rawValue - 1`.
public struct KindCounts: Sendable, Hashable {
    /// Counts per kind, in `RecordKind.allCases` order.
    public var counts: [UInt64] = Array(repeating: 0, count: RecordKind.allCases.count)
    /// Creates zero counts.
    public init() {}
    /// The count of one kind.
    public subscript(kind: RecordKind) -> UInt64 {
        get { counts[Int(kind.rawValue) - 1] }
        set { counts[Int(kind.rawValue) - 1] = newValue }
    }
    /// The total over all kinds.
    public var total: UInt64 { counts.reduce(0, +) }
    mutating func add(_ o: KindCounts) { for i in counts.indices { counts[i] += o.counts[i] } }
}

/// One row of the `blocks` table: where a block is and what it holds.
public struct BlockIndexRow: Sendable, Hashable {
    /// First sequence number (primary key).
    public var firstSeq: UInt64
    /// Last sequence number.
    public var lastSeq: UInt64
    /// The file name of the segment holding the block.
    public var segment: String
    /// Byte offset of the block header in the segment.
    public var offset: UInt64
    /// Stored (compressed) payload bytes.
    public var storedLength: UInt32
    /// Uncompressed payload bytes.
    public var rawLength: UInt32
    /// Records in the block.
    public var recordCount: UInt32
    /// Smallest and largest wall time (ns).
    public var minWall: Int64, maxWall: Int64
    /// Smallest and largest epoch.
    public var minEpoch: UInt64, maxEpoch: UInt64
    /// Records per kind.
    public var kinds: KindCounts
    /// Sum of frame payload bytes.
    public var payloadBytes: UInt64
}

/// A row of the `lifecycle_edges` table.
public struct LifecycleRow: Sendable, Hashable {
    /// The record's sequence number, epoch and times.
    public var seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64
    /// The edge, as far as the index keeps it: state, close code and reason, error and
    /// message. ``LifecycleEdge/closedBy`` and ``LifecycleEdge/counters`` are only in the
    /// segments (read the record for them).
    public var edge: LifecycleEdge

    /// Creates a row; drops the fields the index does not keep.
    init(seq: UInt64, epoch: UInt64, wall: Int64, mono: UInt64, edge: LifecycleEdge) {
        self.seq = seq
        self.epoch = epoch
        self.wall = wall
        self.mono = mono
        var kept = edge
        kept.closedBy = nil
        kept.counters = nil
        self.edge = kept
    }
}

/// A row of the `sessions` table (one per session record).
public struct SessionRow: Sendable, Hashable {
    /// The record's sequence number, epoch and wall time.
    public var seq: UInt64, epoch: UInt64, wall: Int64
    /// Start or end.
    public var phase: SessionPhase
    /// The redacted URL and message.
    public var url: String?, message: String?
}

/// The SQLite index of a journal (schema in journal-format/schema.sql). Derived data: it can
/// always be rebuilt from the segments.
final class JournalIndex {
    /// The schema; identical to journal-format/schema.sql (a test checks).
    static let schema = """
        -- WireTape journal index, schema version 1. Derived data: rebuilt from the segments by
        -- `wiretape reindex`. One row per block, never per frame.
        CREATE TABLE IF NOT EXISTS meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS segments (
            first_seq       INTEGER PRIMARY KEY,  -- the number in the file name
            file_name       TEXT NOT NULL UNIQUE, -- seg-<20 digits>.wtj
            created_wall_ns INTEGER NOT NULL,     -- from the segment header
            sealed          INTEGER NOT NULL      -- 1 once the seal is written
        );
        CREATE TABLE IF NOT EXISTS blocks (
            first_seq     INTEGER PRIMARY KEY,
            last_seq      INTEGER NOT NULL,
            segment       TEXT NOT NULL,          -- segments.file_name
            offset        INTEGER NOT NULL,       -- byte offset of the block header
            stored_len    INTEGER NOT NULL,
            raw_len       INTEGER NOT NULL,
            record_count  INTEGER NOT NULL,
            min_wall_ns   INTEGER NOT NULL,
            max_wall_ns   INTEGER NOT NULL,
            min_epoch     INTEGER NOT NULL,
            max_epoch     INTEGER NOT NULL,
            n_frame_in    INTEGER NOT NULL,
            n_frame_out   INTEGER NOT NULL,
            n_lifecycle   INTEGER NOT NULL,
            n_connect     INTEGER NOT NULL,
            n_session     INTEGER NOT NULL,
            n_lag         INTEGER NOT NULL,
            n_annotation  INTEGER NOT NULL,
            payload_bytes INTEGER NOT NULL        -- sum of frame payload bytes
        );
        CREATE INDEX IF NOT EXISTS blocks_by_max_wall ON blocks(max_wall_ns);
        CREATE INDEX IF NOT EXISTS blocks_by_epoch ON blocks(max_epoch);
        CREATE TABLE IF NOT EXISTS lifecycle_edges (
            seq          INTEGER PRIMARY KEY,
            epoch        INTEGER NOT NULL,
            wall_ns      INTEGER NOT NULL,
            mono_ns      INTEGER NOT NULL,
            state        TEXT NOT NULL,           -- a ConnState raw value
            close_code   INTEGER,
            close_reason TEXT,
            error        TEXT,                    -- a WSError code name
            message      TEXT
        );
        CREATE INDEX IF NOT EXISTS lifecycle_by_wall ON lifecycle_edges(wall_ns);
        CREATE TABLE IF NOT EXISTS sessions (
            seq     INTEGER PRIMARY KEY,          -- the session record
            phase   TEXT NOT NULL,                -- start | end
            epoch   INTEGER NOT NULL,
            wall_ns INTEGER NOT NULL,
            url     TEXT,                         -- redacted
            message TEXT
        );
        -- Per block row: the inbound frames of every block before it, and whether it starts a
        -- run (0: it holds only inbound frames of one epoch, like the block just before it,
        -- which it follows without a gap). Kept by the triggers below on every insert; lets a
        -- reader count the frames of a seq range and find the blocks that hold anything else in
        -- O(log n) (SPEC §8). NULL frames_before: unknown (rows that predate the table).
        CREATE TABLE IF NOT EXISTS block_marks (
            first_seq     INTEGER PRIMARY KEY,    -- blocks.first_seq
            frames_before INTEGER,
            boundary      INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS block_marks_boundaries ON block_marks(first_seq) WHERE boundary = 1;
        CREATE TRIGGER IF NOT EXISTS blocks_mark AFTER INSERT ON blocks BEGIN
            INSERT OR REPLACE INTO block_marks(first_seq, frames_before, boundary)
            SELECT NEW.first_seq,
                CASE WHEN p.first_seq IS NULL THEN 0 ELSE m.frames_before + p.n_frame_in END,
                CASE WHEN NEW.record_count = NEW.n_frame_in AND NEW.min_epoch = NEW.max_epoch
                      AND p.record_count = p.n_frame_in AND p.min_epoch = p.max_epoch
                      AND p.min_epoch = NEW.min_epoch AND p.last_seq + 1 = NEW.first_seq THEN 0 ELSE 1 END
            FROM (SELECT 1) LEFT JOIN blocks p ON p.first_seq = (SELECT MAX(first_seq) FROM blocks WHERE first_seq < NEW.first_seq)
            LEFT JOIN block_marks m ON m.first_seq = p.first_seq;
        END;
        CREATE TRIGGER IF NOT EXISTS blocks_unmark AFTER DELETE ON blocks BEGIN
            DELETE FROM block_marks WHERE first_seq = OLD.first_seq;
        END;

        """

    /// `block_marks` as SPEC §8 defines it, computed from `blocks` (a window query).
    private static let expectedMarks = """
        SELECT first_seq,
            COALESCE(SUM(n_frame_in) OVER (ORDER BY first_seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS frames_before,
            CASE WHEN record_count = n_frame_in AND min_epoch = max_epoch
                  AND LAG(record_count = n_frame_in AND min_epoch = max_epoch) OVER w = 1
                  AND LAG(min_epoch) OVER w = min_epoch AND LAG(last_seq) OVER w + 1 = first_seq THEN 0 ELSE 1 END AS boundary
        FROM blocks WINDOW w AS (ORDER BY first_seq)
        """

    /// Recomputes every row of `block_marks` from `blocks` (after rows were added out of
    /// order, removed from the middle, or when the index predates the table).
    static let rebuildMarks = """
        DELETE FROM block_marks;
        INSERT INTO block_marks(first_seq, frames_before, boundary) \(expectedMarks);
        """

    /// How many `block_marks` rows differ from their definition, are missing, or have no
    /// block row; nil when the index has no `block_marks` table (it predates it).
    func marksDisagreeing() throws(JournalError) -> Int64? {
        guard let s = try? db.prepare("""
            SELECT (SELECT COUNT(*) FROM (\(Self.expectedMarks)) e LEFT JOIN block_marks m USING(first_seq)
                    WHERE m.first_seq IS NULL OR m.frames_before IS NOT e.frames_before OR m.boundary IS NOT e.boundary)
                 + (SELECT COUNT(*) FROM block_marks WHERE first_seq NOT IN (SELECT first_seq FROM blocks))
            """)
        else { return nil }
        return try s.step() ? s.int(0) : 0
    }

    let db: SQLiteDatabase
    private var insertBlock: SQLiteStatement?
    private var insertLifecycle: SQLiteStatement?
    private var insertSession: SQLiteStatement?
    private var upsertSegment: SQLiteStatement?

    /// Opens (creating when `create`) the index at `path`.
    init(path: String, readOnly: Bool, create: Bool = false) throws(JournalError) {
        if readOnly && !FS.exists(path) {
            throw JournalError(.index, "the index \(path) is missing; run `wiretape reindex` to rebuild it from the segments", path: path)
        }
        for file in [path, path + "-wal", path + "-shm"] {
            try FileDescriptor.requireRegularIfPresent(file, what: "opening the index")
        }
        db = try SQLiteDatabase(path: path, readOnly: readOnly)
        if !readOnly {
            try db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            try db.exec(Self.schema)
            try db.exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1'), ('format_major', '\(JournalFormat.majorVersion)');")
            // An index written before `block_marks` existed (or by a writer that skipped it):
            // the triggers keep a complete table complete, so the newest row tells.
            if try !marksComplete() {
                try begin()
                do throws(JournalError) {
                    try db.exec(Self.rebuildMarks)
                    try commit()
                } catch {
                    rollback()
                    throw error
                }
            }
        } else {
            // Fails with a clear message when the file is not a journal index.
            let s = try db.prepare("SELECT value FROM meta WHERE key = 'schema_version'")
            guard try s.step(), s.text(0) == "1" else {
                throw JournalError(.index, "the index \(path) has no schema version 1; run `wiretape reindex`", path: path)
            }
        }
    }

    func begin() throws(JournalError) { try db.exec("BEGIN IMMEDIATE") }
    func commit() throws(JournalError) { try db.exec("COMMIT") }
    func rollback() { try? db.exec("ROLLBACK") }

    func addSegment(fileName: String, firstSeq: UInt64, createdWall: Int64, sealed: Bool) throws(JournalError) {
        if upsertSegment == nil {
            upsertSegment = try db.prepare(
                "INSERT INTO segments(first_seq, file_name, created_wall_ns, sealed) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(first_seq) DO UPDATE SET sealed = excluded.sealed, created_wall_ns = excluded.created_wall_ns")
        }
        let s = upsertSegment!
        s.reset()
        s.bind(1, firstSeq)
        s.bind(2, fileName)
        s.bind(3, createdWall)
        s.bind(4, sealed ? 1 : 0)
        try s.run()
    }

    func add(_ r: BlockIndexRow) throws(JournalError) {
        if insertBlock == nil {
            insertBlock = try db.prepare(
                "INSERT OR REPLACE INTO blocks VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)")
        }
        let s = insertBlock!
        s.reset()
        s.bind(1, r.firstSeq); s.bind(2, r.lastSeq); s.bind(3, r.segment); s.bind(4, r.offset)
        s.bind(5, Int(r.storedLength)); s.bind(6, Int(r.rawLength)); s.bind(7, Int(r.recordCount))
        s.bind(8, r.minWall); s.bind(9, r.maxWall); s.bind(10, r.minEpoch); s.bind(11, r.maxEpoch)
        for (i, c) in r.kinds.counts.enumerated() { s.bind(Int32(12 + i), c) }
        s.bind(19, r.payloadBytes)
        try s.run()
    }

    func add(_ r: LifecycleRow) throws(JournalError) {
        if insertLifecycle == nil {
            insertLifecycle = try db.prepare("INSERT OR REPLACE INTO lifecycle_edges VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)")
        }
        let s = insertLifecycle!
        s.reset()
        s.bind(1, r.seq); s.bind(2, r.epoch); s.bind(3, r.wall); s.bind(4, r.mono); s.bind(5, r.edge.stateName)
        s.bindOptional(6, r.edge.closeCode.map { Int64($0) }); s.bind(7, r.edge.closeReason)
        s.bind(8, r.edge.error); s.bind(9, r.edge.message)
        try s.run()
    }

    func add(_ r: SessionRow) throws(JournalError) {
        if insertSession == nil {
            insertSession = try db.prepare("INSERT OR REPLACE INTO sessions VALUES (?1,?2,?3,?4,?5,?6)")
        }
        let s = insertSession!
        s.reset()
        s.bind(1, r.seq); s.bind(2, r.phase.name); s.bind(3, r.epoch); s.bind(4, r.wall)
        s.bind(5, r.url); s.bind(6, r.message)
        try s.run()
    }

    /// Deletes every row describing records with sequence number ≥ `seq` (after a tail was
    /// truncated) and blocks of segments that no longer exist.
    func deleteFrom(seq: UInt64) throws(JournalError) {
        let v = Int64(bitPattern: seq)
        try db.exec("DELETE FROM blocks WHERE last_seq >= \(v); DELETE FROM lifecycle_edges WHERE seq >= \(v); DELETE FROM sessions WHERE seq >= \(v);")
    }

    static let blockColumns = "first_seq,last_seq,segment,offset,stored_len,raw_len,record_count,min_wall_ns,max_wall_ns,min_epoch,max_epoch,n_frame_in,n_frame_out,n_lifecycle,n_connect,n_session,n_lag,n_annotation,payload_bytes"

    static func blockRow(_ s: SQLiteStatement) -> BlockIndexRow {
        var k = KindCounts()
        for i in 0..<k.counts.count { k.counts[i] = s.uint(Int32(11 + i)) }
        return BlockIndexRow(
            firstSeq: s.uint(0), lastSeq: s.uint(1), segment: s.text(2) ?? "", offset: s.uint(3),
            storedLength: UInt32(truncatingIfNeeded: s.int(4)), rawLength: UInt32(truncatingIfNeeded: s.int(5)),
            recordCount: UInt32(truncatingIfNeeded: s.int(6)), minWall: s.int(7), maxWall: s.int(8),
            minEpoch: s.uint(9), maxEpoch: s.uint(10), kinds: k, payloadBytes: s.uint(18))
    }

    private var seekStatements: [String: SQLiteStatement] = [:]

    private func queryOne(_ sql: String, _ bind: (SQLiteStatement) -> Void) throws(JournalError) -> BlockIndexRow? {
        let s: SQLiteStatement
        if let cached = seekStatements[sql] { s = cached } else {
            s = try db.prepare(sql)
            seekStatements[sql] = s
        }
        s.reset()
        bind(s)
        defer { sqlite3_reset(s.stmt) }
        return try s.step() ? Self.blockRow(s) : nil
    }

    /// The block holding `seq`, or else the last block before it.
    func block(atOrBeforeSeq seq: UInt64) throws(JournalError) -> BlockIndexRow? {
        try queryOne("SELECT \(Self.blockColumns) FROM blocks WHERE first_seq <= ?1 ORDER BY first_seq DESC LIMIT 1") { $0.bind(1, seq) }
    }

    /// The first block in sequence order whose records reach `wall`.
    ///
    /// When wall time never goes backwards from block to block (``wallBacksteps()`` is 0)
    /// this is the first block by max wall time, found through the `blocks_by_max_wall` index
    /// in O(log n). After a clock step back it is a scan in sequence order (O(n) rows),
    /// because a later block may then end before an earlier one.
    /// `backsteps`: ``wallBacksteps()`` when the caller has it already (it costs queries).
    func block(reachingWall wall: Int64, backsteps: Int64? = nil) throws(JournalError) -> BlockIndexRow? {
        let steps: Int64
        if let backsteps { steps = backsteps } else { steps = try wallBacksteps() }
        if steps == 0 {
            return try queryOne("SELECT \(Self.blockColumns) FROM blocks WHERE max_wall_ns >= ?1 ORDER BY max_wall_ns, first_seq LIMIT 1") { $0.bind(1, wall) }
        }
        return try queryOne("SELECT \(Self.blockColumns) FROM blocks NOT INDEXED WHERE max_wall_ns >= ?1 ORDER BY first_seq LIMIT 1") { $0.bind(1, wall) }
    }

    /// How many blocks start before the latest wall time of the blocks before them (clock
    /// steps back, or journals appended out of wall order).
    ///
    /// Kept in `meta` (`wall_backsteps`, valid through `wall_backsteps_seq`) by writers and
    /// `reindex`; computed from the block rows (O(n)) when the stored value is missing or stale.
    func wallBacksteps() throws(JournalError) -> Int64 {
        let last = try lastBlock()?.lastSeq ?? 0
        if let through = try meta("wall_backsteps_seq").flatMap(UInt64.init), through == last,
            let n = try meta("wall_backsteps").flatMap(Int64.init)
        {
            return n
        }
        return try countWallBacksteps()
    }

    /// Counts the wall-time backsteps from the block rows (a window query over every row).
    func countWallBacksteps() throws(JournalError) -> Int64 {
        let s = try db.prepare("""
            SELECT COUNT(*) FROM (SELECT min_wall_ns < MAX(max_wall_ns) OVER (ORDER BY first_seq
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS back FROM blocks) WHERE back = 1
            """)
        return try s.step() ? s.int(0) : 0
    }

    /// The latest wall time of any indexed block, or nil when there is none.
    func maxWall() throws(JournalError) -> Int64? {
        let s = try db.prepare("SELECT MAX(max_wall_ns) FROM blocks")
        return try s.step() && !s.isNull(0) ? s.int(0) : nil
    }

    /// Stores the backstep count as valid through `seq` (inside the caller's transaction).
    func storeWallBacksteps(_ n: Int64, throughSeq seq: UInt64) throws(JournalError) {
        try db.exec("INSERT OR REPLACE INTO meta(key, value) VALUES ('wall_backsteps', '\(n)'), ('wall_backsteps_seq', '\(seq)')")
    }

    private func meta(_ key: String) throws(JournalError) -> String? {
        let s = try db.prepare("SELECT value FROM meta WHERE key = ?1")
        s.bind(1, key)
        return try s.step() ? s.text(0) : nil
    }

    /// The first block (in sequence order) holding a record of `epoch`.
    func block(holdingEpoch epoch: UInt64) throws(JournalError) -> BlockIndexRow? {
        try queryOne("SELECT \(Self.blockColumns) FROM blocks WHERE max_epoch >= ?1 AND min_epoch <= ?1 ORDER BY first_seq LIMIT 1") { $0.bind(1, epoch) }
    }

    /// The last indexed block.
    func lastBlock() throws(JournalError) -> BlockIndexRow? {
        try queryOne("SELECT \(Self.blockColumns) FROM blocks ORDER BY first_seq DESC LIMIT 1") { _ in }
    }

    /// True when the newest block row has a known `frames_before` (the triggers derive each
    /// row's from the one before, so an unknown one stays unknown for every later row), or
    /// when there is no block. False also when the table is missing (an older index opened
    /// read-only).
    func marksComplete() throws(JournalError) -> Bool {
        guard let s = try? db.prepare(
            "SELECT m.frames_before FROM blocks b LEFT JOIN block_marks m USING(first_seq) ORDER BY b.first_seq DESC LIMIT 1")
        else { return false }
        return try !s.step() || !s.isNull(0)
    }

    /// `frames_before` of the block starting at `firstSeq`, nil when unknown.
    func framesBefore(blockAt firstSeq: UInt64) throws(JournalError) -> Int64? {
        let s = try db.prepare("SELECT frames_before FROM block_marks WHERE first_seq = ?1")
        s.bind(1, firstSeq)
        return try s.step() && !s.isNull(0) ? s.int(0) : nil
    }

    /// The blocks strictly between `after` and `before` (first sequence numbers) that start a
    /// run or hold anything but inbound frames of one epoch, in sequence order, with their
    /// `frames_before`.
    func boundaries(after: UInt64, before: UInt64) throws(JournalError) -> [(row: BlockIndexRow, framesBefore: Int64?)] {
        let s = try db.prepare(
            "SELECT \(Self.blockColumns.split(separator: ",").map { "b." + $0 }.joined(separator: ",")), m.frames_before FROM block_marks m JOIN blocks b USING(first_seq) WHERE m.boundary = 1 AND m.first_seq > ?1 AND m.first_seq < ?2 ORDER BY m.first_seq")
        s.bind(1, after)
        s.bind(2, before)
        var out: [(row: BlockIndexRow, framesBefore: Int64?)] = []
        while try s.step() { out.append((Self.blockRow(s), s.isNull(19) ? nil : s.int(19))) }
        return out
    }

    /// Calls `body` for every block row in sequence order (streaming; memory bounded).
    func forEachBlock(_ body: (BlockIndexRow) throws(JournalError) -> Void) throws(JournalError) {
        let s = try db.prepare("SELECT \(Self.blockColumns) FROM blocks ORDER BY first_seq")
        while try s.step() { try body(Self.blockRow(s)) }
    }

    /// Every lifecycle edge in sequence order.
    func lifecycleEdges() throws(JournalError) -> [LifecycleRow] {
        let s = try db.prepare("SELECT seq, epoch, wall_ns, mono_ns, state, close_code, close_reason, error, message FROM lifecycle_edges ORDER BY seq")
        var out: [LifecycleRow] = []
        while try s.step() {
            out.append(LifecycleRow(
                seq: s.uint(0), epoch: s.uint(1), wall: s.int(2), mono: s.uint(3),
                edge: LifecycleEdge(
                    stateName: s.text(4) ?? "", closeCode: s.isNull(5) ? nil : UInt16(truncatingIfNeeded: s.int(5)),
                    closeReason: s.text(6), error: s.text(7), message: s.text(8))))
        }
        return out
    }

    /// Every session row in sequence order.
    func sessions() throws(JournalError) -> [SessionRow] {
        let s = try db.prepare("SELECT seq, phase, epoch, wall_ns, url, message FROM sessions ORDER BY seq")
        var out: [SessionRow] = []
        while try s.step() {
            out.append(SessionRow(
                seq: s.uint(0), epoch: s.uint(2), wall: s.int(3), phase: s.text(1) == "end" ? .end : .start,
                url: s.text(4), message: s.text(5)))
        }
        return out
    }

    /// Every segment row: file name, first seq, sealed.
    func segments() throws(JournalError) -> [(name: String, firstSeq: UInt64, sealed: Bool)] {
        let s = try db.prepare("SELECT file_name, first_seq, sealed FROM segments ORDER BY first_seq")
        var out: [(String, UInt64, Bool)] = []
        while try s.step() { out.append((s.text(0) ?? "", s.uint(1), s.int(2) != 0)) }
        return out
    }
}
