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

