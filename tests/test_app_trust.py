"""Issue 7 ("Trust"): enter always folds, seconds_spent is the time on the item, notes are many,
the chosen label is readable without colour, status messages go away, progress says what it
counts. Driven with real keys; the database is read through a separate connection."""

from __future__ import annotations

import io
import re
import sqlite3
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from rich.console import Console
from textual.widgets import TextArea

from annotator.app import session as session_module
from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.screens.full_view import FullViewScreen
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.tree_model import TRACE
from annotator.app.widgets.status_line import StatusLine
from annotator.cli.main import cli
from annotator.config import bundled_config_path, load_config
from annotator.store import Store
from annotator.team.merge import merge_databases
from annotator.team.stats import compute_stats
from tests.app_data import build_db, config_set, settled, wait_for

SIZE = (150, 40)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def screen(app: AnnotatorApp) -> AnnotateScreen:
    return next(s for s in app.screen_stack if isinstance(s, AnnotateScreen))


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settled(pilot, pilot.app)


async def add_note(pilot, text: str) -> None:
    """`n`, the note put into the text box, ctrl+s. Only `n` and ctrl+s are key presses (each
    waits for the writer): typing into the box key by key is tests/test_app.py's freeform case.
    Every `n` opens an empty box: a new note, not the last one."""
    await press(pilot, "n")
    box = pilot.app.screen.query_one(TextArea)
    assert box.text == "", text  # a new note, not the last one
    box.insert(text)
    await press(pilot, "ctrl+s")


def plain(widget) -> str:
    """What a widget shows, as text (its render, through a console without colour)."""
    console = Console(width=200, file=io.StringIO(), color_system=None, record=True)
    console.print(widget.render())
    return console.export_text()


# --- 1. enter expands / collapses, always --------------------------------------------------------


