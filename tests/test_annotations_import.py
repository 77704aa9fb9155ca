"""Importing annotation files: every Phoenix shape, evaluation tables, orphans, bad records,
idempotence and the log, through the importer and through `annotator import`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.annotations_io import AnnotationImportOptions
from annotator.annotations_io._records import Defaults, NoName, to_annotation
from annotator.cli.main import cli
from annotator.importer import ImportReport, import_files
from annotator.model import Annotation, Span
from annotator.readers import ANNOTATION_FORMATS, NotATraceFile, detect_format, sniff_file
from annotator.readers._common import BadRecord
from annotator.store import AnnotationKey, Store
from annotator.store.annotations import AnnotationBatch, import_annotations
from tests.properties import examples

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "annotations"
# Two traces of the langchain-rag reference project (every span id the fixtures use).
RAG_SPANS = REPO / "tests" / "data" / "readers" / "reference" / "langchain-rag.otlp.jsonl"
RETRIEVER = "1af0b87278057b51"  # 3 retrieved documents, trace 8742a..., session sess-rag-00
LLM_SPAN = "41a76d0f72cb7bda"  # same trace
ROOT = "6b688d186021a3ee"
TRACE_A = "8742a4856a491d4929981b7342cad93b"
TRACE_B = "2c96dcf99c75a88cc7710f4a24d1485c"

ROW_COLUMNS = (
    "target", "span_id", "trace_id", "session_id", "document_position", "name", "label", "score",
    "explanation", "annotator_kind", "source", "identifier", "metadata", "created_at",
    "updated_at",
)  # fmt: skip


@pytest.fixture(scope="module")
def rag_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The RAG sample imported, once a module: tests change their own copy (`db`)."""
    path = tmp_path_factory.mktemp("rag") / "a.db"
    with Store.open(path) as store:
        report = import_files(store, [RAG_SPANS])
    assert report.spans_new == 21 and not report.problems
    return path


