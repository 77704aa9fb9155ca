"""The app's writer thread on its own: first in, first out; a change the database refuses for
good is reported as failed and the next one still goes through; a held lock is reported as
waiting at once and the change lands when the lock goes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from annotator.app.writer import Committed, Failed, Waiting, WriteOp, Writer
from annotator.model import Annotation
from annotator.store import AnnotationKey, Store
from tests.app_data import build_db


def op(span_id: str | None, label: str) -> WriteOp:
    annotation = Annotation(name="correctness", span_id=span_id, label=label, identifier="kim")
    key = AnnotationKey.of(annotation) if span_id else None
    return WriteOp("set", key, annotation, "correctness", "trace-rag", span_id)


class Events:
    def __init__(self) -> None:
        self.items: list = []
        self.condition = threading.Condition()

    def __call__(self, event) -> None:
        with self.condition:
            self.items.append(event)
            self.condition.notify_all()

    def wait(self, predicate, timeout: float = 30.0) -> None:
        with self.condition:
            assert self.condition.wait_for(lambda: predicate(self.items), timeout), self.items


def test_changes_are_written_in_order_and_a_broken_one_does_not_stop_the_rest(
    tmp_path: Path,
) -> None:
    db = build_db(tmp_path / "w.db")
    events = Events()
    writer = Writer(Store.open(db), "kim", events)
    ops = [op("r1", "correct"), op(None, "broken"), op("r3", "incorrect"), op("r1", "incorrect")]
    for change in ops:
        writer.submit(change)
    events.wait(lambda items: len(items) == 4)
    assert writer.stop() == []
    assert [type(e) for e in events.items] == [Committed, Failed, Committed, Committed]
    assert [e.op for e in events.items] == ops
    assert "span id" in events.items[1].reason
    with sqlite3.connect(db) as conn:
        log = conn.execute(
            "SELECT span_id, json_extract(after, '$.label') FROM annotation_log ORDER BY seq"
        ).fetchall()
    assert log == [("r1", "correct"), ("r3", "incorrect"), ("r1", "incorrect")]


def test_a_held_lock_is_waiting_at_once_and_stop_returns_what_is_unsaved(tmp_path: Path) -> None:
    db = build_db(tmp_path / "w.db")
    events = Events()
    writer = Writer(Store.open(db), "kim", events)  # open: the file is in WAL mode from here
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    first, second = op("r1", "correct"), op("r3", "correct")
    writer.submit(first)
    writer.submit(second)
    events.wait(lambda items: any(isinstance(e, Waiting) for e in items))
    assert events.items == [Waiting(first, "locked by another process")]  # said once
    assert writer.unsaved() == [first, second]
    holder.execute("ROLLBACK")
    events.wait(lambda items: len(items) == 3)
    assert [type(e) for e in events.items[1:]] == [Committed, Committed]
    holder.execute("BEGIN IMMEDIATE")
    third = op("a2", "correct")
    writer.submit(third)
    events.wait(lambda items: len(items) == 4)
    assert writer.stop(timeout=5) == [third]  # given up: not written, and said so
    holder.execute("ROLLBACK")
    with sqlite3.connect(db) as conn:
        saved = conn.execute("SELECT span_id FROM annotations ORDER BY id").fetchall()
    assert saved == [("r1",), ("r3",)]


def test_the_session_and_the_writer_never_import_textual() -> None:
    """app/session.py says "No Textual here": the annotation logic runs without a terminal."""
    import subprocess
    import sys

    code = (
        "import sys\nimport annotator.app.session, annotator.app.writer, annotator.app.tree_model\n"
        "loaded = [m for m in sys.modules if m == 'textual' or m.startswith('textual.')]\n"
        "raise SystemExit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0
