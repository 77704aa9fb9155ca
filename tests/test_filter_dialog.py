"""The filter dialog (`f`, `/`) driven by keys: every control is on screen when it has the focus,
at 80x24 and larger, the keys that apply and cancel are shown, each choice shows its state in
text (readable without colour), and what the dialog applies is the queue the tree then lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widget import Widget
from textual.widgets import Input

from annotator.app.app import AnnotatorApp
from annotator.app.screens.filter import FilterScreen
from annotator.model import Span
from annotator.store import QueueFilter
from tests.app_data import build_db, config_set, demo_spans
from tests.screen_text import screen_text
from tests.test_app import press, screen

CONTROLS = [
    "filter-state", "filter-status", "filter-kinds", "filter-text",
    "filter-apply", "filter-clear", "filter-cancel",
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


@pytest.mark.parametrize("size", [(80, 24), (160, 48), (160, 70)])
@pytest.mark.parametrize("many_kinds", [False, True])
async def test_every_control_is_on_screen_when_tab_reaches_it(
    tmp_path: Path, size: tuple[int, int], many_kinds: bool
) -> None:
    db = many_kinds_db(tmp_path / "k.db") if many_kinds else build_db(tmp_path / "d.db")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=size) as pilot:
        await press(pilot, "f")
        assert isinstance(app.screen, FilterScreen)
        reached = []
        for _ in CONTROLS:
            focused = app.screen.focused
            assert focused is not None and shown(app, focused), (
                focused,
                focused and focused.region,
            )
            reached.append(focused.id)
            await press(pilot, "tab")
        assert reached == CONTROLS
        # The keys that apply and cancel are on screen, whatever the body's scroll.
        keys = app.screen.query_one("#filter-keys")
        assert shown(app, keys)
        assert "ctrl+s apply · esc cancel" in screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (160, 48), (160, 70)])
async def test_slash_focuses_the_name_field_on_screen(db: Path, size: tuple[int, int]) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=size) as pilot:
        await press(pilot, "slash")
        field = app.screen.query_one("#filter-text", Input)
        assert app.screen.focused is field and shown(app, field)
        for key in "turn":
            await pilot.press(key)
        await pilot.pause()
        assert "turn" in screen_text(app)  # what is typed is seen
        await press(pilot, "enter")
        assert screen(app).session.queue == QueueFilter(text="turn")
        assert screen(app).model.trace_ids == ["trace-chat-1", "trace-chat-2"]


async def test_keys_choose_state_status_and_kind_then_ctrl_s_applies(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "f")
        await press(pilot, "down", "space")  # queue: to do
        await press(pilot, "tab", "down", "space")  # status: ERROR
        await press(pilot, "tab", "space")  # kinds: the first (AGENT) ticked
        await press(pilot, "ctrl+s")
        queue = QueueFilter(span_kinds=frozenset({"AGENT"}), status="ERROR", state="todo")
        assert screen(app).session.queue == queue
        assert screen(app).model.trace_ids == ["trace-agent"]
        assert screen(app).status_line.queue == "todo kind=AGENT status=ERROR"


async def test_buttons_by_keyboard_apply_clear_and_cancel(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "slash", "c", "h", "a", "t", "tab", "enter")  # tab: the Apply button
        assert screen(app).session.queue == QueueFilter(text="chat")
        await press(pilot, "f", "down", "space", "escape")  # a change, then cancel
        assert screen(app).session.queue == QueueFilter(text="chat")
        await press(pilot, "f", *["tab"] * 5, "enter")  # the Clear all button
        assert screen(app).session.queue == QueueFilter()
        assert len(screen(app).model.trace_ids) == 4
        await press(pilot, "f", *["tab"] * 6, "enter")  # Cancel
        assert not isinstance(app.screen, FilterScreen)


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
