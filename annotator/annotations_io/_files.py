"""Annotation files -> raw records (dicts), one at a time, each with where it came from.

JSON lines, CSV and parquet are read as they stream (a line, a row, a record batch at a time); a
single JSON document was already parsed while its format was detected. What cannot be read
becomes a `Problem`; reading goes on.

Where a record is: JSON lines and CSV give the 1-based line (``file:LINE: ...``; in CSV the line
the record starts on); a JSON document gives the path inside it (``file: data[3]: ...``); parquet
gives the row (``file: row 12: ...``).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from annotator.annotations_io._records import Defaults
from annotator.csv_cells import restore
from annotator.model import Problem
from annotator.readers import (
    PHOENIX_ENDPOINT_KEYS,
    Sniffed,
    drop_nones,
    json_error_reason,
    one_line,
    parquet_timestamp_texts,
)

_ID_COLUMNS = ("span_id", "context.span_id", "trace_id", "context.trace_id", "session_id")
_CSV_FIELD_LIMIT = 256 * 1024 * 1024


class Record(NamedTuple):
    line: int | None
    place: str  # "data[3]", "row 12", "" (a whole line)
    value: Any


def records(path: Path, sniffed: Sniffed, defaults: Defaults) -> Iterator[Record | Problem]:
    """Every record of the file; for parquet, `defaults` learns the name and kind the file
    gives (Phoenix ``Evaluations.save()`` metadata)."""
    file = str(path)
    fmt = sniffed.fmt
    try:
        if fmt == "phoenix_annotations_parquet":
            parquet_file, sniffed.parquet = sniffed.parquet, None
            yield from _parquet(path, file, parquet_file, defaults)
        elif fmt == "annotations_csv":
            yield from _csv(path, file)
        elif fmt.endswith("_jsonl"):
            yield from _json_lines(path, file)
        else:
            document, sniffed.document = sniffed.document, None
            yield from _in_value(document, None, "")
    except Exception as exc:
        yield Problem(file, None, f"stopped reading: {type(exc).__name__}: {one_line(exc, 160)}")


def _in_value(value: Any, line: int | None, where: str) -> Iterator[Record]:
    """Records in one parsed JSON value: a record, a list, a page or request body, the object
    of request bodies that ``annotator export --format phoenix`` writes, named lists."""
    if type(value) is list:
        for index, item in enumerate(value):
            yield Record(line, f"{where}[{index}]", item)
        return
    if type(value) is dict:
        data = value.get("data")
        if type(data) is list:
            yield from _in_value(data, line, f"{where}data" if not where else f"{where}.data")
            return
        if value and set(value) <= PHOENIX_ENDPOINT_KEYS:
            for key, body in value.items():
                yield from _in_value(body, line, f"{where}.{key}" if where else key)
            return
        lists = [(k, v) for k, v in value.items() if type(v) is list]
        if lists and len(lists) == len(value) and not where:
            for key, items in lists:
                yield from _in_value(items, line, str(key))
            return
    yield Record(line, where, value)


def _json_lines(path: Path, file: str) -> Iterator[Record | Problem]:
    loads = orjson.loads
    with open(path, "rb") as stream:
        for lineno, raw in enumerate(stream, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                value = loads(raw)
            except orjson.JSONDecodeError as exc:
                yield Problem(file, lineno, json_error_reason(exc, with_line=False))
                continue
            yield from _in_value(value, lineno, "")


# ---------------------------------------------------------------- CSV


def _csv(path: Path, file: str) -> Iterator[Record | Problem]:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(min(_CSV_FIELD_LIMIT, sys.maxsize))
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            return
        columns = [name.strip() for name in header]
        if columns and columns[0] == "":
            # pandas' to_csv() writes the index first, without a header: the span ids when the
            # DataFrame was indexed by them (Phoenix accepts an unnamed span id index too).
            has_ids = any(name in _ID_COLUMNS for name in columns)
            columns[0] = "" if has_ids else "span_id"
        width = len(columns)
        # Our own export quoted text a spreadsheet would run (csv_cells): take the quote off.
        own_export = "target" in columns and "source" in columns
        end = reader.line_num
        for row in reader:
            start, end = end + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) > width:
                yield Problem(file, start, f"{len(row)} fields, the header has {width}")
                continue
            record: dict[str, Any] = {}
            for name, value in zip(columns, row, strict=False):
                if not name:
                    continue
                # An empty field is a missing value (pandas writes NaN/None as ""), except for
                # the identifier, where "" is the default identifier itself.
                if own_export:
                    value = restore(value)
                record[name] = value if value != "" or name == "identifier" else None
            yield Record(start, "", record)


# ---------------------------------------------------------------- parquet


def _parquet(
    path: Path, file: str, parquet_file: Any, defaults: Defaults
) -> Iterator[Record | Problem]:
    import pyarrow as pa

    from annotator.readers import open_parquet

    if parquet_file is None:
        parquet_file = open_parquet(path)
    schema = parquet_file.schema_arrow
    _file_defaults(schema.metadata or {}, defaults)
    names = list(schema.names)
    has_ids = any(name in _ID_COLUMNS for name in names)
    rename = {}
    for name in names:
        if name.startswith("__index_level_"):
            # An unnamed pandas index: the span ids when no column says what a row is about.
            rename[name] = "span_id" if not has_ids and name == "__index_level_0__" else None
    row = 0
    for batch in parquet_file.iter_batches(batch_size=4096):
        columns: dict[str, list[Any]] = {}
        unreadable: list[str] = []  # columns with a value pyarrow could not convert
        for index, name in enumerate(batch.schema.names):
            name = rename.get(name, name)
            if name is None:
                continue
            column = batch.column(index)
            if pa.types.is_timestamp(column.type):
                # A time out of range is a bad time of its row (created_at is not a time: ...)
                columns[name] = parquet_timestamp_texts(column)
                continue
            cells = _python_values(column)
            if cells is None:
                cells = _cell_by_cell(column)
                unreadable.append(name)
            if pa.types.is_struct(column.type):
                # pandas writes a dict column as a struct with every key any row has: a key a
                # row did not have comes back as None. Leave those keys out again.
                cells = [v if type(v) is _Unreadable else drop_nones(v) for v in cells]
            columns[name] = cells
        keys = list(columns)
        for values in zip(*columns.values(), strict=True):
            row += 1
            record = dict(zip(keys, values, strict=True))
            bad = [name for name in unreadable if type(record[name]) is _Unreadable]
            if bad:
                yield Problem(file, None, f"row {row}: {bad[0]} cannot be read: {record[bad[0]]}")
                continue
            yield Record(None, f"row {row}", record)


class _Unreadable:
    """A parquet value pyarrow cannot give as a Python object (a date or a nested timestamp out
    of Python's range): its row is a problem, the other rows are read."""

    __slots__ = ("reason",)

    def __init__(self, exc: Exception) -> None:
        self.reason = one_line(exc, 160)

    def __str__(self) -> str:
        return self.reason


def _python_values(column: Any) -> list[Any] | None:
    """The column as Python values, or None when some value cannot be one."""
    try:
        return column.to_pylist()
    except (ValueError, OverflowError):
        return None


def _cell_by_cell(column: Any) -> list[Any]:
    cells: list[Any] = []
    for index in range(len(column)):
        try:
            cells.append(column[index].as_py())
        except (ValueError, OverflowError) as exc:
            cells.append(_Unreadable(exc))
    return cells


def _file_defaults(metadata: dict[bytes, bytes], defaults: Defaults) -> None:
    """Phoenix ``SpanEvaluations / DocumentEvaluations / TraceEvaluations.save()`` write the
    evaluation's name and type into the schema metadata (key ``arize``)."""
    raw = metadata.get(b"arize")
    if not raw:
        return
    try:
        info = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    if type(info) is not dict:
        return
    name = info.get("eval_name")
    if type(name) is str and name.strip():
        defaults.file_name = name.strip()
    if info.get("eval_type") == "DocumentEvaluations":
        defaults.documents = True
