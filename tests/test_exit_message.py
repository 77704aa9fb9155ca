"""The line `annotator annotate` prints when the app exits counts what this person saved:
judgements and notes apart (a note is a remark, not an annotation of the span), nobody else's."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.model import Annotation
from tests.query_data import Data, build
from tests.test_cli_validation import invoke


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, Data]:
    path = tmp_path / "annotations.db"
    return path, build(path)


def test_the_exit_line_counts_annotations_and_notes_apart(db, monkeypatch):
    from annotator.app.app import AnnotatorApp

    path, data = db
    spans = [span for trace in data.traces for span in trace.spans][:3]

    def run(app: AnnotatorApp) -> None:  # what a session of zoe's leaves behind
        store = app.store
        for span, name, label in [
            (spans[0], "correctness", "correct"),
            (spans[1], "correctness", "incorrect"),
            (spans[2], "correctness", "correct"),
        ]:
            store.set_annotation(
                Annotation(
                    name, span_id=span.id, trace_id=span.trace, label=label, identifier="zoe"
                )
            )
        store.set_annotation(
            Annotation(
                "note",
                span_id=spans[0].id,
                trace_id=spans[0].trace,
                explanation="odd retrieval",
                identifier="zoe",
            )
        )
        app.writer.stop()
        store.close()

    monkeypatch.setattr(AnnotatorApp, "run", run)
    before = _mine(path, "zoe")
    result = invoke("annotate", "--db", str(path), "--annotator", "zoe")
    assert result.exit_code == 0, result.stderr
    assert before == (0, 0)
    assert f"3 annotations and 1 note by zoe are saved in {path}\n" in result.stdout


def test_the_exit_line_says_one_annotation_and_no_notes(db, monkeypatch):
    from annotator.app.app import AnnotatorApp

    path, data = db
    span = data.traces[0].spans[0]

    def run(app: AnnotatorApp) -> None:
        app.store.set_annotation(
            Annotation(
                "correctness",
                span_id=span.id,
                trace_id=span.trace,
                label="correct",
                identifier="zoe",
            )
        )
        app.writer.stop()
        app.store.close()

    monkeypatch.setattr(AnnotatorApp, "run", run)
    result = invoke("annotate", "--db", str(path), "--annotator", "zoe")
    assert result.exit_code == 0, result.stderr
    assert f"1 annotation and 0 notes by zoe are saved in {path}\n" in result.stdout


def _mine(path: Path, who: str) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT count(*) FILTER (WHERE name != 'note'), count(*) FILTER (WHERE name = 'note') "
            "FROM annotations WHERE identifier = ? AND annotator_kind = 'HUMAN'",
            (who,),
        ).fetchone()
