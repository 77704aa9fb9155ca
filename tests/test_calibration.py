"""Calibration of a judge against final values: worked examples checked against published
values, and `stats` (JSON and tables) on a small database with exact figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.model import Annotation
from annotator.store import Assignment, Store
from annotator.team.calibration import best_threshold, label_report, roc_auc, score_report
from annotator.team.stats import compute_stats
from tests.app_data import CONFIG_YAML, build_db, config_set


def test_precision_recall_f1_as_scikit_learns_documented_example() -> None:
    """scikit-learn's precision_recall_fscore_support example: y_true = [cat, dog, pig, cat,
    dog, pig], y_pred = [cat, pig, dog, cat, cat, dog], average=None gives precision
    [0.667, 0, 0], recall [1, 0, 0], F1 [0.8, 0, 0], support [2, 2, 2] (cat, dog, pig)."""
    y_true = ["cat", "dog", "pig", "cat", "dog", "pig"]
    y_pred = ["cat", "pig", "dog", "cat", "cat", "dog"]
    report = label_report(list(zip(y_true, y_pred, strict=True)))
    assert [
        (r["label"], round(r["precision"], 6), r["recall"], r["f1"], r["support"])
        for r in report["per_label"]
    ] == [("cat", 0.666667, 1.0, 0.8, 2), ("dog", 0.0, 0.0, 0.0, 2), ("pig", 0.0, 0.0, 0.0, 2)]
    assert report["accuracy"] == pytest.approx(2 / 6)
    # by hand: p_o = 2/6, p_e = 3/6 * 2/6 + 2/6 * 2/6 + 1/6 * 2/6 = 1/3: kappa 0
    assert report["cohen_kappa"] == 0.0
    assert report["confusion"] == {
        "labels": ["cat", "dog", "pig"],
        "counts": [[2, 0, 0], [1, 0, 1], [0, 2, 0]],
    }


def test_roc_auc_as_scikit_learns_documented_example() -> None:
    """roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75 in scikit-learn's docs."""
    assert roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    # ties count one half: by hand, 1 pair of 1 tied
    assert roc_auc([0.5, 0.5], [False, True]) == 0.5
    assert roc_auc([0.1, 0.2], [True, True]) is None
    # score >= 0.35 gets 3 of 4 right (0.4 is the one wrong); >= 0.1: 2; >= 0.8: 3, higher t
    assert best_threshold([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == (0.35, 0.75)
    report = score_report([("incorrect", 0.1), ("incorrect", 0.4), ("correct", 0.35),
                           ("correct", 0.8)], "correct")  # fmt: skip
    assert report == {
        "n": 4,
        "positive_label": "correct",
        "roc_auc": 0.75,
        "threshold": 0.35,
        "threshold_accuracy": 0.75,
    }


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = build_db(tmp_path / "t.db")
    with Store.open(path) as store:
        store.save_config_document(config_set(CONFIG_YAML).to_document())
        gold = {"r3": "correct", "a2": "incorrect", "c1": "correct", "c2": "incorrect"}
        judge = {
            "r3": ("correct", 0.9),
            "a2": ("correct", 0.6),
            "c1": ("correct", 0.7),
            "c2": ("incorrect", 0.2),
        }
        for span, label in gold.items():
            store.set_annotation(
                Annotation(name="correctness", span_id=span, label=label, identifier="alice")
            )
            store.set_final(
                Annotation(name="correctness", span_id=span, label=label), reviewer="lead"
            )
            judge_label, judge_score = judge[span]
            store.set_annotation(
                Annotation(
                    name="correctness",
                    span_id=span,
                    label=judge_label,
                    score=judge_score,
                    identifier="gpt",
                    annotator_kind="LLM",
                )
            )
        store.add_assignments(
            [
                Assignment("alice", "span", "r3", "trace-rag", "c"),
                Assignment("alice", "span", "a2", "trace-agent", "c"),
                Assignment("bob", "span", "c1", "trace-chat-1", "c"),
            ]
        )
        store.skip("c1", "bob")
    return path


def test_stats_calibrates_each_judge_against_the_final_values(db: Path) -> None:
    with Store.open(db, readonly=True) as store:
        report = compute_stats(store)
    config = next(c for c in report["configs"] if c["name"] == "correctness")
    # the final values are not a rater
    assert [r["rater"] for r in config["progress"]["by_rater"]] == ["alice", "LLM gpt"]
    assert config["agreement"]["raters"] == ["alice"]
    assert config["final"] == {"items": 4, "values": {"correct": 2, "incorrect": 2}}
    (calibration,) = config["calibration"]
    assert calibration["rater"] == "LLM gpt"
    labels = calibration["labels"]
    # judge: correct, correct, correct, incorrect vs final correct, incorrect, correct, incorrect
    assert labels["accuracy"] == 0.75
    assert labels["cohen_kappa"] == 0.5  # p_o 3/4, p_e 1/2 * 3/4 + 1/2 * 1/4 = 1/2
    assert [(r["label"], r["precision"], r["recall"], r["f1"]) for r in labels["per_label"]] == [
        ("correct", 2 / 3, 1.0, 0.8),
        ("incorrect", 1.0, 0.5, 2 / 3),
    ]
    assert labels["confusion"] == {"labels": ["correct", "incorrect"], "counts": [[2, 0], [1, 1]]}
    # scores 0.9, 0.7 (correct) vs 0.6, 0.2 (incorrect): every positive above every negative
    assert calibration["scores"] == {
        "n": 4,
        "positive_label": "correct",
        "roc_auc": 1.0,
        "threshold": 0.7,
        "threshold_accuracy": 1.0,
    }
    # progress against the assignment, the queue's count: alice labelled correctness but not
    # quality (also required on LLM spans), so neither span is done; bob skipped his
    assert report["assignments"] == [
        {"annotator": "alice", "items": 2, "spans": 2, "spans_done": 0, "skipped": 0,
         "flagged": 0},
        {"annotator": "bob", "items": 1, "spans": 1, "spans_done": 1, "skipped": 1,
         "flagged": 0},
    ]  # fmt: skip


def test_stats_tables_show_calibration_and_assignments(db: Path) -> None:
    result = CliRunner().invoke(cli, ["stats", "--db", str(db)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Final values: 4 items (correct 2, incorrect 2)" in result.output
    assert "Calibration of LLM gpt against the final values" in result.output
    assert "  4 items: accuracy 75.0%   Cohen's κ 0.500" in result.output
    assert (
        "  score vs final label (4 items, positive: correct): ROC-AUC 1.000   best threshold "
        "score >= 0.7 agrees on 100.0%"
    ) in result.output
    assert "Assignments (assigned done / total)" in result.output
    data = orjson.loads(CliRunner().invoke(cli, ["stats", "--db", str(db), "--json"]).output)
    assert data["configs"][0]["calibration"][0]["scores"]["roc_auc"] == 1.0


def test_an_older_database_read_only_has_no_assignments(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    with Store.open(copy, readonly=True) as store:
        assert compute_stats(store.connection)["assignments"] == []
