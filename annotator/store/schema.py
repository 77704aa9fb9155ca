"""The database schema: a public, documented interface (people open the file with sqlite3 and
Datasette and send it to each other), so every change is a numbered migration.

``PRAGMA user_version`` holds the schema version. A new database gets NEW_DATABASE, the schema
the migrations leave, in one transaction (without version 3's copy of the log). A file from an
older version is upgraded in place, one migration at a time, each in its own transaction; a file
from a newer version is refused and left untouched.
"""

from __future__ import annotations

# Which id an annotation is about, by target: the key of the unique index and of every lookup.
TARGET_ID_SQL = (
    "CASE target WHEN 'trace' THEN trace_id WHEN 'session' THEN session_id ELSE span_id END"
)

_V1_TABLES = f"""
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
);

CREATE TABLE spans (
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    span_kind TEXT NOT NULL,
    start_time TEXT,
    end_time TEXT,
    latency_ms REAL,
    status_code TEXT NOT NULL,
    status_message TEXT NOT NULL DEFAULT '',
    project TEXT NOT NULL,
    session_id TEXT,
    -- How many documents the span retrieved (retrieval.documents) or reranked
    -- (reranker.output_documents): the document positions annotators can label.
    document_count INTEGER NOT NULL DEFAULT 0,
    -- 1 when the span is shown at the top of its trace although it has a parent_id: the parent is
    -- not in the database, or the span was cut out of a parent cycle.
    orphan INTEGER NOT NULL DEFAULT 0,
    -- Last: they can be megabytes, and SQLite reads a row's columns in order (the tree's light
    -- queries never touch these pages).
    attributes TEXT NOT NULL DEFAULT '{{}}',
    events TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX spans_span_id ON spans(span_id);
CREATE INDEX spans_trace ON spans(trace_id, start_time);
CREATE INDEX spans_session ON spans(session_id) WHERE session_id IS NOT NULL;

CREATE TABLE traces (
    trace_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    session_id TEXT,
    root_span_id TEXT,
    root_name TEXT,
    root_kind TEXT,
    start_time TEXT,
    end_time TEXT,
    latency_ms REAL,
    span_count INTEGER NOT NULL,
    error_count INTEGER NOT NULL,
    orphan_count INTEGER NOT NULL DEFAULT 0,
    status_code TEXT NOT NULL
);
CREATE INDEX traces_order ON traces(coalesce(start_time, ''), trace_id);
CREATE INDEX traces_session ON traces(session_id) WHERE session_id IS NOT NULL;

CREATE TABLE annotation_configs (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    description TEXT,
    config TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);

CREATE TABLE annotations (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL CHECK (target IN ('span', 'trace', 'document', 'session')),
    span_id TEXT,
    trace_id TEXT,
    session_id TEXT,
    document_position INTEGER,
    name TEXT NOT NULL,
    label TEXT,
    score REAL,
    explanation TEXT,
    annotator_kind TEXT NOT NULL CHECK (annotator_kind IN ('HUMAN', 'LLM', 'CODE')),
    source TEXT NOT NULL CHECK (source IN ('APP', 'API')),
    identifier TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{{}}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((target = 'document') = (document_position IS NOT NULL)),
    CHECK ({TARGET_ID_SQL} IS NOT NULL)
);
CREATE UNIQUE INDEX annotations_key ON annotations(
    target, ({TARGET_ID_SQL}), coalesce(document_position, -1), name, identifier
);
CREATE INDEX annotations_span ON annotations(span_id) WHERE span_id IS NOT NULL;
CREATE INDEX annotations_trace ON annotations(trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX annotations_name ON annotations(name, identifier);

"""

_V1_LOG = """\
-- Append-only: every write and delete of an annotation, with the row before and after (JSON),
-- for undo/redo (also across restarts) and for audit.
CREATE TABLE annotation_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('set', 'delete', 'undo', 'redo', 'import', 'merge')),
    annotation_id INTEGER,
    target TEXT NOT NULL,
    span_id TEXT,
    trace_id TEXT,
    session_id TEXT,
    document_position INTEGER,
    name TEXT NOT NULL,
    identifier TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reverts INTEGER REFERENCES annotation_log(seq)
);
CREATE INDEX annotation_log_actor ON annotation_log(actor, seq);
CREATE TRIGGER annotation_log_no_update BEFORE UPDATE ON annotation_log
BEGIN SELECT RAISE(ABORT, 'annotation_log is append-only'); END;
CREATE TRIGGER annotation_log_no_delete BEFORE DELETE ON annotation_log
BEGIN SELECT RAISE(ABORT, 'annotation_log is append-only'); END;
"""
_V1 = _V1_TABLES + _V1_LOG

