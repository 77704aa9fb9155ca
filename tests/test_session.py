"""annotator.app.session without a terminal: what applies where, the marks and progress, every
change (committed at once, or held as pending like the app's writer does) and the time spent,
on the small fixed database of the app tests. Stored rows are read through a connection of
their own."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from annotator.app.session import (
    DOCUMENT,
    NO_MARK,
    SECONDS_CAP,
    SPAN,
    TRACE,
    AnnotationSession,
    Item,
    Mark,
    note_author,
)
from annotator.app.tree_model import Row, TreeModel
from annotator.app.writer import Committed, WriteOp, run_now
from annotator.model import Annotation, AnnotatorKind, Source
from annotator.store import QueueFilter, QueueState, Store
from tests.app_data import CONFIG_YAML, build_db, config_set

CONFIGS = config_set()
CORRECTNESS, QUALITY, RELEVANCE, TASK, COMMENT = CONFIGS.annotations
TRACE_RAG = Item(TRACE, "trace-rag", "r1", "CHAIN", "sess-1")
R2 = Item(SPAN, "trace-rag", "r2", "RETRIEVER", "sess-1")
R3 = Item(SPAN, "trace-rag", "r3", "LLM", "sess-1")
A3 = Item(SPAN, "trace-agent", "a3", "TOOL")


def doc(position: int) -> Item:
    return Item(DOCUMENT, "trace-rag", "r2", "RETRIEVER", "sess-1", position)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_db(tmp_path_factory.mktemp("session") / "template.db")


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    path.write_bytes(template.read_bytes())
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def session(db: Path, clock: Clock) -> Iterator[AnnotationSession]:
    with Store.open(db) as store:
        yield AnnotationSession(store, CONFIGS, "alice", clock=clock)


def stored(db: Path) -> list[tuple]:
    """(target, span, trace, position, name, label, score, explanation, identifier, metadata)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT target, span_id, trace_id, document_position, name, label, score, "
            "explanation, identifier, metadata FROM annotations ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


def marks(session: AnnotationSession, trace_id: str) -> dict[tuple[str, int | None], str]:
    return {row: mark.state for row, mark in session.trace_marks(trace_id).items()}


def test_configs_offered_on_each_kind_of_row(session: AnnotationSession) -> None:
    assert session.required == {"correctness", "quality", "relevance", "task_success"}
    # a trace row: its root span's configs first, then the trace's
    assert session.applicable(TRACE_RAG) == [0, 4, 3]
    assert session.applicable(R3) == [0, 1, 4]
    assert session.applicable(R2) == [4]  # relevance is on its documents
    assert session.applicable(doc(2)) == [2]
    assert session.applicable(A3) == [4]  # a TOOL span: only the optional comment
    assert session.applicable(Item(SPAN, "trace-rag", None, "LLM")) == []
    assert session.needs_config(R3, QUALITY) and not session.needs_config(R3, TASK)
    assert not session.needs_config(A3, COMMENT)  # optional: never "needed"
    assert session.missing_on(TRACE_RAG, [0, 3, 4]) == [0, 3]


def test_marks_and_progress_follow_each_committed_change(
    session: AnnotationSession, db: Path
) -> None:
    assert session.progress() == (0, 7)  # every span but the TOOL span is in scope
    assert session.trace_ids() == ["trace-rag", "trace-agent", "trace-chat-1", "trace-chat-2"]
    assert marks(session, "trace-rag") == {
        ("r1", None): Mark.TODO,
        ("r2", None): Mark.PARTIAL,  # nothing of its own to do; its documents are
        ("r2", 0): Mark.TODO,
        ("r2", 1): Mark.TODO,
        ("r2", 2): Mark.TODO,
        ("r3", None): Mark.TODO,
    }
    assert marks(session, "trace-agent") == {
        ("a1", None): Mark.TODO,
        ("a2", None): Mark.TODO,
        ("a3", None): Mark.NONE,
    }
    session.pick(R3, CORRECTNESS, 1)  # incorrect
    assert marks(session, "trace-rag")[("r3", None)] == Mark.TODO  # quality still missing
    session.set_score(R3, QUALITY, 7)
    for position in (0, 1, 2):
        session.pick(doc(position), RELEVANCE, position % 2)
    assert marks(session, "trace-rag") == {
        ("r1", None): Mark.TODO,
        ("r2", None): Mark.DONE,
        ("r2", 0): Mark.DONE,
        ("r2", 1): Mark.DONE,
        ("r2", 2): Mark.DONE,
        ("r3", None): Mark.DONE,
    }
    assert session.progress() == (2, 7)
    assert session.trace_progress("trace-rag") == (2, 3)
    assert session.trace_progress("trace-chat-1") == (0, 1)  # counted by the store
    assert [(r[0], r[1], r[3], r[4], r[5], r[6]) for r in stored(db)] == [
        ("span", "r3", None, "correctness", "incorrect", 0.0),
        ("span", "r3", None, "quality", None, 7.0),
        ("document", "r2", 0, "relevance", "relevant", 1.0),
        ("document", "r2", 1, "relevance", "irrelevant", 0.0),
        ("document", "r2", 2, "relevance", "relevant", 1.0),
    ]
    assert session.pending == {} and session.unsettled == [] and session.failed == []


