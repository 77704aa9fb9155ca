"""Schema version 2 (phoenix_sent in the schema, the span filter indexes): a real version-1 file
is upgraded when opened for writing, read as it is when opened read-only, and upgraded on a copy
when merged."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from annotator.model import Annotation, Span
from annotator.store import SCHEMA_VERSION, Store
from annotator.store.db import close_connection, connect, ensure_schema
from annotator.store.schema import MIGRATIONS
from annotator.team.merge import merge_databases

T0 = "2026-01-01T00:00:00.000000+00:00"
# The table as annotator/phoenix/pushing.py created it in version-1 files.
OLD_SENT_TABLE = """
CREATE TABLE IF NOT EXISTS phoenix_sent (
    url TEXT NOT NULL, annotation_id INTEGER NOT NULL, endpoint TEXT NOT NULL,
    fingerprint TEXT NOT NULL, phoenix_id TEXT, sent_at TEXT NOT NULL,
    PRIMARY KEY (url, annotation_id)
)"""


def _version_1(path: Path, *, pushed: bool) -> Path:
    """A version-1 file with two spans and one annotation, as the previous release left it
    (closed, rollback-journal mode); `pushed`: with the phoenix_sent table a push created."""
    conn = connect(path)
    ensure_schema(conn, path, migrations=MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO spans (span_id, trace_id, parent_id, name, span_kind, status_code, project) "
        "VALUES ('root', 't1', NULL, 'agent', 'CHAIN', 'OK', 'p'), "
        "('llm', 't1', 'root', 'chat', 'LLM', 'OK', 'p')"
    )
    conn.execute(
        "INSERT INTO traces (trace_id, project, root_span_id, root_name, root_kind, span_count, "
        "error_count, status_code) VALUES ('t1', 'p', 'root', 'agent', 'CHAIN', 2, 0, 'OK')"
    )
    conn.execute(
        "INSERT INTO annotations (target, span_id, trace_id, name, label, annotator_kind, source,"
        " identifier, created_at, updated_at) VALUES ('span', 'llm', 't1', 'correctness', "
        f"'correct', 'HUMAN', 'APP', 'alice', '{T0}', '{T0}')"
    )
    if pushed:
        conn.execute(OLD_SENT_TABLE)
        conn.execute(
            "INSERT INTO phoenix_sent VALUES ('http://px', 1, 'span_annotations', 'f1', 'p1', "
            f"'{T0}')"
        )
    close_connection(conn)
    return path


def _read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _indexes(path: Path) -> set[str]:
    return {row[0] for row in _read(path, "SELECT name FROM sqlite_master WHERE type = 'index'")}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_current_version_is_4() -> None:
    assert SCHEMA_VERSION == 4


def test_a_version_1_file_is_upgraded_keeping_what_push_recorded(tmp_path: Path) -> None:
    path = _version_1(tmp_path / "old.db", pushed=True)
    assert _read(path, "PRAGMA user_version") == [(1,)]
    assert "spans_kind" not in _indexes(path)
    with Store.open(path) as store:
        assert store.counts() == {"spans": 2, "traces": 1, "sessions": 0, "annotations": 1}
    assert _read(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert {"spans_kind", "spans_trace_parent"} <= _indexes(path)
    assert _read(path, "SELECT url, annotation_id, fingerprint, phoenix_id FROM phoenix_sent") == [
        ("http://px", 1, "f1", "p1")
    ]
    # The indexes hold what they index: SQLite's own check, and a query that uses one.
    assert _read(path, "PRAGMA integrity_check") == [("ok",)]
    plan = _read(path, "EXPLAIN QUERY PLAN SELECT count(*) FROM spans WHERE span_kind = 'LLM'")
    assert "spans_kind" in " ".join(str(row[-1]) for row in plan)
    assert _read(path, "SELECT span_id FROM spans WHERE span_kind = 'LLM'") == [("llm",)]


def test_a_version_1_file_never_pushed_from_gets_the_table(tmp_path: Path) -> None:
    path = _version_1(tmp_path / "old.db", pushed=False)
    assert "phoenix_sent" not in {r[0] for r in _read(path, "SELECT name FROM sqlite_master")}
    with Store.open(path):
        pass
    columns = [row[1] for row in _read(path, "PRAGMA table_info(phoenix_sent)")]
    assert columns == [
        "url", "annotation_id", "endpoint", "fingerprint", "phoenix_id", "sent_at",
    ]  # fmt: skip
    assert _read(path, "SELECT count(*) FROM phoenix_sent") == [(0,)]


def test_a_version_1_file_is_read_as_it_is_when_opened_read_only(tmp_path: Path) -> None:
    """stats, export and dataset open read-only: they read an older file without upgrading
    (which would write) and without refusing it."""
    path = _version_1(tmp_path / "old.db", pushed=False)
    before = _digest(path)
    with Store.open(path, readonly=True) as store:
        assert store.counts()["annotations"] == 1
        assert [a.label for a in store.annotations_on_span("llm")] == ["correct"]
    assert _digest(path) == before
    assert _read(path, "PRAGMA user_version") == [(1,)]


def test_merge_upgrades_a_version_1_input_on_a_copy(tmp_path: Path) -> None:
    old = _version_1(tmp_path / "old.db", pushed=True)
    before = _digest(old)
    newer = tmp_path / "new.db"
    with Store.open(newer) as store:
        writer = store.span_writer()
        writer.add_all([Span("other", "t2", None, "x", "LLM", T0)])
        writer.close()
        store.set_annotation(
            Annotation(name="correctness", span_id="other", label="incorrect", identifier="bob")
        )
    out = tmp_path / "out.db"
    report = merge_databases([old, newer], out)
    assert [(s.read_from, s.schema_version) for s in report.inputs] == [
        ("upgraded copy", 1),
        ("file", SCHEMA_VERSION),
    ]
    assert _read(out, "SELECT span_id, label FROM annotations ORDER BY span_id") == [
        ("llm", "correct"),
        ("other", "incorrect"),
    ]
    assert _read(out, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _digest(old) == before
    assert _read(old, "PRAGMA user_version") == [(1,)]


def test_the_upgraded_copy_is_closed_through_the_store(tmp_path: Path, monkeypatch) -> None:
    """The copy's connection leaves the store's register of open files when it closes: a stale
    entry outlived the deleted copy, and a later file on the reused inode was refused as "a
    SQLite database this command reads" (seen under load in CI, in one long-lived process)."""
    import tempfile

    from annotator.store import open_in_this_process

    work = tmp_path / "work"

    class KeptDirectory:  # the merge's working directory stays: the copy can be asked about
        def __init__(self, **options: object) -> None:
            work.mkdir()

        def __enter__(self) -> str:
            return str(work)

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(tempfile, "TemporaryDirectory", KeptDirectory)
    out = tmp_path / "out.db"
    report = merge_databases([_version_1(tmp_path / "old.db", pushed=False)], out)
    assert [s.read_from for s in report.inputs] == ["upgraded copy"]
    [copy] = work.glob("*/old.db")
    assert not open_in_this_process(copy)
