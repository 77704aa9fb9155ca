"""The whole round trip as a user makes it, in one test: traces of the agent and RAG samples sent
to a real Phoenix over OTLP, `annotator pull`, annotations made in the app with real keys (span
labels, a continuous score, document labels, a trace label, notes), `annotator push` (with the
configs stored by `config store`), then a fresh `pull` into another database gives back the same
annotations field for field and the same configs, and pushing again sends nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from annotator.app.app import AnnotatorApp
from annotator.config import parse_config, parse_config_document
from annotator.phoenix.connection import PhoenixClient
from annotator.store import QueueFilter, QueueState, Store
from tests.app_data import settled, wait_for
from tests.phoenix.helpers import load_samples
from tests.phoenix.test_commands import run
from tests.phoenix.test_push import _read

# One config per session, so each key goes where the test says (number keys pick in the focused
# config; with one config there is one).
SESSIONS = {
    "correctness": (
        "{name: correctness, type: CATEGORICAL, optimization_direction: MAXIMIZE,"
        " values: [{label: correct, score: 1}, {label: incorrect, score: 0}], span_kinds: [LLM],"
        " auto_advance: true}",
        ["1", "2", "1"],
    ),
    "relevance": (
        "{name: relevance, type: CATEGORICAL, optimization_direction: MAXIMIZE, target: document,"
        " values: [{label: relevant, score: 1}, {label: irrelevant, score: 0}],"
        " auto_advance: true}",
        ["1", "2", "2"],
    ),
    "task_success": (
        "{name: task_success, type: CATEGORICAL, optimization_direction: MAXIMIZE, target: trace,"
        " values: [{label: success, score: 1}, {label: failure, score: 0}]}",
        ["2"],
    ),
    "quality": (
        "{name: quality, type: CONTINUOUS, optimization_direction: MAXIMIZE, lower_bound: 0,"
        " upper_bound: 10, span_kinds: [LLM]}",
        ["right", "right", "right"],
    ),
}

NOTES = {"correctness": "an llm call worth a look", "task_success": "checked end to end"}

COLUMNS = (
    "name, target, span_id, trace_id, document_position, label, score, explanation, "
    "annotator_kind, identifier"
)


def _annotations(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            f"SELECT {COLUMNS} FROM annotations WHERE annotator_kind = 'HUMAN' "
            "ORDER BY name, target, span_id, trace_id, document_position"
        ).fetchall()


async def test_otlp_to_phoenix_pull_annotate_push_and_back(
    phoenix: PhoenixClient, tmp_path: Path
) -> None:
    # the covering traces of both samples: 3 LLM spans, 2 retrievers of 3 documents each
    project = load_samples(phoenix, tmp_path / "sent", names=("agent", "rag"), few=True)
    db = tmp_path / "mine.db"
    pulled = run("pull", "--url", phoenix.url, "--project", project.name, "--db", str(db))
    assert pulled.exit_code == 0, pulled.stderr
    every_config = tmp_path / "all.yaml"
    every_config.write_text(
        "annotations:\n" + "".join(f"  - {config}\n" for config, _ in SESSIONS.values()),
        encoding="utf-8",
    )
    assert run("config", "store", str(every_config), "--db", str(db)).exit_code == 0

    for name, (config, keys) in SESSIONS.items():
        configs = parse_config(f"annotations: [{config}]", f"{name}.yaml")
        app = AnnotatorApp(db, configs, "alice", queue=QueueFilter(state=QueueState.TODO))
        async with app.run_test(size=(150, 40)) as pilot:
            await settled(pilot, app)
            for key in keys:
                await pilot.press(key)
                await settled(pilot, app)
            note = NOTES.get(name)
            if note:  # a note on the item the cursor is on (a span; a trace row: the trace)
                for key in ("n", *note, "ctrl+s"):
                    await pilot.press(key)
                await wait_for(pilot, lambda note=note: note in {r[7] for r in _annotations(db)})
    mine = _annotations(db)
    made = {(row[0], row[1]) for row in mine}
    assert made == {
        ("correctness", "span"),
        ("relevance", "document"),
        ("task_success", "trace"),
        ("quality", "span"),
        ("note", "span"),
        ("note", "trace"),
    }
    assert len(mine) == 3 + 3 + 1 + 1 + 2

    pushed = run("push", "--url", phoenix.url, "--db", str(db))
    assert pushed.exit_code == 0, pushed.stderr
    assert "; 4 config(s) created;" in pushed.stdout, pushed.stdout
    again = run("push", "--url", phoenix.url, "--db", str(db))
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith(f"Sent nothing new to {phoenix.url} in ")
    assert again.stdout.endswith("s (10 already sent); 0 config(s) created; 0 not sent.\n")

    # Phoenix's REST API has the span and trace annotations exactly as made (notes included)
    for target, id_column in (("span", 2), ("trace", 3)):
        made_here = sorted(
            (r[0], r[id_column], r[5], r[6], r[7], r[8], r[9]) for r in mine if r[1] == target
        )
        ids = sorted({row[1] for row in made_here})
        in_phoenix = sorted(
            (
                a["name"], a[f"{target}_id"], a["result"]["label"], a["result"]["score"],
                a["result"]["explanation"], a["annotator_kind"], a["identifier"],
            )
            for a in _read(phoenix, project.name, target, ids)
        )  # fmt: skip
        assert in_phoenix == made_here, target

    back = tmp_path / "back.db"
    fresh = run("pull", "--url", phoenix.url, "--project", project.name, "--db", str(back))
    assert fresh.exit_code == 0, fresh.stderr
    assert _annotations(back) == mine
    with Store.open(db, readonly=True) as a, Store.open(back, readonly=True) as b:
        sent, came_back = (
            {c.name: c.phoenix_body() for c in parse_config_document(s.load_config_document(), "x")
             .annotations}
            for s in (a, b)
        )  # fmt: skip
    assert came_back == sent