def test_a_picked_label_is_stored_with_phoenix_fields_and_the_time_spent(
    session: AnnotationSession, db: Path, clock: Clock
) -> None:
    session.arrived(TRACE_RAG)
    clock.now += 12.5
    op = session.pick(TRACE_RAG, TASK, 0)
    assert (op.kind, op.trace_id, op.span_id, op.what) == ("set", "trace-rag", "r1", "task_success")
    [row] = stored(db)
    assert row[:9] == ("trace", None, "trace-rag", None, "task_success", "success", 1.0, None,
                       "alice")  # fmt: skip
    assert orjson.loads(row[9]) == {"seconds_spent": 12.5}
    [mine] = session.store.annotations_on_trace("trace-rag")
    assert (mine.annotator_kind, mine.source, mine.session_id) == (
        AnnotatorKind.HUMAN,
        Source.APP,
        "sess-1",
    )
    assert session.states(TRACE_RAG, [3])[3].mine.label == "success"
    assert session.missing_on(TRACE_RAG, [0, 3]) == [0]


def test_seconds_spent_add_up_over_visits_each_capped(
    session: AnnotationSession, clock: Clock
) -> None:
    session.arrived(R3)
    clock.now += 700  # left open: a visit counts at most SECONDS_CAP
    session.arrived(R2)
    assert session.seconds_on(R3) == SECONDS_CAP == 600.0
    clock.now += 5
    session.arrived(R3)
    clock.now += 20.25
    assert session.seconds_on(R3) == 620.25  # the visit under way counts too
    assert session.seconds_on(R2) == 5.0
    session.arrived(R3)  # arriving where you are changes nothing
    clock.now += 1
    assert session.seconds_on(R3) == 621.25


def test_scores_step_on_the_grid_and_clamp(session: AnnotationSession) -> None:
    assert session.step(R3, QUALITY, 1).annotation.score == 1.0  # from the lower bound 0
    assert session.step(R3, QUALITY, 3).annotation.score == 4.0
    assert session.step(R3, QUALITY, -10).annotation.score == 0.0
    # a score set directly (a click on the card's bar) is clamped, not moved onto the grid...
    assert session.set_score(R3, QUALITY, 7.4).annotation.score == 7.4
    # ... and the next step snaps it to the neighbouring grid point in the direction of travel
    assert session.step(R3, QUALITY, 1).annotation.score == 8.0
    assert session.set_score(R3, QUALITY, 42).annotation.score == 10.0
    assert session.current(session.key_for(R3, QUALITY)).score == 10.0


def test_text_on_a_label_keeps_the_label_and_empty_text_removes_a_comment(
    session: AnnotationSession, db: Path
) -> None:
    session.pick(R3, CORRECTNESS, 2)
    session.set_text(R3, CORRECTNESS, "half right  \n")
    assert session.current_text(R3, CORRECTNESS) == "half right"
    session.pick(R3, CORRECTNESS, 0)  # a new label keeps the text
    assert [(r[4], r[5], r[6], r[7]) for r in stored(db)] == [
        ("correctness", "correct", 1.0, "half right")
    ]
    session.set_text(R3, CORRECTNESS, "")  # clears the text only
    assert [(r[5], r[7]) for r in stored(db)] == [("correct", None)]
    session.set_text(R3, COMMENT, "cites the wrong policy")
    assert [r[4] for r in stored(db)] == ["correctness", "comment"]
    assert session.set_text(R2, COMMENT, "") is None  # nothing there, nothing to change
    session.set_text(R3, COMMENT, "   ")  # an emptied comment is removed
    assert [r[4] for r in stored(db)] == ["correctness"]
    assert session.clear(R3, COMMENT) is None
    session.clear(R3, CORRECTNESS)
    assert stored(db) == []


def test_undo_and_redo_go_through_the_store_log(session: AnnotationSession, db: Path) -> None:
    session.pick(R3, CORRECTNESS, 0)
    session.pick(R3, CORRECTNESS, 1)
    session.undo()
    assert [r[5] for r in stored(db)] == ["correct"]
    assert marks(session, "trace-rag")[("r3", None)] == Mark.TODO
    session.undo()
    assert stored(db) == []
    session.redo()
    assert [r[5] for r in stored(db)] == ["correct"]
    assert session.current(session.key_for(R3, CORRECTNESS)).label == "correct"


