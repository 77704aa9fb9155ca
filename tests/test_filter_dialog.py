"""The filter dialog (`f`, `/`) driven by keys: every control is on screen when it has the focus,
at 80x24 and larger, the keys that apply and cancel are shown, each choice shows its state in
text (readable without colour), and what the dialog applies is the queue the tree then lists."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input, Static

from annotator.app.app import AnnotatorApp
from annotator.app.screens.filter import FilterScreen
from annotator.model import Span
from annotator.store import QueueFilter, Store
from tests.app_data import build_db, config_set, demo_spans
from tests.screen_text import screen_text
from tests.test_app import press, screen

CONTROLS = [
    "filter-state", "filter-status", "filter-kinds", "filter-text",
    "filter-where", "filter-trace-where", "filter-apply", "filter-clear", "filter-cancel",
]  # fmt: skip
KINDS = ["AGENT", "CHAIN", "EMBEDDING", "EVALUATOR", "GUARDRAIL", "LLM", "PROMPT", "RERANKER",
         "RETRIEVER", "TOOL", "UNKNOWN"]  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "filter.db")


def many_kinds_db(path: Path) -> Path:
    """The demo spans plus one span of every other kind: a long kinds list."""
    spans = demo_spans()
    for i, kind in enumerate(k for k in KINDS if k not in {s.span_kind for s in spans}):
        spans.append(Span(f"k{i}", "trace-kinds", None if i == 0 else "k0", f"{kind.lower()}_step",
                          kind, f"2026-05-01T11:00:0{i}.000000+00:00",
                          f"2026-05-01T11:00:0{i}.500000+00:00", "OK"))  # fmt: skip
    return build_db(path, spans)


def shown(app: AnnotatorApp, widget: Widget) -> bool:
    """Is the widget really on screen: what is drawn at its middle cell is it (or its child)?"""
    region = widget.region
    if not region.area:
        return False
    x, y = region.x + region.width // 2, region.y + region.height // 2
    if not (0 <= x < app.size.width and 0 <= y < app.size.height):
        return False
    found, _ = app.screen.get_widget_at(x, y)
    return found is widget or widget in found.ancestors


SIZES = [(80, 24), (160, 48), (160, 70)]


@pytest.mark.parametrize("many_kinds", [False, True])
async def test_every_control_is_on_screen_when_tab_reaches_it(
    tmp_path: Path, many_kinds: bool
) -> None:
    """The dialog opened at 80x24 (its first control focused), then the terminal resized to each
    larger size with it open: at each size, tab walks every control in turn from the first, each
    one shown."""
    db = many_kinds_db(tmp_path / "k.db") if many_kinds else build_db(tmp_path / "d.db")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZES[0]) as pilot:
        await press(pilot, "f")
        assert isinstance(app.screen, FilterScreen)
        for size in SIZES:
            if size != SIZES[0]:
                await pilot.resize_terminal(*size)
                app.screen.query_one("#filter-state").focus()
                await pilot.pause()
            reached = []
            for _ in CONTROLS:
                focused = app.screen.focused
                assert focused is not None and shown(app, focused), (
                    size,
                    focused,
                    focused and focused.region,
                )
                reached.append(focused.id)
                await pilot.press("tab")  # nothing is saved in the dialog: no writer to wait for
            assert reached == CONTROLS, size
            # The keys that apply and cancel are on screen, whatever the body's scroll.
            keys = app.screen.query_one("#filter-keys")
            assert shown(app, keys), size
            assert "ctrl+s apply · esc cancel" in screen_text(app), size


async def test_slash_focuses_the_search_field_on_screen(db: Path) -> None:
    """`/` opens the search box (tests/test_app_search.py), its field focused and visible, at
    each size (one app, the terminal resized, the box opened afresh for each)."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZES[0]) as pilot:
        for size in SIZES:
            await pilot.resize_terminal(*size)
            await press(pilot, "slash")
            field = app.screen.query_one("#search-text", Input)
            assert field.value == "", size
            assert app.screen.focused is field and shown(app, field), size
            for key in "turn":
                await pilot.press(key)
            await pilot.pause()
            assert "turn" in screen_text(app), size  # what is typed is seen
            if size != SIZES[-1]:
                await press(pilot, "escape")  # the search ends, the queue as it was
                assert screen(app).session.queue == QueueFilter(), size
        await press(pilot, "enter")
        assert screen(app).session.queue == QueueFilter(text="turn")
        assert screen(app).model.trace_ids == ["trace-chat-1", "trace-chat-2"]
        assert "turn" in screen(app).status_line.queue  # the status line says what is shown


