"""`pull` against a real Phoenix: the bundled samples sent over OTLP, annotations of every target
made through Phoenix's REST API, pulled into a fresh database and compared field by field."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from annotator.importer import import_files
from annotator.model import NOTE_NAME
from annotator.phoenix import NotFound, Rejected, pull
from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.pulling import STATE_PREFIX, state_keys
from annotator.store import Store
from annotator.timeutil import iso_from_any
from tests.phoenix.helpers import REPO, SAMPLE_SPANS, PhoenixProject

SPAN_COLUMNS = (
    "span_id, trace_id, parent_id, name, span_kind, start_time, end_time, latency_ms, "
    "status_code, status_message, project, session_id, document_count, orphan, attributes, events"
)
TRACE_COLUMNS = (
    "trace_id, project, session_id, root_span_id, root_name, root_kind, start_time, end_time, "
    "latency_ms, span_count, error_count, orphan_count, status_code"
)
HOSTILE = "\x1b[31m[bold]red[/bold]\u202e and a newline\nhere"


def _spans(store: Store) -> dict[str, tuple]:
    rows = store.connection.execute(f"SELECT {SPAN_COLUMNS} FROM spans")
    # attributes and events are JSON: compared as values (key order is not meaningful)
    return {r[0]: (*r[:-2], orjson.loads(r[-2]), orjson.loads(r[-1])) for r in rows}


def _traces(store: Store) -> list[tuple]:
    return sorted(store.connection.execute(f"SELECT {TRACE_COLUMNS} FROM traces"))


def _reference(samples: PhoenixProject, tmp_path: Path) -> Store:
    """The same files imported directly: what a pull must reproduce."""
    store = Store.open(tmp_path / "reference.db")
    report = import_files(store, samples.files)
    assert report.problems == [] and report.spans_new == samples.spans
    return store


def _log_count(store: Store) -> int:
    return store.connection.execute("SELECT count(*) FROM annotation_log").fetchone()[0]


# --- making annotations in Phoenix ---------------------------------------------------------------


def _annotate_in_phoenix(client: PhoenixClient, project: str, ref: Store) -> dict[str, Any]:
    """Configs, annotations of every target and notes, through Phoenix's REST API."""
    salt = uuid.uuid4().hex[:6]
    conn = ref.connection
    llm = conn.execute(
        "SELECT span_id FROM spans WHERE span_kind = 'LLM' ORDER BY span_id"
    ).fetchone()[0]
    retriever = conn.execute(
        "SELECT span_id FROM spans WHERE document_count >= 2 ORDER BY span_id"
    ).fetchone()[0]
    trace, session = conn.execute(
        "SELECT trace_id, session_id FROM traces WHERE session_id IS NOT NULL ORDER BY trace_id"
    ).fetchone()
    names = {
        "correctness": f"correctness_{salt}",
        "helpfulness": f"helpfulness_{salt}",
        "comment": f"comment_{salt}",
        "relevance": f"relevance_{salt}",
        "satisfaction": f"satisfaction_{salt}",
    }
    bodies = [
        {
            "name": names["correctness"], "type": "CATEGORICAL", "description": "Correct?",
            "optimization_direction": "MAXIMIZE",
            "values": [{"label": "correct", "score": 1}, {"label": "incorrect", "score": 0}],
        },
        {
            "name": names["helpfulness"], "type": "CONTINUOUS",
            "optimization_direction": "MAXIMIZE",
            "lower_bound": 0, "upper_bound": 1,
        },
        {"name": names["comment"], "type": "FREEFORM", "description": "Free text"},
        {
            "name": names["relevance"], "type": "CATEGORICAL", "optimization_direction": "MAXIMIZE",
            "values": [{"label": "relevant", "score": 1}, {"label": "irrelevant", "score": 0}],
        },
        {
            "name": names["satisfaction"], "type": "CATEGORICAL", "optimization_direction": "NONE",
            "values": [{"label": "happy"}, {"label": "unhappy"}],
        },
    ]  # fmt: skip
    ids = [
        client.request("POST", "/v1/annotation_configs", json=body, what="config")["data"]["id"]
        for body in bodies
    ]
    client.request(
        "PUT",
        f"/v1/projects/{project}/annotation_configs",
        json={"annotation_config_ids": ids},
        what="attach configs",
    )
    post = lambda path, data: client.request(  # noqa: E731
        "POST", path, params={"sync": "true"}, json={"data": data}, what=path
    )
    post(
        "/v1/span_annotations",
        [
            {
                "span_id": llm, "name": names["correctness"], "annotator_kind": "HUMAN",
                "identifier": "alice", "metadata": {"reviewer": "alice", "n": [1, 2]},
                "result": {"label": "correct", "score": 1, "explanation": "matches kb-001"},
            },
            {
                "span_id": llm, "name": names["helpfulness"], "annotator_kind": "LLM",
                "metadata": {"judge_model": "gpt-fake"}, "result": {"score": 0.8},
            },
            {
                "span_id": llm, "name": names["comment"], "annotator_kind": "HUMAN",
                "identifier": "bob", "result": {"explanation": HOSTILE},
            },
        ],
    )  # fmt: skip
    post(
        "/v1/trace_annotations",
        [{
            "trace_id": trace, "name": names["correctness"], "annotator_kind": "CODE",
            "identifier": "regex-checker", "result": {"label": "incorrect", "score": 0},
        }],
    )  # fmt: skip
    post(
        "/v1/session_annotations",
        [{
            "session_id": session, "name": names["satisfaction"], "annotator_kind": "HUMAN",
            "result": {"label": "happy", "explanation": "thanked the bot"},
        }],
    )  # fmt: skip
    post(
        "/v1/document_annotations",
        [
            {
                "span_id": retriever, "document_position": 0, "name": names["relevance"],
                "annotator_kind": "HUMAN", "metadata": {"annotator_identifier": "carol"},
                "result": {"label": "relevant", "score": 1},
            },
            {
                "span_id": retriever, "document_position": 1, "name": names["relevance"],
                "annotator_kind": "LLM", "result": {"label": "irrelevant", "score": 0,
                "explanation": "off topic"},
            },
        ],
    )  # fmt: skip
    for path, key, value in (
        ("/v1/span_notes", "span_id", llm),
        ("/v1/trace_notes", "trace_id", trace),
        ("/v1/session_notes", "session_id", session),
    ):
        client.request(
            "POST", path, json={"data": {key: value, "note": f"note on {key} {value}"}}, what=path
        )
    return {
        "names": names, "llm": llm, "retriever": retriever, "trace": trace, "session": session,
    }  # fmt: skip