def test_notes_are_new_annotations_each_listed_newest_first(
    session: AnnotationSession, db: Path, clock: Clock
) -> None:
    assert session.add_note(R3, "  \n") is None
    for n in range(7):
        clock.now += 1
        session.add_note(R3, f"note {n}")
    session.add_note(TRACE_RAG, "about the whole trace")
    session.add_note(doc(1), "this document is stale")  # about its span, r2
    rows = stored(db)
    assert [(r[0], r[1], r[7]) for r in rows[-2:]] == [
        ("trace", None, "about the whole trace"),
        ("span", "r2", "this document is stale"),
    ]
    assert all(r[4] == "note" and r[5] is None and r[6] is None for r in rows)
    assert [r[8].split(":")[0] for r in rows] == ["px-span-note"] * 7 + [
        "px-trace-note",
        "px-span-note",
    ]
    assert len({r[8] for r in rows}) == 9  # each note its own annotation
    assert orjson.loads(rows[0][9]) == {"seconds_spent": 0.0, "author": "alice"}
    shown, more = session.notes(R3)
    assert [n.annotation.explanation for n in shown] == [f"note {n}" for n in (6, 5, 4, 3, 2)]
    assert more == 2
    assert {(n.author, n.target, n.unsaved) for n in shown} == {("alice", "span", False)}
    # a trace row lists the trace's notes and its root span's; the root has none
    assert [n.annotation.explanation for n in session.notes(TRACE_RAG)[0]] == [
        "about the whole trace"
    ]
    # a document row lists its span's notes
    assert [n.annotation.explanation for n in session.notes(doc(0))[0]] == [
        "this document is stale"
    ]
    assert [n.annotation.explanation for n in session.notes(R2)[0]] == ["this document is stale"]


def test_note_authors() -> None:
    def note(identifier: str, metadata: dict | None = None) -> Annotation:
        return Annotation(name="note", span_id="s", identifier=identifier, metadata=metadata or {})

    assert note_author(note("px-span-note:1", {"author": "bob"})) == "bob"
    assert note_author(note("px-span-note:1")) == "Phoenix"
    assert note_author(note("carol", {"author": ""})) == "carol"
    assert note_author(note("")) == "(unknown)"


def test_a_pending_change_is_what_everything_sees_until_the_writer_settles_it(
    db: Path, clock: Clock
) -> None:
    """The app's writer commits later: until then the pending value counts everywhere."""
    submitted: list[WriteOp] = []
    with Store.open(db) as store:
        session = AnnotationSession(store, CONFIGS, "alice", clock=clock, submit=submitted.append)
        first = session.pick(R3, CORRECTNESS, 0)
        second = session.set_score(R3, QUALITY, 3)
        assert submitted == [first, second] and session.unsettled == [first, second]
        assert stored(db) == []
        state = session.states(R3, [0, 1])
        assert (state[0].mine.label, state[0].pending, state[0].unsaved) == ("correct", True, False)
        assert marks(session, "trace-rag")[("r3", None)] == Mark.DONE
        assert session.missing_on(R3, [0, 1]) == []
        assert session.progress() == (0, 7)  # progress counts what is committed
        # slow: shown as unsaved on its card and its row
        assert session.mark_late(older_than=0.0) is True
        assert session.mark_late(older_than=0.0) is False  # nothing newly late
        assert session.trace_marks("trace-rag")[("r3", None)] == Mark(Mark.DONE, True)
        # pending notes come first, the newest first
        session.add_note(R3, "first")
        session.add_note(R3, "second")
        shown, more = session.notes(R3)
        assert [(n.annotation.explanation, n.unsaved) for n in shown] == [
            ("second", False),
            ("first", False),
        ]
        assert more == 0
        # a pending removal counts as no value
        removal = session.clear(R3, QUALITY)
        assert marks(session, "trace-rag")[("r3", None)] == Mark.TODO
        for op in submitted:
            event = run_now(store, "alice", op)
            assert isinstance(event, Committed)
            session.settle(event)
        assert submitted[-1] is removal
        assert session.pending == {} and session.unsettled == [] and session.waiting is None
        assert [(r[4], r[5], r[6], r[7]) for r in stored(db)] == [
            ("correctness", "correct", 1.0, None),
            ("note", None, None, "first"),
            ("note", None, None, "second"),
        ]
        assert [n.annotation.explanation for n in session.notes(R3)[0]] == ["second", "first"]
        assert session.trace_marks("trace-rag")[("r3", None)] == Mark(Mark.TODO, False)


