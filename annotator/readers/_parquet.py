"""Parquet: Phoenix ``get_spans_dataframe()`` saved with ``to_parquet`` and ``TraceDataset.save()``.

pyarrow is an optional extra, imported only here and only when a parquet file is read. Rows are
read one record batch at a time, so memory follows the batch size, not the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from annotator.model import Problem, Span
from annotator.readers._common import (
    PARQUET_EXTRA_HINT,
    BadRecord,
    MissingExtra,
    NotATraceFile,
    drop_nones,
    one_line,
)
from annotator.readers._phoenix import decode_record
from annotator.timeutil import iso_from_unix_nanos

BATCH_ROWS = 1024
_NANOS_PER_UNIT = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_SPAN_ID_COLUMNS = ("context.span_id", "span_id")


def import_pyarrow() -> Any:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        return None
    return pq


def open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; MissingExtra / NotATraceFile when it cannot be one."""
    pq = import_pyarrow()
    if pq is None:
        raise MissingExtra(
            path, f"parquet needs pyarrow, which is not installed: {PARQUET_EXTRA_HINT}"
        )
    try:
        return pq.ParquetFile(path)
    except Exception as exc:
        raise NotATraceFile(path, f"unreadable parquet file: {one_line(exc, 120)}") from None


def parquet_kind(path: Path, parquet_file: Any) -> str:
    names = set(parquet_file.schema_arrow.names)
    if (
        "context.span_id" in names
        and "context.trace_id" not in names
        and (names & {"label", "score", "explanation"})
    ):
        return "phoenix_annotations_parquet"  # Phoenix SpanEvaluations / annotation DataFrame
    if not any(c in names for c in _SPAN_ID_COLUMNS):
        raise NotATraceFile(
            path,
            "parquet file without a context.span_id column: expected a Phoenix spans DataFrame "
            "or TraceDataset",
        )
    metadata = parquet_file.schema_arrow.metadata or {}
    return "parquet_trace_dataset" if b"arize" in metadata else "parquet_dataframe"


def dataset_name(parquet_file: Any) -> str | None:
    """TraceDataset files carry their name (Phoenix's project name) in the schema metadata."""
    metadata = parquet_file.schema_arrow.metadata or {}
    raw = metadata.get(b"arize")
    if not raw:
        return None
    try:
        name = orjson.loads(raw).get("dataset_name")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return name.strip() if type(name) is str and name.strip() else None


def read_parquet(
    path: Path, file: str, project: str | None, fmt: str, parquet_file: Any = None
) -> Iterator[Span | Problem]:
    import pyarrow as pa

    if parquet_file is None:
        parquet_file = open_parquet(path)
    if project is None:
        project = dataset_name(parquet_file) if fmt == "parquet_trace_dataset" else None
        project = project or "default"
    row = 0
    try:
        batches = parquet_file.iter_batches(batch_size=BATCH_ROWS)
        for batch in batches:
            names = batch.schema.names
            columns: dict[str, list[Any]] = {}
            for index, name in enumerate(names):
                if name.startswith("__index_level_"):
                    continue
                column = batch.column(index)
                kind = column.type
                if pa.types.is_timestamp(kind):
                    columns[name] = timestamp_texts(column)
                elif (
                    pa.types.is_struct(kind)
                    or pa.types.is_list(kind)
                    or pa.types.is_large_list(kind)
                    or pa.types.is_map(kind)
                ):
                    columns[name] = [drop_nones(v) for v in column.to_pylist()]
                else:
                    columns[name] = column.to_pylist()
            keys = list(columns)
            for values in zip(*columns.values(), strict=True):
                row += 1
                record = dict(zip(keys, values, strict=True))
                try:
                    decoded: Span | Problem = decode_record(record, project)
                except BadRecord as exc:
                    decoded = Problem(file, None, f"row {row}: {exc}")
                except Exception as exc:
                    decoded = Problem(file, None, f"row {row}: unreadable span ({one_line(exc)})")
                yield decoded
    except Exception as exc:
        yield Problem(file, None, f"stopped reading after row {row}: {one_line(exc, 160)}")


def timestamp_texts(column: Any) -> list[str | BadTime | None]:
    """A parquet timestamp column's values as ISO UTC text. A value Python's datetime cannot
    hold (year 11476) becomes a `BadTime`, which the decoders report as a bad time of its row
    (``start_time is not a time: ...``): one bad row, not a stopped file."""
    import pyarrow as pa

    scale = _NANOS_PER_UNIT[column.type.unit]
    return [_iso(v, scale) for v in column.cast(pa.int64()).to_pylist()]


class BadTime:
    """A parquet timestamp that is out of range; decode_record reports it as a bad time."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"{self.value} (parquet timestamp)"


def _iso(value: int | None, scale: int) -> str | BadTime | None:
    if value is None:
        return None
    try:
        return iso_from_unix_nanos(value * scale)
    except (ValueError, OverflowError):
        return BadTime(value)