# Version 2: what `annotator push` sent where (the table push used to create itself, hence IF
# NOT EXISTS: a version-1 file that was pushed from has it already), and the two indexes the span
# filters use (`span_kind == ...`; a span's children of a kind, `span.children`).
_V2 = """
CREATE TABLE IF NOT EXISTS phoenix_sent (
    url TEXT NOT NULL,              -- the Phoenix it went to (no credentials)
    annotation_id INTEGER NOT NULL, -- annotations.id
    endpoint TEXT NOT NULL,         -- span_annotations ... session_notes
    fingerprint TEXT NOT NULL,      -- sha256 of the exact item sent
    phoenix_id TEXT,                -- the id Phoenix answered with
    sent_at TEXT NOT NULL,
    PRIMARY KEY (url, annotation_id)
);
CREATE INDEX spans_kind ON spans(span_kind);
CREATE INDEX spans_trace_parent ON spans(trace_id, parent_id, span_kind);
"""

# Version 3: campaigns (``annotator assign`` / ``resolve``, the app's skip and flag keys).
# `assignments`: who has which item (a span, or a whole trace), written by `assign` into each
# batch and carried into the team file by `merge`. `item_marks`: an annotator's skips and flags
# of a span (a trace row is its root span), with a reason. Marks are logged and undone like
# annotation writes, so the log's `action` CHECK gains 'mark' and 'unmark' (SQLite cannot alter
# a CHECK: the log is copied into a new table, every row and seq kept, and the triggers
# recreated). Final values need no table: they are annotations whose identifier is 'final'.
_V3_TABLES = """
CREATE TABLE assignments (
    annotator TEXT NOT NULL,
    target TEXT NOT NULL CHECK (target IN ('span', 'trace')),
    item_id TEXT NOT NULL,          -- span_id or trace_id, by target
    trace_id TEXT NOT NULL,         -- the item's trace (the span's, or the item itself)
    campaign TEXT NOT NULL,         -- the campaign id of the manifest that assigned it
    overlap INTEGER NOT NULL DEFAULT 0 CHECK (overlap IN (0, 1)),  -- 1: an --overlap-all item
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (annotator, target, item_id)
) WITHOUT ROWID;
CREATE INDEX assignments_item ON assignments(target, item_id);
CREATE INDEX assignments_trace ON assignments(annotator, trace_id);

CREATE TABLE item_marks (
    kind TEXT NOT NULL CHECK (kind IN ('skip', 'flag')),
    annotator TEXT NOT NULL,
    span_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, annotator, span_id)
) WITHOUT ROWID;
CREATE INDEX item_marks_span ON item_marks(span_id);

"""

_V3_MOVE_LOG = """\
-- The old log moves aside first (its self-reference follows it), so every copied `reverts`
-- finds its row in the new log as it is inserted, in seq order.
ALTER TABLE annotation_log RENAME TO annotation_log_v2;
"""

_V3_LOG = """\
CREATE TABLE annotation_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('set', 'delete', 'undo', 'redo', 'import', 'merge',
                                           'mark', 'unmark')),
    annotation_id INTEGER,
    target TEXT NOT NULL,
    span_id TEXT,
    trace_id TEXT,
    session_id TEXT,
    document_position INTEGER,
    name TEXT NOT NULL,
    identifier TEXT NOT NULL,
    before TEXT,
    after TEXT,
    reverts INTEGER REFERENCES annotation_log(seq)
);
"""

_V3_COPY_LOG = """\
INSERT INTO annotation_log SELECT * FROM annotation_log_v2 ORDER BY seq;
DROP TABLE annotation_log_v2;
"""

_V3_LOG_GUARDS = """\
CREATE INDEX annotation_log_actor ON annotation_log(actor, seq);
CREATE TRIGGER annotation_log_no_update BEFORE UPDATE ON annotation_log
BEGIN SELECT RAISE(ABORT, 'annotation_log is append-only'); END;
CREATE TRIGGER annotation_log_no_delete BEFORE DELETE ON annotation_log
BEGIN SELECT RAISE(ABORT, 'annotation_log is append-only'); END;
"""
_V3 = _V3_TABLES + _V3_MOVE_LOG + _V3_LOG + _V3_COPY_LOG + _V3_LOG_GUARDS


