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


# --- opening


async def test_opens_on_first_trace_expanded_cursor_on_first_span_needing_work(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        row = cursor(app)
        assert (row.kind, row.trace_id) == (TRACE, "trace-rag")
        assert screen(app).model.is_expanded("trace-rag")
        assert focused_name(app) == "correctness"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen(app).status_line.progress is not None


async def test_opens_past_traces_already_done(db: Path) -> None:
    with sqlite3.connect(db):
        pass
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1", "1")  # correctness, then task_success on the rag root
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        row = cursor(app)
        assert row.trace_id == "trace-rag" and row.kind == DOCUMENT  # first unfinished row


# --- categorical, auto-advance, trace-level ------------------------------------------------------


async def test_number_key_saves_label_with_phoenix_fields_at_once(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "2")
        assert rows(db) == [
            ("span", "r1", "trace-rag", None, "correctness", "incorrect", 0.0, None, "alice")
        ]
        kind, source, metadata, session = rows(
            db,
            "SELECT annotator_kind, source, json_extract(metadata, '$.seconds_spent') IS NOT NULL, "
            "session_id FROM annotations",
        )[0]
        assert (kind, source, metadata, session) == ("HUMAN", "APP", 1, "sess-1")
        log = rows(db, "SELECT action, actor FROM annotation_log")
        assert log == [("set", "alice")]


async def test_auto_advance_focuses_next_missing_config_then_moves_on(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1")
        assert focused_name(app) == "task_success"  # still missing on this (trace) row
        assert cursor(app).kind == TRACE
        await press(pilot, "1")
        assert rows(
            db, "SELECT target, trace_id, span_id, name, label FROM annotations ORDER BY id"
        ) == [
            ("span", "trace-rag", "r1", "correctness", "correct"),
            ("trace", "trace-rag", None, "task_success", "success"),
        ]
        # task_success has no auto_advance: the cursor stays; '.' moves to the next thing to do.
        assert cursor(app).kind == TRACE
        await press(pilot, "full_stop")
        assert (cursor(app).kind, cursor(app).position) == (DOCUMENT, 0)


async def test_auto_advance_moves_to_next_span_needing_that_config(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")  # LLM: correctness + quality
        await press(pilot, "tab")  # focus quality
        assert focused_name(app) == "quality"
        await press(pilot, "right")
        await press(pilot, "shift+tab")
        assert focused_name(app) == "correctness"
        await press(pilot, "1")
        # Nothing left on r3: on to the next span that needs correctness (the agent root).
        row = cursor(app)
        assert (row.kind, row.trace_id) == (TRACE, "trace-agent")
        assert not screen(app).model.is_expanded("trace-rag")  # auto-expanded traces fold behind us


async def test_documents_are_labelled_by_position(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r2", 0)
        assert focused_name(app) == "relevance"
        await press(pilot, "1", "j", "2", "j", "1")
        assert rows(
            db,
            "SELECT target, span_id, document_position, label FROM annotations ORDER BY "
            "document_position",
        ) == [
            ("document", "r2", 0, "relevant"),
            ("document", "r2", 1, "irrelevant"),
            ("document", "r2", 2, "relevant"),
        ]


async def test_keys_of_other_configs_do_nothing(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "9", "left", "right")  # no value 9; the focused config is categorical
        assert rows(db) == []


# --- continuous


async def test_arrows_step_continuous_scores_from_the_lower_bound_and_clamp(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "tab")
        score = lambda: rows(db, "SELECT score FROM annotations WHERE name = 'quality'")  # noqa: E731
        await press(pilot, "right")
        assert score() == [(1.0,)]  # first press: lower bound + one step
        await press(pilot, "right", "right")
        assert score() == [(3.0,)]
        await press(pilot, "shift+right")
        assert score() == [(10.0,)]  # clamped
        await press(pilot, "left")
        assert score() == [(9.0,)]
        await press(pilot, "shift+left")
        assert score() == [(0.0,)]
        assert len(rows(db, "SELECT * FROM annotation_log WHERE name = 'quality'")) == 6


async def test_first_left_on_unscored_sets_lower_bound(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "tab", "left")
        assert rows(db, "SELECT score FROM annotations WHERE name = 'quality'") == [(0.0,)]


# --- text boxes


async def test_freeform_text_box_swallows_hotkeys_and_saves_with_ctrl_s(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "tab")  # span configs first (correctness, comment), then trace ones
        assert focused_name(app) == "comment"
        await press(pilot, "e")
        assert isinstance(app.screen, TextEntryScreen)
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
        assert rows(db) == []  # nothing fired while typing
        await press(pilot, "ctrl+s")
        assert not isinstance(app.screen, TextEntryScreen)
        assert rows(db, "SELECT name, label, explanation FROM annotations") == [
            ("comment", None, "12uxqjn ?.")
        ]


async def test_escape_cancels_the_text_box(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "e")
        await press(pilot, "a", "b", "escape")
        assert rows(db) == []
        assert isinstance(app.screen, AnnotateScreen)


async def test_e_on_a_label_writes_its_explanation(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "2")  # auto-advance focuses task_success (still missing here)
        await press(pilot, "shift+tab", "shift+tab")  # back past comment to correctness
        assert focused_name(app) == "correctness"
        await press(pilot, "e")
        await press(pilot, "w", "h", "y", "ctrl+s")
        assert rows(
            db, "SELECT name, label, explanation FROM annotations WHERE name = 'correctness'"
        ) == [("correctness", "incorrect", "why")]


async def test_n_adds_a_new_note_each_time_on_the_span_or_the_trace(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert cursor(app).kind == TRACE
        await press(pilot, "n", "o", "k", "ctrl+s")  # on the trace row: a trace note
        await press(pilot, "j")  # the retriever span r2
        await press(pilot, "n")
        assert app.screen.query_one("TextArea").text == ""  # a new note, not the last one
        await press(pilot, "a", "ctrl+s", "n", "b", "ctrl+s")
        await press(pilot, "n", "escape")  # cancelled: nothing added
    notes = rows(
        db,
        "SELECT target, span_id, trace_id, explanation, identifier, "
        "json_extract(metadata, '$.author') FROM annotations WHERE name = 'note' ORDER BY id",
    )
    assert [note[:4] for note in notes] == [
        ("trace", None, "trace-rag", "ok"),
        ("span", "r2", "trace-rag", "a"),
        ("span", "r2", "trace-rag", "b"),
    ]
    assert [note[5] for note in notes] == ["alice", "alice", "alice"]
    assert re.fullmatch(r"px-trace-note:[0-9a-f-]{36}", notes[0][4])
    assert all(re.fullmatch(r"px-span-note:[0-9a-f-]{36}", note[4]) for note in notes[1:])
    assert len({note[4] for note in notes}) == 3


# --- clear, undo, redo


async def test_clear_undo_redo(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1", "shift+tab", "shift+tab")  # correctness=correct; focus back on it
        assert focused_name(app) == "correctness"
        await press(pilot, "x")
        assert rows(db, "SELECT name FROM annotations") == []
        await press(pilot, "u")
        assert rows(db, "SELECT name, label FROM annotations") == [("correctness", "correct")]
        await press(pilot, "u")
        assert rows(db) == []
        await press(pilot, "U")
        assert rows(db, "SELECT label FROM annotations") == [("correct",)]
        await press(pilot, "ctrl+y")
        assert rows(db) == []
        actions = [r[0] for r in rows(db, "SELECT action FROM annotation_log ORDER BY seq")]
        assert actions == ["set", "delete", "undo", "undo", "redo", "redo"]


async def test_undo_survives_a_restart_and_moves_to_the_change(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "2")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "u")
        assert rows(db) == []
        assert cursor(app).span_id == "r3"


# --- navigation


async def test_moving_and_folding(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model = screen(app).model
        await press(pilot, "j")
        assert cursor(app).span_id == "r2"
        await press(pilot, "down", "up", "k")
        assert cursor(app).kind == TRACE
        await press(pilot, "right_square_bracket")
        assert cursor(app).trace_id == "trace-agent" and model.is_expanded("trace-agent")
        assert not model.is_expanded("trace-rag")
        await press(pilot, "j")
        assert cursor(app).kind == SPAN
        await press(pilot, "left_square_bracket")  # inside a trace: to its top first
        assert cursor(app).kind == TRACE and cursor(app).trace_id == "trace-agent"
        await press(pilot, "left_square_bracket")
        assert cursor(app).trace_id == "trace-rag"
        before = len(model)
        await press(pilot, "enter")  # collapse the trace under the cursor
        assert len(model) < before and not model.is_expanded("trace-rag")
        await press(pilot, "space")
        assert model.is_expanded("trace-rag")
        await press(pilot, "j", "space")  # fold the retriever's documents away
        assert model.span_is_collapsed("trace-rag", "r2")


async def test_next_and_previous_todo(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
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
        ]
        await press(pilot, "comma")
        assert (cursor(app).trace_id, cursor(app).span_id) == ("trace-agent", "a2")


async def test_search_filters_the_queue(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "slash")
        for key in "turn":  # the chat traces are "chat_turn" spans
            await pilot.press(key)
        await press(pilot, "enter")
        model = screen(app).model
        assert model.trace_ids == ["trace-chat-1", "trace-chat-2"]
        assert "turn" in screen(app).status_line.queue


# --- keymap, help, quit


async def test_config_keys_remap_actions_and_label_keys(db: Path) -> None:
    text = (
        CONFIG_YAML.replace("  - name: quality", "  - name: quality")
        + "\nkeys:\n  next_span: l\n  undo: z\n  guidelines: h\n"
    )  # g is the guidelines' key: remapped, it is free for a label
    text = text.replace("{label: correct, score: 1}", "{label: correct, score: 1, key: g}")
    app = AnnotatorApp(db, config_set(text), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "g")
        assert rows(db, "SELECT label FROM annotations") == [("correct",)]
        await press(pilot, "z")
        assert rows(db) == []
        await press(pilot, "l")
        assert cursor(app).span_id == "r2"
        await press(pilot, "j")  # j no longer moves: next_span was remapped to l only
        assert cursor(app).span_id == "r2"


async def test_help_lists_every_active_key(db: Path) -> None:
    app = AnnotatorApp(db, config_set(CONFIG_YAML + "\nkeys:\n  undo: z\n"), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=120, record=True, file=io.StringIO())
        for static in app.screen.query("Static"):
            console.print(static.content)
        text = console.export_text()
        assert "Undo the last change" in text
        assert re.search(r"\bz\s+Undo the last change", text)  # the remapped key, not u
        await press(pilot, "escape")
        assert isinstance(app.screen, AnnotateScreen)


async def test_q_quits(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1")
        assert app.is_running and app.return_code is None
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running)
        assert app.return_code == 0  # q quit the app, not the end of the test
    assert rows(db, "SELECT label FROM annotations") == [("correct",)]


# --- mouse


async def test_click_row_and_label(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tree = screen(app).trace_tree
        await pilot.click(tree, offset=(10, 5))  # row 5: the LLM span r3
        await pilot.pause()
        assert cursor(app).span_id == "r3"
        card = screen(app).panel.cards[0]
        # Find the cell of the second label's text in the rendered card and click it.
        line = card.render().plain.splitlines()
        y = next(i for i, text in enumerate(line) if "incorrect" in text)
        x = line[y].index("incorrect") + 1
        await pilot.click(card, offset=(x + 1, y))  # +1: the card's left padding
        await pilot.pause()
        assert rows(db, "SELECT span_id, label FROM annotations") == [("r3", "incorrect")]


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


async def test_command_palette_runs_actions(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "1")
        assert len(rows(db)) == 1
        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        for key in "Undo the last":
            await pilot.press(key if key != " " else "space")

        def first_match() -> str:
            commands = app.screen.query_one(CommandList)
            if commands.highlighted is None:
                return ""
            return str(commands.get_option_at_index(commands.highlighted).prompt)

        await wait_for(pilot, lambda: first_match().startswith("Undo the last"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: rows(db) == [])
        assert isinstance(app.screen, AnnotateScreen)


async def test_command_palette_expands_and_collapses(db: Path) -> None:
    """The keymap's `toggle` is the screen's `toggle_row` action (Textual's own `toggle` takes an
    attribute name): the palette runs that one too."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        model = screen(app).model
        assert cursor(app).kind == TRACE and model.is_expanded("trace-rag")
        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        for key in "Expand":
            await pilot.press(key)

        def first_match() -> str:
            commands = app.screen.query_one(CommandList)
            if commands.highlighted is None:
                return ""
            return str(commands.get_option_at_index(commands.highlighted).prompt)

        await wait_for(pilot, lambda: first_match().startswith("Expand / collapse"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: not model.is_expanded("trace-rag"))
        assert isinstance(app.screen, AnnotateScreen)
        await press(pilot, "1")  # the cursor stayed on the trace row (its root span, r1)
    assert rows(db, "SELECT span_id, name, label FROM annotations") == [
        ("r1", "correctness", "correct")
    ]


async def test_textual_toggle_action_is_not_replaced_by_the_row_toggle(db: Path) -> None:
    """DOMNode's `toggle(attribute_name)` action keeps its meaning on the annotate screen."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).show_raw is False
        await screen(app).run_action("toggle('show_raw')")
        assert screen(app).show_raw is True
        assert screen(app).model.is_expanded("trace-rag")  # no row was folded


async def test_annotations_without_a_config_are_shown_read_only(db: Path) -> None:
    from annotator.model import Annotation
    from annotator.store import Store

    with Store.open(db) as store:
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
        extra = screen(app).panel.extra
        assert (
            extra.display
            and "hallucination" in extra.render().plain
            and "LLM judge" in extra.render().plain
        )