def _phoenix_records(client: PhoenixClient, project: str, made: dict[str, Any]) -> list[dict]:
    """Every annotation of `made`'s targets as Phoenix returns them (the truth to compare to)."""
    records = []
    for target, key, value in (
        ("span", "span_ids", made["llm"]),
        ("trace", "trace_ids", made["trace"]),
        ("session", "session_ids", made["session"]),
    ):
        page = client.request(
            "GET", f"/v1/projects/{project}/{target}_annotations", params={key: value}, what="read"
        )
        records += [dict(record, target=target) for record in page["data"]]
    data = client.graphql(
        "query ($s: String!) { getSpanByOtelId(spanId: $s) { spanId documentEvaluations "
        "{ name annotatorKind label score explanation metadata documentPosition identifier "
        "createdAt updatedAt } } }",
        {"s": made["retriever"]},
        what="read documents",
    )
    for item in data["getSpanByOtelId"]["documentEvaluations"]:
        records.append(
            {
                "target": "document",
                "span_id": made["retriever"],
                "document_position": item["documentPosition"],
                "name": item["name"],
                "annotator_kind": item["annotatorKind"],
                "result": {k: item[k] for k in ("label", "score", "explanation")},
                # Phoenix keeps a document annotation's annotator in metadata (its identifier
                # must be empty); the import gives the annotator back (README: the database).
                "metadata": {
                    k: v for k, v in item["metadata"].items() if k != "annotator_identifier"
                },
                "identifier": item["identifier"]
                or item["metadata"].get("annotator_identifier", ""),
                "created_at": item["createdAt"],
                "updated_at": item["updatedAt"],
            }
        )
    return records


def _row(store: Store, record: dict) -> sqlite3.Row | tuple | None:
    target = record["target"]
    column = {"span": "span_id", "document": "span_id", "trace": "trace_id"}.get(
        target, "session_id"
    )
    return store.connection.execute(
        "SELECT label, score, explanation, annotator_kind, identifier, metadata, created_at, "
        f"updated_at, source, document_position FROM annotations WHERE target = ? AND {column} = ?"
        " AND name = ? AND identifier = ? AND coalesce(document_position, -1) = ?",
        (
            target,
            record[column],
            record["name"],
            record["identifier"],
            record.get("document_position", -1),
        ),
    ).fetchone()


# --- tests ---------------------------------------------------------------------------------------


