"""Schema version 3 and the store's campaign API: final values, skips and flags (logged, undone
with annotation writes as one history), assignments restricting the queue."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.config import parse_config
from annotator.model import Annotation
from annotator.store import (
    FINAL,
    SCHEMA_VERSION,
    AnnotationKey,
    Assignment,
    CampaignError,
    QueueFilter,
    QueueState,
    Store,
)
from annotator.store import annotations as ops
from annotator.store.db import close_connection, connect, ensure_schema
from annotator.store.schema import MIGRATIONS
from tests.app_data import build_db

CONFIGS = parse_config(
    """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
    span_kinds: [LLM]
"""
).annotations
LLM_SPANS = ["r3", "a2", "c1", "c2"]  # the LLM spans of tests.app_data.demo_spans


def _read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _label(span_id: str, who: str, label: str, kind: str = "HUMAN") -> Annotation:
    return Annotation(
        name="correctness", span_id=span_id, label=label, identifier=who, annotator_kind=kind
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "t.db")


# --- the migration -------------------------------------------------------------------------------


def test_a_version_2_file_keeps_its_log_and_undo_history(tmp_path: Path) -> None:
    # The history made under version 2: set, set, undo (reverts 2).
    path2 = tmp_path / "v2.db"
    conn = connect(path2)
    ensure_schema(conn, path2, migrations=MIGRATIONS[:2])
    conn.execute(
        "INSERT INTO spans (span_id, trace_id, name, span_kind, status_code, project) "
        "VALUES ('s1', 't1', 'chat', 'LLM', 'OK', 'p')"
    )
    ops.set_annotation(conn, _label("s1", "al", "correct"), actor="al")
    ops.set_annotation(conn, _label("s1", "al", "incorrect"), actor="al")
    ops.undo(conn, "al")
    log_before = conn.execute("SELECT * FROM annotation_log ORDER BY seq").fetchall()
    close_connection(conn)
    assert [row[3:4] + row[-1:] for row in log_before] == [
        ("set", None),
        ("set", None),
        ("undo", 2),
    ]

    with Store.open(path2) as store:
        assert _read(path2, "SELECT * FROM annotation_log ORDER BY seq") == log_before
        assert store.integrity_check() == "ok"
        # the history goes on: the next undo takes back the first set
        change = store.undo("al")
        assert change is not None and change.after is None
        assert change.seq == 4
        store.skip("s1", "al")
    assert _read(path2, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _read(path2, "PRAGMA foreign_key_check") == []
    assert _read(path2, "SELECT seq, action, reverts FROM annotation_log WHERE seq > 3") == [
        (4, "undo", 1),
        (5, "mark", None),
    ]
    triggers = _read(path2, "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1")
    assert triggers == [
        ("annotation_log_no_delete",),
        ("annotation_log_no_update",),
        ("span_search_delete",),
        ("span_search_insert",),
        ("span_search_update",),
    ]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw = sqlite3.connect(path2)
        try:
            raw.execute("DELETE FROM annotation_log")
        finally:
            raw.close()


# --- marks ---------------------------------------------------------------------------------------


def test_skip_and_flag_are_stored_listed_and_logged(db: Path) -> None:
    with Store.open(db) as store:
        skip = store.skip("r3", "alice")
        flag = store.flag("a2", "alice", "the tool output is cut off")
        store.flag("a2", "bob", "unclear")
        assert (skip.kind, skip.trace_id, skip.reason) == ("skip", "trace-rag", "")
        assert (flag.kind, flag.trace_id) == ("flag", "trace-agent")
        assert [(m.kind, m.annotator, m.span_id) for m in store.marks(annotator="alice")] == [
            ("skip", "alice", "r3"),
            ("flag", "alice", "a2"),
        ]
        assert [m.annotator for m in store.marks(kind="flag")] == ["alice", "bob"]
        assert store.mark_counts("alice") == {"skip": 1, "flag": 1}
        assert store.mark_counts() == {"skip": 1, "flag": 2}
        # the same skip again changes nothing and logs nothing; a new reason is a change
        store.skip("r3", "alice")
        store.flag("a2", "alice", "cut off at 4k")
        assert store.marks(kind="flag", annotator="alice")[0].reason == "cut off at 4k"
        assert store.unskip("r3", "alice") == skip
        assert store.unskip("r3", "alice") is None
        assert store.unflag("a2", "bob") is not None
        with pytest.raises(CampaignError, match="no span 'nope'"):
            store.skip("nope", "alice")
    assert _read(db, "SELECT action, actor, name, identifier, span_id FROM annotation_log") == [
        ("mark", "alice", "skip", "alice", "r3"),
        ("mark", "alice", "flag", "alice", "a2"),
        ("mark", "bob", "flag", "bob", "a2"),
        ("mark", "alice", "flag", "alice", "a2"),
        ("unmark", "alice", "skip", "alice", "r3"),
        ("unmark", "bob", "flag", "bob", "a2"),
    ]


def test_undo_walks_marks_and_annotations_as_one_history(db: Path) -> None:
    with Store.open(db) as store:
        store.set_annotation(_label("r3", "alice", "correct"))
        store.skip("a2", "alice")
        store.flag("c1", "alice", "odd")
        change = store.undo("alice")  # the flag
        assert change is not None and change.is_mark and change.action == "undo"
        assert change.mark_before is not None and change.mark_before.kind == "flag"
        assert change.mark_after is None
        assert store.marks(kind="flag") == []
        change = store.undo("alice")  # the skip
        assert change is not None and change.is_mark and change.mark.span_id == "a2"
        assert store.marks() == []
        change = store.undo("alice")  # the label
        assert change is not None and not change.is_mark and change.annotation.span_id == "r3"
        assert store.undo("alice") is None
        change = store.redo("alice")  # the label again
        assert change is not None and change.after is not None
        change = store.redo("alice")  # the skip again
        assert change is not None and change.mark_after is not None
        assert [(m.kind, m.span_id) for m in store.marks()] == [("skip", "a2")]
        # bob's history is his own
        assert store.undo("bob") is None


def test_a_skipped_span_leaves_the_to_do_queue_and_counts_as_done(db: Path) -> None:
    todo = QueueFilter(state=QueueState.TODO)
    with Store.open(db) as store:
        assert store.queue_progress(todo, CONFIGS, "alice") == (0, 4)
        store.skip("r3", "alice")
        assert store.queue_progress(todo, CONFIGS, "alice") == (1, 4)
        assert store.trace_ids(todo, CONFIGS, "alice") == [
            "trace-agent",
            "trace-chat-1",
            "trace-chat-2",
        ]
        assert store.queue_marks("trace-rag", QueueFilter(), CONFIGS, "alice") == {"r3": False}
        # someone else's skip is not mine
        assert store.queue_progress(todo, CONFIGS, "bob") == (0, 4)
        store.undo("alice")
        assert store.queue_progress(todo, CONFIGS, "alice") == (0, 4)


# --- assignments ---------------------------------------------------------------------------------


def test_an_assignment_is_the_queue_of_its_annotator_only(db: Path) -> None:
    todo = QueueFilter(state=QueueState.TODO)
    with Store.open(db) as store:
        assert not store.has_assignment("alice")
        added = store.add_assignments(
            [
                Assignment("alice", "span", "r3", "trace-rag", "camp1"),
                Assignment("alice", "trace", "trace-chat-2", "trace-chat-2", "camp1"),
                Assignment("bob", "span", "a2", "trace-agent", "camp1", overlap=True),
            ]
        )
        assert added == 3
        assert store.add_assignments([Assignment("alice", "span", "r3", "x", "camp2")]) == 0
        assert store.has_assignment("alice")
        assert store.trace_ids(QueueFilter(), CONFIGS, "alice") == ["trace-rag", "trace-chat-2"]
        assert store.queue_progress(todo, CONFIGS, "alice") == (0, 2)
        assert store.queue_progress(todo, CONFIGS, "bob") == (0, 1)
        # nobody else is restricted
        assert store.queue_progress(todo, CONFIGS, "carol") == (0, 4)
        store.set_annotation(_label("r3", "alice", "correct"))
        assert store.queue_progress(todo, CONFIGS, "alice") == (1, 2)
        assert store.next_queue_trace(None, todo, CONFIGS, "alice") == "trace-chat-2"
        assert [(a.annotator, a.item_id, a.campaign, a.overlap) for a in store.assignments()] == [
            ("alice", "r3", "camp1", False),
            ("alice", "trace-chat-2", "camp1", False),
            ("bob", "a2", "camp1", True),
        ]
        assert [a.item_id for a in store.assignments("bob")] == ["a2"]


# --- final values --------------------------------------------------------------------------------


def test_a_final_value_is_stored_apart_with_the_votes_and_undone_like_any_change(
    db: Path,
) -> None:
    disagree = QueueFilter(state=QueueState.DISAGREE)
    with Store.open(db) as store:
        store.set_annotation(_label("r3", "alice", "correct"))
        store.set_annotation(_label("r3", "bob", "incorrect"))
        store.set_annotation(_label("r3", "judge", "incorrect", kind="LLM"))
        assert store.trace_ids(disagree, CONFIGS, "lead") == ["trace-rag"]
        key = AnnotationKey("span", "r3", None, "correctness", "")
        assert store.votes(key) == {"alice": "correct", "bob": "incorrect"}
        final = store.set_final(
            Annotation(name="correctness", span_id="r3", label="incorrect", score=0),
            reviewer="lead",
        )
        assert (final.identifier, final.annotator_kind, final.label, final.trace_id) == (
            FINAL,
            "HUMAN",
            "incorrect",
            "trace-rag",
        )
        assert final.metadata == {
            "decided_by": "reviewer",
            "votes": {"alice": "correct", "bob": "incorrect"},
            "reviewer": "lead",
        }
        assert store.final_value(key) == final
        # the final is not a vote, and the item leaves the disagreement queue
        assert store.votes(key) == {"alice": "correct", "bob": "incorrect"}
        assert store.trace_ids(disagree, CONFIGS, "lead") == []
        change = store.undo("lead")
        assert change is not None and change.before == final and change.after is None
        assert store.final_value(key) is None
        assert store.trace_ids(disagree, CONFIGS, "lead") == ["trace-rag"]
        store.redo("lead")
        assert store.clear_final(key, reviewer="lead") is not None
        assert store.final_value(key) is None
    assert _read(db, "SELECT actor, action FROM annotation_log WHERE identifier = 'final'") == [
        ("lead", "set"),
        ("lead", "undo"),
        ("lead", "redo"),
        ("lead", "delete"),
    ]


def test_an_older_file_read_only_has_no_marks_or_assignments(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = connect(path)
    ensure_schema(conn, path, migrations=MIGRATIONS[:2])
    close_connection(conn)
    with Store.open(path, readonly=True) as store:
        assert store.marks() == []
        assert store.assignments() == []
        assert store.mark_counts() == {"skip": 0, "flag": 0}
        assert not store.has_assignment("alice")
