"""`s` skips an item (it leaves my queue, counted as skipped, listed in the "skipped by me"
queue), `!` flags it for the reviewer with an optional reason. Both are undone with `u` like any
change. Driven with real keys; asserted on the `item_marks` rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.store import QueueFilter
from tests.app_data import CONFIG_YAML, build_db, config_set
from tests.screen_text import screen_text
from tests.test_app import SIZE, cursor, press, rows, screen

MARKS = "SELECT kind, annotator, span_id, reason FROM item_marks ORDER BY kind, span_id"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def wait_for(pilot, condition) -> None:
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition never held")


async def test_s_skips_moves_on_counts_and_u_takes_it_back(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert cursor(app).span_id is None and cursor(app).trace_id == "trace-rag"  # root row
        await press(pilot, "s")
        assert rows(db, MARKS) == [("skip", "alice", "r1", "")]
        assert cursor(app).span_id == "r2"  # on to the next span that needs me
        assert "↷ you skipped" not in screen_text(app)
        await wait_for(pilot, lambda: "1/7 spans done (14%), 1 skipped" in screen_text(app))
        first = screen_text(app).splitlines()[0]
        assert first.split("▎")[0].rstrip().endswith("3 1/3 ↷")  # the trace row: skipped
        await press(pilot, "u")
        assert rows(db, MARKS) == []
        await wait_for(pilot, lambda: "0/7 spans done (0%)  │" in screen_text(app))


async def test_s_on_a_skipped_item_takes_the_skip_back(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice", queue=QueueFilter(state="skipped"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).model.trace_ids == []  # nothing skipped yet
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "s")
    app = AnnotatorApp(db, config_set(), "alice", queue=QueueFilter(state="skipped"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).model.trace_ids == ["trace-rag"]  # listable: the skipped queue
        assert cursor(app).trace_id == "trace-rag"
        assert "↷ you skipped this" in screen_text(app)
        await press(pilot, "s")
        assert rows(db, MARKS) == []
        assert "✓ skip taken back" in screen_text(app)


async def test_bang_flags_with_a_reason_and_again_removes_the_flag(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "exclamation_mark")
        assert isinstance(app.screen, TextEntryScreen)
        for key in "wrong tool":
            await pilot.press("space" if key == " " else key)
        await press(pilot, "ctrl+s")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool")]
        assert "⚑ flagged by alice: wrong tool" in screen_text(app)
        assert cursor(app).trace_id == "trace-rag" and cursor(app).span_id is None  # stays
        await press(pilot, "exclamation_mark")  # flagged already: removes my flag
        assert rows(db, MARKS) == []
        await press(pilot, "u")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "wrong tool")]


async def test_a_flag_without_a_reason_and_escape_flags_nothing(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await press(pilot, "exclamation_mark", "escape")
        assert rows(db, MARKS) == []
        await press(pilot, "exclamation_mark", "ctrl+s")
        assert rows(db, MARKS) == [("flag", "alice", "r1", "")]
    app = AnnotatorApp(db, config_set(), "lead", queue=QueueFilter(state="flagged"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen(app).model.trace_ids == ["trace-rag"]  # the reviewer lists flagged items
        assert "⚑ flagged by alice" in screen_text(app)


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
