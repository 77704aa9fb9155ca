"""The app while another process imports the annotator's own labels (`annotator import` of a
file made elsewhere, by the same person on another machine): the trace they are about shows
them as done within the poll period, the others keep what they had. The import is logged by
its own actor (import:<file>), so it is news to the app, and only that trace's cached marks
and progress are dropped (live_refresh: a change about known traces)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from tests.app_data import build_db, config_set
from tests.test_app import SIZE, cursor, go_to, rows, screen
from tests.test_app_live import until

REPO = Path(__file__).resolve().parents[1]
ALICE = {"span_id": "r3", "identifier": "alice", "annotator_kind": "HUMAN"}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def test_an_import_of_the_annotators_labels_marks_their_trace_done(
    db: Path, tmp_path: Path
) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        live, session = screen(app).live, screen(app).session
        await until(pilot, lambda: screen(app).status_line.progress is not None, "progress")
        await go_to(pilot, app, "r3")
        before = cursor(app)
        progress = {t: session.trace_progress(t) for t in screen(app).model.trace_ids}
        assert progress == {
            "trace-rag": (0, 3), "trace-agent": (0, 2), "trace-chat-1": (0, 1),
            "trace-chat-2": (0, 1),
        }  # fmt: skip
        labels = tmp_path / "alice.jsonl"
        labels.write_text(
            json.dumps({**ALICE, "name": "correctness", "label": "correct"})
            + "\n"
            + json.dumps({**ALICE, "name": "quality", "score": 7})
            + "\n"
        )
        subprocess.run(
            [sys.executable, "-m", "annotator", "import", str(labels), "--db", str(db)],
            cwd=REPO, check=True, timeout=60, capture_output=True,
        )  # fmt: skip
        await until(pilot, lambda: live.refreshes == 1, "the import")
        await until(pilot, lambda: screen(app).status_line.progress == (1, 7), "progress")
        assert session.trace_progress("trace-rag") == (1, 3)
        assert {t: session.trace_progress(t) for t in progress if t != "trace-rag"} == {
            "trace-agent": (0, 2), "trace-chat-1": (0, 1), "trace-chat-2": (0, 1),
        }  # fmt: skip
        assert cursor(app) == before
    assert rows(db, "SELECT span_id, name, label, score, identifier FROM annotations") == [
        ("r3", "correctness", "correct", None, "alice"),
        ("r3", "quality", None, 7.0, "alice"),
    ]
