"""Screen snapshots of the main views (pytest-textual-snapshot). After an intended change to the
look of the app, review the diff report and refresh with `pytest tests/test_snapshots.py
--snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from tests.app_data import build_db, config_set

SIZE = (150, 40)


@pytest.fixture
def app(tmp_path: Path) -> AnnotatorApp:
    return AnnotatorApp(build_db(tmp_path / "snap.db"), config_set(), "alice")


def settled(*keys: str):  # noqa: ANN201
    """Press keys, then wait until every worker (progress counting) is done."""

    async def run_before(pilot) -> None:  # noqa: ANN001
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


def test_llm_span_with_messages(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("j", "j", "j", "j", "j"))


def test_retriever_document(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("j", "j", "j"))


def test_error_span_with_exception(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("right_square_bracket", "j", "j"))


def test_help_screen(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("question_mark"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_filter_dialog(snap_compare, app: AnnotatorApp, size: tuple[int, int]) -> None:
    # Every control and the keys that apply/cancel are drawn; a choice and a tick show in text.
    keys = ("f", "down", "space", "tab", "tab", "space")
    assert snap_compare(app, terminal_size=size, run_before=settled(*keys))


def test_search_dialog_80x24(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled("slash", "t", "u"))
