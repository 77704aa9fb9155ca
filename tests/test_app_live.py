"""The app while other processes write to its database (a pull, a colleague, an import): what
they commit shows within the poll period, the cursor stays on its row, and a text box being
typed in is left alone. The other writer is a real second process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from annotator.app.live_refresh import POLL_SECONDS
from annotator.app.screens.text_entry import TextEntryScreen
from tests.app_data import build_db, config_set
from tests.screen_text import screen_text
from tests.test_app import SIZE, cursor, focused_name, go_to, press, rows, screen

REPO = Path(__file__).resolve().parents[1]

# Another process: bob's label on a span, and (optionally) new spans: one inside the trace the
# cursor is in, sorting before the cursor's row, and a trace of its own (a second batch: other
# ids, the same places).
_OTHER_WRITER = """
import sys
from annotator.model import Annotation, Span
from annotator.store import Store

db, span_id, batch = sys.argv[1], sys.argv[2], sys.argv[3]
with Store.open(db) as store:
    store.set_annotation(
        Annotation(name="correctness", span_id=span_id, label="incorrect", identifier="bob")
    )
    if batch:
        writer = store.span_writer()
        writer.add_all([
            Span(f"r0{batch}", "trace-rag", "r1", "early_llm", "LLM",
                 "2026-05-01T10:00:00.050000+00:00", "2026-05-01T10:00:00.090000+00:00", "OK"),
            Span(f"n1{batch}", f"trace-new{batch}", None, "pulled_later", "LLM",
                 "2026-05-01T11:00:00.000000+00:00", "2026-05-01T11:00:01.000000+00:00", "OK"),
        ])
        writer.close()
"""


def other_process_writes(db: Path, span_id: str, *, spans: str = "") -> None:
    """`spans`: the batch of new spans to add ("" for none)."""
    subprocess.run(
        [sys.executable, "-c", _OTHER_WRITER, str(db), span_id, spans],
        cwd=REPO, check=True, timeout=60,
    )  # fmt: skip


async def until(pilot, condition, what: str, timeout: float = 20.0) -> None:
    """Wait for a condition (never a fixed sleep); the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout}s")
        await pilot.pause(0.05)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def test_others_changes_show_without_moving_the_cursor_or_touching_a_half_typed_text(
    db: Path,
) -> None:
    """Two cases in one app run, each with its own write by another process (each assertion
    names its case)."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        live = screen(app).live

        case = "others' changes show without moving the cursor"
        await until(pilot, lambda: screen(app).status_line.progress is not None, "progress")
        await go_to(pilot, app, "r3")
        before_row, before_index = cursor(app), screen(app).trace_tree.cursor
        span_id = screen(app).item.span_id
        assert (before_row.trace_id, span_id) == ("trace-rag", "r3"), case
        assert screen(app).status_line.progress == (0, 7), case
        assert screen(app).session.trace_progress("trace-rag") == (0, 3), case
        assert "bob" not in screen_text(app), case

        other_process_writes(db, span_id, spans="a")
        await until(pilot, lambda: live.refreshes == 1, "the other process's changes")
        await until(pilot, lambda: screen(app).status_line.progress == (0, 9), "progress")

        assert cursor(app) == before_row, case  # the same row...
        assert screen(app).trace_tree.cursor == before_index + 1, case  # ...below the new r0
        assert screen(app).model.trace_ids[-1] == "trace-newa", case
        assert screen(app).session.trace_progress("trace-rag") == (0, 4), case
        panel = screen_text(app)
        assert "bob" in panel and "incorrect" in panel, case
        # the app's own saves are not news: no refresh for them
        await press(pilot, "1")
        assert rows(db, "SELECT identifier, label FROM annotations ORDER BY id") == [
            ("bob", "incorrect"),
            ("alice", "correct"),
        ], case
        for _ in range(3):
            await pilot.pause(POLL_SECONDS)
        assert live.refreshes == 1, case

        case = "a half-typed text survives a refresh"
        assert cursor(app) == before_row, case
        assert focused_name(app) == "quality", case  # auto-advance: what r3 still needs
        await press(pilot, "e")  # quality's explanation box
        assert isinstance(app.screen, TextEntryScreen), case
        for key in ("h", "a", "l", "f"):
            await pilot.press(key)
        before_index = screen(app).trace_tree.cursor
        other_process_writes(db, "c1", spans="b")  # bob's label on another span, new spans

        await until(pilot, lambda: live.refreshes == 2, "the other process's changes")
        assert isinstance(app.screen, TextEntryScreen), case
        assert app.screen.query_one("#entry-text").text == "half", case
        await until(pilot, lambda: screen(app).model.trace_ids[-1] == "trace-newb", "new spans")
        assert cursor(app) == before_row, case
        assert screen(app).trace_tree.cursor == before_index + 1, case  # below the new r0b
        await press(pilot, "ctrl+s")
        assert rows(
            db, "SELECT identifier, span_id, name, label, explanation FROM annotations ORDER BY id"
        ) == [
            ("bob", "r3", "correctness", "incorrect", None),
            ("alice", "r3", "correctness", "correct", None),
            ("bob", "c1", "correctness", "incorrect", None),
            ("alice", "r3", "quality", None, "half"),
        ], case
        assert cursor(app) == before_row, case
