"""Review mode (`annotator annotate --review`): the reviewer walks the items raters disagree on and
one key records the final value. Driven with real keys; asserted on SQLite rows read through a
separate connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotator.app.review import ReviewApp
from annotator.cli.main import cli
from annotator.model import Annotation, AnnotatorKind, Source
from annotator.store import Store
from tests.app_data import build_db, config_set
from tests.screen_text import screen_text
from tests.test_app import rows

VOTES = (
    "SELECT target, span_id, trace_id, name, label, score, identifier, metadata FROM annotations "
    "WHERE identifier != 'final' ORDER BY id"
)
FINALS = (
    "SELECT target, coalesce(span_id, trace_id), name, label, score, annotator_kind, metadata "
    "FROM annotations WHERE identifier = 'final' ORDER BY target, span_id, trace_id, name"
)


def vote(identifier: str, span_id: str | None = None, name: str = "correctness", **value):
    target = {"target": "trace", "trace_id": "trace-rag"} if span_id is None else {}
    return Annotation(name=name, span_id=span_id, identifier=identifier, **target, **value)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = build_db(tmp_path / "team.db")
    with Store.open(path) as store:
        store.save_config_document(config_set().to_document())
        for annotation in (
            vote("alice", "r1", label="correct", score=1),  # a tie: no majority
            vote("bob", "r1", label="partial", score=0.5),
            vote("alice", "r3", label="correct", score=1),  # 2-1 for correct
            vote("bob", "r3", label="incorrect", score=0),
            vote("carol", "r3", label="correct", score=1),
            vote("alice", None, "task_success", label="success", score=1),  # the trace: a tie
            vote("bob", None, "task_success", label="failure", score=0),
            vote("alice", "a2", label="correct", score=1),  # one vote: only with --per-item 2
            Annotation(  # a judge is not a rater: its label never counts
                name="correctness",
                span_id="r1",
                identifier="gpt-judge",
                annotator_kind=AnnotatorKind.LLM,
                source=Source.API,
                label="incorrect",
            ),
        ):
            store.set_annotation(annotation)
        store.flag("r3", "bob", "the answer cites the wrong policy")
    return path


def finals(db: Path) -> list[tuple]:
    result = []
    for *row, metadata in rows(db, FINALS):
        meta = json.loads(metadata)
        result.append((*row, meta["decided_by"], meta.get("reviewer"), meta["votes"]))
    return result


def review_app(db: Path, **kwargs) -> ReviewApp:
    return ReviewApp(db, config_set(), "lead", **kwargs)


async def test_keys_record_finals_and_votes_stay_as_they_were(db: Path) -> None:
    before = rows(db, VOTES)
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        assert [(i.target_id, i.name) for i in app.items] == [
            ("r1", "correctness"),
            ("r3", "correctness"),
            ("trace-rag", "task_success"),
        ]
        assert "0 of 3 decided" in screen_text(app)
        await pilot.press("3")  # r1: partial (a value key of the config)
        await pilot.press("a")  # r3: the majority, correct
        await pilot.press("2")  # the trace: failure
        await pilot.pause()
        assert "3 of 3 decided" in screen_text(app)
    assert finals(db) == [
        ("span", "r1", "correctness", "partial", 0.5, "HUMAN", "reviewer", "lead",
         {"alice": "correct", "bob": "partial"}),
        ("span", "r3", "correctness", "correct", 1.0, "HUMAN", "reviewer", "lead",
         {"alice": "correct", "bob": "incorrect", "carol": "correct"}),
        ("trace", "trace-rag", "task_success", "failure", 0.0, "HUMAN", "reviewer", "lead",
         {"alice": "success", "bob": "failure"}),
    ]  # fmt: skip
    assert rows(db, VOTES) == before  # nothing a rater voted is modified


async def test_undo_takes_the_final_back_and_a_decided_item_can_be_changed(db: Path) -> None:
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "a")  # r1 correct, r3 correct
        await pilot.press("u")  # takes r3's final back, shows r3
        await pilot.pause()
        assert app.index == 1
        assert [row[:4] for row in rows(db, FINALS)] == [("span", "r1", "correctness", "correct")]
        await pilot.press("k", "2")  # revisit r1: now incorrect
        await pilot.pause()
        assert "1 of 3 decided" in screen_text(app)
    assert [row[:5] for row in rows(db, FINALS)] == [
        ("span", "r1", "correctness", "incorrect", 0.0)
    ]


async def test_a_on_a_tie_decides_nothing_and_x_clears_a_final(db: Path) -> None:
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert "no majority" in screen_text(app)
        assert rows(db, FINALS) == []
        await pilot.press("1", "k", "x")
        await pilot.pause()
        assert "final cleared" in screen_text(app)
    assert rows(db, FINALS) == []


async def test_finals_empty_the_disagreement_queue(db: Path) -> None:
    from annotator.store import QueueFilter, QueueState

    configs = config_set().annotations
    disagree = QueueFilter(state=QueueState.DISAGREE)
    with Store.open(db, readonly=True) as store:
        assert store.trace_ids(disagree, configs, "lead") == ["trace-rag"]
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "a", "1")
        await pilot.pause()
    with Store.open(db, readonly=True) as store:
        assert store.trace_ids(disagree, configs, "lead") == []


async def test_per_item_adds_items_with_too_few_answers(db: Path) -> None:
    app = review_app(db, per_item=2)
    async with app.run_test(size=(120, 40)) as pilot:
        assert [(i.target_id, i.reason) for i in app.items] == [
            ("r1", "disagree"),
            ("r3", "disagree"),
            ("trace-rag", "disagree"),
            ("a2", "few votes"),
        ]
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert "too few answers" in screen_text(app)


async def test_flags_majority_and_votes_are_shown(db: Path) -> None:
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        await pilot.pause()
        text = screen_text(app)
    assert "bob: the answer cites the wrong policy" in text
    assert "Majority  correct" in text
    assert "carol" in text and "review mode" in text and "item 2 of 3" in text


async def test_hostile_names_and_labels_stay_literal(tmp_path: Path) -> None:
    db = build_db(tmp_path / "hostile.db")
    hostile = "[bold red]eve[/]\x1b[31m\u202e"
    with Store.open(db) as store:
        store.save_config_document(config_set().to_document())
        store.set_annotation(vote(hostile, "r3", label="[link=x]bad[/link]"))
        store.set_annotation(vote("bob", "r3", label="correct"))
    app = review_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
    assert "[bold red]eve[/]" in text
    assert "[link=x]bad[/link]" in text
    assert "\x1b" not in text and "\u202e" not in text


async def test_no_disagreements_says_so_and_opens(tmp_path: Path) -> None:
    db = build_db(tmp_path / "calm.db")
    with Store.open(db) as store:
        store.save_config_document(config_set().to_document())
        store.set_annotation(vote("alice", "r3", label="correct"))
        store.set_annotation(vote("bob", "r3", label="correct"))
    app = review_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "No disagreements to review" in text
        assert "no disagreements" in text
        await pilot.press("1", "a", "u", "x", "j")  # nothing to decide: nothing happens
        await pilot.pause()
    assert rows(db, FINALS) == []


def test_per_item_without_review_is_one_line_and_exit_2(db: Path) -> None:
    result = CliRunner().invoke(cli, ["annotate", "--db", str(db), "--per-item", "2"])
    assert result.exit_code == 2
    assert "--per-item is for review mode: add --review" in result.output


def test_review_with_trace_files_is_refused(db: Path, tmp_path: Path) -> None:
    other = tmp_path / "x.jsonl"
    other.write_text("")
    result = CliRunner().invoke(cli, ["annotate", str(other), "--db", str(db), "--review"])
    assert result.exit_code == 2
    assert "--review walks the database's own items" in result.output


async def test_undo_stops_at_the_reviews_own_decisions(db: Path) -> None:
    # lead also voted as a rater here before reviewing: review mode's u never takes that back
    with Store.open(db) as store:
        store.set_annotation(vote("lead", "r1", label="correct", score=1))
    before = rows(db, VOTES)
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1", "u", "u")
        await pilot.pause()
        assert "nothing to undo in this review" in screen_text(app)
    assert rows(db, FINALS) == []
    assert rows(db, VOTES) == before


def test_review_of_a_database_without_configs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = build_db(tmp_path / "bare.db")
    result = CliRunner().invoke(cli, ["annotate", "--db", str(db), "--review"])
    assert result.exit_code == 2
    assert "no configs stored; review mode decides with the configs' keys" in result.output


def test_review_of_a_missing_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["annotate", "--db", str(tmp_path / "no.db"), "--review"])
    assert result.exit_code == 2
    assert "no such database here; review mode opens a merged database" in result.output
    assert not (tmp_path / "no.db").exists()


async def test_e_types_a_final_score_for_a_continuous_config(tmp_path: Path) -> None:
    db = build_db(tmp_path / "scores.db")
    with Store.open(db) as store:
        store.save_config_document(config_set().to_document())
        store.set_annotation(vote("alice", "r3", "quality", score=3))
        store.set_annotation(vote("bob", "r3", "quality", score=7))
    app = review_app(db)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e", "1", "1", "ctrl+s")  # 11 is above the config's bound of 10
        await pilot.pause()
        assert "11 is outside 0..10" in screen_text(app)
        await pilot.press("e", "ctrl+a", "delete", "4", ".", "5", "ctrl+s")
        await pilot.pause()
        assert "1 of 1 decided" in screen_text(app)
    assert [row[:5] for row in rows(db, FINALS)] == [("span", "r3", "quality", None, 4.5)]
