"""Trace readers: any supported export file -> canonical ``Span`` records.

    for item in read_spans(Path("traces.jsonl")):     # NotATraceFile: not a span file
        if isinstance(item, Problem):
            print(item)                                   # file:line: what is wrong
        else:
            store(item)                                   # a canonical Span

The format is detected from the content (``detect_format``), never from the file name:

* OTLP/JSON: one document or one ``ExportTraceServiceRequest`` per line; spec form, protobuf
  ``MessageToJson`` form (base64 ids, enum names), snake_case keys; bare OTLP spans too.
* Phoenix REST span objects: a ``{"data": [...]}`` page, a JSON array, an object of named span
  lists, one span per line (Phoenix's legacy span JSONL); Phoenix's ``/spans/otlpv1`` page.
* Phoenix ``get_spans_dataframe()`` records: JSON lines / JSON array / parquet, and the
  ``TraceDataset.save()`` parquet file (pyarrow is an optional extra).

A file that is not a span file raises ``NotATraceFile`` (one line: ``<path>: not a trace file:
<reason>``). In a span file, each record that cannot be used becomes a ``Problem`` and reading
goes on. Nothing else is raised. JSON lines are read one line at a time and parquet one batch at
a time, so memory does not grow with the file; a single JSON document is parsed whole.

Adding a format: ``_detect.classify`` names the record shape, ``_detect`` maps it to a format id
(``SPAN_FORMATS`` for span files, ``NOT_SPANS`` with a reason for other recognised files, such as
annotation records today), and ``_spans_in`` / ``_read`` route records to a decoder that returns a
``Span`` or raises ``BadRecord``. ``_detect.sniff(path)`` gives the id of any recognised file
(including annotation files), for readers of other record kinds.

Files holding spans and annotation files can be told apart with one look: ``sniff_file(path)``
(NotATraceFile for neither), then ``read_spans(path, sniffed=...)`` for a span format or
``annotator.annotations_io`` for one of ``ANNOTATION_FORMATS``, without parsing the file twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from annotator.model import Problem, Span
from annotator.readers._common import (
    BadRecord,
    MissingExtra,
    NotATraceFile,
    clean_id,
    describe,
    drop_nones,
    one_line,
)
from annotator.readers._detect import (
    ANNOTATION_FORMATS,
    EMPTY,
    NOT_SPANS,
    PHOENIX_ENDPOINT_KEYS,
    SPAN_FORMATS,
    Sniffed,
    classify,
    json_error_reason,
    sniff,
)
from annotator.readers._otlp import (
    DEFAULT_PROJECT,
    decode_span,
    resource_project,
    resource_spans_of,
    scope_spans_of,
)
from annotator.readers._phoenix import decode_record

# For the readers of other record kinds (annotation files, Phoenix's API): what a record is,
# and the one-line messages about bad ones, the same as the span readers'.
__all__ = [
    "ANNOTATION_FORMATS",
    "EMPTY",
    "NOT_SPANS",
    "PHOENIX_ENDPOINT_KEYS",
    "SPAN_FORMATS",
    "BadRecord",
    "MissingExtra",
    "NotATraceFile",
    "Sniffed",
    "clean_id",
    "decode_phoenix_span",
    "describe",
    "detect_format",
    "drop_nones",
    "json_error_reason",
    "one_line",
    "open_parquet",
    "parquet_timestamp_texts",
    "read_spans",
    "sniff_file",
]


def decode_phoenix_span(record: Any, project: str) -> Span:
    """One Phoenix span record (REST, legacy or DataFrame row) to a Span; BadRecord if
    unusable. What ``annotator pull`` stores of each span Phoenix sends."""
    return decode_record(record, project)


def open_parquet(path: Path) -> Any:
    """The pyarrow ParquetFile of `path` (MissingExtra without pyarrow, NotATraceFile for a
    file pyarrow cannot read). pyarrow is imported only when a parquet file is opened."""
    from annotator.readers._parquet import open_parquet as open_with_pyarrow

    return open_with_pyarrow(path)


def parquet_timestamp_texts(column: Any) -> list[Any]:
    """A pyarrow timestamp column's values as ISO UTC text (None for nulls). A value out of
    Python's datetime range comes back as a marker that the time parsers refuse (its repr
    says ``<value> (parquet timestamp)``), so that it costs its row, not the file."""
    from annotator.readers._parquet import timestamp_texts

    return timestamp_texts(column)


def detect_format(path: Path) -> str:
    """The format id of a span file (a key of ``SPAN_FORMATS``), from its content.

    Raises NotATraceFile (MissingExtra for parquet without pyarrow) for anything else; files
    recognised as something other than spans (annotation records, ...) get the reason from
    ``NOT_SPANS``.
    """
    path = Path(path)
    return _checked(path, _sniff(path)).fmt


def sniff_file(path: Path) -> Sniffed:
    """What the file is (``Sniffed.fmt``: a key of ``SPAN_FORMATS`` or ``NOT_SPANS``), from its
    content; NotATraceFile (one line) when it is none of them. Pass the result on to
    ``read_spans(sniffed=...)`` so that a single JSON document is parsed only once."""
    return _sniff(Path(path))


def read_spans(
    path: Path, *, project: str | None = None, sniffed: Sniffed | None = None
) -> Iterator[Span | Problem]:
    """Detect the format (now: NotATraceFile is raised by this call), then yield its spans.

    ``project`` overrides the project name of every span. Bad records are yielded as
    ``Problem(file, line, message)``: ``line`` is the 1-based line for JSON lines files, None for
    single documents and parquet (the message then says where: ``data[3]``, ``row 12``...).
    ``sniffed``: what ``sniff_file(path)`` returned, to skip detecting again (used once).
    """
    path = Path(path)
    sniffed = _checked(path, sniffed if sniffed is not None else _sniff(path))
    if project is not None:
        project = project.strip() or None
    return _read(path, sniffed, project)


def _sniff(path: Path) -> Sniffed:
    try:
        return sniff(path)
    except NotATraceFile:
        raise
    except Exception as exc:
        raise NotATraceFile(
            path, f"unreadable ({type(exc).__name__}: {one_line(exc, 120)})"
        ) from None


def _checked(path: Path, sniffed: Sniffed) -> Sniffed:
    reason = NOT_SPANS.get(sniffed.fmt)
    if reason is not None:
        raise NotATraceFile(path, reason)
    return sniffed


def _read(path: Path, sniffed: Sniffed, project: str | None) -> Iterator[Span | Problem]:
    file = str(path)
    try:
        if sniffed.fmt == EMPTY:
            return
        if sniffed.fmt.startswith("parquet"):
            from annotator.readers._parquet import read_parquet

            parquet_file, sniffed.parquet = sniffed.parquet, None
            yield from read_parquet(path, file, project, sniffed.fmt, parquet_file)
        elif sniffed.fmt.endswith("_json"):  # one JSON document, parsed while detecting
            document = sniffed.document
            sniffed.document = None  # let it go once read
            yield from _spans_in(document, file, None, project)
        else:
            yield from _read_lines(path, file, project)
    except Exception as exc:
        yield Problem(file, None, f"stopped reading: {type(exc).__name__}: {one_line(exc, 160)}")


def _read_lines(path: Path, file: str, project: str | None) -> Iterator[Span | Problem]:
    loads = orjson.loads
    JSONDecodeError = orjson.JSONDecodeError
    default = project or DEFAULT_PROJECT
    with open(path, "rb") as stream:
        for lineno, line in enumerate(stream, 1):
            try:
                value = loads(line)
            except JSONDecodeError:
                if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                try:
                    value = loads(line)
                except JSONDecodeError as exc:
                    yield Problem(file, lineno, json_error_reason(exc, with_line=False))
                    continue
            kind = classify(value)
            if kind == "dataframe_record" or kind == "phoenix_span":  # one record per line
                yield _decoded(decode_record, value, default, file, lineno, "")
            else:
                yield from _spans_in(value, file, lineno, project)


# ---------------------------------------------------------------- values -> spans


def _decoded(
    decoder: Callable[[Any, str], Span],
    record: Any,
    project: str,
    file: str,
    line: int | None,
    where: str,
) -> Span | Problem:
    """One record through its decoder; whatever goes wrong becomes a Problem."""
    try:
        return decoder(record, project)
    except Exception as exc:
        return _problem(file, line, where, exc)


def _spans_in(
    value: Any, file: str, line: int | None, project: str | None
) -> Iterator[Span | Problem]:
    """Spans in one parsed JSON value: an OTLP request, a page, a list, a record, named lists."""
    kind = classify(value)
    default = project or DEFAULT_PROJECT
    if kind == "dataframe_record" or kind == "phoenix_span":
        yield _decoded(decode_record, value, default, file, line, "")
    elif kind == "otlp_request":
        yield from _otlp_request(value, file, line, project)
    elif kind == "otlp_span":
        yield _decoded(decode_span, value, default, file, line, "")
    elif kind == "page":
        yield from _items(value["data"], "data", file, line, project)
    elif type(value) is list:
        yield from _items(value, "", file, line, project)
    elif type(value) is dict and kind is None and value:
        lists = [(k, v) for k, v in value.items() if type(v) is list and v]
        if lists and any(classify(v[0]) is not None for _, v in lists):
            for name, items in lists:  # an object of named span lists
                yield from _items(items, str(name), file, line, project)
        else:
            yield Problem(file, line, f"not a span record ({_what(value)})")
    else:
        yield Problem(file, line, f"not a span record ({_what(value)})")


def _items(
    items: list, where: str, file: str, line: int | None, project: str | None
) -> Iterator[Span | Problem]:
    default = project or DEFAULT_PROJECT
    for index, item in enumerate(items):
        kind = classify(item)
        if kind == "phoenix_span" or kind == "dataframe_record":
            yield _decoded(decode_record, item, default, file, line, f"{where}[{index}]")
        elif kind == "otlp_span":
            yield _decoded(decode_span, item, default, file, line, f"{where}[{index}]")
        elif kind == "otlp_request":
            yield from _otlp_request(item, file, line, project, f"{where}[{index}].")
        else:
            yield Problem(file, line, f"{where}[{index}]: not a span record ({_what(item)})")


def _otlp_request(
    request: dict, file: str, line: int | None, project: str | None, where: str = ""
) -> Iterator[Span | Problem]:
    resource_spans = resource_spans_of(request)
    if type(resource_spans) is not list:
        yield Problem(file, line, f"{where}resourceSpans is not a list")
        return
    for r_index, resource_span in enumerate(resource_spans):
        here = f"{where}resourceSpans[{r_index}]"
        if type(resource_span) is not dict:
            yield Problem(file, line, f"{here} is not an object")
            continue
        name = project or resource_project(resource_span.get("resource"))
        scope_spans = scope_spans_of(resource_span)
        if scope_spans is None:
            continue
        if type(scope_spans) is not list:
            yield Problem(file, line, f"{here}.scopeSpans is not a list")
            continue
        for s_index, scope_span in enumerate(scope_spans):
            spans = scope_span.get("spans") if type(scope_span) is dict else None
            if type(spans) is not list:
                if spans is not None or type(scope_span) is not dict:
                    yield Problem(file, line, f"{here}.scopeSpans[{s_index}].spans is not a list")
                continue
            for index, span in enumerate(spans):
                try:
                    decoded: Span | Problem = decode_span(span, name)
                except Exception as exc:
                    decoded = _problem(
                        file, line, f"{here}.scopeSpans[{s_index}].spans[{index}]", exc
                    )
                yield decoded


def _problem(file: str, line: int | None, where: str, exc: Exception) -> Problem:
    if isinstance(exc, BadRecord):
        text = str(exc)
    else:
        text = f"unreadable span ({type(exc).__name__}: {exc})"
    text = one_line(text, 240)
    return Problem(file, line, f"{where}: {text}" if where else text)


def _what(value: Any) -> str:
    kind = classify(value)
    if kind == "annotation":
        return "looks like an annotation record"
    if kind in ("trace_listing", "session_listing"):
        return f"looks like a Phoenix {kind.split('_')[0]} listing entry"
    if type(value) is dict:
        keys = ", ".join(str(k) for k in list(value)[:4])
        return f"an object with keys {one_line(keys, 80)}" if keys else "an empty object"
    return f"a JSON {type(value).__name__}"
