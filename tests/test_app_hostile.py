"""Hostile and huge trace content through every view of the app: shown literally, never parsed as
markup, never an action, never an escape sequence on the terminal, never a freeze or a crash."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from textual.geometry import Region

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.screens.full_view import FullViewScreen
from annotator.model import Span
from tests.app_data import build_db, config_set

HOSTILE = [
    "[/x]",
    "[bold",
    "[@click=app.quit]x[/]",
    "[link=https://evil.example]y[/link]",
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x9b31m",
    "\u202eevil",
    "nul\x00byte",
    "$(rm -rf /)",
]
EVIL = " ".join(HOSTILE)
HUGE = "A" * 3_000_000 + "[/huge]"


def hostile_spans() -> list[Span]:
    nested: dict = {"v": EVIL}
    for _ in range(200):
        nested = {"deeper": nested}
    attributes = {
        "input": {"value": EVIL, "mime_type": "text/plain"},
        "output": {"value": HUGE},
        EVIL: EVIL,  # a hostile attribute key
        "llm": {
            "model_name": EVIL,
            "input_messages": [{"message": {"role": EVIL, "content": EVIL, "name": EVIL}}] * 3,
            "output_messages": [
                {
                    "message": {
                        "role": "assistant",
                        "content": HUGE,
                        "tool_calls": [
                            {
                                "tool_call": {
                                    "id": EVIL,
                                    "function": {"name": EVIL, "arguments": EVIL},
                                }
                            }
                        ],
                    }
                }
            ],
            "token_count": {"prompt": EVIL},
        },
        "metadata": {"deep": nested},
        "session": {"id": EVIL},
    }
    documents = [
        {"document": {"id": EVIL, "score": EVIL, "content": EVIL, "metadata": {EVIL: EVIL}}}
    ] * 2
    event = {
        "name": "exception",
        "timestamp": "2026-05-01T10:00:00.000000+00:00",
        "attributes": {
            "exception.type": EVIL,
            "exception.message": EVIL,
            "exception.stacktrace": HUGE,
        },
    }
    return [
        Span(
            "h1",
            "[@click=app.quit]trace",
            None,
            EVIL,
            "LLM",
            "2026-05-01T10:00:00.000000+00:00",
            "2026-05-01T10:00:01.000000+00:00",
            "ERROR",
            EVIL,
            attributes,
            [event],
            EVIL,
            EVIL,
        ),
        Span(
            "[@click=app.quit]s",
            "[@click=app.quit]trace",
            "h1",
            EVIL,
            "RETRIEVER",
            "2026-05-01T10:00:00.100000+00:00",
            "2026-05-01T10:00:00.200000+00:00",
            "OK",
            attributes={"retrieval": {"documents": documents}, EVIL: HUGE},
        ),
        Span(
            "h3",
            "[@click=app.quit]trace",
            "[@click=app.quit]s",
            HUGE,
            "TOOL",
            "2026-05-01T10:00:00.300000+00:00",
            None,
            "OK",
            attributes={"tool": {"name": EVIL}},
        ),
    ]


def screen_text(app: AnnotatorApp) -> tuple[str, list]:
    """Every line every visible widget of the current screen renders (`Widget.render_lines`)."""
    lines, styles = [], []
    for widget in app.screen.query("*"):
        if not widget.display or not widget.size.area:
            continue
        for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
            lines.append("".join(segment.text for segment in strip))
            styles.extend(segment.style for segment in strip if segment.style)
    return "\n".join(lines), styles


def assert_screen_safe(app: AnnotatorApp) -> str:
    text, styles = screen_text(app)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\x00" not in text
    for style in styles:
        assert "@click" not in style.meta, style.meta
        assert not style.link
    return text


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "hostile.db", hostile_spans())


async def test_hostile_content_in_every_view(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), EVIL)  # even the annotator name is hostile
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        seen = []
        for _ in range(6):  # trace row, spans, document rows
            started = time.perf_counter()
            await pilot.press("j")
            await pilot.pause()
            assert time.perf_counter() - started < 5, (
                "a view took seconds: huge content is not bounded"
            )
            seen.append(assert_screen_safe(app))
            await pilot.press("r")  # raw attributes on and off
            await pilot.pause()
            seen.append(assert_screen_safe(app))
            await pilot.press("r")
        assert any("[@click=app.quit]x[/]" in text for text in seen)  # literal, not an action
        assert any("\\x1b" in text for text in seen)  # escapes are shown as visible text
        # Click on every cell of the screen: nothing triggers an action (the app keeps running).
        for y in range(0, 45, 3):
            for x in range(0, 140, 7):
                await pilot.click(offset=(x, y))
        await pilot.pause()
        while not isinstance(app.screen, AnnotateScreen):
            await pilot.press("escape")
            await pilot.pause()
        assert app.is_running
        await pilot.press("o")  # the whole span, unclipped, in the full view
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, FullViewScreen)
        assert_screen_safe(app)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert_screen_safe(app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n", "o", "k", "ctrl+s")
        await pilot.pause()
        assert app.is_running
    with sqlite3.connect(db) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM annotations WHERE identifier = ?", (EVIL,)
            ).fetchone()[0]
            >= 1
        )


async def test_hostile_config_labels_are_literal(tmp_path: Path) -> None:
    db = build_db(tmp_path / "a.db")
    text = """
annotations:
  - name: "[@click=app.quit]q[/]"
    type: CATEGORICAL
    values:
      - {label: "[bold"}
      - {label: "[@click=app.quit]x[/]"}
      - {label: "\\e]0;t\\a"}
"""
    app = AnnotatorApp(db, config_set(text), "alice")
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        shown = assert_screen_safe(app)
        assert "[@click=app.quit]x[/]" in shown
        await pilot.press("2")
        await pilot.pause()
        assert app.is_running
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT label FROM annotations").fetchall() == [
            ("[@click=app.quit]x[/]",)
        ]
