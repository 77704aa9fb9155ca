"""`--where` / `--trace-where` on annotate, export, dataset and stats: exactly the expected
spans and rows on the bundled samples (plus the hostile spans and the several annotators of
tests/query_data.py, whose expected sets are computed here in plain Python), and a bad
expression is one line, exit code 2, with nothing run or written."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from annotator.store import Store
from tests.query_data import Data, build, digest, fresh_copy
from tests.test_cli_validation import invoke

STARTSWITH = (
    "--where: col 6: unknown function 'startswith' — only float(), str() and int() are allowed"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Data]:
    path = tmp_path_factory.mktemp("where") / "annotations.db"
    return path, build(path)


@pytest.fixture
def db(built: tuple[Path, Data], tmp_path: Path) -> tuple[Path, Data]:
    return fresh_copy(built, tmp_path)


def errored(data: Data) -> set[str]:
    return {t.id for t in data.traces if any(s.status == "ERROR" for s in t.spans)}


def key(a: dict) -> tuple:
    return (a["target"], a["span_id"], a["trace_id"], a["name"], a["identifier"])


# --- a bad expression: one line, exit 2, nothing written -------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--out", "out.jsonl"],
        ["dataset", "--out", "out.jsonl"],
        ["stats"],
        ["annotate"],
    ],
)
@pytest.mark.parametrize(
    ("option", "expression", "line"),
    [
        ("--where", "name.startswith('x')", STARTSWITH),
        (
            "--trace-where",
            "num_spanz > 3",
            "--trace-where: col 1: unknown name `num_spanz`, did you mean `num_spans`?",
        ),
    ],
)
def test_a_bad_expression_is_one_line_and_nothing_runs(db, command, option, expression, line):
    path, _ = db
    before = digest(path)
    result = invoke(*command, "--db", str(path), option, expression, cwd=path.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
    assert digest(path) == before
    assert not (path.parent / "out.jsonl").exists()


# --- export ------------------------------------------------------------------------------------


def exported(path: Path, *options: str) -> list[tuple]:
    result = invoke("export", "--db", str(path), "--out", "-", *options)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return sorted((key(r) for r in rows), key=repr)


def test_export_where_keeps_the_annotations_about_selected_spans(db):
    path, data = db
    expected = sorted((key(a) for a in data.annotations if a["target"] == "document"), key=repr)
    assert len(expected) > 10
    assert exported(path, "--where", "span_kind == 'RETRIEVER'") == expected


def test_export_trace_where_takes_trace_annotations_by_their_root(db):
    path, data = db
    traces = errored(data)
    roots = {t.id: t.root.id for t in data.traces if t.root is not None}
    expected = sorted(
        (
            key(a)
            for a in data.annotations
            if (a["target"] != "trace" and data.by_id[a["span_id"]].trace in traces)
            or (a["target"] == "trace" and a["trace_id"] in traces and a["trace_id"] in roots)
        ),
        key=repr,
    )
    assert {e[0] for e in expected} == {"span", "document", "trace"}
    assert exported(path, "--trace-where", "error_count > 0") == expected
    both = exported(path, "--trace-where", "error_count > 0", "--where", "parent_span is None")
    assert both == [e for e in expected if e[0] == "trace"]


def test_export_where_combines_with_the_other_options(db):
    path, data = db
    expected = sorted(
        (
            key(a)
            for a in data.annotations
            if a["target"] == "span"
            and a["identifier"] == "bob"
            and data.by_id[a["span_id"]].kind == "LLM"
            and "refund" in (a["explanation"] or "").lower()
        ),
        key=repr,
    )
    selected = exported(
        path,
        "--annotator",
        "bob",
        "--where",
        "span_kind == 'LLM' and annotations['correctness', 'bob'].explanation is not None",
    )
    assert len(expected) == 3
    assert selected == expected


# --- dataset -----------------------------------------------------------------------------------


def dataset_spans(path: Path, *options: str) -> list[str]:
    result = invoke("dataset", "--db", str(path), "--out", "-", "--format", "csv", *options)
    assert result.exit_code == 0, result.stderr
    return [row["span_id"] for row in csv.DictReader(io.StringIO(result.stdout))]


def test_dataset_where_selects_exactly_the_matching_spans_in_import_order(db):
    path, data = db
    expected = [
        s.id for s in data.spans if s.kind == "LLM" and s.latency is not None and s.latency > 1000
    ]
    assert 0 < len(expected) < len([s for s in data.spans if s.kind == "LLM"])
    assert dataset_spans(path, "--where", "span_kind == 'LLM' and latency_ms > 1000") == expected


def test_dataset_where_and_trace_where_and_label(db):
    path, data = db
    traces = errored(data)
    incorrect = {
        a["span_id"]
        for a in data.annotations
        if a["name"] == "correctness"
        and a["label"] == "incorrect"
        and a["annotator_kind"] == "HUMAN"
    }
    expected = [s.id for s in data.spans if s.trace in traces and s.id in incorrect]
    got = dataset_spans(
        path, "--label", "correctness=incorrect", "--trace-where", "error_count > 0"
    )
    assert got == expected
    assert dataset_spans(path, "--where", "name == 'no such span'") == []


# --- stats -------------------------------------------------------------------------------------


def stats(path: Path, *options: str) -> dict:
    result = invoke("stats", "--db", str(path), "--json", *options)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_stats_where_counts_the_selected_spans_and_their_annotations(db):
    path, data = db
    report = stats(path, "--where", "span_kind == 'LLM'")
    llm = [s for s in data.spans if s.kind == "LLM"]
    judgements = [
        a
        for a in data.annotations
        if a["name"] != "note" and a["target"] == "span" and data.by_id[a["span_id"]].kind == "LLM"
    ]
    assert report["where"] == "span_kind == 'LLM'"
    assert report["trace_where"] is None
    assert report["totals"] == {
        "spans": len(llm),
        "traces": len({s.trace for s in llm}),
        "sessions": report["totals"]["sessions"],
        "annotations": len(judgements),
    }
    by_name = {c["name"]: c["annotations"] for c in report["configs"]}
    assert by_name == {
        name: sum(1 for a in judgements if a["name"] == name)
        for name in {a["name"] for a in judgements}
    }


def test_stats_with_a_selection_of_nothing(db):
    path, _ = db
    report = stats(path, "--where", "name == 'no such span'")
    assert report["totals"] == {"spans": 0, "traces": 0, "sessions": 0, "annotations": 0}


def test_stats_without_a_selection_is_unchanged(db):
    path, data = db
    report = stats(path)
    assert report["totals"]["spans"] == len(data.spans)
    assert report["totals"]["annotations"] == sum(
        1 for a in data.annotations if a["name"] != "note"
    )
    assert report["where"] is None and report["trace_where"] is None


def test_stats_tables_name_the_selection_sanitised(db):
    path, _ = db
    result = invoke("stats", "--db", str(path), "--where", "name == '\x1b[2Jx'")
    assert result.exit_code == 0, result.stderr
    assert "Selected by --where name == '\\x1b[2Jx'" in result.stdout
    assert "\x1b[2J" not in result.stdout


# --- annotate ----------------------------------------------------------------------------------


def test_annotate_where_starts_the_app_on_that_queue(db, monkeypatch):
    from annotator.app.app import AnnotatorApp

    path, _ = db
    queues: list = []

    def run(app: AnnotatorApp) -> None:
        queues.append(app.session.queue)
        app.store.close()

    monkeypatch.setattr(AnnotatorApp, "run", run)
    result = invoke(
        "annotate",
        "--db",
        str(path),
        "--annotator",
        "zoe",
        "--queue",
        "todo",
        "--where",
        "span_kind == 'LLM'",
        "--trace-where",
        "error_count > 0",
    )
    assert result.exit_code == 0, result.stderr
    (queue,) = queues
    assert queue.state == "todo"
    assert queue.where.text == "span_kind == 'LLM'"
    assert queue.trace_where.text == "error_count > 0"
    with Store.open(path, readonly=True) as store:
        assert store.my_contribution_counts("zoe") == (0, 0)  # (annotations, notes)
