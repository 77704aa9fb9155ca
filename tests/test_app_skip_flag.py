"""`s` skips an item (it leaves my queue, counted as skipped, listed in the "skipped by me"
queue), `!` flags it for the reviewer with an optional reason. Both are undone with `u` like any
change. Driven with real keys; asserted on the `item_marks` rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.store import QueueFilter
from tests.app_data import CONFIG_YAML, build_db, config_set, wait_for
from tests.screen_text import screen_text
from tests.test_app import SIZE, cursor, press, rows, screen

MARKS = "SELECT kind, annotator, span_id, reason FROM item_marks ORDER BY kind, span_id"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def test_skip_flag_and_undo_then_the_flagged_and_skipped_queues(db: Path) -> None:
    """The cases one after another in one run (each assertion names its case), then the
    reviewer's flagged queue and my skipped queue on what that run left."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "s skips, moves on, counts, and u takes it back"
        assert cursor(app).span_id is None and cursor(app).trace_id == "trace-rag", case  # root
        await press(pilot, "s")
        assert rows(db, MARKS) == [("skip", "alice", "r1", "")], case
        assert cursor(app).span_id == "r2", case  # on to the next span that needs me
        assert "↷ you skipped" not in screen_text(app), case
        status = screen(app).status_line  # polled on its numbers, then read off the screen once
        await wait_for(pilot, lambda: (status.progress, status.skipped) == ((1, 7), 1))
        assert "1/7 spans done (14%), 1 skipped" in screen_text(app), case
        first = screen_text(app).splitlines()[0]
        assert first.split("▎")[0].rstrip().endswith("3 1/3 ↷"), case  # the trace row: skipped
        await press(pilot, "u")
        assert rows(db, MARKS) == [], case
        await wait_for(pilot, lambda: (status.progress, status.skipped) == ((0, 7), 0))
        assert "0/7 spans done (0%)  │" in screen_text(app), case

        case = "a flag without a reason, and escape flags nothing"
        await press(pilot, "left_square_bracket")  # back to the trace row (r1)
        assert cursor(app).trace_id == "trace-rag" and cursor(app).span_id is None, case
        await press(pilot, "exclamation_mark", "escape")
        assert rows(db, MARKS) == [], case
        await press(pilot, "exclamation_mark", "ctrl+s")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "")], case

        case = "! flags with a reason, and again removes the flag"
        await press(pilot, "exclamation_mark")  # flagged already: removes my flag
        assert rows(db, MARKS) == [], case
        await press(pilot, "exclamation_mark")
        assert isinstance(app.screen, TextEntryScreen), case
        for key in "wrong tool":
            await pilot.press("space" if key == " " else key)
        await press(pilot, "ctrl+s")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool")], case
        assert "⚑ flagged by alice: wrong tool" in screen_text(app), case
        assert cursor(app).trace_id == "trace-rag" and cursor(app).span_id is None, case  # stays
        await press(pilot, "exclamation_mark")  # flagged already: removes my flag
        assert rows(db, MARKS) == [], case
        await press(pilot, "u")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool")], case
        await press(pilot, "s")  # skipped too, for the queues below
    assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool"), ("skip", "alice", "r1", "")]

    app = AnnotatorApp(db, config_set(), "lead", queue=QueueFilter(state="flagged"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        case = "the reviewer lists flagged items"
        assert screen(app).model.trace_ids == ["trace-rag"], case
        assert "⚑ flagged by alice" in screen_text(app), case

    app = AnnotatorApp(db, config_set(), "alice", queue=QueueFilter(state="skipped"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        case = "s on a skipped item takes the skip back"
        assert screen(app).model.trace_ids == ["trace-rag"], case  # listable: the skipped queue
        assert cursor(app).trace_id == "trace-rag", case
        assert "↷ you skipped this" in screen_text(app), case
        await press(pilot, "s")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool")], case
        assert "✓ skip taken back" in screen_text(app), case


async def test_skip_and_flag_are_remappable(db: Path) -> None:
    app = AnnotatorApp(db, config_set(CONFIG_YAML + "\nkeys:\n  skip: y\n  flag: Y\n"), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "s")
        assert rows(db, MARKS) == []
        await press(pilot, "y")
        assert rows(db, MARKS) == [("skip", "alice", "r1", "")]
        await press(pilot, "Y", "ctrl+s")
        assert [row[0] for row in rows(db, MARKS)] == ["flag", "skip"]
