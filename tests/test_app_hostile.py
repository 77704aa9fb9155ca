"""Hostile and huge trace content through every view of the app: shown literally, never parsed as
markup, never an action, never an escape sequence on the terminal, never a freeze or a crash."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from textual.geometry import Region

from annotator.app.app import AnnotatorApp
from annotator.app.screens.full_view import FullViewScreen
from annotator.app.widgets.span_view import SpanView
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
HUGE = "A" * 600_000 + "[/huge]"


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


def assert_view_bounded(app: AnnotatorApp) -> str:
    """Huge content is clipped before it is laid out: the span view holds a few hundred lines
    however big the span (600 kB values here: past the renderer's parse limit, 256 KiB, as 3 MB
    was, at half the cost; unclipped, the root span alone is ~3,000 lines)."""
    view = app.screen.query_one(SpanView)
    assert view.span is not None
    assert 0 < len(view.plain_lines) < 1_000, (view.span.span_id, len(view.plain_lines))
    return view.span.span_id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "hostile.db", hostile_spans())


async def test_hostile_content_in_every_view(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), EVIL)  # even the annotator name is hostile
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        seen, spans = [], []
        for step in range(7):  # the trace row (its root span), the spans, the document rows
            if step:
                await pilot.press("j")
                await pilot.pause()
            for _ in range(2):  # raw attributes off, then on
                seen.append(assert_screen_safe(app))
                spans.append(assert_view_bounded(app))
                await pilot.press("r")
                await pilot.pause()
        assert set(spans) == {"h1", "[@click=app.quit]s", "h3"}  # every span, every document
        assert any("[@click=app.quit]x[/]" in text for text in seen)  # literal, not an action
        assert any("\\x1b" in text for text in seen)  # escapes are shown as visible text
        # (no click can reach an action: assert_screen_safe found no @click meta in any style)
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
        notes = [
            (name, text, json.loads(metadata)["author"])
            for name, text, metadata in conn.execute(
                "SELECT name, explanation, metadata FROM annotations"
            )
        ]
    assert notes == [("note", "ok", EVIL)]  # the note, by the hostile name, kept as typed


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
