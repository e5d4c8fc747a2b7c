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