# The cases below that need no fresh start share app runs (an app start costs about as much CPU
# as the dialog's keys; each assertion names its case). The order matters: each case starts
# from the queue the one before leaves.


async def test_buttons_by_keyboard_then_an_invalid_expression_then_keys_choose(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        case = "the buttons by keyboard apply, clear and cancel"
        # Inside the dialog nothing is saved, so its keys go in one `pilot.press` (each one still
        # handled before the next is sent); `press` (which waits for the writer) opens and closes.
        # The name field, "chat", then the Apply button (`/` opens the search box, not this one)
        await press(pilot, "f")
        await pilot.press(*["tab"] * 3, "c", "h", "a", "t", *["tab"] * 3)
        await press(pilot, "enter")
        assert screen(app).session.queue == QueueFilter(text="chat"), case
        await press(pilot, "f")
        await pilot.press("down", "space")  # a change, then cancel
        await press(pilot, "escape")
        assert screen(app).session.queue == QueueFilter(text="chat"), case
        await press(pilot, "f")
        await pilot.press(*["tab"] * 7)
        await press(pilot, "enter")  # the Clear all button
        assert screen(app).session.queue == QueueFilter(), case
        assert len(screen(app).model.trace_ids) == 4, case
        await press(pilot, "f")
        await pilot.press(*["tab"] * 8)
        await press(pilot, "enter")  # Cancel
        assert not isinstance(app.screen, FilterScreen), case

        case = "an invalid expression shows its error and is not applied"
        await press(pilot, "f", *["tab"] * 4)
        app.screen.query_one("#filter-where", Input).insert_text_at_cursor("name.startswith('x')")
        expected = (
            "✗ span filter: col 6: unknown function 'startswith' — only float(), str() and "
            "int() are allowed"
        )
        await until(pilot, lambda: matches(app) == expected, "the error")
        assert app.screen.query_one("#filter-matches").has_class("-error"), case
        await press(pilot, "ctrl+s")  # refused: the dialog stays, the queue is unchanged
        assert isinstance(app.screen, FilterScreen), case
        assert screen(app).session.queue == QueueFilter(), case
        assert app.screen.focused is app.screen.query_one("#filter-where", Input), case
        await press(pilot, "enter")  # enter applies too, and is refused the same way
        assert isinstance(app.screen, FilterScreen), case
        await press(pilot, "escape")
        assert screen(app).session.queue == QueueFilter(), case

        case = "keys choose the state, the status and a kind, then ctrl+s applies"
        await press(pilot, "f")
        await press(pilot, "down", "space")  # queue: to do
        await press(pilot, "tab", "down", "space")  # status: ERROR
        await press(pilot, "tab", "space")  # kinds: the first (AGENT) ticked
        await press(pilot, "ctrl+s")
        queue = QueueFilter(span_kinds=frozenset({"AGENT"}), status="ERROR", state="todo")
        assert screen(app).session.queue == queue, case
        assert screen(app).model.trace_ids == ["trace-agent"], case
        assert screen(app).status_line.queue == "todo kind=AGENT status=ERROR", case


async def test_choices_show_their_state_in_text_without_colour(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await press(pilot, "f")
        await press(pilot, "down", "down", "space")  # annotated by me
        await press(pilot, "tab", "tab", "down", "space")  # tick the second kind (CHAIN)
        text = screen_text(app)
        assert "( ) every span a config applies to" in text
        assert "(•) annotated by me" in text
        assert "(•) any" in text and "( ) ERROR" in text
        assert "[ ] AGENT" in text and "[x] CHAIN" in text


# --- filter expressions: live count, errors, apply, recent ones ---------------------------------


async def until(pilot, condition, what: str, timeout: float = 10.0) -> None:
    """Waits (bounded) for a condition the app reaches by itself: the debounced count. The app
    runs on this event loop, so a plain sleep lets it work; `pilot.pause` would also ask every
    widget of the dialog to acknowledge each poll (~3 ms CPU a poll, 15 polls a count)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.01)


def matches(app: AnnotatorApp) -> str:
    return str(app.screen.query_one("#filter-matches", Static).render())


async def test_an_expression_is_counted_as_you_type_and_applied(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f", *["tab"] * 4)  # the span filter field
        field = app.screen.query_one("#filter-where", Input)
        assert app.screen.focused is field and shown(app, field)
        assert matches(app) == "No expression: every span."
        field.insert_text_at_cursor("span_kind == 'llm'")
        await until(pilot, lambda: matches(app) == "4 spans match", "4 spans match")
        await press(pilot, "tab")
        app.screen.query_one("#filter-trace-where", Input).insert_text_at_cursor(
            "any(s.status_code == 'ERROR' for s in spans)"
        )
        await until(pilot, lambda: matches(app) == "1 span matches", "1 span matches")
        await press(pilot, "ctrl+s")
        assert not isinstance(app.screen, FilterScreen)
        queue = screen(app).session.queue
        assert queue.where.text == "span_kind == 'llm'"
        assert queue.trace_where.text == "any(s.status_code == 'ERROR' for s in spans)"
        assert screen(app).model.trace_ids == ["trace-agent"]
        assert screen(app).status_line.queue == (
            "where span_kind == 'llm' trace where any(s.status_code == 'ERROR' for s in s…"
        )
        await app.workers.wait_for_complete()
        assert screen(app).session.progress() == (0, 1)  # the planner (LLM) alone
    conn = sqlite3.connect(db)
    try:
        recent = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'recent_filters:%'"))
    finally:
        conn.close()
    assert recent == {
        "recent_filters:where": "[\"span_kind == 'llm'\"]",
        "recent_filters:trace_where": "[\"any(s.status_code == 'ERROR' for s in spans)\"]",
    }


HOSTILE_EXPRESSIONS = {  # the invalid ones first: the dialog stays open for the next one
    "an action link": "[@click=app.quit]x[/]",
    "a bidi override": "name == '\u202eevil' and",
    "deep nesting": "(" * 70 + "1" + ")" * 70,
    "20,000 characters": "x" * 20_000,
    "markup": "name == '[bold]x[/'",
    "an escape sequence": "name == '\x1b]52;c;AAAA\x07'",
}


async def test_up_and_down_recall_recent_expressions_then_hostile_ones_are_shown_literally(
    db: Path,
) -> None:
    """Up and down recall the recent expressions of this database. Then, in the same app, each
    hostile expression typed into a freshly cleared field (the dialog opened again when one
    applies): what is shown is literal and bounded, and ctrl+s never crashes."""
    with Store.open(db) as store:
        store.remember_filter("where", "span_kind == 'AGENT'")
        store.remember_filter("where", "latency_ms > 100")
        store.remember_filter("where", "span_kind == 'AGENT'")  # again: first, once
        assert store.recent_filters("where") == ["span_kind == 'AGENT'", "latency_ms > 100"]
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        case = "up and down recall the recent expressions of this database"
        await press(pilot, "f", *["tab"] * 4)
        field = app.screen.query_one("#filter-where", Input)
        field.insert_text_at_cursor("typed")
        await press(pilot, "up")
        assert field.value == "span_kind == 'AGENT'", case
        await press(pilot, "up", "up")  # stops at the oldest
        assert field.value == "latency_ms > 100", case
        await press(pilot, "down", "down")  # back to what was typed
        assert field.value == "typed", case
        await press(pilot, "up", "enter")
        assert screen(app).session.queue.where.text == "span_kind == 'AGENT'", case
        assert screen(app).model.trace_ids == ["trace-agent"], case

        # Hostile expressions (the recalled one above is in the field, cleared first).
        for case, hostile in HOSTILE_EXPRESSIONS.items():
            if not isinstance(app.screen, FilterScreen):
                await press(pilot, "f", *["tab"] * 4)
            field = app.screen.query_one("#filter-where", Input)
            assert app.screen.focused is field, case
            field.clear()
            await until(pilot, lambda: matches(app) == "No expression: every span.", case)
            field.insert_text_at_cursor(hostile)
            await until(pilot, lambda: matches(app).startswith(("✗", "0 spans")), case)
            shown_text = matches(app)
            assert "\x1b" not in shown_text and "\u202e" not in shown_text, case
            assert len(shown_text) <= 320, case
            await press(pilot, "ctrl+s")
            assert app.is_running, case
            if shown_text.startswith("✗"):
                assert isinstance(app.screen, FilterScreen), case
