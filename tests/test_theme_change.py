"""A theme change (the command palette's "Theme" command) redraws what the widgets keep drawn:
the trace tree caches its rows and the span view its laid-out lines, both in the old colours."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.strip import Strip

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from tests.app_data import build_db, config_set, settled

SIZE = (150, 40)
NEW_THEME = "textual-light"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def _drawn(strip: Strip) -> list[tuple[str, object, object]]:
    return [
        (s.text, s.style.color if s.style else None, s.style.bgcolor if s.style else None)
        for s in strip
    ]


async def _lines(app: AnnotatorApp) -> dict[str, list]:
    screen = app.screen
    assert isinstance(screen, AnnotateScreen)
    tree, view = screen.trace_tree, screen.span_view
    return {
        # rows below the cursor (cached by the tree), lines of the span view (laid out once)
        **{f"tree line {y}": _drawn(tree.render_line(y)) for y in (1, 2)},
        **{f"span view line {y}": _drawn(view.render_line(y)) for y in (0, 2)},
    }


async def test_a_theme_change_redraws_the_tree_and_span_view_in_its_colours(db: Path) -> None:
    fresh = AnnotatorApp(db, config_set(), "alice")
    fresh.theme = NEW_THEME
    async with fresh.run_test(size=SIZE) as pilot:
        await settled(pilot, fresh)
        expected = await _lines(fresh)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        before = await _lines(app)
        assert app.theme != NEW_THEME
        app.theme = NEW_THEME
        await settled(pilot, app)
        after = await _lines(app)
    for name, lines in expected.items():
        assert lines != before[name], f"{name}: the themes draw it alike, so this proves nothing"
        assert after[name] == lines, f"{name}: still drawn in the old theme's colours"
