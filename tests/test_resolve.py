"""`annotator resolve`: majority and unanimous decide only what they decide (ties and too few
votes are listed, never guessed), a reviewer's decision is never changed, every write is logged
and a second run changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.cli.main import cli
from annotator.model import Annotation
from annotator.store import FINAL, AnnotationKey, Store
from annotator.team.resolve import resolve
from tests.app_data import CONFIG_YAML, build_db, config_set
from tests.properties import examples

SPANS = ["r3", "a2", "c1", "c2"]
RATERS = ["alice", "bob", "carol", "dave"]
LABELS = ["correct", "incorrect", "partial"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = build_db(tmp_path_factory.mktemp("resolve") / "t.db")
    with Store.open(path) as store:
        store.save_config_document(config_set(CONFIG_YAML).to_document())
    return path


def _label(span: str, who: str, label: str, kind: str = "HUMAN") -> Annotation:
    return Annotation(
        name="correctness", span_id=span, label=label, identifier=who, annotator_kind=kind
    )


def _key(span: str) -> AnnotationKey:
    return AnnotationKey("span", span, None, "correctness", FINAL)


def _finals(path: Path) -> dict[str, tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT span_id, label, score, json_extract(metadata, '$.decided_by') "
            "FROM annotations WHERE identifier = 'final' ORDER BY span_id"
        ).fetchall()
    finally:
        conn.close()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_majority_decides_lists_the_rest_and_keeps_reviewer_decisions(
    template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    shutil.copy(template, db)
    with Store.open(db) as store:
        for who, label in (("alice", "correct"), ("bob", "correct"), ("carol", "incorrect")):
            store.set_annotation(_label("r3", who, label))  # 2-1: decided
        for who, label in (("alice", "correct"), ("bob", "incorrect")):
            store.set_annotation(_label("a2", who, label))  # 1-1: a tie
        store.set_annotation(_label("c1", "alice", "partial"))  # one vote: too few
        store.set_annotation(_label("c1", "judge", "correct", kind="LLM"))  # not a vote
        for who in ("alice", "bob"):
            store.set_annotation(_label("c2", who, "incorrect"))  # 2-0, but a reviewer decided
        store.set_final(
            Annotation(name="correctness", span_id="c2", label="correct", score=1),
            reviewer="lead",
        )
    result = CliRunner().invoke(
        cli, ["resolve", "--db", str(db), "--strategy", "majority"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "resolve --strategy majority (at least 2 votes): 4 items with votes; decided 1 "
        "(1 new, 0 changed, 0 unchanged)",
        "  correctness: correct 1",
        "reviewer decisions kept: 1",
        "needs review: 2 (no majority 1, too few votes 1)",
        "  span a2 · correctness · no majority: alice=correct, bob=incorrect",
        "  span c1 · correctness · too few votes: alice=partial",
    ]
    assert _finals(db) == {"c2": ("correct", 1.0, "reviewer"), "r3": ("correct", 1.0, "majority")}
    with Store.open(db, readonly=True) as store:
        final = store.final_value(_key("r3"))
        assert final is not None and final.metadata == {
            "decided_by": "majority",
            "votes": {"alice": "correct", "bob": "correct", "carol": "incorrect"},
        }
    # again: nothing changes; unanimous withdraws the 2-1 decision it does not make
    again = CliRunner().invoke(
        cli, ["resolve", "--db", str(db), "--strategy", "majority", "--json"]
    )
    report = json.loads(again.output)
    assert (report["new"], report["changed"], report["unchanged"]) == (0, 0, 1)
    strict = CliRunner().invoke(
        cli, ["resolve", "--db", str(db), "--strategy", "unanimous", "--json"]
    )
    report = json.loads(strict.output)
    assert report["withdrawn"] == 1
    assert report["needs_review_by_reason"] == {"not unanimous": 2, "too few votes": 1}
    assert _finals(db) == {"c2": ("correct", 1.0, "reviewer")}
    conn = sqlite3.connect(db)
    log = conn.execute(
        "SELECT actor, action FROM annotation_log WHERE identifier = 'final' ORDER BY seq"
    ).fetchall()
    conn.close()
    assert log == [
        ("lead", "set"),
        ("resolve:majority", "set"),
        ("resolve:unanimous", "delete"),
    ]


def test_reviewer_strategy_takes_the_reviewers_values(template: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    shutil.copy(template, db)
    with Store.open(db) as store:
        store.set_annotation(_label("r3", "alice", "correct"))
        store.set_annotation(_label("r3", "lead", "partial"))
        store.set_annotation(_label("a2", "alice", "correct"))
        result = resolve(store, "reviewer", reviewer="lead")
    assert (result.decided, [n.reason for n in result.needs_review]) == (1, ["no reviewer value"])
    assert _finals(db) == {"r3": ("partial", 0.5, "reviewer")}
    missing = CliRunner().invoke(cli, ["resolve", "--db", str(db), "--strategy", "reviewer"])
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (
        "--strategy reviewer needs --reviewer NAME (whose values decide)"
    )


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    votes=st.dictionaries(
        st.sampled_from(SPANS),
        st.dictionaries(st.sampled_from(RATERS), st.sampled_from(LABELS), max_size=4),
    ),
    reviewed=st.dictionaries(st.sampled_from(SPANS), st.sampled_from(LABELS), max_size=2),
    strategy=st.sampled_from(["majority", "unanimous"]),
    min_votes=st.integers(1, 3),
)
def test_property_ties_are_never_decided_and_reviewers_never_overridden(
    template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    votes: dict[str, dict[str, str]],
    reviewed: dict[str, str],
    strategy: str,
    min_votes: int,
) -> None:
    db = tmp_path_factory.mktemp("p") / "t.db"
    shutil.copy(template, db)
    with Store.open(db) as store:
        for span, by in votes.items():
            for who, label in by.items():
                store.set_annotation(_label(span, who, label))
        for span, label in reviewed.items():
            store.set_final(
                Annotation(name="correctness", span_id=span, label=label), reviewer="lead"
            )
        resolve(store, strategy, min_votes=min_votes)
        resolve(store, strategy, min_votes=min_votes)  # twice: the same
    finals = _finals(db)
    for span in SPANS:
        by = votes.get(span, {})
        if span in reviewed:
            assert finals[span][0] == reviewed[span] and finals[span][2] == "reviewer"
            continue
        counts = Counter(by.values()).most_common()
        decides = (
            len(by) >= min_votes
            and bool(counts)
            and 2 * counts[0][1] > len(by)
            and (strategy == "majority" or len(counts) == 1)
        )
        if decides:
            assert finals[span][:1] == (counts[0][0],) and finals[span][2] == strategy
        else:
            assert span not in finals


def test_dataset_selects_on_final_values_and_any_rater_on_every_person(
    template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    shutil.copy(template, db)
    with Store.open(db) as store:
        for who, label in (("alice", "correct"), ("bob", "correct"), ("carol", "incorrect")):
            store.set_annotation(_label("r3", who, label))
        for who in ("alice", "bob"):
            store.set_annotation(_label("a2", who, "incorrect"))
    out = tmp_path / "bad.jsonl"

    def spans(*extra: str) -> list[str]:
        result = CliRunner().invoke(
            cli,
            ["dataset", "--db", str(db), "--out", str(out),
             "--label", "correctness=incorrect", *extra],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return [json.loads(line)["span_id"] for line in out.read_text().splitlines()]

    # no final values yet: any rater's label, and a warning says so
    before = CliRunner().invoke(
        cli, ["dataset", "--db", str(db), "--out", str(out), "--label", "correctness=incorrect"]
    )
    assert "no final values of 'correctness' yet: matched on any rater's annotation" in (
        before.stderr
    )
    assert spans() == ["r3", "a2"]
    CliRunner().invoke(cli, ["resolve", "--db", str(db), "--strategy", "majority"])
    assert spans() == ["a2"]  # r3's final value is "correct" (2-1)
    assert spans("--any-rater") == ["r3", "a2"]
    assert spans("--agreed") == ["a2"]
    example = json.loads(out.read_text().splitlines()[0])
    assert example["metadata"]["votes"] == {
        "correctness": {"final": "incorrect", "raters": {"alice": "incorrect", "bob": "incorrect"}}
    }
