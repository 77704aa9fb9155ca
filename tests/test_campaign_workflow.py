"""A campaign end to end on the bundled samples: assign to three annotators → each annotates
their batch in the app (real keys) → merge → resolve → dataset → stats --json, with exact
numbers. Between merge and resolve the lead reviews in the app (review mode, real keys): the
two 1-1 ties get final values, which no strategy of resolve overrides."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
from click.testing import CliRunner

from annotator.app.app import AnnotatorApp
from annotator.app.review import ReviewApp
from annotator.cli.main import cli
from annotator.config import parse_config
from annotator.resources import sample_trace_files
from annotator.store import QueueFilter, QueueState, Store
from tests.app_data import settled

CONFIG = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
    span_kinds: [LLM]
    auto_advance: true
"""
# Each annotator's keys, one per assigned item in queue order: 1 correct, 2 incorrect.
KEYS = {"alice": "1111", "bob": "1212", "carol": "2222"}


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_assign_annotate_merge_resolve_dataset_stats(tmp_path: Path) -> None:
    team = tmp_path / "team.db"
    run("import", *map(str, sample_trace_files()), "--db", str(team), "-q")
    configs = parse_config(CONFIG)
    with Store.open(team) as store:
        store.save_config_document(configs.to_document())
    out = tmp_path / "batches"
    report = json.loads(
        run(
            "assign",
            "--db",
            str(team),
            "--annotators",
            "alice,bob,carol",
            "--per-item",
            "2",
            "--sample",
            "6",
            "--seed",
            "11",
            "--out",
            str(out),
            "--json",
        )
    )
    assert [(b["annotator"], b["items"]) for b in report["batches"]] == [
        ("alice", 4),
        ("bob", 4),
        ("carol", 4),
    ]

    for name, keys in KEYS.items():
        batch = out / f"{name}.db"
        with Store.open(batch, readonly=True) as store:
            assigned = {a.item_id for a in store.assignments(name)}
        app = AnnotatorApp(batch, configs, name, queue=QueueFilter(state=QueueState.TODO))
        async with app.run_test(size=(150, 40)) as pilot:
            await pilot.pause()
            # the to-do queue opens on the first assigned span
            for key in keys:
                await pilot.press(key)  # auto-advance moves on to the next assigned span
                await settled(pilot, app)
        labelled = _rows(
            batch,
            f"SELECT span_id, label FROM annotations WHERE identifier = '{name}' ORDER BY id",
        )
        # exactly the assigned spans, nothing else (the queue is the assignment)
        assert {span for span, _ in labelled} == assigned
        assert [label for _, label in labelled] == [
            "correct" if k == "1" else "incorrect" for k in keys
        ]
        with Store.open(batch, readonly=True) as store:
            assert store.queue_progress(QueueFilter(), configs.annotations, name) == (4, 4)

    merged = run("merge", *(str(out / f"{n}.db") for n in KEYS), "--into", str(team))
    assert "Campaign: 12 assignments and 0 skips or flags added or updated." in merged

    # Review in the app: the two ties (alice correct, carol incorrect), in trace order.
    reviewed = ReviewApp(team, configs, "lead")
    async with reviewed.run_test(size=(120, 40)) as pilot:
        assert [i.target_id for i in reviewed.items] == ["160be113b0f2f1e5", "b601197ef5558fc8"]
        assert [i.majority() for i in reviewed.items] == [None, None]
        await pilot.press("2", "1")  # incorrect, then correct
        await pilot.pause()
    finals_sql = (
        "SELECT span_id, label, score, json_extract(metadata, '$.decided_by'), "
        "json_extract(metadata, '$.reviewer') FROM annotations WHERE identifier = 'final' "
        "ORDER BY span_id"
    )
    reviewer_finals = [
        ("160be113b0f2f1e5", "incorrect", 0.0, "reviewer", "lead"),
        ("b601197ef5558fc8", "correct", 1.0, "reviewer", "lead"),
    ]
    assert _rows(team, finals_sql) == reviewer_finals

    # No strategy of resolve overrides the reviewer (dry runs: the real run follows).
    for strategy in (("unanimous",), ("reviewer", "--reviewer", "alice")):
        dry = json.loads(
            run("resolve", "--db", str(team), "--strategy", *strategy, "--dry-run", "--json")
        )
        assert dry["reviewer_kept"] == 2
        assert _rows(team, finals_sql) == reviewer_finals
    resolved = json.loads(run("resolve", "--db", str(team), "--strategy", "majority", "--json"))
    assert resolved["reviewer_kept"] == 2
    assert [row[:2] + row[3:4] for row in _rows(team, finals_sql)] == [
        ("160be113b0f2f1e5", "incorrect", "reviewer"),
        ("1990469fc54c92a1", "incorrect", "majority"),
        ("85b86a9e096823a9", "correct", "majority"),
        ("9f8573c9f25dc993", "correct", "majority"),
        ("b601197ef5558fc8", "correct", "reviewer"),
        ("d99528183bf7bdc5", "incorrect", "majority"),
    ]
    votes = {
        span: dict(_rows(team, f"SELECT identifier, label FROM annotations WHERE span_id = "
                               f"'{span}' AND annotator_kind = 'HUMAN' AND identifier != 'final'"))
        for (span,) in _rows(team, "SELECT DISTINCT item_id FROM assignments")
    }  # fmt: skip
    # alice and carol (correct vs incorrect) share two items: ties; every other pair agrees
    assert votes == {
        "160be113b0f2f1e5": {"alice": "correct", "carol": "incorrect"},
        "1990469fc54c92a1": {"bob": "incorrect", "carol": "incorrect"},
        "85b86a9e096823a9": {"alice": "correct", "bob": "correct"},
        "9f8573c9f25dc993": {"alice": "correct", "bob": "correct"},
        "b601197ef5558fc8": {"alice": "correct", "carol": "incorrect"},
        "d99528183bf7bdc5": {"bob": "incorrect", "carol": "incorrect"},
    }
    assert (resolved["items"], resolved["decided"], resolved["needs_review_count"]) == (6, 4, 0)
    assert resolved["decided_by_value"] == {"correctness": {"correct": 2, "incorrect": 2}}
    assert resolved["needs_review_by_reason"] == {}

    dataset = tmp_path / "bad.jsonl"
    run("dataset", "--db", str(team), "--out", str(dataset), "--label", "correctness=incorrect")
    examples = [orjson.loads(line) for line in dataset.read_text().splitlines()]
    assert {e["span_id"] for e in examples} == {
        "160be113b0f2f1e5",  # the reviewer's decision
        "1990469fc54c92a1",
        "d99528183bf7bdc5",
    }
    for example in examples:
        assert example["metadata"]["votes"]["correctness"] == {
            "final": "incorrect",
            "raters": votes[example["span_id"]],
        }

    stats = json.loads(run("stats", "--db", str(team), "--json"))
    assert stats["assignments"] == [
        {"annotator": n, "items": 4, "spans": 4, "spans_done": 4, "skipped": 0, "flagged": 0}
        for n in ("alice", "bob", "carol")
    ]
    (correctness,) = stats["configs"]
    assert correctness["final"] == {"items": 6, "values": {"correct": 3, "incorrect": 3}}
    assert correctness["agreement"]["raters"] == ["alice", "bob", "carol"]
    assert correctness["agreement"]["n"] == 6
