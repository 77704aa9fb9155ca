"""The QA lead's workflow end to end on the bundled samples, through the CLI and the app:
three annotators' files → merge → LLM judge results imported → stats (agreement, calibration)
→ adjudication in the app → curated dataset → Phoenix export."""

from __future__ import annotations

import collections
import json
import re
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annotator.app.app import AnnotatorApp
from annotator.cli.main import cli
from annotator.config import bundled_config_path, load_config
from annotator.model import Annotation
from annotator.resources import sample_trace_files
from annotator.store import QueueFilter, Store


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


async def test_lead_workflow(tmp_path: Path) -> None:
    samples = [str(p) for p in sample_trace_files()]
    config = str(bundled_config_path("default"))
    files = {name: tmp_path / f"{name}.db" for name in ("alice", "bob", "carol")}
    assert "Imported" in run("import", *samples, "--db", str(files["alice"]))
    for name in ("bob", "carol"):  # the same import, the same database: a copy of alice's
        shutil.copyfile(files["alice"], files[name])

    # alice annotates in the app: the first LLM spans, correct/incorrect alternating.
    config_set = load_config(config)
    app = AnnotatorApp(
        files["alice"], config_set, "alice", queue=QueueFilter(span_kinds=frozenset({"LLM"}))
    )
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.pause()
        for i in range(6):
            await pilot.press("1" if i % 2 == 0 else "2")  # correctness (auto-advance moves on)
            await pilot.pause()
            await pilot.press("right", "full_stop")  # quality, then on to the next LLM span
            await pilot.pause()
    with sqlite3.connect(files["alice"]) as conn:
        alice = conn.execute(
            "SELECT span_id, label FROM annotations WHERE name = 'correctness' ORDER BY id"
        ).fetchall()
    # six presses, six LLM spans in queue order, labels alternating as pressed
    assert alice == [
        ("543bcd04365e52e7", "correct"),
        ("101a254a3551084a", "incorrect"),
        ("541aa45dae1e1d03", "correct"),
        ("5ef397cd0599054f", "incorrect"),
        ("e57b83095cdf6fad", "correct"),
        ("de455ee44fb0f8bf", "incorrect"),
    ]
    # bob and carol label the same spans (bob always "correct", carol agrees with alice).
    for name, labels in (
        ("bob", ["correct"] * len(alice)),
        ("carol", [label for _, label in alice]),
    ):
        with Store.open(files[name]) as store:
            for (span_id, _), label in zip(alice, labels, strict=True):
                store.set_annotation(
                    Annotation(name="correctness", span_id=span_id, label=label, identifier=name)
                )

    team = tmp_path / "team.db"
    out = run("merge", *map(str, files.values()), "--into", str(team))
    first, *rest = out.splitlines()
    assert re.fullmatch(rf"Merged 3 files into {re.escape(str(team))} in \d+\.\d\ds", first)
    assert rest == [
        f"  {files['alice']}  301 spans, 12 annotations, 0 configs",
        f"  {files['bob']}    301 spans, 6 annotations, 0 configs",
        f"  {files['carol']}  301 spans, 6 annotations, 0 configs",
        "Spans: 301 new, 602 already present; 39 traces summarised.",
        "Annotations: 24 new, 0 updated, 0 unchanged; 0 conflicts.",
    ]  # alice's 6 correctness + 6 quality; different annotators never conflict

    # An LLM judge's results, as an evaluation table.
    evals = tmp_path / "judge.jsonl"
    evals.write_bytes(
        b"".join(
            orjson.dumps({"span_id": s, "label": "correct", "score": 1}) + b"\n" for s, _ in alice
        )
    )
    run(
        "import",
        str(evals),
        "--db",
        str(team),
        "--name",
        "correctness",
        "--annotator-kind",
        "LLM",
        "--identifier",
        "judge",
    )

    report = json.loads(run("stats", "--db", str(team), "--json"))
    correctness = next(c for c in report["configs"] if c["name"] == "correctness")
    agreement = correctness["agreement"]
    assert (agreement["raters"], agreement["n"]) == (["alice", "bob", "carol"], 6)
    # alice and carol agree on all six; bob says "correct" to all (3 of alice's "incorrect")
    assert agreement["fleiss_kappa"] == pytest.approx(0.25)
    assert agreement["krippendorff_alpha"] == pytest.approx(0.2916666666666667)
    pairs = {(p["rater_a"], p["rater_b"]): p for p in agreement["pairs"]}
    assert {pair: p["percent_agreement"] for pair, p in pairs.items()} == {
        ("alice", "bob"): 0.5,
        ("alice", "carol"): 1.0,
        ("bob", "carol"): 0.5,
    }
    assert pairs[("alice", "carol")]["n"] == len(alice)
    # the judge said "correct" to all six: as bob did
    assert {
        (p["rater_a"], p["rater_b"]): (p["n"], p["percent_agreement"])
        for p in correctness["human_vs_machine"]
    } == {
        ("alice", "LLM judge"): (6, 0.5),
        ("bob", "LLM judge"): (6, 1.0),
        ("carol", "LLM judge"): (6, 0.5),
    }

    # The lead walks the disagreements (alice/carol vs bob on the "incorrect" spans) and decides.
    disputed = {s for s, label in alice if label == "incorrect"}
    app = AnnotatorApp(team, config_set, "lead", queue=QueueFilter(state="disagree"))
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.pause()
        seen = set()
        for _ in range(len(disputed)):
            row = app.screen.trace_tree.cursor_row
            seen.add(row.span_id)
            await pilot.press("2")  # the lead agrees with alice and carol: incorrect
            await pilot.pause()
            await pilot.press("full_stop")
            await pilot.pause()
    assert seen == disputed  # the queue of disagreements held exactly those
    with sqlite3.connect(team) as conn:
        lead = dict(
            conn.execute(
                "SELECT span_id, label FROM annotations WHERE identifier = 'lead'"
            ).fetchall()
        )
    assert lead == dict.fromkeys(disputed, "incorrect")

    dataset = tmp_path / "bad.jsonl"
    run(
        "dataset",
        "--db",
        str(team),
        "--out",
        str(dataset),
        "--label",
        "correctness=incorrect",
        "--annotator",
        "lead",
    )
    examples = [json.loads(line) for line in dataset.read_text().splitlines()]
    assert len(examples) == len(disputed) == 3
    assert {e["metadata"]["span_id"] for e in examples} == disputed
    assert [sorted(e) for e in examples] == [["input", "metadata", "output", "span_id"]] * 3

    phoenix = tmp_path / "phoenix.json"
    run("export", "--db", str(team), "--format", "phoenix", "--out", str(phoenix))
    bodies = json.loads(phoenix.read_text())
    items = bodies["span_annotations"]["data"]
    kinds = collections.Counter(
        (item["identifier"], item["annotator_kind"], item["name"]) for item in items
    )
    assert kinds == {
        ("alice", "HUMAN", "correctness"): 6,
        ("alice", "HUMAN", "quality"): 6,
        ("bob", "HUMAN", "correctness"): 6,
        ("carol", "HUMAN", "correctness"): 6,
        ("judge", "LLM", "correctness"): 6,
        ("lead", "HUMAN", "correctness"): 3,
    }
