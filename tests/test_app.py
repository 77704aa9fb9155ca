"""The app driven as a user drives it: real key presses through `App.run_test()`, then assertions
on the SQLite rows (read through a separate connection: what is there is committed)."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.screens.help import HelpScreen
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.tree_model import DOCUMENT, SPAN, TRACE
from tests.app_data import CONFIG_YAML, build_db, config_set, settled, wait_for

SIZE = (150, 40)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def rows(
    db: Path,
    sql: str = (
        "SELECT target, span_id, trace_id, document_position, name, label, score, explanation, "
        "identifier FROM annotations ORDER BY id"
    ),
) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def screen(app: AnnotatorApp) -> AnnotateScreen:
    found = next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))
    return found


def cursor(app: AnnotatorApp):
    return screen(app).trace_tree.cursor_row


def focused_name(app: AnnotatorApp) -> str | None:
    config = screen(app).current_config
    return config.name if config else None


async def press(pilot, *keys: str) -> None:
    """Press keys one by one as a person would, each one's change committed before the next."""
    for key in keys:
        await pilot.press(key)
        await settled(pilot, pilot.app)


async def go_to(pilot, app: AnnotatorApp, span_id: str, position: int | None = None) -> None:
    """Walk with j/k (as a user would) until the cursor is on that span / document row."""
    for _ in range(60):
        row = cursor(app)
        if row.span_id == span_id and row.position == position and row.kind != TRACE:
            return
        if (
            row.kind == TRACE
            and position is None
            and screen(app).model.loaded.get(row.trace_id)
            and screen(app).model.loaded[row.trace_id].root_id == span_id
        ):
            return
        await press(pilot, "j")
    raise AssertionError(f"never reached {span_id}")


# Cases share app runs: an app start costs more CPU than most cases, so the cases one run can
# prove one after another do (each assertion names its case). Cases that need a fresh start, a
# restart, another config or another queue keep their own.

# --- opening, reading, moving: no annotation changes ----------------------------------------------


async def test_opening_toggle_read_only_values_moving_folding_and_todo_stops(db: Path) -> None:
    from annotator.model import Annotation
    from annotator.store import Store

    with Store.open(db) as store:  # a value no config asks for (an LLM judge's)
        store.set_annotation(
            Annotation(
                name="hallucination",
                span_id="r1",
                label="factual",
                score=0,
                annotator_kind="LLM",
                identifier="judge",
            )
        )
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = screen(app)
        model = view.model

        case = "opens on the first trace, expanded, the cursor on the first span needing work"
        row = cursor(app)
        assert (row.kind, row.trace_id) == (TRACE, "trace-rag"), case
        assert model.is_expanded("trace-rag"), case
        assert focused_name(app) == "correctness", case
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert view.status_line.progress is not None, case

        case = "annotations without a config are shown read-only"
        extra = view.panel.extra
        assert extra.display, case
        assert "hallucination" in extra.render().plain, case
        assert "LLM judge" in extra.render().plain, case

        # DOMNode's `toggle(attribute_name)` action keeps its meaning on the annotate screen.
        case = "Textual's toggle action is not replaced by the row toggle"
        assert view.show_raw is False, case
        await view.run_action("toggle('show_raw')")
        assert view.show_raw is True, case
        assert model.is_expanded("trace-rag"), case  # no row was folded
        await view.run_action("toggle('show_raw')")
        assert view.show_raw is False, case

        case = "moving and folding"
        await press(pilot, "j")
        assert cursor(app).span_id == "r2", case
        await press(pilot, "down", "up", "k")
        assert cursor(app).kind == TRACE, case
        await press(pilot, "right_square_bracket")
        assert cursor(app).trace_id == "trace-agent", case
        assert model.is_expanded("trace-agent"), case
        assert not model.is_expanded("trace-rag"), case
        await press(pilot, "j")
        assert cursor(app).kind == SPAN, case
        await press(pilot, "left_square_bracket")  # inside a trace: to its top first
        assert cursor(app).kind == TRACE and cursor(app).trace_id == "trace-agent", case
        await press(pilot, "left_square_bracket")
        assert cursor(app).trace_id == "trace-rag", case
        before = len(model)
        await press(pilot, "enter")  # collapse the trace under the cursor
        assert len(model) < before and not model.is_expanded("trace-rag"), case
        await press(pilot, "space")
        assert model.is_expanded("trace-rag"), case
        await press(pilot, "j", "space")  # fold the retriever's documents away
        assert model.span_is_collapsed("trace-rag", "r2"), case
        await press(pilot, "space", "k")  # unfolded again, back on the trace row
        assert not model.span_is_collapsed("trace-rag", "r2"), case
        assert (cursor(app).kind, cursor(app).trace_id) == (TRACE, "trace-rag"), case

        case = "next and previous todo"
        stops = []
        for _ in range(7):
            await press(pilot, "full_stop")
            row = cursor(app)
            stops.append(
                (row.trace_id, row.span_id if row.kind != TRACE else "TRACE", row.position)
            )
        assert stops == [
            ("trace-rag", "r2", 0),
            ("trace-rag", "r2", 1),
            ("trace-rag", "r2", 2),
            ("trace-rag", "r3", None),
            ("trace-agent", "TRACE", None),
            ("trace-agent", "a2", None),
            ("trace-chat-1", "TRACE", None),
        ], case
        await press(pilot, "comma")
        assert (cursor(app).trace_id, cursor(app).span_id) == ("trace-agent", "a2"), case
    assert rows(db, "SELECT name FROM annotations") == [("hallucination",)]


