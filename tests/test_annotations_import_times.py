"""Annotation files with times out of range: one bad row or record is one problem naming the
file, the row (or line) and the field; every other record of the file is imported.

Parquet timestamps beyond year 9999 overflow Python's datetime (pyarrow raises when asked for
the column's Python values), which used to stop the whole file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from annotator.annotations_io import AnnotationImportOptions
from annotator.cli.main import cli
from annotator.importer import ImportReport, import_files
from annotator.model import Span
from annotator.store import Store

REPO = Path(__file__).resolve().parents[1]
RAG_SPANS = REPO / "tests" / "data" / "readers" / "reference" / "langchain-rag.otlp.jsonl"
LLM_SPAN = "41a76d0f72cb7bda"
ROOT = "6b688d186021a3ee"
RETRIEVER = "1af0b87278057b51"
OTHER = "d09b0dfa83a842c7"
SPANS = (LLM_SPAN, ROOT, RETRIEVER, OTHER)
NOV_14 = 1_700_000_000  # 2023-11-14T22:13:20Z
NOV_14_ISO = "2023-11-14T22:13:20.000000+00:00"
YEAR_11476_US = 300_000_000_000_000_000  # microseconds since 1970: year 11476
INT64_MAX = 2**63 - 1


@pytest.fixture
def pa() -> Any:
    """pyarrow, for the parquet tests alone: imported when one runs, not as the suite is
    collected (~0.15 CPU-s with numpy, in every pytest process)."""
    return pytest.importorskip("pyarrow")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "a.db"
    with Store.open(path) as store:
        report = import_files(store, [RAG_SPANS])
    assert report.spans_new == 21 and not report.problems
    return path


def run_import(db: Path, path: Path, **options: object) -> tuple[ImportReport, list[str]]:
    problems: list[str] = []
    options.setdefault("annotator_kind", "LLM")
    with Store.open(db) as store:
        report = import_files(
            store,
            [path],
            on_problem=problems.append,
            annotations=AnnotationImportOptions(**options),  # type: ignore[arg-type]
        )
    return report, problems


def stored(db: Path) -> list[tuple]:
    with Store.open(db) as store:
        return store.connection.execute(
            "SELECT span_id, label, created_at, updated_at, metadata FROM annotations "
            "ORDER BY label"
        ).fetchall()


def _write_parquet(path: Path, table: object) -> Path:
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    return path


def test_parquet_timestamp_out_of_range_is_a_problem_of_its_row(
    db: Path, tmp_path: Path, pa: Any
) -> None:
    path = _write_parquet(
        tmp_path / "evals.parquet",
        pa.table(
            {
                "span_id": list(SPANS),
                "label": ["a", "b", "c", "d"],
                "created_at": pa.array(
                    [NOV_14 * 10**6, YEAR_11476_US, NOV_14 * 10**6, (NOV_14 + 2) * 10**6],
                    type=pa.timestamp("us", tz="UTC"),
                ),
                "updated_at": pa.array(
                    [(NOV_14 + 60) * 1000, NOV_14 * 1000, INT64_MAX, (NOV_14 + 1) * 1000],
                    type=pa.timestamp("ms"),
                ),
            }
        ),
    )
    report, problems = run_import(db, path, name="quality")
    assert problems == [
        f"{path}: row 2: created_at is not a time: {YEAR_11476_US} (parquet timestamp)",
        f"{path}: row 3: updated_at is not a time: {INT64_MAX} (parquet timestamp)",
    ]
    assert (report.annotations_new, report.rejected_files) == (2, [])
    assert [row[:4] for row in stored(db)] == [
        (LLM_SPAN, "a", NOV_14_ISO, "2023-11-14T22:14:20.000000+00:00"),
        (OTHER, "d", "2023-11-14T22:13:22.000000+00:00", "2023-11-14T22:13:21.000000+00:00"),
    ]


def test_cli_reports_the_bad_row_and_imports_the_rest(db: Path, tmp_path: Path, pa: Any) -> None:
    path = _write_parquet(
        tmp_path / "evals.parquet",
        pa.table(
            {
                "span_id": [LLM_SPAN, ROOT],
                "label": ["a", "b"],
                "created_at": pa.array([YEAR_11476_US, NOV_14 * 10**6], type=pa.timestamp("us")),
            }
        ),
    )
    result = CliRunner().invoke(
        cli,
        ["import", str(path), "--db", str(db), "--name", "q", "--annotator-kind", "HUMAN"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"{path}: row 1: created_at is not a time: {YEAR_11476_US} (parquet timestamp)"
    ]
    assert "1 new, 0 updated" in result.stdout and "1 problem." in result.stdout
    assert [row[:3] for row in stored(db)] == [(ROOT, "b", NOV_14_ISO)]


def test_parquet_values_pyarrow_cannot_convert_cost_their_row(
    db: Path, tmp_path: Path, pa: Any
) -> None:
    """A nested timestamp or a date out of range: pyarrow raises for the whole column; the
    other rows' values are still read. The row is a problem whichever column holds the value
    (`reviewed_on` means nothing to the import): what it is cannot be known."""
    metadata = pa.array(
        [
            {"model": "m1", "at": NOV_14 * 10**6},
            {"model": "m2", "at": YEAR_11476_US},
            {"model": "m3", "at": None},
            {"model": "m4", "at": None},
        ],
        type=pa.struct([("model", pa.string()), ("at", pa.timestamp("us"))]),
    )
    reviewed = pa.array([0, 0, 10**15, 0], type=pa.date64())  # 10**15 ms: year 33658
    path = _write_parquet(
        tmp_path / "evals.parquet",
        pa.table(
            {
                "span_id": list(SPANS),
                "label": ["a", "b", "c", "d"],
                "metadata": metadata,
                "reviewed_on": reviewed,
            }
        ),
    )
    report, problems = run_import(db, path, name="quality")
    assert problems == [
        f"{path}: row 2: metadata cannot be read: date value out of range",
        f"{path}: row 3: reviewed_on cannot be read: date value out of range",
    ]
    assert report.annotations_new == 2
    assert [(row[0], row[1], json.loads(row[4])) for row in stored(db)] == [
        (LLM_SPAN, "a", {"model": "m1", "at": "2023-11-14T22:13:20"}),
        (OTHER, "d", {"model": "m4"}),
    ]


# (value, how the problem line shows it, the field it is in)
ABSURD_TIMES = [
    ("99999-01-01", "'99999-01-01'", "created_at"),  # a five-digit year
    (1e300, "1e+300", "updated_at"),  # an epoch number far beyond year 9999
    (10**30, "1e+30", "created_at"),  # wider than 64 bits: orjson reads it as a float
    ("NaN", "'NaN'", "updated_at"),
    ("inf", "'inf'", "created_at"),
    ("9" * 30, "'" + "9" * 30 + "'", "updated_at"),  # digits: nanoseconds out of range
    ("0001-01-01T00:00:00+01:00", "'0001-01-01T00:00:00+01:00'", "created_at"),  # < year 1 UTC
    ("9999-12-31T23:59:59-01:00", "'9999-12-31T23:59:59-01:00'", "updated_at"),  # > 9999 UTC
]
GOOD = {"span_id": LLM_SPAN, "name": "q", "label": "good", "created_at": NOV_14}


def _absurd_records() -> list[dict]:
    return [
        {"span_id": ROOT, "name": "q", "label": f"bad{index}", field: value}
        for index, (value, _, field) in enumerate(ABSURD_TIMES)
    ]


def _only_the_good_record_stored(db: Path, report: ImportReport) -> None:
    assert (report.annotations_new, report.rejected_files) == (1, [])
    assert [row[:3] for row in stored(db)] == [(LLM_SPAN, "good", NOV_14_ISO)]


def test_absurd_times_in_json_lines_are_problems_of_their_lines(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "evals.jsonl"
    lines = [json.dumps(record) for record in _absurd_records()]
    path.write_text("\n".join([*lines, json.dumps(GOOD), '{"created_at": -1e400}']) + "\n")
    report, problems = run_import(db, path)
    assert problems == [
        *(
            f"{path}:{line}: {field} is not a time: {shown}"
            for line, (_, shown, field) in enumerate(ABSURD_TIMES, 1)
        ),
        f"{path}:{len(ABSURD_TIMES) + 2}: JSON syntax error at column 16 (number is infinity "
        "when parsed as double)",
    ]
    _only_the_good_record_stored(db, report)


def test_absurd_times_in_a_json_document_are_problems_of_their_records(
    db: Path, tmp_path: Path
) -> None:
    path = tmp_path / "evals.json"
    path.write_text(json.dumps({"data": [*_absurd_records(), GOOD]}))
    report, problems = run_import(db, path)
    assert problems == [
        f"{path}: data[{index}]: {field} is not a time: {shown}"
        for index, (_, shown, field) in enumerate(ABSURD_TIMES)
    ]
    _only_the_good_record_stored(db, report)


def test_absurd_times_in_csv_are_problems_of_their_lines(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "evals.csv"
    with open(path, "w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["span_id", "name", "label", "created_at", "updated_at"])
        for index, (value, _, field) in enumerate(ABSURD_TIMES):
            times = [value, ""] if field == "created_at" else ["", value]
            out.writerow([ROOT, "q", f"bad{index}", *times])
        out.writerow([LLM_SPAN, "q", "good", NOV_14, ""])
    report, problems = run_import(db, path)
    # CSV cells are text: a number shows as the text it was written as
    assert problems == [
        f"{path}:{line}: {field} is not a time: {shown if type(value) is str else repr(str(value))}"
        for line, (value, shown, field) in enumerate(ABSURD_TIMES, 2)
    ]
    _only_the_good_record_stored(db, report)


def test_span_parquet_with_a_time_out_of_range_loses_that_row_only(tmp_path: Path, pa: Any) -> None:
    """The span reader shares the conversion (readers.parquet_timestamp_texts)."""
    import pyarrow.parquet as pq

    from annotator.readers import read_spans

    source = (
        REPO / "tests" / "data" / "readers" / "reference" / "langchain-rag.spans_dataframe.parquet"
    )
    table = pq.read_table(source)
    index = table.schema.get_field_index("start_time")
    micros = table.column(index).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_pylist()
    micros[1] = YEAR_11476_US
    table = table.set_column(
        index, "start_time", pa.array(micros, type=pa.timestamp("us", tz="UTC"))
    )
    path = _write_parquet(tmp_path / "spans.parquet", table)
    items = list(read_spans(path))
    assert [str(item) for item in items if not isinstance(item, Span)] == [
        f"{path}: row 2: start_time is not a time: {YEAR_11476_US} (parquet timestamp)"
    ]
    assert sum(isinstance(item, Span) for item in items) == 20