async def test_enter_and_space_fold_even_where_a_freeform_config_applies(db: Path) -> None:
    # configs/default.yaml: the freeform `comment` applies to every span, so the focused config
    # on a CHAIN row is a text box; enter used to open it and swallow the next keys.
    app = AnnotatorApp(db, load_config(bundled_config_path("default")), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        view = screen(app)
        await press(pilot, "left_square_bracket")  # to the top of this trace
        row = view.trace_tree.cursor_row
        assert (row.kind, row.trace_id) == (TRACE, "trace-rag")
        assert view.current_config is not None and view.current_config.name == "comment"
        await press(pilot, "enter")
        assert not view.model.is_expanded("trace-rag")
        assert isinstance(app.screen, AnnotateScreen)  # no text box
        await press(pilot, "enter")
        assert view.model.is_expanded("trace-rag")
        await press(pilot, "j")  # the retriever span (its documents below it)
        assert view.trace_tree.cursor_row.span_id == "r2"
        assert view.current_config.name == "comment"
        await press(pilot, "enter")
        assert view.model.span_is_collapsed("trace-rag", "r2")
        await press(pilot, "space")
        assert not view.model.span_is_collapsed("trace-rag", "r2")
        await press(pilot, "k", "enter")
        assert not view.model.is_expanded("trace-rag")
        assert isinstance(app.screen, AnnotateScreen)
        await press(pilot, "e")  # e is the only way into a text box
        assert isinstance(app.screen, TextEntryScreen)
        await press(pilot, "escape")
    assert rows(db, "SELECT count(*) FROM annotations") == [(0,)]


# --- 3. seconds_spent: time on the item, summed over visits, capped per visit -------------------


async def test_seconds_spent_is_the_time_on_the_item_over_every_visit(db: Path) -> None:
    now = [1000.0]
    app = AnnotatorApp(db, config_set(), "alice", clock=lambda: now[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).trace_tree.cursor_row.kind == TRACE  # arrived at 1000
        now[0] = 1012.5
        await press(pilot, "1")  # correctness on the trace row (its root span)
        now[0] = 1020.0
        await press(pilot, "j")  # leave after 20 s
        now[0] = 1030.0
        await press(pilot, "k")  # back: a second visit
        now[0] = 1033.25
        await press(pilot, "1")  # task_success, 20 + 3.25 s on the item
        await press(pilot, "j", "j", "j", "j", "j")  # r2, its three documents, the LLM span r3
        assert screen(app).trace_tree.cursor_row.span_id == "r3"
        start = now[0]
        now[0] = start + 2000  # left open over lunch: a visit counts at most 10 minutes
        await press(pilot, "tab", "right")
        now[0] = start + 2000.02
        await press(pilot, "right")
        await press(pilot, "j")
        now[0] = start + 2010
        await press(pilot, "k")
        now[0] = start + 2010.05  # three quick arrow presses 0.05 s after coming back
        await press(pilot, "tab", "right")
    spent = rows(
        db,
        "SELECT name, span_id, trace_id, json_extract(metadata, '$.seconds_spent') "
        "FROM annotations ORDER BY id",
    )
    assert spent == [
        ("correctness", "r1", "trace-rag", 12.5),
        ("task_success", None, "trace-rag", 23.25),
        ("quality", "r3", "trace-rag", 600.05),
    ]


# --- 5. notes: many, listed with author and time, on the trace from a trace row ------------------


async def test_notes_are_new_each_time_listed_newest_first_with_author_and_time_and_bounded(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The panel lists the newest NOTES_SHOWN notes (5) and counts the older ones: with the bound
    # at 2, three notes show it (each note is a text box opened and saved, ~0.1 CPU-s).
    monkeypatch.setattr(session_module, "NOTES_SHOWN", 2)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "j")  # r2
        for text in ("n1", "n2", "n3"):
            await add_note(pilot, text)
        shown = plain(screen(app).panel.notes)
        assert shown.index("n3") < shown.index("n2")
        assert "n1" not in shown and "… 1 older" in shown
        assert re.search(r"alice · \d{4}-\d\d-\d\d \d\d:\d\d\n\s+n3", shown)
        await press(pilot, "n", "escape")  # cancelled: nothing added
        await press(pilot, "k")  # the trace row: its trace notes (none yet), not r2's
        assert "n3" not in plain(screen(app).panel.notes)
        await add_note(pilot, "tn")
        shown = plain(screen(app).panel.notes)
        assert re.search(r"alice · [\d: -]+ · trace\n\s+tn", shown)
    notes = rows(
        db,
        "SELECT target, span_id, trace_id, explanation, identifier, "
        "json_extract(metadata, '$.author') FROM annotations WHERE name = 'note' ORDER BY id",
    )
    assert [note[:4] for note in notes] == [
        *[("span", "r2", "trace-rag", f"n{i}") for i in range(1, 4)],
        ("trace", None, "trace-rag", "tn"),
    ]
    assert [note[5] for note in notes] == ["alice"] * 4
    assert all(re.fullmatch(r"px-span-note:[0-9a-f-]{36}", note[4]) for note in notes[:3])
    assert re.fullmatch(r"px-trace-note:[0-9a-f-]{36}", notes[3][4])
    assert len({note[4] for note in notes}) == 4


async def _notes_db(tmp_path: Path, name: str, annotator: str) -> Path:
    path = build_db(tmp_path / name)
    app = AnnotatorApp(path, config_set(), annotator)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # "ta" on alice's trace, "sa" on her r2
        await add_note(pilot, f"t{annotator[0]}")
        await press(pilot, "j")
        await add_note(pilot, f"s{annotator[0]}")
        await press(pilot, "j", "2")  # a judgement too
    return path


NOTE_COLUMNS = (
    "SELECT target, span_id, trace_id, explanation, identifier, json_extract(metadata, '$.author')"
    " FROM annotations WHERE name = 'note' ORDER BY explanation"
)


async def test_notes_survive_export_import_and_merge_and_are_not_raters(tmp_path: Path) -> None:
    alice = await _notes_db(tmp_path, "alice.db", "alice")
    bob = await _notes_db(tmp_path, "bob.db", "bob")
    runner = CliRunner()
    exported = tmp_path / "alice.jsonl"
    result = runner.invoke(
        cli, ["export", "--db", str(alice), "--format", "jsonl", "--out", str(exported)]
    )
    assert result.exit_code == 0, result.output
    copy = build_db(tmp_path / "copy.db")
    result = runner.invoke(cli, ["import", str(exported), "--db", str(copy)])
    assert result.exit_code == 0, result.output
    assert rows(copy, NOTE_COLUMNS) == rows(alice, NOTE_COLUMNS)  # author and identifier kept
    assert [r[5] for r in rows(copy, NOTE_COLUMNS)] == ["alice", "alice"]

    phoenix = tmp_path / "phoenix.json"
    result = runner.invoke(
        cli, ["export", "--db", str(alice), "--format", "phoenix", "--out", str(phoenix)]
    )
    assert result.exit_code == 0, result.output
    bodies = orjson.loads(phoenix.read_bytes())
    assert [b["data"]["note"] for b in bodies["trace_notes"]] == ["ta"]
    assert bodies["trace_notes"][0]["data"]["identifier"].startswith("px-trace-note:")
    assert bodies["span_notes"][0]["data"]["identifier"].startswith("px-span-note:")

    team = tmp_path / "team.db"
    report = merge_databases([alice, bob], team)
    assert report.conflicts == []  # every note is its own annotation: never a conflict
    assert rows(team, "SELECT count(*) FROM annotations WHERE name = 'note'") == [(4,)]
    with Store.open(team) as store:
        store.save_config_document(config_set().to_document())
        stats = compute_stats(store)
    assert sorted(a["rater"] for a in stats["annotators"]) == ["alice", "bob"]  # no px-…-note


# --- 6, 7 and 8c. the chosen label in text, not only in reverse video; messages expire,
# "working…" ends with the work; progress says spans -------------------------------------------


async def test_the_chosen_label_in_text_messages_that_expire_and_progress_in_spans(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three cases on the first row in one app run (each assertion names its case)."""
    said: list[str] = []  # every report, whenever it comes and goes
    say = StatusLine.say
    monkeypatch.setattr(StatusLine, "say", lambda self, m: (said.append(m.plain), say(self, m)))
    monkeypatch.setattr(StatusLine, "MESSAGE_SECONDS", 60)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = screen(app).status_line
        card = screen(app).panel.cards[0]
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "0/7 spans done (0%)" in plain(status), "progress says it counts spans"
        case = "the chosen label is marked in text"
        assert "○ correct" in plain(card) and "○ incorrect" in plain(card), case

        await press(pilot, "1")
        shown = plain(card)
        assert "● correct" in shown and "○ incorrect" in shown and "○ partial" in shown, case

        case = "status messages expire and working messages end with the work"
        await wait_for(pilot, lambda: "✓ saved correctness = correct" in plain(status))
        # a short-lived report: shown (the spy saw it), then gone on its own - however long a
        # loaded machine takes between two looks at the screen
        monkeypatch.setattr(StatusLine, "MESSAGE_SECONDS", 0.2)
        await press(pilot, "2")  # the trace row's next config
        await wait_for(pilot, lambda: "✓ saved task_success = failure 0" in said)
        await wait_for(pilot, lambda: "saved" not in plain(status))
        monkeypatch.setattr(StatusLine, "MESSAGE_SECONDS", 60)

        # r1 complete: correctness and task_success
        await wait_for(pilot, lambda: "1/7 spans done (14%)" in plain(status))

        await press(pilot, "o")
        await wait_for(pilot, lambda: isinstance(app.screen, FullViewScreen))
        assert "Opening" not in plain(status), case  # replaced the moment the view opened
        await press(pilot, "escape")
        assert "Opening" not in plain(status), case


async def test_text_typed_ahead_of_ctrl_s_or_of_the_text_box_opening_is_all_saved(
    db: Path,
) -> None:
    from textual import events

    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "text typed ahead of ctrl+s is all saved"
        await pilot.press("n")
        assert isinstance(app.screen, TextEntryScreen), case
        text = "typed fast, then saved"
        for character in text:  # a burst: every key queued before the first is handled
            app.post_message(events.Key(character if character != " " else "space", character))
        app.post_message(events.Key("ctrl+s", None))
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        await settled(pilot, app)
        notes = "SELECT explanation FROM annotations WHERE name = 'note' ORDER BY id"
        assert rows(db, notes) == [(text,)], case

        case = "text typed ahead of the text box opening goes into it"
        for key in ["n", "a", "b", "c", "space", "d"]:  # "n" and the note, pasted at once
            app.post_message(events.Key(key, " " if key == "space" else key))
        app.post_message(events.Key("ctrl+s", None))
        await settled(pilot, app)
        await wait_for(pilot, lambda: isinstance(app.screen, AnnotateScreen))
        await settled(pilot, app)
        assert rows(db, notes) == [(text,), ("abc d",)], case
    assert rows(db, "SELECT count(*) FROM annotations WHERE name != 'note'") == [(0,)]
