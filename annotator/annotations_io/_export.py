"""Writing annotations out: flat JSON lines / CSV, and Phoenix request bodies.

Everything streams from one SQLite cursor per query: memory does not grow with the number of
annotations. See the package docstring for the shapes.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import sqlite3
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from annotator.csv_cells import neutralise
from annotator.model import NOTE_NAME, Target
from annotator.output_file import OutputError, check_output, open_output
from annotator.store import FINAL, Store, connection_of

if TYPE_CHECKING:
    from annotator.query import Selection

FORMATS = ("jsonl", "csv", "phoenix")

# The flat export's columns, in this order (JSON lines keys and CSV header alike). The first
# sixteen are the annotation (Phoenix's field names, result fields flattened); the last four
# are context: the span's name, kind, project and start time (for a trace annotation: its root
# span's; for a session annotation only the project).
EXPORT_COLUMNS = (
    "name", "annotator_kind", "identifier", "label", "score", "explanation", "metadata",
    "source", "created_at", "updated_at", "target", "span_id", "trace_id", "session_id",
    "document_position", "id", "span_name", "span_kind", "project", "span_start_time",
)  # fmt: skip

# Phoenix endpoints, in the order they are written.
ANNOTATION_ENDPOINTS = (
    "span_annotations", "document_annotations", "trace_annotations", "session_annotations",
)  # fmt: skip
NOTE_ENDPOINTS = ("span_notes", "trace_notes", "session_notes")
_ENDPOINT_TARGET = {
    "span_annotations": Target.SPAN.value,
    "document_annotations": Target.DOCUMENT.value,
    "trace_annotations": Target.TRACE.value,
    "session_annotations": Target.SESSION.value,
    "span_notes": Target.SPAN.value,
    "trace_notes": Target.TRACE.value,
    "session_notes": Target.SESSION.value,
}
_ID_FIELD = {
    Target.SPAN.value: "span_id",
    Target.DOCUMENT.value: "span_id",
    Target.TRACE.value: "trace_id",
    Target.SESSION.value: "session_id",
}

# Where a document annotation's own identifier goes in the Phoenix export (Phoenix refuses a
# non-empty identifier on document annotations).
DOCUMENT_IDENTIFIER_KEY = "annotator_identifier"

_CONTEXT_SQL = """
    CASE WHEN a.target IN ('span', 'document') THEN s.name
         WHEN a.target = 'trace' THEN t.root_name END,
    CASE WHEN a.target IN ('span', 'document') THEN s.span_kind
         WHEN a.target = 'trace' THEN t.root_kind END,
    coalesce(s.project, t.project,
             (SELECT x.project FROM traces x WHERE x.session_id = a.session_id
              ORDER BY x.project LIMIT 1)),
    CASE WHEN a.target IN ('span', 'document') THEN s.start_time
         WHEN a.target = 'trace' THEN t.start_time END"""
_FROM_SQL = """
FROM annotations a
LEFT JOIN spans s ON a.target IN ('span', 'document') AND s.span_id = a.span_id
LEFT JOIN traces t ON t.trace_id = a.trace_id"""
_ANNOTATION_SQL = (
    "a.name, a.annotator_kind, a.identifier, a.label, a.score, a.explanation, a.metadata, "
    "a.source, a.created_at, a.updated_at, a.target, a.span_id, a.trace_id, a.session_id, "
    "a.document_position, a.id"
)


def _every_span() -> Selection:
    # annotator.query is imported when a filter is made (export, push), not by what only reads
    # annotation files (`annotator import`: ~40 ms less).
    from annotator.query import Selection

    return Selection()


@dataclass(slots=True, frozen=True)
class ExportFilter:
    """Which annotations: names (any of), one annotator identifier, one target. `project`
    (``push --project``, Phoenix items only): annotations about that project's spans, traces
    and sessions; the others are left out without a word. `spans` (``--where`` /
    ``--trace-where``): annotations about the spans it selects (``Selection.annotations_sql``:
    a trace's annotations go with its root span)."""

    names: tuple[str, ...] = ()
    annotator: str | None = None
    target: str | None = None
    project: str | None = None
    spans: Selection = field(default_factory=_every_span)

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.names:
            clauses.append(f"a.name IN ({','.join('?' * len(self.names))})")
            params += list(self.names)
        if self.annotator is not None:
            clauses.append("a.identifier = ?")
            params.append(self.annotator)
        if self.target is not None:
            clauses.append("a.target = ?")
            params.append(self.target)
        if self.spans:
            from annotator.query import positional

            text, selected = positional(self.spans.annotations_sql())
            clauses.append(f"({text})")
            params += selected
        return clauses, params


@dataclass
class ExportResult:
    rows: int = 0
    per_endpoint: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- flat rows


def iter_rows(conn: sqlite3.Connection, selection: ExportFilter | None = None) -> Iterator[dict]:
    """Every selected annotation (None: every one) as one flat dict (keys: EXPORT_COLUMNS), in
    row id order."""
    clauses, params = (ExportFilter() if selection is None else selection).where()
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT {_ANNOTATION_SQL}, {_CONTEXT_SQL} {_FROM_SQL}{where} ORDER BY a.id"
    loads = orjson.loads
    for values in conn.execute(sql, params):
        row = dict(zip(EXPORT_COLUMNS, values, strict=True))
        row["metadata"] = loads(row["metadata"]) if row["metadata"] else {}
        yield row


def write_jsonl(conn: sqlite3.Connection, out: IO[bytes], selection: ExportFilter) -> ExportResult:
    result = ExportResult()
    dumps = orjson.dumps
    for row in iter_rows(conn, selection):
        out.write(dumps(row) + b"\n")
        result.rows += 1
    return result


def write_csv(conn: sqlite3.Connection, out: IO[bytes], selection: ExportFilter) -> ExportResult:
    """CSV: the same columns; metadata as JSON text; a missing value is an empty field. Text
    that a spreadsheet would run as a formula gets a leading quote (`annotator.csv_cells`;
    ``annotator import`` takes it off again); numbers are written as numbers."""
    result = ExportResult()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(EXPORT_COLUMNS)
        dumps = orjson.dumps
        for row in iter_rows(conn, selection):
            row["metadata"] = dumps(row["metadata"]).decode()
            writer.writerow([_cell(v) for v in row.values()])
            result.rows += 1
        text.flush()
    finally:
        text.detach()
    return result


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if type(value) is str:
        return neutralise(value)
    if type(value) is float and not math.isfinite(value):
        return neutralise(repr(value))  # "-inf" is not a number to a spreadsheet
    return value


# ---------------------------------------------------------------- Phoenix request bodies


class _Skips:
    """Items left out of the Phoenix export, counted by reason, reported as one line each."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, endpoint: str, reason: str) -> None:
        key = (endpoint, reason)
        self.counts[key] = self.counts.get(key, 0) + 1

    def warnings(self) -> list[str]:
        return [
            f"{endpoint}: {count:,} left out: {reason}"
            for (endpoint, reason), count in self.counts.items()
        ]


# Why an annotation has no Phoenix item (`phoenix_items` reports these; each caller words them).
NOT_IN_DATABASE = "not in database"  # its span, trace or session is not here (Phoenix: 404)
EMPTY_TARGET_ID = "empty target id"
NOTE_WITHOUT_TEXT = "note without text"
EMPTY_NAME = "empty name"
SCORE_NOT_FINITE = "score not finite"
METADATA_NOT_OBJECT = "metadata not an object"
DOCUMENT_BEYOND = "document beyond the span's documents"  # Phoenix: 422
DOCUMENT_SECOND_ANNOTATOR = "second annotator on one document"  # Phoenix keeps one

_EXPORT_REASONS = {
    NOT_IN_DATABASE: "not in this database (Phoenix answers 404 and rejects the whole batch)",
    NOTE_WITHOUT_TEXT: "notes without text (Phoenix requires the note text)",
    EMPTY_NAME: "empty annotation name",
    SCORE_NOT_FINITE: "score is not a finite number",
    METADATA_NOT_OBJECT: "metadata is not an object",
    DOCUMENT_BEYOND: (
        "document position beyond the span's retrieved documents "
        "(Phoenix answers 422 and rejects the whole batch)"
    ),
    DOCUMENT_SECOND_ANNOTATOR: (
        "more than one annotator on one (span, document, name): Phoenix keeps one document "
        "annotation per key (its identifier must be empty); the final value was kept where "
        "there is one, else the most recently updated; the others' are left out (choose "
        "whose with --annotator ID)"
    ),
}


@dataclass(frozen=True, slots=True)
class PhoenixItem:
    """One annotation as the item of a Phoenix request body (for notes: a whole body)."""

    annotation_id: int
    endpoint: str
    item: dict[str, Any]


def _phoenix_rows(
    conn: sqlite3.Connection, endpoint: str, selection: ExportFilter
) -> Iterator[tuple]:
    target = _ENDPOINT_TARGET[endpoint]
    if selection.target is not None and selection.target != target:
        return
    clauses, params = selection.where()
    clauses += ["a.target = ?", "a.name = ?" if endpoint.endswith("_notes") else "a.name != ?"]
    params += [target, NOTE_NAME]
    in_project = " AND {}.project = ?" if selection.project is not None else ""
    exists = {
        Target.SPAN.value: "s.span_id IS NOT NULL" + in_project.format("s"),
        Target.DOCUMENT.value: "s.span_id IS NOT NULL" + in_project.format("s"),
        Target.TRACE.value: "EXISTS (SELECT 1 FROM traces x WHERE x.trace_id = a.trace_id"
        + in_project.format("x")
        + ")",
        Target.SESSION.value: "EXISTS (SELECT 1 FROM traces x WHERE x.session_id = a.session_id"
        + in_project.format("x")
        + ")",
    }[target]
    exists_params = [selection.project] if selection.project is not None else []
    order = "a.id"
    if target == Target.DOCUMENT:
        # One item per Phoenix key (span, position, name): the final value first within a key
        # (the decision, where Phoenix can hold one value), else the newest.
        order = (
            "a.span_id, a.document_position, a.name, "
            f"(a.identifier = '{FINAL}' AND a.annotator_kind = 'HUMAN') DESC, "
            "a.updated_at DESC, a.identifier"
        )
    sql = (
        f"SELECT a.id, a.name, a.annotator_kind, a.identifier, a.label, a.score, a.explanation, "
        f"a.metadata, a.span_id, a.trace_id, a.session_id, a.document_position, "
        f"{exists}, s.document_count "
        "FROM annotations a LEFT JOIN spans s ON a.target IN ('span', 'document') "
        f"AND s.span_id = a.span_id WHERE {' AND '.join(clauses)} ORDER BY {order}"
    )
    # a plain loop, not `yield from`: closing an abandoned generator (a failed write) must
    # not close the cursor, maybe after its database was closed
    for row in conn.execute(sql, [*exists_params, *params]):  # noqa: UP028
        yield row


def phoenix_items(
    conn: sqlite3.Connection,
    endpoint: str,
    selection: ExportFilter,
    skip: Callable[[str], None],
) -> Iterator[PhoenixItem]:
    """The items of one endpoint's request body (for notes: whole note request bodies), by
    Phoenix's rules: ``export --format phoenix`` writes them and ``push`` sends them. An
    annotation Phoenix would refuse is not an item: `skip` gets why (one of the reasons above;
    with `selection.project`, NOT_IN_DATABASE also means "in another project")."""
    target = _ENDPOINT_TARGET[endpoint]
    id_field = _ID_FIELD[target]
    notes = endpoint.endswith("_notes")
    last_key: tuple | None = None
    for (
        row_id, name, kind, identifier, label, score, explanation, metadata_text, span_id,
        trace_id, session_id, position, exists, document_count,
    ) in _phoenix_rows(conn, endpoint, selection):  # fmt: skip
        target_id = {"span_id": span_id, "trace_id": trace_id, "session_id": session_id}[id_field]
        if not exists:
            skip(NOT_IN_DATABASE)
            continue
        if not target_id:
            skip(EMPTY_TARGET_ID)
            continue
        if notes:
            if not explanation or not explanation.strip():
                skip(NOTE_WITHOUT_TEXT)
                continue
            note = {id_field: target_id, "note": explanation}
            if identifier:
                note["identifier"] = identifier
            yield PhoenixItem(row_id, endpoint, {"data": note})
            continue
        if not name or not name.strip():
            skip(EMPTY_NAME)
            continue
        if score is not None and not math.isfinite(score):
            skip(SCORE_NOT_FINITE)
            continue
        metadata = orjson.loads(metadata_text) if metadata_text else {}
        if type(metadata) is not dict:
            skip(METADATA_NOT_OBJECT)
            continue
        item: dict[str, Any] = {id_field: target_id}
        if target == Target.DOCUMENT:
            if position is None or position < 0 or position >= (document_count or 0):
                skip(DOCUMENT_BEYOND)
                continue
            key = (span_id, position, name)
            if key == last_key:
                skip(DOCUMENT_SECOND_ANNOTATOR)
                continue
            last_key = key
            item["document_position"] = position
            if identifier:
                metadata = {**metadata, DOCUMENT_IDENTIFIER_KEY: identifier}
            identifier = ""
        item["name"] = name
        item["annotator_kind"] = kind
        result = {
            k: v
            for k, v in (("label", label), ("score", score), ("explanation", explanation))
            if v is not None
        }
        if result:
            item["result"] = result
        item["metadata"] = metadata
        item["identifier"] = identifier or ""
        yield PhoenixItem(row_id, endpoint, item)


def _export_items(
    conn: sqlite3.Connection, endpoint: str, selection: ExportFilter, skips: _Skips
) -> Generator[dict, None, None]:
    """`phoenix_items` for the export: the bodies, and each skipped annotation counted."""
    id_field = _ID_FIELD[_ENDPOINT_TARGET[endpoint]]

    def skip(reason: str) -> None:
        text = f"empty {id_field}" if reason == EMPTY_TARGET_ID else _EXPORT_REASONS[reason]
        skips.add(endpoint, text)

    for found in phoenix_items(conn, endpoint, selection, skip):
        yield found.item


def document_notes(conn: sqlite3.Connection, selection: ExportFilter) -> int:
    """Notes on documents: Phoenix has no document notes."""
    clauses, params = selection.where()
    clauses += ["a.target = 'document'", "a.name = ?"]
    params.append(NOTE_NAME)
    sql = f"SELECT count(*) FROM annotations a WHERE {' AND '.join(clauses)}"
    return conn.execute(sql, params).fetchone()[0]


def write_phoenix(
    conn: sqlite3.Connection, out: IO[bytes], selection: ExportFilter
) -> ExportResult:
    """One JSON object: each annotation endpoint's request body, and for each notes endpoint
    the list of its request bodies (one per note: the notes endpoints take one at a time)."""
    result = ExportResult()
    skips = _Skips()
    dumps = orjson.dumps
    out.write(b"{")
    for index, endpoint in enumerate((*ANNOTATION_ENDPOINTS, *NOTE_ENDPOINTS)):
        notes = endpoint in NOTE_ENDPOINTS
        out.write(b"\n" if index == 0 else b",\n")
        out.write(dumps(endpoint) + (b": [" if notes else b': {"data": ['))
        count = 0
        for item in _export_items(conn, endpoint, selection, skips):
            out.write((b"\n" if count == 0 else b",\n") + dumps(item))
            count += 1
        out.write((b"\n" if count else b"") + (b"]" if notes else b"]}"))
        result.per_endpoint[endpoint] = count
        result.rows += count
    out.write(b"\n}\n")
    _finish(conn, selection, skips, result)
    return result


def write_phoenix_dir(
    conn: sqlite3.Connection,
    directory: Path,
    selection: ExportFilter,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> ExportResult:
    """One file per endpoint that has something to send: ``<endpoint>.json`` (a request body)
    for annotations, ``<endpoint>.jsonl`` (one request body per line) for notes. A file of one
    of these names that is already there for an endpoint that now has nothing is replaced by
    an empty body (``{"data": []}``, an empty notes file) - never deleted - so that sending
    every file present sends exactly this export. Every file is checked before any is
    written."""
    result = ExportResult()
    skips = _Skips()
    dumps = orjson.dumps
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(
            f"{directory}: cannot create the directory ({error.strerror or error})"
        ) from None
    plans = {}
    for endpoint in (*ANNOTATION_ENDPOINTS, *NOTE_ENDPOINTS):
        name = f"{endpoint}.{'jsonl' if endpoint in NOTE_ENDPOINTS else 'json'}"
        plans[endpoint] = check_output(directory / name, protect)
    for endpoint, plan in plans.items():
        notes = endpoint in NOTE_ENDPOINTS
        items = _export_items(conn, endpoint, selection, skips)
        first = next(items, None)
        count = 0
        if first is not None or plan.kind != "new":
            with closing(items), open_output(plan) as out:
                if not notes:
                    out.write(b'{"data": [')
                for item in itertools.chain((first,) if first is not None else (), items):
                    if notes:
                        out.write(dumps(item) + b"\n")
                    else:
                        out.write((b"\n" if count == 0 else b",\n") + dumps(item))
                    count += 1
                if not notes:
                    out.write(b"\n]}\n" if count else b"]}\n")
        if count:
            result.files.append(plan.given)
        result.per_endpoint[endpoint] = count
        result.rows += count
    _finish(conn, selection, skips, result)
    return result


def _finish(
    conn: sqlite3.Connection, selection: ExportFilter, skips: _Skips, result: ExportResult
) -> None:
    result.warnings += skips.warnings()
    if selection.target in (None, Target.DOCUMENT.value):
        count = document_notes(conn, selection)
        if count:
            result.warnings.append(
                f"document notes: {count:,} left out: Phoenix has no notes on documents"
            )


WRITERS: dict[str, Callable[[sqlite3.Connection, IO[bytes], ExportFilter], ExportResult]] = {
    "jsonl": write_jsonl,
    "csv": write_csv,
    "phoenix": write_phoenix,
}


def export_annotations(
    database: Store | sqlite3.Connection,
    fmt: str,
    out: str | Path | None,
    selection: ExportFilter | None = None,
    *,
    stdout: IO[bytes] | None = None,
    protect: Sequence[str | os.PathLike[str]] = (),
) -> ExportResult:
    """Write the selected annotations of `database` (a Store or its connection) in `fmt` to
    `out`: None or "-" is `stdout`; for ``phoenix`` an existing directory (or a path ending in
    a separator) gets one file per endpoint; anything else goes through
    `annotator.output_file` (atomic replacement, devices and FIFOs in place, databases and the
    files in `protect` refused). Raises ValueError for a
    bad format or a directory given to a one-file format, OutputError (one line) for an output
    that must not or cannot be written, ReaderGone when stdout's reader went away. No
    `selection`: every annotation."""
    if selection is None:
        selection = ExportFilter()
    conn = connection_of(database)
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    text = "-" if out is None else str(out)
    if text == "":
        raise OutputError("the output path is empty (use '-' for stdout)")
    path = Path(text)
    if text != "-" and (path.is_dir() or text.endswith(("/", os.sep))):
        if fmt != "phoenix":
            raise ValueError(f"{text}: is a directory (only --format phoenix writes a directory)")
        return write_phoenix_dir(conn, path, selection, protect)
    with open_output(text, protect=protect, stdout=stdout) as stream:
        result = WRITERS[fmt](conn, stream, selection)
    if text != "-":
        result.files.append(text)
    return result
