"""The store's one batch-write path (`AnnotationBatch`): import, pull and merge write many
annotations through it, each change with its log entry, in the caller's transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from annotator.model import Annotation, Span
from annotator.store import AnnotationBatch, Store, import_annotations
from annotator.store import annotations as store_annotations
from annotator.team.merge import merge_databases

T0 = "2026-03-01T10:00:00.000000+00:00"
T1 = "2026-03-01T11:00:00.000000+00:00"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add_all(
            [
                Span("root", "t1", None, "agent", "CHAIN", T0, session_id="s1"),
                Span("llm", "t1", "root", "chat", "LLM", T0, session_id="s1"),
                Span("other", "t2", None, "chat", "LLM", T0),
            ]
        )
        writer.close()
    return path


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_one_key_twice_in_one_batch_is_written_then_updated(db: Path) -> None:
    """The second write of a key sees the first, although the first is still staged."""
    first = Annotation(name="q", span_id="llm", label="a", identifier="al", updated_at=T0)
    second = Annotation(name="q", span_id="llm", label="b", identifier="al", updated_at=T1)
    with Store.open(db) as store:
        counts = import_annotations(store.connection, [first, second], actor="import:f")
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 0)
    assert _rows(db, "SELECT id, label, created_at, updated_at FROM annotations") == [
        (1, "b", T0, T1)
    ]
    log = _rows(db, "SELECT annotation_id, before, after FROM annotation_log ORDER BY seq")
    assert [(row[0], row[1] is None) for row in log] == [(1, True), (1, False)]
    assert orjson.loads(log[1][1]) == orjson.loads(log[0][2])  # the update's before: the insert
    assert orjson.loads(log[1][2])["label"] == "b"


def test_context_ids_are_filled_across_flushes(db: Path) -> None:
    """A span annotation gets its span's trace and session, a trace annotation its trace's
    session, however the rows fall into the batch's flushes (size 2 here)."""
    rows = [
        Annotation(name="q", span_id="llm", label="a", identifier="1"),
        Annotation(name="q", span_id="root", label="a", identifier="2"),
        Annotation(name="q", target="trace", trace_id="t1", label="a", identifier="3"),
        Annotation(name="q", span_id="other", label="a", identifier="4"),
        Annotation(name="q", span_id="gone", label="a", identifier="5"),  # not in the database
    ]
    with Store.open(db) as store:
        with store.annotation_batch(action="import") as batch:
            batch.size = 2
            for row in rows:
                batch.put(row, actor="import:f")
    assert _rows(
        db, "SELECT identifier, target, span_id, trace_id, session_id FROM annotations ORDER BY id"
    ) == [
        ("1", "span", "llm", "t1", "s1"),
        ("2", "span", "root", "t1", "s1"),
        ("3", "trace", None, "t1", "s1"),
        ("4", "span", "other", "t2", None),
        ("5", "span", "gone", None, None),
    ]
    # The log's images carry the filled ids too.
    after = _rows(db, "SELECT after FROM annotation_log ORDER BY seq")
    assert [orjson.loads(a[0])["session_id"] for a in after] == ["s1", "s1", "s1", None, None]


def test_a_batch_needs_the_callers_write_transaction(db: Path) -> None:
    with Store.open(db) as store, pytest.raises(RuntimeError, match="write transaction"):
        AnnotationBatch(store.connection, action="import")


def test_merge_writes_through_the_batch(db: Path, tmp_path: Path, monkeypatch) -> None:
    """Merge has no write path of its own: its winners go through `AnnotationBatch.put`."""
    with Store.open(db) as store:
        import_annotations(
            store.connection,
            [Annotation(name="q", span_id="llm", label="a", identifier="al", updated_at=T0)],
            actor="al",
        )
    seen: list[tuple[str, str, str | None]] = []
    real_put = store_annotations.AnnotationBatch.put

    def spy(self, annotation, *, actor, before=store_annotations.LOOKUP):
        seen.append((self.action, actor, annotation.label))
        return real_put(self, annotation, actor=actor, before=before)

    monkeypatch.setattr(store_annotations.AnnotationBatch, "put", spy)
    merge_databases([db], tmp_path / "out.db")
    assert seen == [("merge", f"merge:{db}", "a")]
    assert _rows(tmp_path / "out.db", "SELECT action, actor FROM annotation_log") == [
        ("merge", f"merge:{db}")
    ]