def _searchable(span: str) -> str:
    """What full-text search reads of span row `span` besides its name: its status message and,
    in its attributes and events, the text values under the keys OpenInference keeps what was
    said in — `value` (input.value, output.value), `content` (messages, documents), `arguments`
    (tool calls), `message` and `stacktrace` (exceptions) — each clipped to SEARCH_CLIP
    characters. Ids, model names, mime types and numbers (embeddings) stay out."""
    keys = "('value', 'content', 'arguments', 'message', 'stacktrace', 'exception.message', " \
        "'exception.stacktrace')"  # fmt: skip
    parts = [
        f"coalesce({span}.status_message, '')",
        *(
            f"coalesce((SELECT group_concat(substr(value, 1, {SEARCH_CLIP}), ' ') FROM json_tree("
            f"CASE WHEN json_valid({span}.{column}) THEN {span}.{column} ELSE '[]' END) "
            f"WHERE type = 'text' AND key IN {keys}), '')"
            for column in ("attributes", "events")
        ),
    ]
    return " || ' ' || ".join(parts)


# A megabyte string is indexed by its start: enough to find it, bounded in the index.
SEARCH_CLIP = 20_000

_V4 = f"""
-- Full-text search (`/` in the app): a contentless FTS5 index (the text stays in `spans`, not
-- copied) whose rowid is the span's rowid. Spans are only ever inserted, so their rowids run
-- 1..N without gaps and a VACUUM keeps them. Kept true by triggers, so every way spans arrive
-- (import, pull, merge's INSERT ... SELECT, assign's batches) indexes them in the same
-- statement; a contentless index forgets a row when given the values it indexed.
CREATE VIRTUAL TABLE span_search USING fts5(
    name, content, content = '', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER span_search_insert AFTER INSERT ON spans BEGIN
    INSERT INTO span_search(rowid, name, content)
    VALUES (new.rowid, new.name, {_searchable("new")});
END;
CREATE TRIGGER span_search_delete AFTER DELETE ON spans BEGIN
    INSERT INTO span_search(span_search, rowid, name, content)
    VALUES ('delete', old.rowid, old.name, {_searchable("old")});
END;
-- Not on every UPDATE: the orphan flag changes on import and says nothing searchable.
CREATE TRIGGER span_search_update
AFTER UPDATE OF name, status_message, attributes, events ON spans BEGIN
    INSERT INTO span_search(span_search, rowid, name, content)
    VALUES ('delete', old.rowid, old.name, {_searchable("old")});
    INSERT INTO span_search(rowid, name, content)
    VALUES (new.rowid, new.name, {_searchable("new")});
END;
INSERT INTO span_search(rowid, name, content)
SELECT s.rowid, s.name, {_searchable("s")} FROM spans s;
"""

# MIGRATIONS[n] takes a database at version n to version n + 1.
MIGRATIONS: list[str] = [_V1, _V2, _V3, _V4]
SCHEMA_VERSION = len(MIGRATIONS)

# What a new database is made with: the same statements as MIGRATIONS, less version 3's move of
# the log (an ALTER TABLE ... RENAME re-reads the whole schema, a DROP TABLE rewrites it: about
# 40% of the schema's cost) — version 1's log is never made, version 3's straight away. The
# result is the same schema, object for object and text for text (a test compares them).
# NEW_DATABASE_MIGRATIONS: the migrations it stands for (a list that begins with them, as tests
# that add a version pass, runs it and then the rest).
NEW_DATABASE = _V1_TABLES + _V2 + _V3_TABLES + _V3_LOG + _V3_LOG_GUARDS + _V4
NEW_DATABASE_MIGRATIONS: tuple[str, ...] = tuple(MIGRATIONS)

# The oldest version that a read-only open (stats, export, dataset) can read as it is: it cannot
# be upgraded without writing, and version 2 added only a table that reading never uses and
# indexes (queries run without them, slower). Version 3's tables are read by the queue, stats,
# resolve and dataset: an older file opened read-only is read as having no assignments and no
# marks (`has_campaign_tables`).
READABLE_SINCE = 1