async def test_opens_past_traces_already_done_and_undo_survives_a_restart(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1", "1")  # correctness, then task_success on the rag root
        await go_to(pilot, app, "r3")
        await press(pilot, "2")  # the last change: correctness on r3
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        case = "opens past traces already done"
        row = cursor(app)
        assert row.trace_id == "trace-rag" and row.kind == DOCUMENT, case  # first unfinished row
        case = "undo survives a restart and moves to the change"
        await press(pilot, "u")
        assert rows(db, "SELECT span_id, name FROM annotations ORDER BY id") == [
            ("r1", "correctness"),
            (None, "task_success"),
        ], case
        assert cursor(app).span_id == "r3", case


# --- categorical, auto-advance, trace-level ------------------------------------------------------


async def test_number_keys_explanations_documents_and_q(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "keys of other configs do nothing"
        await press(pilot, "9", "left", "right")  # no value 9; the focused config is categorical
        assert rows(db) == [], case

        case = "a number key saves the label with Phoenix's fields at once"
        await press(pilot, "2")
        assert rows(db) == [
            ("span", "r1", "trace-rag", None, "correctness", "incorrect", 0.0, None, "alice")
        ], case
        kind, source, metadata, session = rows(
            db,
            "SELECT annotator_kind, source, json_extract(metadata, '$.seconds_spent') IS NOT NULL, "
            "session_id FROM annotations",
        )[0]
        assert (kind, source, metadata, session) == ("HUMAN", "APP", 1, "sess-1"), case
        assert rows(db, "SELECT action, actor FROM annotation_log") == [("set", "alice")], case

        case = "e on a label writes its explanation"
        assert focused_name(app) == "task_success", case  # auto-advance: still missing here
        await press(pilot, "shift+tab", "shift+tab")  # back past comment to correctness
        assert focused_name(app) == "correctness", case
        await press(pilot, "e")
        await press(pilot, "w", "h", "y", "ctrl+s")
        assert rows(
            db, "SELECT name, label, explanation FROM annotations WHERE name = 'correctness'"
        ) == [("correctness", "incorrect", "why")], case

        case = "documents are labelled by position"
        await go_to(pilot, app, "r2", 0)
        assert focused_name(app) == "relevance", case
        await press(pilot, "1", "j", "2", "j", "1")
        documents = (
            "SELECT target, span_id, document_position, label FROM annotations "
            "WHERE target = 'document' ORDER BY document_position"
        )
        assert rows(db, documents) == [
            ("document", "r2", 0, "relevant"),
            ("document", "r2", 1, "irrelevant"),
            ("document", "r2", 2, "relevant"),
        ], case

        case = "q quits"
        assert app.is_running and app.return_code is None, case
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
        assert app.return_code == 0, case  # q quit the app, not the end of the test
    assert len(rows(db, documents)) == 3
    assert len(rows(db)) == 4


async def test_clear_undo_redo_then_auto_advance_focuses_the_next_missing_config(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "clear, undo, redo"
        await press(pilot, "1", "shift+tab", "shift+tab")  # correctness=correct; focus back on it
        assert focused_name(app) == "correctness", case
        await press(pilot, "x")
        assert rows(db, "SELECT name FROM annotations") == [], case
        await press(pilot, "u")
        assert rows(db, "SELECT name, label FROM annotations") == [("correctness", "correct")]
        await press(pilot, "u")
        assert rows(db) == [], case
        await press(pilot, "U")
        assert rows(db, "SELECT label FROM annotations") == [("correct",)], case
        await press(pilot, "ctrl+y")
        assert rows(db) == [], case
        actions = [r[0] for r in rows(db, "SELECT action FROM annotation_log ORDER BY seq")]
        assert actions == ["set", "delete", "undo", "undo", "redo", "redo"], case

        case = "auto-advance focuses the next missing config, then '.' moves on"
        assert (cursor(app).kind, cursor(app).trace_id) == (TRACE, "trace-rag"), case
        assert focused_name(app) == "correctness", case
        await press(pilot, "1")
        assert focused_name(app) == "task_success", case  # still missing on this (trace) row
        assert cursor(app).kind == TRACE, case
        await press(pilot, "1")
        assert rows(
            db, "SELECT target, trace_id, span_id, name, label FROM annotations ORDER BY id"
        ) == [
            ("span", "trace-rag", "r1", "correctness", "correct"),
            ("trace", "trace-rag", None, "task_success", "success"),
        ], case
        # task_success has no auto_advance: the cursor stays; '.' moves to the next thing to do.
        assert cursor(app).kind == TRACE, case
        await press(pilot, "full_stop")
        assert (cursor(app).kind, cursor(app).position) == (DOCUMENT, 0), case


# --- mouse, continuous ---------------------------------------------------------------------------


async def test_click_continuous_arrows_and_auto_advance_to_the_next_span(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "click a row and a label"
        tree = screen(app).trace_tree
        await pilot.click(tree, offset=(10, 5))  # row 5: the LLM span r3
        await pilot.pause()
        assert cursor(app).span_id == "r3", case
        card = screen(app).panel.cards[0]
        # Find the cell of the second label's text in the rendered card and click it.
        line = card.render().plain.splitlines()
        y = next(i for i, text in enumerate(line) if "incorrect" in text)
        x = line[y].index("incorrect") + 1
        await pilot.click(card, offset=(x + 1, y))  # +1: the card's left padding
        await settled(pilot, app)
        assert rows(db, "SELECT span_id, label FROM annotations") == [("r3", "incorrect")], case

        case = "arrows step continuous scores from the lower bound and clamp"
        assert cursor(app).span_id == "r3", case
        assert focused_name(app) == "quality", case  # auto-advance: what r3 still needs
        score = lambda: rows(db, "SELECT score FROM annotations WHERE name = 'quality'")  # noqa: E731
        await press(pilot, "right")
        assert score() == [(1.0,)], case  # first press: lower bound + one step
        await press(pilot, "right", "right")
        assert score() == [(3.0,)], case
        await press(pilot, "shift+right")
        assert score() == [(10.0,)], case  # clamped
        await press(pilot, "left")
        assert score() == [(9.0,)], case
        await press(pilot, "shift+left")
        assert score() == [(0.0,)], case
        assert len(rows(db, "SELECT * FROM annotation_log WHERE name = 'quality'")) == 6, case

        case = "auto-advance moves to the next span needing that config"
        await press(pilot, "shift+tab")
        assert focused_name(app) == "correctness", case
        await press(pilot, "1")
        # Nothing left on r3: on to the next span that needs correctness (the agent root).
        row = cursor(app)
        assert (row.kind, row.trace_id) == (TRACE, "trace-agent"), case
        assert not screen(app).model.is_expanded("trace-rag"), case  # folded behind us

        case = "the first left on an unscored value sets the lower bound"
        await press(pilot, "j")  # a2, an LLM span: quality never scored
        assert cursor(app).span_id == "a2", case
        await press(pilot, "tab", "left")
        assert focused_name(app) == "quality", case
        assert rows(
            db, "SELECT score FROM annotations WHERE name = 'quality' AND span_id = 'a2'"
        ) == [(0.0,)], case


# --- text boxes


async def test_escape_cancels_the_text_box_and_freeform_swallows_hotkeys(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "escape cancels the text box"
        await press(pilot, "e")
        assert isinstance(app.screen, TextEntryScreen), case
        await press(pilot, "a", "b", "escape")
        assert rows(db) == [], case
        assert isinstance(app.screen, AnnotateScreen), case

        case = "the freeform text box swallows hotkeys and saves with ctrl+s"
        await press(pilot, "tab")  # span configs first (correctness, comment), then trace ones
        assert focused_name(app) == "comment", case
        await press(pilot, "e")
        assert isinstance(app.screen, TextEntryScreen), case
        for key in [
            "1",
            "2",
            "u",
            "x",
            "q",
            "j",
            "n",
            "space",
            "question_mark",
            "full_stop",
            "left",
        ]:
            await pilot.press(key)
        await pilot.pause()
        assert rows(db) == [], case  # nothing fired while typing
        await press(pilot, "ctrl+s")
        assert not isinstance(app.screen, TextEntryScreen), case
        assert rows(db, "SELECT name, label, explanation FROM annotations") == [
            ("comment", None, "12uxqjn ?.")
        ], case


# --- keymap, help


async def test_config_keys_remap_actions_and_label_keys_and_help_lists_them(db: Path) -> None:
    text = CONFIG_YAML + "\nkeys:\n  next_span: l\n  undo: z\n  guidelines: h\n"
    # g is the guidelines' key: remapped, it is free for a label
    text = text.replace("{label: correct, score: 1}", "{label: correct, score: 1, key: g}")
    app = AnnotatorApp(db, config_set(text), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "help lists every active key"
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen), case
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query("Static"):
            console.print(static.content)
        shown = console.export_text()
        assert "Undo the last change" in shown, case
        assert re.search(r"\bz\s+Undo the last change", shown), case  # the remapped key, not u
        assert re.search(r"\bl\s+Next span", shown), case
        assert re.search(r"comment\s+e: write", shown) and "enter: write" not in shown, case
        await press(pilot, "escape")
        assert isinstance(app.screen, AnnotateScreen), case

        case = "config keys remap actions and label keys"
        await press(pilot, "g")
        assert rows(db, "SELECT label FROM annotations") == [("correct",)], case
        await press(pilot, "z")
        assert rows(db) == [], case
        await press(pilot, "l")
        assert cursor(app).span_id == "r2", case
        await press(pilot, "j")  # j no longer moves: next_span was remapped to l only
        assert cursor(app).span_id == "r2", case


# --- adjudication, command palette --------------------------------------------------------------


async def test_adjudication_queue_walks_disagreements_and_records_the_lead_value(db: Path) -> None:
    from annotator.model import Annotation
    from annotator.store import QueueFilter, Store

    with Store.open(db) as store:
        store.set_annotation(
            Annotation(name="correctness", span_id="a2", label="correct", identifier="alice")
        )
        store.set_annotation(
            Annotation(name="correctness", span_id="a2", label="incorrect", identifier="bob")
        )
        store.set_annotation(
            Annotation(name="correctness", span_id="c1", label="correct", identifier="alice")
        )
        store.set_annotation(
            Annotation(name="correctness", span_id="c1", label="correct", identifier="bob")
        )
    app = AnnotatorApp(db, config_set(), "lead", queue=QueueFilter(state="disagree"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).model.trace_ids == ["trace-agent"]  # c1: both agree, not listed
        assert (cursor(app).trace_id, cursor(app).span_id) == ("trace-agent", "a2")
        states = screen(app).session.states(screen(app).item, screen(app).applicable)
        others = {a.identifier: a.label for s in states.values() for a in s.others}
        assert others == {"alice": "correct", "bob": "incorrect"}  # side by side in the panel
        await press(pilot, "2")
    assert rows(
        db, "SELECT identifier, label FROM annotations WHERE span_id = 'a2' ORDER BY identifier"
    ) == [("alice", "correct"), ("bob", "incorrect"), ("lead", "incorrect")]


async def test_command_palette_expands_and_collapses_and_runs_actions(db: Path) -> None:
    """The keymap's `toggle` is the screen's `toggle_row` action (Textual's own `toggle` takes an
    attribute name): the palette runs that one too, and undo."""
    app = AnnotatorApp(db, config_set(), "alice")

    def first_match() -> str:
        commands = app.screen.query_one(CommandList)
        if commands.highlighted is None:
            return ""
        return str(commands.get_option_at_index(commands.highlighted).prompt)

    async def palette(pilot, typed: str, command: str) -> None:
        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        # Put in at once: one search of the commands, not one per key (the palette's typing is
        # Textual's; what is tested here is what our commands do)
        app.screen.query_one(Input).insert_text_at_cursor(typed)
        await wait_for(pilot, lambda: first_match().startswith(command))
        await pilot.press("enter")

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model = screen(app).model

        case = "the command palette expands and collapses"
        assert cursor(app).kind == TRACE and model.is_expanded("trace-rag"), case
        await palette(pilot, "Expand", "Expand / collapse")
        await wait_for(pilot, lambda: not model.is_expanded("trace-rag"))
        assert isinstance(app.screen, AnnotateScreen), case
        await press(pilot, "1")  # the cursor stayed on the trace row (its root span, r1)
        assert rows(db, "SELECT span_id, name, label FROM annotations") == [
            ("r1", "correctness", "correct")
        ], case

        case = "the command palette runs actions"
        await palette(pilot, "Undo the last", "Undo the last")
        await wait_for(pilot, lambda: rows(db) == [])
        assert isinstance(app.screen, AnnotateScreen), case
