"""`a` takes the value another source gave (an LLM judge's, another rater's) as the annotator's
own: one key, the first source the panel lists (judges first, then people), undoable, the
source recorded in `metadata.accepted_from`. Driven with real keys; asserted on SQLite rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.app.app import AnnotatorApp
from annotator.model import Annotation, AnnotatorKind, Source
from annotator.store import Store
from tests.app_data import CONFIG_YAML, build_db, config_set
from tests.screen_text import screen_text
from tests.test_app import SIZE, cursor, focused_name, go_to, press, rows


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def judge(span_id: str, name: str = "correctness", **value) -> Annotation:
    return Annotation(
        name=name,
        span_id=span_id,
        identifier="gpt-judge",
        annotator_kind=AnnotatorKind.LLM,
        source=Source.API,
        **value,
    )


def person(span_id: str, identifier: str, **value) -> Annotation:
    return Annotation(name="correctness", span_id=span_id, identifier=identifier, **value)


def add(db: Path, *annotations: Annotation) -> None:
    with Store.open(db) as store:
        for annotation in annotations:
            store.set_annotation(annotation)


MINE = (
    "SELECT span_id, name, label, score, explanation, metadata FROM annotations "
    "WHERE identifier = 'alice' ORDER BY id"
)


def mine(db: Path) -> list[tuple]:
    return [(*row[:5], json.loads(row[5]).get("accepted_from")) for row in rows(db, MINE)]


async def test_a_takes_the_judges_label_first_then_undo_removes_it(db: Path) -> None:
    # bob's value was written first; the judge is still the one listed first and taken.
    add(
        db,
        person("r3", "bob", label="incorrect", score=0),
        judge("r3", label="correct", score=0.93, explanation="as documented"),
    )
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        assert focused_name(app) == "correctness"
        text = screen_text(app)
        judge_line = text.index("LLM gpt-judge: correct 0.93")
        assert judge_line < text.index("bob: incorrect 0")  # the panel's order: judges first
        assert "a: accept LLM gpt-judge's value" in text
        await press(pilot, "a")
        # The config's score for the label (as a pick gives it), not the judge's 0.93; the
        # judge's explanation stays the judge's.
        judged = {"annotator_kind": "LLM", "identifier": "gpt-judge"}
        assert mine(db) == [("r3", "correctness", "correct", 1.0, None, judged)]
        assert focused_name(app) == "quality"  # auto_advance: on to what r3 still needs
        await press(pilot, "u")
        assert mine(db) == []


async def test_a_takes_another_raters_label_and_keeps_my_explanation(db: Path) -> None:
    add(db, person("r3", "bob", label="partial", score=0.5))
    add(db, person("r3", "alice", explanation="check the dates"))
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "a")
    bob = {"annotator_kind": "HUMAN", "identifier": "bob"}
    assert mine(db) == [("r3", "correctness", "partial", 0.5, "check the dates", bob)]


async def test_a_label_the_config_lacks_is_refused_and_nothing_is_written(db: Path) -> None:
    add(db, judge("r3", label="hallucinated", score=0))
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "a")
        assert (
            "✗ not accepted: LLM gpt-judge's label 'hallucinated' is not one of correctness's "
            "labels" in screen_text(app)
        )
        assert cursor(app).span_id == "r3"
    assert mine(db) == []


async def test_a_takes_a_score_within_the_bounds_exactly(db: Path) -> None:
    add(db, judge("r3", name="quality", score=7.5), judge("c1", name="quality", score=12))
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        await press(pilot, "tab")
        assert focused_name(app) == "quality"
        await press(pilot, "a")
        judged = {"annotator_kind": "LLM", "identifier": "gpt-judge"}
        assert mine(db) == [("r3", "quality", None, 7.5, None, judged)]
        await press(pilot, "right_square_bracket", "right_square_bracket")
        assert cursor(app).trace_id == "trace-chat-1"  # its row is its root LLM span, c1
        await press(pilot, "tab")
        assert focused_name(app) == "quality"
        await press(pilot, "a")
        assert "outside quality's bounds (0 to 10)" in screen_text(app)
    assert [row[0] for row in mine(db)] == ["r3"]


async def test_a_with_nothing_to_accept_says_so(db: Path) -> None:
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        assert "accept" not in screen_text(app).split("correctness", 1)[1].split("\n")[3]
        await press(pilot, "a")
        assert "No other value on correctness to accept." in screen_text(app)
    assert rows(db) == []


async def test_accept_is_remappable(db: Path) -> None:
    add(db, judge("r3", label="incorrect", score=0))
    app = AnnotatorApp(db, config_set(CONFIG_YAML + "\nkeys:\n  accept: y\n"), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await go_to(pilot, app, "r3")
        assert "y: accept LLM gpt-judge's value" in screen_text(app)
        await press(pilot, "a")
        assert mine(db) == []
        await press(pilot, "y")
    assert [row[2] for row in mine(db)] == ["incorrect"]