def test_pull_reproduces_every_span_and_trace_field(
    phoenix: PhoenixClient, shared_samples: PhoenixProject, tmp_path: Path
) -> None:
    reference = _reference(shared_samples, tmp_path)
    with Store.open(tmp_path / "pulled.db") as store:
        report = pull(store, phoenix, shared_samples.name)
        assert (report.spans_new, report.spans_existing, report.complete) == (SAMPLE_SPANS, 0, True)
        assert report.problems == []
        assert _spans(store) == _spans(reference)
        assert _traces(store) == _traces(reference)
        projects = {r[0] for r in store.connection.execute("SELECT DISTINCT project FROM spans")}
        assert projects == {shared_samples.name}


def test_pull_brings_annotations_of_every_target_notes_and_configs_and_again_nothing(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    """The first pull brings every annotation, note and config; pulling again adds nothing (one
    scenario, one project: the second pull was a test of its own that repeated the first)."""
    reference = _reference(samples, tmp_path)
    made = _annotate_in_phoenix(phoenix, samples.name, reference)
    expected = _phoenix_records(phoenix, samples.name, made)
    # 3 span annotations + a span note, a trace annotation + note, a session annotation + note,
    # 2 document annotations
    assert len(expected) == 10
    with Store.open(tmp_path / "pulled.db") as store:
        report = pull(store, phoenix, samples.name)
        assert (report.spans_new, report.annotations_new) == (samples.spans, 10)
        assert (report.annotations_updated, report.conflicts, report.problems) == (0, [], [])
        assert store.counts()["annotations"] == 10
        for record in expected:
            row = _row(store, record)
            assert row is not None, record
            result = record.get("result") or {}
            assert tuple(row) == (
                result.get("label"),
                result.get("score"),
                result.get("explanation"),
                record["annotator_kind"],
                record["identifier"],
                orjson.dumps(record["metadata"]).decode(),
                iso_from_any(record["created_at"]),
                iso_from_any(record["updated_at"]),
                "API",
                record.get("document_position"),
            )
        notes = store.connection.execute(
            "SELECT target, explanation FROM annotations WHERE name = ? ORDER BY target",
            (NOTE_NAME,),
        ).fetchall()
        assert notes == [
            ("session", f"note on session_id {made['session']}"),
            ("span", f"note on span_id {made['llm']}"),
            ("trace", f"note on trace_id {made['trace']}"),
        ]
        # every write is in the log, under the pull's actor
        actors = store.connection.execute(
            "SELECT DISTINCT actor, action FROM annotation_log"
        ).fetchall()
        assert actors == [(f"pull:{samples.name}", "import")]
        # the configs attached to the project, as Phoenix defines them; targets inferred
        document = store.load_config_document()
        names = made["names"]
        configs = {c["name"]: c for c in document["annotations"]}
        assert sorted(configs) == sorted(names.values())
        assert sorted(report.configs_added) == sorted(names.values())
        correctness = configs[names["correctness"]]
        assert (correctness["type"], correctness["description"]) == ("CATEGORICAL", "Correct?")
        assert correctness["optimization_direction"] == "MAXIMIZE"
        assert [(v["label"], v["score"]) for v in correctness["values"]] == [
            ("correct", 1.0),
            ("incorrect", 0.0),
        ]
        helpfulness = configs[names["helpfulness"]]
        assert (helpfulness["type"], helpfulness["lower_bound"], helpfulness["upper_bound"]) == (
            "CONTINUOUS",
            0.0,
            1.0,
        )
        assert configs[names["comment"]]["type"] == "FREEFORM"
        # Phoenix configs say nothing of targets: correctness is on a span AND a trace (span),
        # relevance only on documents, satisfaction only on sessions
        assert {name: c["target"] for name, c in configs.items()} == {
            names["correctness"]: "span",
            names["helpfulness"]: "span",
            names["comment"]: "span",
            names["relevance"]: "document",
            names["satisfaction"]: "session",
        }
        # pulling again adds nothing
        log = _log_count(store)
        again = pull(store, phoenix, samples.name)
        pulled_again = "pulling again"
        # the watermark: nothing re-read
        assert (again.spans_new, again.spans_existing) == (0, 0), pulled_again
        assert (again.annotations_new, again.annotations_updated) == (0, 0), pulled_again
        assert again.annotations_unchanged == 10, pulled_again
        assert (again.configs_added, again.configs_same, again.config_conflicts) == (
            [],
            5,
            [],
        ), pulled_again
        assert _log_count(store) == log, pulled_again
        assert store.load_config_document() == document, pulled_again
        assert store.counts() == {**reference.counts(), "annotations": 10}, pulled_again


def test_later_annotations_arrive_on_the_next_pull_and_a_newer_local_value_is_a_conflict(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    """Two databases pull the project before annotations are made in Phoenix (one scenario,
    one project: these were two tests that each repeated that start). The one where alice
    changed her mind locally afterwards keeps her value and lists the conflict; the other gets
    the annotations on its next pull, and then Phoenix's update of one."""
    from annotator.model import Annotation
    from annotator.store import AnnotationKey

    reference = _reference(samples, tmp_path)
    with Store.open(tmp_path / "pulled.db") as store, Store.open(tmp_path / "local.db") as local:
        pull(store, phoenix, samples.name)
        pull(local, phoenix, samples.name)
        made = _annotate_in_phoenix(phoenix, samples.name, reference)
        name = made["names"]["correctness"]
        # alice changes her mind locally, after Phoenix's value was written
        mine = local.set_annotation(
            Annotation(
                name=name, span_id=made["llm"], label="incorrect", score=0.0,
                annotator_kind="HUMAN", identifier="alice",
            )
        )  # fmt: skip
        report = pull(local, phoenix, samples.name)
        kept = "a newer local value is kept"
        assert report.annotations_new == 9, kept
        assert len(report.conflicts) == 1, kept
        conflict = report.conflicts[0]
        assert conflict.key == AnnotationKey("span", made["llm"], None, name, "alice"), kept
        assert [(v.source, v.label, v.score, v.won) for v in conflict.versions] == [
            ("local", "incorrect", 0.0, True),
            ("phoenix", "correct", 1.0, False),
        ], kept
        assert local.find_annotation(conflict.key).label == "incorrect", kept
        assert local.find_annotation(conflict.key).updated_at == mine.updated_at, kept
        summary = report.summary()
        assert "1 conflict," in summary, kept
        assert f"span {made['llm']} · {name} · alice" in summary, kept
        assert "<- kept" in summary, kept

        arrive = "annotations made after a pull arrive on the next"
        later = pull(store, phoenix, samples.name)
        assert (later.spans_new, later.annotations_new) == (0, 10), arrive
        # Phoenix updates a value: the pull overwrites the older local copy (logged)
        phoenix.request(
            "POST",
            "/v1/span_annotations",
            params={"sync": "true"},
            json={"data": [{
                "span_id": made["llm"], "name": name,
                "annotator_kind": "HUMAN", "identifier": "alice",
                "result": {"label": "incorrect", "score": 0},
            }]},
            what="update",
        )  # fmt: skip
        updated = pull(store, phoenix, samples.name)
        assert (updated.annotations_new, updated.annotations_updated) == (0, 1), arrive
        row = store.connection.execute(
            "SELECT label, score, explanation FROM annotations "
            "WHERE name = ? AND identifier = 'alice'",
            (name,),
        ).fetchone()
        assert row == ("incorrect", 0.0, None), arrive


def test_limit_stops_and_the_next_pull_continues(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path, monkeypatch
) -> None:
    from annotator.phoenix import pulling as pull_module

    monkeypatch.setattr(pull_module, "SPAN_PAGE", 5)  # pages of 5, 5 and the 2 the limit leaves
    reference = _reference(shared_few, tmp_path)
    with Store.open(tmp_path / "pulled.db") as store:
        first = pull(store, phoenix, shared_few.name, limit=12)
        assert (first.spans_new, first.complete) == (12, False)
        assert "stopped at --limit" in first.summary()
        second = pull(store, phoenix, shared_few.name)
        assert (second.spans_new, second.spans_existing, second.complete) == (
            shared_few.spans - 12,
            0,
            True,
        )
        assert second.resumed is True
        assert _spans(store) == _spans(reference)
        assert _traces(store) == _traces(reference)


_KILLED_PULL = """
import os, signal, sys
from tests.phoenix import client_only
client_only.use()
from annotator.phoenix import connect, pull
from annotator.phoenix import pulling as pull_module
from annotator.store import Store

pull_module.SPAN_PAGE = int(sys.argv[4])

def progress(stage, done, total):
    if stage == "spans" and done >= 2 * pull_module.SPAN_PAGE:
        os.kill(os.getpid(), signal.SIGKILL)  # the hard way: no cleanup of any kind

with connect(sys.argv[1]) as client, Store.open(sys.argv[2]) as store:
    pull(store, client, sys.argv[3], progress=progress)
"""


def test_a_pull_killed_half_way_resumes_where_it_stopped(
    phoenix: PhoenixClient, samples: PhoenixProject, tmp_path: Path
) -> None:
    reference = _reference(samples, tmp_path)
    made = _annotate_in_phoenix(phoenix, samples.name, reference)
    db = tmp_path / "pulled.db"
    page = 4  # pages of 4: the project's 12 spans are three, and the pull dies after the second
    assert samples.spans > 2 * page
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_PULL), phoenix.settings.base_url, str(db),
         samples.name, str(page)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == -signal.SIGKILL, result.stderr
    with Store.open(db) as store:
        assert store.counts()["spans"] == 2 * page  # two committed pages
        [key] = state_keys(store)
        assert key.startswith(STATE_PREFIX)
        assert orjson.loads(store.get_meta(key))["pulled"] == 2 * page
        report = pull(store, phoenix, samples.name)
        assert report.resumed is True
        assert (report.spans_new, report.spans_existing, report.complete) == (
            samples.spans - 2 * page,
            0,
            True,
        )
        assert report.annotations_new == 10
        assert _spans(store) == _spans(reference)
        assert _traces(store) == _traces(reference)
        assert store.get_meta(key) is not None and orjson.loads(store.get_meta(key))["finished"]
    del made


def test_where_passes_phoenix_span_filter_through(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    reference = _reference(shared_few, tmp_path)
    expected = {
        span_id: row for span_id, row in _spans(reference).items() if row[4] in ("LLM", "RETRIEVER")
    }
    assert 0 < len(expected) < shared_few.spans  # the LLM and retriever spans of every sample
    with Store.open(tmp_path / "pulled.db") as store:
        report = pull(store, phoenix, shared_few.name, where="span_kind in ['llm', 'RETRIEVER']")
        assert (report.spans_new, report.complete) == (len(expected), True)
        pulled = _spans(store)
        # orphan marks differ: a filtered pull holds children without their parents
        assert {k: v[:13] + v[14:] for k, v in pulled.items()} == {
            k: v[:13] + v[14:] for k, v in expected.items()
        }
        again = pull(store, phoenix, shared_few.name, where="span_kind in ['llm', 'RETRIEVER']")
        assert (again.spans_new, again.spans_existing) == (0, 0)


def test_a_filter_phoenix_rejects_is_one_line(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "pulled.db") as store:
        with pytest.raises(Rejected) as caught:
            pull(store, phoenix, shared_few.name, where="span_kind ==")
        assert str(caught.value).startswith("--where 'span_kind ==': Phoenix rejected the filter: ")
        assert "\n" not in str(caught.value)
        assert store.counts()["spans"] == 0


def test_since_pulls_spans_that_started_at_or_after_it(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path
) -> None:
    reference = _reference(shared_few, tmp_path)
    times = sorted(row[5] for row in _spans(reference).values())
    since = times[len(times) // 2]
    expected = {k for k, row in _spans(reference).items() if row[5] >= since}
    with Store.open(tmp_path / "pulled.db") as store:
        report = pull(store, phoenix, shared_few.name, since=since)
        assert report.spans_new == len(expected)
        assert set(_spans(store)) == expected


def test_an_unknown_project_is_named(phoenix: PhoenixClient, tmp_path: Path) -> None:
    with Store.open(tmp_path / "pulled.db") as store:
        with pytest.raises(NotFound) as caught:
            pull(store, phoenix, "no-such-project")
    assert str(caught.value) == (
        f"Phoenix at {phoenix.url} has no project named 'no-such-project' (--project)"
    )


def test_the_api_key_is_neither_printed_nor_stored(
    phoenix: PhoenixClient, shared_few: PhoenixProject, tmp_path: Path, monkeypatch
) -> None:
    from annotator.phoenix import connect

    secret = "px-secret-" + uuid.uuid4().hex
    monkeypatch.setenv("PHOENIX_API_KEY", secret)
    with connect(phoenix.settings.base_url) as client:
        assert client.http.headers["authorization"] == f"Bearer {secret}"
        assert secret not in repr(client.settings) and secret not in repr(client)
        with Store.open(tmp_path / "pulled.db") as store:
            report = pull(store, client, shared_few.name)  # auth is off: the key is just sent
            assert secret not in report.summary()
    assert secret.encode() not in (tmp_path / "pulled.db").read_bytes()
    # closed: the WAL is checkpointed into the file and removed, so nothing else holds it
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("pulled.db")) == [
        "pulled.db"
    ]
