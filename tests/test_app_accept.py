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


def mine(db: Path, span_id: str | None = None) -> list[tuple]:
    return [
        (*row[:5], json.loads(row[5]).get("accepted_from"))
        for row in rows(db, MINE)
        if span_id is None or row[0] == span_id
    ]


JUDGED = {"annotator_kind": "LLM", "identifier": "gpt-judge"}


async def test_accept_takes_judges_then_raters_values_within_the_configs_or_says_why_not(
    db: Path,
) -> None:
    """The cases one after another in one app run, each on its own span (each assertion names
    its case): r1 nothing to accept, r3 a judge and a rater (then a judge's score), a2 a label
    the config lacks, c1 a score out of bounds, c2 another rater's label."""
    # bob's value on r3 was written first; the judge is still the one listed first and taken.
    add(
        db,
        person("r3", "bob", label="incorrect", score=0),
        judge("r3", label="correct", score=0.93, explanation="as documented"),
        judge("r3", name="quality", score=7.5),
        judge("a2", label="hallucinated", score=0),
        judge("c1", name="quality", score=12),
        person("c2", "bob", label="partial", score=0.5),
        person("c2", "alice", explanation="check the dates"),
    )
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        case = "a with nothing to accept says so"
        assert cursor(app).trace_id == "trace-rag" and cursor(app).span_id is None, case  # r1
        assert focused_name(app) == "correctness", case
        assert "accept" not in screen_text(app).split("correctness", 1)[1].split("\n")[3], case
        await press(pilot, "a")
        assert "No other value on correctness to accept." in screen_text(app), case
        assert mine(db, "r1") == [], case

        case = "a takes the judge's label first, then undo removes it"
        await go_to(pilot, app, "r3")
        assert focused_name(app) == "correctness", case
        text = screen_text(app)
        judge_line = text.index("LLM gpt-judge: correct 0.93")
        assert judge_line < text.index("bob: incorrect 0"), case  # judges first
        assert "a: accept LLM gpt-judge's value" in text, case
        await press(pilot, "a")
        # The config's score for the label (as a pick gives it), not the judge's 0.93; the
        # judge's explanation stays the judge's.
        assert mine(db, "r3") == [("r3", "correctness", "correct", 1.0, None, JUDGED)], case
        assert focused_name(app) == "quality", case  # auto_advance: on to what r3 still needs
        await press(pilot, "u")
        assert mine(db, "r3") == [], case

        case = "a takes a score within the bounds exactly"
        assert cursor(app).span_id == "r3", case
        assert focused_name(app) == "correctness", case  # undo went back to the change
        await press(pilot, "tab")
        assert focused_name(app) == "quality", case
        await press(pilot, "a")
        assert mine(db, "r3") == [("r3", "quality", None, 7.5, None, JUDGED)], case

        case = "a label the config lacks is refused and nothing is written"
        await press(pilot, "right_square_bracket", "j")  # the agent trace's LLM span a2
        assert cursor(app).span_id == "a2", case
        assert focused_name(app) == "correctness", case
        await press(pilot, "a")
        assert (
            "✗ not accepted: LLM gpt-judge's label 'hallucinated' is not one of correctness's "
            "labels" in screen_text(app)
        ), case
        assert cursor(app).span_id == "a2", case
        assert mine(db, "a2") == [], case

        case = "a score outside the bounds is refused"
        await press(pilot, "right_square_bracket")
        assert cursor(app).trace_id == "trace-chat-1", case  # its row is its root LLM span, c1
        await press(pilot, "tab")
        assert focused_name(app) == "quality", case
        await press(pilot, "a")
        assert "outside quality's bounds (0 to 10)" in screen_text(app), case
        assert mine(db, "c1") == [], case

        case = "a takes another rater's label and keeps my explanation"
        await press(pilot, "right_square_bracket")
        assert cursor(app).trace_id == "trace-chat-2", case
        assert focused_name(app) == "correctness", case
        await press(pilot, "a")
        bob = {"annotator_kind": "HUMAN", "identifier": "bob"}
        assert mine(db, "c2") == [("c2", "correctness", "partial", 0.5, "check the dates", bob)], (
            case
        )
    assert sorted(row[:2] for row in mine(db)) == [("c2", "correctness"), ("r3", "quality")]


async def test_accept_is_remappable(db: Path) -> None:
    add(db, judge("r1", label="incorrect", score=0))
    app = AnnotatorApp(db, config_set(CONFIG_YAML + "\nkeys:\n  accept: y\n"), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert cursor(app).span_id is None and cursor(app).trace_id == "trace-rag"  # r1's row
        assert "y: accept LLM gpt-judge's value" in screen_text(app)
        await press(pilot, "a")
        assert mine(db) == []
        await press(pilot, "y")
    assert [row[2] for row in mine(db)] == ["incorrect"]