@pytest.fixture
def db(rag_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    shutil.copyfile(rag_db, path)
    return path


def run_import(db: Path, *files: Path | str, **options: object) -> tuple[ImportReport, list[str]]:
    problems: list[str] = []
    with Store.open(db) as store:
        report = import_files(
            store,
            [Path(f) for f in files],
            on_problem=problems.append,
            annotations=AnnotationImportOptions(**options),  # type: ignore[arg-type]
        )
    return report, problems


def rows(db: Path, where: str = "1", *params: object) -> list[dict]:
    with Store.open(db) as store:
        cursor = store.connection.execute(
            f"SELECT {', '.join(ROW_COLUMNS)} FROM annotations WHERE {where} "
            "ORDER BY target, coalesce(span_id, trace_id, session_id), document_position, name, "
            "identifier",
            params,
        )
        result = [dict(zip(ROW_COLUMNS, row, strict=True)) for row in cursor]
    for row in result:
        row["metadata"] = orjson.loads(row["metadata"])
    return result


def log(db: Path) -> list[tuple]:
    with Store.open(db) as store:
        return store.connection.execute(
            "SELECT action, actor, name, before IS NULL, after IS NULL FROM annotation_log ORDER "
            "BY seq"
        ).fetchall()


def cli_import(*args: str) -> object:
    return CliRunner().invoke(cli, ["import", *args], catch_exceptions=False)


# ---------------------------------------------------------------- detection


FIXTURES = sorted(p for p in DATA.iterdir() if p.suffix in (".json", ".jsonl", ".csv"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_is_detected_as_annotations_and_still_refused_as_spans(path: Path) -> None:
    assert sniff_file(path).fmt in ANNOTATION_FORMATS
    with pytest.raises(NotATraceFile) as caught:
        detect_format(path)
    assert caught.value.reason == "looks like annotation records, not spans"


def test_trace_files_are_still_trace_files() -> None:
    assert detect_format(RAG_SPANS) == "otlp_jsonl"
    assert sniff_file(RAG_SPANS).fmt == "otlp_jsonl"


def test_csv_that_is_not_an_evaluation_table_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "spans.csv"
    path.write_text("span_id,trace_id,name\n1,2,x\n")
    with pytest.raises(NotATraceFile) as caught:
        sniff_file(path)
    assert "looks like CSV" in caught.value.reason


# ---------------------------------------------------------------- Phoenix shapes


def test_get_span_annotations_response(db: Path) -> None:
    report, problems = run_import(db, DATA / "span_annotations.get.json")
    # Phoenix's "flagged" record has an empty result: reported, not stored as an empty row
    assert problems == [f"{DATA / 'span_annotations.get.json'}: data[6]: {NO_RESULT}"]
    assert not report.rejected_files
    assert (report.annotations_new, report.annotations_updated) == (6, 0)
    stored = {(r["span_id"], r["name"], r["identifier"]): r for r in rows(db)}
    assert len(stored) == 6
    review = stored[(LLM_SPAN, "helpfulness", "review-2")]
    assert (
        review["score"] == 0.9 and review["label"] is None and review["annotator_kind"] == "HUMAN"
    )
    assert review["metadata"] == {"reviewer": "alice", "tags": ["refunds", "tone"]}
    assert review["created_at"] == "2026-11-26T19:57:11.000000+00:00"
    assert review["trace_id"] == TRACE_A and review["session_id"] == "sess-rag-00"  # context
    note = stored[(LLM_SPAN, "note", "px-span-note:202ab342-0109-4848-9ac1-051f703216ed")]
    assert note["explanation"] == "Check the refund timing wording." and note["target"] == "span"
    code = stored[(ROOT, "correctness", "")]
    assert (
        code["annotator_kind"] == "CODE" and code["score"] == 0.0 and code["label"] == "incorrect"
    )
    assert code["updated_at"] == "2026-11-26T19:57:10.892567+00:00"
    assert code["created_at"] == "2026-11-26T19:57:10.000000+00:00"
    assert (RETRIEVER, "flagged", "") not in stored
    # Everything imported is source API, even a record Phoenix marked APP (entered in Phoenix's UI).
    assert {r["source"] for r in stored.values()} == {"API"}


def test_get_trace_and_session_annotation_responses(db: Path) -> None:
    report, problems = run_import(
        db, DATA / "trace_annotations.get.json", DATA / "session_annotations.get.json"
    )
    assert not problems and report.annotations_new == 4
    traces = rows(db, "target = 'trace'")
    assert [(r["trace_id"], r["name"], r["annotator_kind"]) for r in traces] == [
        (TRACE_B, "task_success", "CODE"),
        (TRACE_A, "correctness", "HUMAN"),
    ]
    assert traces[0]["metadata"] == {"checker": "regex"} and traces[0]["span_id"] is None
    assert traces[1]["session_id"] == "sess-rag-00"  # filled from the trace
    sessions = rows(db, "target = 'session'")
    assert [(r["session_id"], r["label"], r["score"]) for r in sessions] == [
        ("sess-rag-00", "satisfied", 1.0),
        ("sess-rewrite-04", "unsatisfied", 0.0),
    ]


def test_graphql_document_annotations(db: Path) -> None:
    report, problems = run_import(db, DATA / "document_annotations.graphql.json")
    assert not problems and report.annotations_new == 4
    documents = rows(db, "target = 'document'")
    assert [
        (r["document_position"], r["name"], r["label"], r["annotator_kind"]) for r in documents
    ] == [
        (0, "relevance", "relevant", "LLM"),
        (1, "relevance", "irrelevant", "LLM"),
        (1, "support", None, "HUMAN"),
        (2, "relevance", "irrelevant", "LLM"),
    ]
    assert {r["span_id"] for r in documents} == {RETRIEVER}
    assert {r["identifier"] for r in documents} == {""}
    assert documents[2]["explanation"] == "mentions refunds"


def test_post_request_bodies_decide_the_target_from_the_ids(db: Path) -> None:
    files = [
        DATA / f"{kind}_annotations.post.json" for kind in ("span", "document", "trace", "session")
    ]
    report, problems = run_import(db, *files)
    assert not problems and report.annotations_new == 3 + 2 + 2 + 1
    assert {r["target"] for r in rows(db)} == {"span", "document", "trace", "session"}
    span = {r["name"]: r for r in rows(db, "target = 'span'")}
    assert span["correctness"]["explanation"] == "matches kb-001"
    assert span["correctness"]["metadata"] == {"reviewer": "alice"}
    assert span["helpfulness"]["annotator_kind"] == "LLM" and span["helpfulness"]["score"] == 0.8
    assert span["reviewer_notes"]["label"] is None
    # No times in request bodies: both are the import time, the same for a new row.
    assert span["helpfulness"]["created_at"] == span["helpfulness"]["updated_at"]
    documents = rows(db, "target = 'document'")
    assert [(r["document_position"], r["annotator_kind"]) for r in documents] == [
        (0, "HUMAN"),
        (1, "LLM"),
    ]


def test_identifier_option_fills_only_missing_identifiers(db: Path) -> None:
    run_import(db, DATA / "span_annotations.post.json", identifier="judge-7")
    by_name = {r["name"]: r["identifier"] for r in rows(db)}
    # The first item says identifier "" itself; the other two have none.
    assert by_name == {"correctness": "", "helpfulness": "judge-7", "reviewer_notes": "judge-7"}


def test_bare_list_and_json_lines_of_records(db: Path) -> None:
    report, problems = run_import(
        db, DATA / "span_annotations.bare_list.json", DATA / "span_annotations.records.jsonl"
    )
    assert not problems and report.annotations_new == 5
    assert len(rows(db)) == 5


def test_note_request_bodies(db: Path) -> None:
    report, problems = run_import(db, DATA / "span_notes.jsonl")
    assert not problems and report.annotations_new == 2
    notes = rows(db)
    assert [(r["target"], r["name"], r["identifier"], r["annotator_kind"]) for r in notes] == [
        ("span", "note", "alice", "HUMAN"),
        ("trace", "note", "alice", "HUMAN"),
    ]
    assert notes[0]["explanation"] == "Tone is fine."


# ---------------------------------------------------------------- evaluation tables


def test_eval_jsonl_with_span_id(db: Path) -> None:
    report, problems = run_import(db, DATA / "evals.span_id.jsonl", name="hallucination")
    assert not problems and report.annotations_new == 5
    found = rows(db)
    assert {r["name"] for r in found} == {"hallucination"}
    assert {r["annotator_kind"] for r in found} == {"LLM"}  # the default for eval tables...
    assert report.notes and "5 records without annotator_kind stored as LLM" in report.notes[0]
    assert [r["label"] for r in found if r["span_id"] == LLM_SPAN] == ["hallucinated"]
    assert {r["source"] for r in found} == {"API"}


def test_eval_csv_with_context_span_id(db: Path) -> None:
    report, problems = run_import(
        db, DATA / "evals.context_span_id.csv", name="relevance", annotator_kind="CODE",
        identifier="judge",
    )  # fmt: skip
    assert not problems and report.annotations_new == 3 and not report.notes
    found = {r["span_id"]: r for r in rows(db)}
    assert found[LLM_SPAN]["explanation"] == "talks about shipping,\nnot refunds"
    assert found[LLM_SPAN]["score"] == 0.0
    empty = found["d09b0dfa83a842c7"]
    assert (empty["score"], empty["explanation"]) == (None, None)  # pandas' empty fields
    assert {(r["annotator_kind"], r["identifier"]) for r in found.values()} == {("CODE", "judge")}


def test_eval_csv_indexed_by_span_id(db: Path) -> None:
    report, problems = run_import(db, DATA / "evals.pandas_index.csv", name="toxicity")
    assert not problems and report.annotations_new == 2
    assert {r["span_id"]: r["label"] for r in rows(db)} == {
        LLM_SPAN: "toxic",
        "d09b0dfa83a842c7": "non-toxic",
    }


def test_eval_csv_of_documents(db: Path) -> None:
    report, problems = run_import(db, DATA / "evals.documents.csv", name="relevance")
    assert not problems and report.annotations_new == 3
    assert [(r["target"], r["document_position"], r["score"]) for r in rows(db)] == [
        ("document", 0, 1.0),
        ("document", 1, 0.0),
        ("document", 2, 0.0),
    ]


def test_eval_table_with_its_own_name_kind_identifier_and_metadata_columns(db: Path) -> None:
    report, problems = run_import(db, DATA / "evals.named.csv")
    assert not problems and report.annotations_new == 2 and not report.notes
    found = rows(db)
    assert {(r["name"], r["annotator_kind"], r["identifier"]) for r in found} == {
        ("conciseness", "CODE", "length-check")
    }
    assert [r["metadata"] for r in found] == [{"words": 12}, {"words": 240}]


def test_eval_rows_about_traces(db: Path) -> None:
    report, problems = run_import(db, DATA / "evals.traces.jsonl", name="task_success")
    assert not problems and report.annotations_new == 2
    assert {r["trace_id"]: r["label"] for r in rows(db, "target = 'trace'")} == {
        TRACE_A: "success",
        TRACE_B: "failure",
    }


def _parquet(path: Path, columns: dict, metadata: dict | None = None) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(columns)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    pq.write_table(table, path)
    return path


def test_eval_parquet_with_span_id_column(db: Path, tmp_path: Path) -> None:
    path = _parquet(
        tmp_path / "evals.parquet",
        {"span_id": [LLM_SPAN, ROOT], "label": ["good", "bad"], "score": [1.0, float("nan")]},
    )
    assert sniff_file(path).fmt == "phoenix_annotations_parquet"
    report, problems = run_import(db, path, name="quality")
    assert not problems and report.annotations_new == 2
    assert {r["span_id"]: (r["label"], r["score"]) for r in rows(db)} == {
        LLM_SPAN: ("good", 1.0),
        ROOT: ("bad", None),  # NaN is a missing score
    }


def test_phoenix_span_evaluations_parquet_names_itself(db: Path, tmp_path: Path) -> None:
    """SpanEvaluations.save(): the span id index becomes a column, the name is in the metadata."""
    arize = {"eval_id": "5d0c3e29-5a34-4a2c-9d87-1b5a0f0e6c11", "eval_name": "Q&A Correctness",
             "eval_type": "SpanEvaluations"}  # fmt: skip
    path = _parquet(
        tmp_path / "evaluations-5d0c3e29.parquet",
        {"label": ["correct", "incorrect"], "score": [1, 0], "context.span_id": [LLM_SPAN, ROOT]},
        {b"arize": json.dumps(arize).encode()},
    )
    report, problems = run_import(db, path)  # no --name needed
    assert not problems and not report.rejected_files and report.annotations_new == 2
    assert {r["name"] for r in rows(db)} == {"Q&A Correctness"}


def test_phoenix_document_evaluations_parquet(db: Path, tmp_path: Path) -> None:
    arize = {"eval_id": "x", "eval_name": "relevance", "eval_type": "DocumentEvaluations"}
    path = _parquet(
        tmp_path / "docs.parquet",
        {"context.span_id": [RETRIEVER] * 2, "document_position": [0, 5], "label": ["a", "b"]},
        {b"arize": json.dumps(arize).encode()},
    )
    report, problems = run_import(db, path)
    assert report.annotations_new == 1 and report.annotations_orphaned == 1
    assert problems == [f"{path}: row 2: span {RETRIEVER} has no document 5 (it has 3)"]


def test_eval_parquet_with_unnamed_span_id_index(db: Path, tmp_path: Path) -> None:
    path = _parquet(
        tmp_path / "indexed.parquet",
        {"label": ["x"], "explanation": ["why"], "__index_level_0__": [LLM_SPAN]},
    )
    _, problems = run_import(db, path, name="n")
    assert not problems and [r["span_id"] for r in rows(db)] == [LLM_SPAN]


def test_eval_table_without_a_name_is_refused_with_one_line(db: Path) -> None:
    result = cli_import(str(DATA / "evals.context_span_id.csv"), "--db", str(db))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        (
            f"{DATA / 'evals.context_span_id.csv'}: not imported: the records have no annotation "
            "name (an evaluation table usually has none): give it with --name NAME"
        )
    ]
    assert rows(db) == []
    # with --name it goes in
    result = cli_import(str(DATA / "evals.context_span_id.csv"), "--db", str(db), "--name", "rel")
    assert result.exit_code == 0, result.output
    assert "annotations from 1 file" in result.stdout and ": 3 new," in result.stdout
    assert "stored as LLM" in result.stderr


# ---------------------------------------------------------------- problems and orphans


def test_bad_records_are_reported_with_line_numbers_and_the_rest_imported(db: Path) -> None:
    report, problems = run_import(db, DATA / "bad_records.jsonl")
    file = str(DATA / "bad_records.jsonl")
    assert problems == [
        f"{file}:2: JSON syntax error at column 1 (unexpected end of data)",
        f"{file}:3: annotator_kind 'ROBOT' is not LLM, CODE or HUMAN",
        f"{file}:4: score is not a number: 'high'",
        f"{file}:5: no span_id, trace_id or session_id: nothing says what it is about",
        f"{file}:6: document_position -1 is negative",
        f"{file}:7: span id 0123456789abcdef is not in the database",
        f"{file}:8: metadata is a list, expected an object",
        f"{file}:10: result is a list, expected an object",
        f"{file}:11: not an annotation record (a JSON int)",
        f"{file}:12: span {RETRIEVER} has no document 7 (it has 3)",
        f"{file}:13: updated_at is not a time: 'yesterday'",
    ]
    assert report.annotations_new == 2 and report.annotations_orphaned == 2
    assert not report.rejected_files
    assert sorted((r["span_id"], r["label"]) for r in rows(db)) == [
        (LLM_SPAN, "correct"),
        ("d09b0dfa83a842c7", "incorrect"),
    ]


def test_cli_bad_records_exit_zero(db: Path) -> None:
    result = cli_import(str(DATA / "bad_records.jsonl"), "--db", str(db))
    assert result.exit_code == 0
    assert len(result.stderr.strip().splitlines()) == 11
    assert result.stdout.startswith(
        "Imported annotations from 1 file in "
    ) and result.stdout.rstrip().endswith(
        "2 new, 0 updated, 0 unchanged, 2 orphaned (not in the database: not stored); "
        f"11 problems. Database: {db}"
    )


def test_orphans_are_reported_not_stored_unless_asked(db: Path) -> None:
    report, problems = run_import(db, DATA / "orphans.post.json")
    file = DATA / "orphans.post.json"
    assert problems == [
        f"{file}: data[0]: span id 0123456789abcdef is not in the database",
        f"{file}: data[2]: trace id 00000000000000000000000000000000 is not in the database",
        f"{file}: data[3]: session id sess-does-not-exist is not in the database",
    ]
    assert report.annotations_orphaned == 3 and report.annotations_new == 1
    assert len(rows(db)) == 1
    report, problems = run_import(db, file, keep_orphans=True)
    assert report.annotations_new == 3 and report.annotations_unchanged == 1
    assert all(line.endswith("(stored anyway: --keep-orphans)") for line in problems)
    assert len(rows(db)) == 4
    assert "3 orphaned (not in the database: stored anyway)" in report.summary()


def test_many_orphans_list_ten_then_count_the_rest(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "many.jsonl"
    path.write_text(
        "".join(json.dumps({"span_id": f"{i:016x}", "score": i}) + "\n" for i in range(25))
    )
    report, problems = run_import(db, path, name="n")
    assert report.annotations_orphaned == 25 and report.annotations_new == 0
    assert len(problems) == 11
    assert problems[0] == f"{path}:1: span id 0000000000000000 is not in the database"
    assert problems[-1] == (
        f"{path}: 15 more records about ids not in the database (not stored), e.g. "
        "000000000000000a, 000000000000000b, 000000000000000c, 000000000000000d, 000000000000000e"
    )


def test_bad_rows_of_our_own_export(db: Path, tmp_path: Path) -> None:
    good = {"name": "q", "annotator_kind": "HUMAN", "identifier": "ann", "label": "x",
            "source": "APP", "target": "span", "span_id": LLM_SPAN}  # fmt: skip
    lines = [
        good,
        {**good, "target": "robot"},
        {**good, "source": "PHONE"},
        {**good, "target": "document"},
        {**good, "document_position": 1},
        {**good, "target": "trace", "span_id": None},
    ]
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report, problems = run_import(db, path)
    assert problems == [
        f"{path}:2: target 'robot' is not span, trace, document or session",
        f"{path}:3: source 'PHONE' is not APP or API",
        f"{path}:4: document_position is required for, and only for, documents",
        f"{path}:5: document_position is required for, and only for, documents",
        f"{path}:6: a trace annotation needs its trace id",
    ]
    assert report.annotations_new == 1 and rows(db)[0]["source"] == "APP"


def test_duplicate_keys_in_one_file_keep_the_first(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "dupes.jsonl"
    path.write_text(
        json.dumps({"span_id": LLM_SPAN, "label": "a"}) + "\n"
        + json.dumps({"span_id": ROOT, "label": "b"}) + "\n"
        + json.dumps({"span_id": LLM_SPAN, "label": "c"}) + "\n"
    )  # fmt: skip
    report, problems = run_import(db, path, name="n")
    assert problems == [f"{path}:3: same target, name and identifier as line 1: skipped"]
    assert report.annotations_new == 2
    assert [r["label"] for r in rows(db, "span_id = ?", LLM_SPAN)] == ["a"]
    entries = log(db)
    again, _ = run_import(db, path, name="n")
    assert again.annotations_unchanged == 2 and log(db) == entries


def test_a_file_that_is_neither_spans_nor_annotations(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text("labels:\n  - good\n")
    result = cli_import(str(path), str(DATA / "span_notes.jsonl"), "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: not a trace file: looks like YAML, not JSON (starts with 'labels:') "
        "(nothing was imported)"
    ]
    assert len(rows(db)) == 0  # checked before anything is written: the other file waits too


# ---------------------------------------------------------------- idempotence and the log


def test_reimport_changes_nothing_and_logs_nothing(db: Path) -> None:
    files = sorted(p for p in DATA.iterdir() if p.name.endswith((".get.json", ".graphql.json")))
    first, _ = run_import(db, *files)
    assert first.annotations_new == 6 + 2 + 2 + 4  # span_annotations.get.json: one empty result
    entries = log(db)
    assert len(entries) == first.annotations_new
    assert {
        (action, before_none, after_none) for action, _, _, before_none, after_none in entries
    } == {("import", 1, 0)}
    assert {actor for _, actor, *_ in entries} == {f"import:{p.name}" for p in files}
    before = rows(db)
    again, problems = run_import(db, *files)
    assert problems == [f"{DATA / 'span_annotations.get.json'}: data[6]: {NO_RESULT}"]
    assert (again.annotations_new, again.annotations_updated) == (0, 0)
    assert again.annotations_unchanged == 14
    assert rows(db) == before and log(db) == entries


def test_changed_values_update_the_row_and_log_the_old_one(db: Path, tmp_path: Path) -> None:
    run_import(db, DATA / "trace_annotations.get.json")
    document = json.loads((DATA / "trace_annotations.get.json").read_text())
    document["data"][0]["result"]["label"] = "incorrect"
    document["data"][0]["updated_at"] = "2026-11-27T08:00:00+00:00"
    changed = tmp_path / "trace_annotations.json"
    changed.write_text(json.dumps(document))
    report, _ = run_import(db, changed)
    assert (report.annotations_updated, report.annotations_unchanged) == (1, 1)
    row = rows(db, "trace_id = ?", TRACE_A)[0]
    assert row["label"] == "incorrect"
    assert row["updated_at"] == "2026-11-27T08:00:00.000000+00:00"
    assert row["created_at"] == "2026-11-26T19:57:12.000000+00:00"
    with Store.open(db) as store:
        action, actor, before = store.connection.execute(
            "SELECT action, actor, before FROM annotation_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert (action, actor) == ("import", "import:trace_annotations.json")
    assert json.loads(before)["label"] == "correct"


def test_annotation_files_before_their_trace_file_in_one_call(tmp_path: Path) -> None:
    """Spans go in first, whatever the order of the files."""
    db = tmp_path / "one.db"
    result = cli_import(
        str(DATA / "span_annotations.get.json"),
        str(DATA / "evals.span_id.jsonl"),
        str(RAG_SPANS),
        "--db", str(db), "--name", "hallucination", "--annotator-kind", "code",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "Imported 21 new spans in 2 traces and 2 sessions from 3 files in "
    )
    assert "; annotations: 11 new, 0 updated, 0 unchanged, 0 orphaned; 1 problem." in result.stdout
    found = rows(db)
    assert len(found) == 11
    # --annotator-kind fills only the rows without one
    assert {r["annotator_kind"] for r in found if r["name"] == "hallucination"} == {"CODE"}
    assert {r["annotator_kind"] for r in found if r["name"] == "helpfulness"} == {"HUMAN"}


def test_import_is_consistent_with_the_apps_writes(db: Path) -> None:
    """Same key as set_annotation: an import over the app's row updates that row."""
    with Store.open(db) as store:
        mine = store.set_annotation(
            Annotation(name="helpfulness", span_id=LLM_SPAN, score=0.1, identifier="review-1"),
            actor="review-1",
        )
    report, _ = run_import(db, DATA / "span_annotations.records.jsonl")
    assert report.annotations_updated == 1 and report.annotations_new == 2
    with Store.open(db) as store:
        row = store.find_annotation(AnnotationKey.of(mine))
    assert row is not None and row.id == mine.id and row.score == 0.4 and row.source == "API"
    assert row.created_at == "2026-11-26T19:57:10.000000+00:00"  # the file's, kept


def test_store_import_annotations_directly(db: Path) -> None:
    with Store.open(db) as store:
        conn = store.connection
        one = Annotation(name="x", span_id=LLM_SPAN, label="a", source="API",
                         created_at="2026-01-01T00:00:00.000000+00:00")  # fmt: skip
        counts = import_annotations(conn, [one], actor="import:test")
        assert (counts.new, counts.updated, counts.unchanged) == (1, 0, 0)
        stored = store.find_annotation(AnnotationKey.of(one))
        assert stored is not None and stored.created_at == stored.updated_at == one.created_at
        assert stored.trace_id == TRACE_A  # context filled as set_annotation does
        # no times given: equal values are unchanged, whatever the stored times
        same = Annotation(name="x", span_id=LLM_SPAN, label="a", source="API")
        counts = import_annotations(conn, [same], actor="import:test")
        assert counts.unchanged == 1
        same = Annotation(name="x", span_id=LLM_SPAN, label="b", source="API")
        counts = import_annotations(conn, [same], actor="import:test")
        assert counts.updated == 1
        stored = store.find_annotation(AnnotationKey.of(one))
        assert stored.created_at == one.created_at and stored.updated_at > one.created_at
        # all or nothing: a bad key rolls the batch back
        from annotator.store import AnnotationError

        before = store.counts()["annotations"]
        with pytest.raises(AnnotationError):
            import_annotations(
                conn,
                [Annotation(name="y", span_id=LLM_SPAN), Annotation(name="z", target="trace")],
                actor="import:test",
            )
        assert store.counts()["annotations"] == before


# ---------------------------------------------------------------- the real reference files

REFERENCE = REPO / "tests" / "data" / "readers" / "reference"


@pytest.mark.parametrize(
    ("project", "counts"),
    [
        ("langchain-rag", {"span": 2, "trace": 0, "session": 1, "document": 3}),
        ("langchain-agent", {"span": 4, "trace": 1, "session": 0, "document": 0}),
    ],
)
def test_reference_annotations(project: str, counts: dict[str, int], tmp_path: Path) -> None:
    """What a real Phoenix exported (trimmed to the two traces kept in tests/data) comes in
    field for field, and again unchanged."""
    kinds = ("span", "trace", "session", "document")
    files = [REFERENCE / f"{project}.{kind}_annotations.json" for kind in kinds]
    db = tmp_path / "ref.db"
    report, problems = run_import(db, REFERENCE / f"{project}.otlp.jsonl", *files)
    assert not problems and not report.rejected_files
    assert report.spans_new == {"langchain-rag": 21, "langchain-agent": 17}[project]
    expected = {
        kind: json.loads(f.read_text())["data"] for kind, f in zip(kinds, files, strict=True)
    }
    assert {kind: len(records) for kind, records in expected.items()} == counts
    assert report.annotations_new == sum(counts.values())
    for kind, records in expected.items():
        stored = rows(db, "target = ?", kind)
        assert len(stored) == len(records), kind
        id_key = {
            "span": "span_id",
            "document": "span_id",
            "trace": "trace_id",
            "session": "session_id",
        }[kind]
        want = sorted(
            (
                r[id_key],
                r.get("documentPosition"),
                r["name"],
                r.get("annotator_kind") or r.get("annotatorKind"),
                r.get("identifier", ""),
                (r.get("result") or r)["label"],
                (r.get("result") or r)["score"],
                orjson.dumps(r.get("metadata") or {}).decode(),
            )
            for r in records
        )
        got = sorted(
            (r[id_key], r["document_position"], r["name"], r["annotator_kind"], r["identifier"],
             r["label"], r["score"], orjson.dumps(r["metadata"]).decode())
            for r in stored
        )  # fmt: skip
        assert got == want, kind
    again, _ = run_import(db, *files)
    assert (again.annotations_unchanged, again.annotations_new, again.annotations_updated) == (
        sum(counts.values()),
        0,
        0,
    )


def _import_counting_commits(db: Path, path: Path, **options: object) -> tuple[ImportReport, int]:
    statements: list[str] = []
    with Store.open(db) as store:
        store.connection.set_trace_callback(statements.append)
        report = import_files(
            store,
            [path],
            annotations=AnnotationImportOptions(**options),  # type: ignore[arg-type]
        )
        store.connection.set_trace_callback(None)
    return report, sum(1 for sql in statements if sql.strip().upper() == "COMMIT")


def test_eval_rows_of_several_flushes_in_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An annotation file is one transaction, not a commit per row nor per batch written: 500
    rows are three flushes of a 200-row batch (the store's is 2,000 rows: the same code at a
    tenth of the size; the figure for 50,000 rows: bench/import_bench.py)."""
    n = 500
    monkeypatch.setitem(AnnotationBatch.__init__.__kwdefaults__, "size", 200)
    flushes: list[int] = []
    real_flush = AnnotationBatch.flush

    def flush(self: AnnotationBatch) -> None:
        flushes.append(len(self._pending))
        real_flush(self)

    monkeypatch.setattr(AnnotationBatch, "flush", flush)
    db = tmp_path / "big.db"
    with Store.open(db) as store:
        writer = store.span_writer()
        for i in range(n):
            writer.add(Span(f"{i:016x}", f"{i // 10:032x}", None, "llm", "LLM"))
        writer.close()
    path = tmp_path / "evals.csv"
    with open(path, "w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["context.span_id", "label", "score", "explanation"])
        for i in range(n):
            out.writerow([f"{i:016x}", "ok" if i % 3 else "bad", int(i % 3 != 0), "because"])
    report, commits = _import_counting_commits(db, path, name="quality")
    assert (report.problems, report.annotations_new, commits) == ([], n, 1)
    assert [size for size in flushes if size] == [200, 200, 100]
    again, commits = _import_counting_commits(db, path, name="quality")
    assert (again.annotations_unchanged, commits) == (n, 1)


# ---------------------------------------------------------------- any record at all

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_keys = st.sampled_from(
    ["name", "annotation_name", "annotator_kind", "annotatorKind", "result", "label", "score",
     "explanation", "metadata", "identifier", "span_id", "context.span_id", "trace_id",
     "context.trace_id", "session_id", "document_position", "documentPosition", "position",
     "target", "source", "created_at", "updated_at", "data", "note"]
)  # fmt: skip


@settings(max_examples=examples(400), deadline=None)
@given(st.dictionaries(_keys, _values, max_size=8), st.booleans())
def test_any_record_is_an_annotation_or_a_bad_record(record: dict, named: bool) -> None:
    from annotator.store import AnnotationError

    try:
        annotation, _ = to_annotation(record, Defaults(name="n" if named else None))
        AnnotationKey.of(annotation)  # checked by the importer, a problem line when it fails
    except (BadRecord, NoName, AnnotationError):
        return
    assert annotation.annotator_kind in ("HUMAN", "LLM", "CODE")
    assert annotation.source in ("APP", "API") and type(annotation.metadata) is dict
    assert annotation.score is None or type(annotation.score) is float
    orjson.dumps(annotation.metadata)


# ---------------------------------------------------------------- phoenix-client's DataFrame

# make_dataframe_files.py saved get_span_annotations_dataframe()'s frame (span_annotations.get.json
# without its note; one record given metadata {"model": "gpt-4o"}) the ways users save it.
FRAME = "span_annotations_dataframe"
NO_RESULT = "no label, score or explanation: an empty annotation is not imported"


@pytest.mark.parametrize(
    ("file", "flagged_at"),
    [
        (f"{FRAME}.jsonl", ":6: "),  # reset_index().to_json(orient="records", lines=True)
        (f"{FRAME}.records.json", ": [5]: "),  # reset_index().to_json(orient="records")
        (f"{FRAME}.csv", ":7: "),  # to_csv(): the index is the first column, metadata a repr
        (f"{FRAME}.parquet", ": row 6: "),  # to_parquet(): the index kept as a column
    ],
)
def test_phoenix_annotation_dataframe_imports_every_value(
    db: Path, tmp_path: Path, file: str, flagged_at: str
) -> None:
    if file.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = DATA / file
    assert sniff_file(path).fmt in ANNOTATION_FORMATS
    report, problems = run_import(db, path)
    # The record with an empty result (Phoenix's "flagged") is a problem, not an empty row.
    assert problems == [f"{path}{flagged_at}{NO_RESULT}"]
    assert (report.annotations_new, report.annotations_updated) == (5, 0)
    assert not report.rejected_files and not report.notes
    # Every value is what importing the REST records themselves stores.
    reference = tmp_path / "ref.db"
    shutil.copy(db, reference)
    run_import(reference, DATA / "span_annotations.get.json")
    want = [r for r in rows(reference) if r["name"] not in ("note", "flagged")]
    for row in want:
        if (row["span_id"], row["name"]) == ("d09b0dfa83a842c7", "correctness"):
            row["metadata"] = {"model": "gpt-4o"}
    assert rows(db) == want
    found = {(r["span_id"], r["name"], r["identifier"]): r for r in rows(db)}
    judged = found[("d09b0dfa83a842c7", "correctness", "bulk")]
    assert (judged["label"], judged["score"], judged["explanation"]) == (
        "correct", 1.0, "auto-judged (synthetic)",
    )  # fmt: skip
    assert judged["metadata"] == {"model": "gpt-4o"}
    # a parquet struct column has every key in every row: no invented {"model": null, ...}
    assert found[(LLM_SPAN, "helpfulness", "review-2")]["metadata"] == {
        "reviewer": "alice", "tags": ["refunds", "tone"],
    }  # fmt: skip
    assert found[(LLM_SPAN, "helpfulness", "review-1")]["metadata"] == {}


@pytest.mark.parametrize("file", [f"{FRAME}.no_index.jsonl", f"{FRAME}.no_index.csv"])
def test_annotation_dataframe_saved_without_its_index_says_so(db: Path, file: str) -> None:
    # to_json(orient="records") and to_csv(index=False) leave out the span_id index.
    path = DATA / file
    assert sniff_file(path).fmt in ANNOTATION_FORMATS
    result = cli_import(str(path), "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}: not imported: the records have no span_id, trace_id or session_id, so nothing "
        + "says what they are about. A pandas DataFrame indexed by span_id (as phoenix-client's "
        + "get_span_annotations_dataframe() returns it) loses its index in to_json(orient="
        + "'records') and to_csv(index=False): save it with .reset_index()"
    ]
    assert rows(db) == []


def test_csv_metadata_written_as_a_python_repr(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "evals.csv"
    with open(path, "w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["span_id", "annotation_name", "label", "metadata"])
        out.writerow([LLM_SPAN, "a", "x", "{'model': 'gpt-4o', 'temperature': 0.0, 'ok': True}"])
        out.writerow([LLM_SPAN, "b", "x", "{'scores': (1, 2), 'none': None}"])
        out.writerow([LLM_SPAN, "c", "x", "{'x': np.float64(0.5)}"])  # pandas 2 reprs
        out.writerow([LLM_SPAN, "d", "x", "__import__('os').system('touch pwned')"])
        out.writerow([LLM_SPAN, "e", "x", "{'a': '" + "x" * 200_000 + "'}"])
        out.writerow([LLM_SPAN, "f", "x", "[1, 2]"])
    _, problems = run_import(db, path)
    neither = "metadata is neither a JSON object nor a Python dict literal"
    assert problems == [
        f"{path}:4: {neither}: \"{{'x': np.float64(0.5)}}\"",
        f"{path}:5: {neither}: \"__import__('os').system('touch pwned')\"",
        f"{path}:6: metadata is not JSON, and too long (200,009 characters) to read as a Python "
        + "literal",
        f"{path}:7: metadata is a list, expected an object",
    ]
    assert {r["name"]: r["metadata"] for r in rows(db)} == {
        "a": {"model": "gpt-4o", "temperature": 0.0, "ok": True},
        "b": {"scores": [1, 2], "none": None},
    }
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_records_without_label_score_or_explanation_are_problems(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(
        b"".join(
            orjson.dumps(record) + b"\n"
            for record in (
                {"span_id": LLM_SPAN, "name": "a", "annotator_kind": "HUMAN", "result": None},
                {"span_id": LLM_SPAN, "name": "b", "annotator_kind": "HUMAN", "result": {}},
                {"span_id": LLM_SPAN, "name": "c", "label": None, "score": None},
                {"span_id": LLM_SPAN, "name": "d", "label": "", "metadata": {"k": 1}},
                {"span_id": LLM_SPAN, "name": "e", "result.label": None, "result.score": 0.0},
            )
        )
    )
    _, problems = run_import(db, path)
    assert problems == [f"{path}:{line}: {NO_RESULT}" for line in (1, 2, 3)]
    assert [(r["name"], r["label"], r["score"]) for r in rows(db)] == [
        ("d", "", None),
        ("e", None, 0.0),
    ]


def test_eval_table_without_ids_says_so_before_asking_for_a_name(db: Path, tmp_path: Path) -> None:
    # SpanEvaluations' frame (index context.span_id) saved with to_json(orient="records")
    path = tmp_path / "evals.jsonl"
    path.write_bytes(b'{"label":"toxic","score":1.0,"explanation":"rude"}\n' * 2)
    result = cli_import(str(path), "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}: not imported: the records have no span_id, ")
    assert result.stderr.rstrip().endswith(": save it with .reset_index()")
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------- round trips through our exports

ANNOTATION_SQL = "SELECT * FROM annotations ORDER BY id"
VALUE_COLUMNS = (
    "target", "span_id", "trace_id", "session_id", "document_position", "name", "label", "score",
    "explanation", "annotator_kind", "identifier", "metadata",
)  # fmt: skip


def _annotated_by_two(db: Path) -> None:
    """What two annotators' app sessions write: span labels with seconds spent, both labelling
    the same retrieved documents (so their document annotations share Phoenix's key)."""
    with Store.open(db) as store:
        for who, verdict in (("alice", "correct"), ("bob", "incorrect")):
            store.set_annotation(
                Annotation(name="correctness", span_id=LLM_SPAN, label=verdict, score=1.0,
                           identifier=who, metadata={"seconds_spent": 2.5}),
                actor=who,
            )  # fmt: skip
            for position, label in enumerate(("relevant", "irrelevant", "relevant")):
                store.set_annotation(
                    Annotation(name="relevance", target="document", span_id=RETRIEVER,
                               document_position=position, label=label, identifier=who),
                    actor=who,
                )  # fmt: skip
            store.set_annotation(
                Annotation(name="task_success", target="trace", trace_id=TRACE_A,
                           label="success", identifier=who),
                actor=who,
            )  # fmt: skip


def _table(db: Path, sql: str = ANNOTATION_SQL) -> list[tuple]:
    with Store.open(db) as store:
        return store.connection.execute(sql).fetchall()


@pytest.mark.parametrize("out", ["phoenix.json", "phoenix_dir/", "export.jsonl", "export.csv"])
def test_export_imported_into_the_same_database_changes_nothing(
    db: Path, tmp_path: Path, out: str
) -> None:
    _annotated_by_two(db)
    before, log_before = _table(db), _table(db, "SELECT * FROM annotation_log")
    fmt = "phoenix" if out.startswith("phoenix") else out.rsplit(".", 1)[1]
    target = tmp_path / out
    exported = CliRunner().invoke(
        cli, ["export", "--db", str(db), "--format", fmt, "--out", str(tmp_path) + "/" + out]
    )
    assert exported.exit_code == 0, exported.output
    files = sorted(map(str, target.iterdir())) if out.endswith("/") else [str(target)]
    result = cli_import(*files, "--db", str(db))
    assert result.exit_code == 0, result.output
    # Phoenix keeps one document annotation per (span, position, name): 3 of the 6 go out.
    count = 7 if fmt == "phoenix" else 10
    assert f": 0 new, 0 updated, {count} unchanged, 0 orphaned; 0 problems." in result.stdout
    assert _table(db) == before  # byte for byte: source, times, identifiers, metadata
    assert _table(db, "SELECT * FROM annotation_log") == log_before


def test_phoenix_export_into_a_fresh_database_gives_the_annotators_back(
    db: Path, tmp_path: Path
) -> None:
    _annotated_by_two(db)
    target = tmp_path / "phoenix.json"
    cli_run_ok("export", "--db", str(db), "--format", "phoenix", "--out", str(target))
    fresh = tmp_path / "fresh.db"
    shutil.copy(db, fresh)
    with Store.open(fresh) as store:
        store.connection.execute("DELETE FROM annotations")
    result = cli_import(str(target), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    columns = ", ".join(VALUE_COLUMNS)
    exported = _table(fresh, f"SELECT {columns} FROM annotations ORDER BY {columns}")
    original = _table(db, f"SELECT {columns} FROM annotations ORDER BY {columns}")
    # the document annotations written out were bob's (updated last): his, under his name
    assert exported == [row for row in original if row[5] != "relevance" or row[10] == "bob"]
    assert {row[10] for row in exported} == {"alice", "bob"}  # no rater called ""
    report = json.loads(cli_run_ok("stats", "--db", str(fresh), "--json"))
    assert [a["rater"] for a in report["annotators"]] == ["alice", "bob"]


def test_phoenix_document_records_with_an_annotator_identifier_in_metadata(
    db: Path, tmp_path: Path
) -> None:
    # What Phoenix returns for document annotations we sent: identifier "", ours in metadata.
    path = tmp_path / "documents.json"
    path.write_bytes(orjson.dumps({"data": [
        {"span_id": RETRIEVER, "document_position": 0, "name": "relevance",
         "annotator_kind": "HUMAN", "result": {"label": "relevant"}, "identifier": "",
         "metadata": {"annotator_identifier": "carol", "seconds_spent": 1.5}},
        {"span_id": RETRIEVER, "document_position": 1, "name": "relevance",
         "annotator_kind": "LLM", "result": {"label": "irrelevant"}, "identifier": "",
         "metadata": {}},
        {"span_id": LLM_SPAN, "name": "tone", "annotator_kind": "HUMAN",
         "result": {"label": "ok"}, "identifier": "",
         "metadata": {"annotator_identifier": "dave"}},  # not a document: kept as it is
    ]}))  # fmt: skip
    report, problems = run_import(db, path)
    assert not problems and report.annotations_new == 3
    assert [(r["document_position"], r["identifier"], r["metadata"]) for r in rows(db)] == [
        (0, "carol", {"seconds_spent": 1.5}),
        (1, "", {}),
        (None, "", {"annotator_identifier": "dave"}),
    ]


def cli_run_ok(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_readme_judge_results_lines_import_as_shown(tmp_path: Path) -> None:
    """The README's evaluation file example, with its command, on the bundled samples."""
    from annotator.resources import sample_trace_files

    readme = (REPO / "README.md").read_text()
    block = readme.split("(`judge_results.jsonl` above)")[1].split("```json\n")[1].split("```")[0]
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert len(lines) == 3
    path = tmp_path / "judge_results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "team.db"
    assert cli_import(*map(str, sample_trace_files()), "--db", str(db)).exit_code == 0
    options = ("--name", "correctness", "--annotator-kind", "LLM")
    assert f"annotator import judge_results.jsonl --db team.db {' '.join(options)}" in readme
    result = cli_import(str(path), "--db", str(db), *options)
    assert result.exit_code == 0 and result.stderr == ""
    assert ": 3 new, 0 updated, 0 unchanged, 0 orphaned; 0 problems." in result.stdout
    assert [(r["label"], r["score"], r["explanation"], r["metadata"]) for r in rows(db)] == [
        ("incorrect", 0.0, "made up", {}),
        ("correct", 1.0, None, {"model": "gpt-4o"}),
        ("correct", 1.0, "as documented", {}),
    ]