def test_a_change_the_database_refuses_is_kept_as_failed(db: Path) -> None:
    with Store.open(db) as store:
        session = AnnotationSession(store, CONFIGS, "alice")
        store.connection.execute("PRAGMA query_only = ON")  # every write now fails
        op = session.pick(R3, CORRECTNESS, 0)
        [(failed, reason)] = session.failed
        assert (failed, reason) == (op, "the database file is read-only")
        assert session.pending == {} and session.unsettled == []
    assert stored(db) == []


def test_the_queue_filter_changes_the_traces_and_what_comes_next(
    session: AnnotationSession,
) -> None:
    session.pick(TRACE_RAG, CORRECTNESS, 0)
    session.pick(TRACE_RAG, TASK, 0)
    assert session.next_trace_with_work(None) == "trace-rag"  # r3 and the documents remain
    assert session.next_trace_with_work("trace-rag") == "trace-agent"
    assert session.next_trace_with_work("trace-chat-1", backwards=True) == "trace-agent"
    assert session.next_trace_with_work("trace-chat-2") is None
    # only the trace config: trace-rag has its value
    assert session.next_trace_with_work(None, config=TASK) == "trace-agent"
    session.set_queue(QueueFilter(span_kinds=frozenset({"AGENT"})))
    assert session.trace_ids() == ["trace-agent"]
    assert session.progress() == (0, 1)
    assert marks(session, "trace-agent") == {
        ("a1", None): Mark.TODO,
        ("a2", None): Mark.NONE,  # outside the queue
        ("a3", None): Mark.NONE,
    }
    session.set_queue(QueueFilter(state=QueueState.MINE))
    assert session.trace_ids() == ["trace-rag"]
    # the to-do queue lists traces with work left but counts what it covers, done or not
    session.set_queue(QueueFilter(state=QueueState.TODO))
    assert session.progress() == (1, 7)


def test_the_tree_over_a_session_shows_document_rows_where_a_document_config_applies(
    session: AnnotationSession,
) -> None:
    model = TreeModel(session.trace_ids(), session.load_trace, session.document_rows)
    model.expand("trace-rag")
    assert [(r.kind, r.span_id, r.position) for r in (model.row_at(i) for i in range(1, 6))] == [
        (SPAN, "r2", None),
        (DOCUMENT, "r2", 0),
        (DOCUMENT, "r2", 1),
        (DOCUMENT, "r2", 2),
        (SPAN, "r3", None),
    ]
    assert session.item_for(model.row_at(0), model) == TRACE_RAG
    assert session.item_for(model.row_at(3), model) == doc(1)
    assert session.item_for(Row(SPAN, "trace-agent", "a1"), model) is None  # not loaded
    assert session.row_mark(model.row_at(0), model) == Mark(Mark.TODO)
    assert session.row_mark(model.row_at(1), model) == Mark(Mark.PARTIAL)
    assert session.row_mark(model.row_at(6), model) == NO_MARK  # trace-agent: collapsed
    session.pick(doc(0), RELEVANCE, 0)
    assert session.row_mark(model.row_at(2), model) == Mark(Mark.DONE)


SESSION_CONFIG = """
  - name: session_ok
    type: CATEGORICAL
    target: session
    values: [ok, bad]
"""


def test_a_session_config_is_offered_on_trace_rows_and_done_for_every_trace_of_the_session(
    db: Path,
) -> None:
    configs = config_set(CONFIG_YAML + SESSION_CONFIG)
    session_ok = configs.annotations[5]
    chat_1 = Item(TRACE, "trace-chat-1", "c1", "LLM", "sess-2")
    chat_2 = Item(TRACE, "trace-chat-2", "c2", "LLM", "sess-2")
    with Store.open(db) as store:
        session = AnnotationSession(store, configs, "alice")
        assert session.applicable(TRACE_RAG) == [0, 4, 3, 5]  # span, trace, then session
        assert session.applicable(chat_1) == [0, 1, 4, 3, 5]
        assert session.applicable(R3) == [0, 1, 4]
        # trace-agent has no session: nothing to say about one
        assert session.applicable(Item(TRACE, "trace-agent", "a1", "AGENT")) == [0, 4, 3]
        assert session.missing_on(chat_2, [5]) == [5]
        session.trace_marks("trace-chat-2")  # loaded (cached) before the change
        session.pick(chat_1, session_ok, 0)
        assert session.missing_on(chat_2, [5]) == []  # one value for the whole session
        assert session.states(chat_2, [5])[5].mine.label == "ok"
    assert [(r[0], r[2], r[4], r[5]) for r in stored(db)] == [
        ("session", "trace-chat-1", "session_ok", "ok")
    ]
