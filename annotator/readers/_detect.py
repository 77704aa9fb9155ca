"""What is in a file: format detection from the content (never the file name).

``sniff`` returns a format id; for single JSON documents it also returns the parsed document so
that reading does not parse twice. Format ids that are not span files (annotation records,
Phoenix trace/session listings, bare attribute maps) are returned too: ``detect_format`` turns
them into ``NotATraceFile`` with the reason in ``NOT_SPANS``, and a later reader (annotations)
can pick them up by id: ``ANNOTATION_FORMATS`` are the ids that ``annotator.annotations_io``
reads (Phoenix annotation records, POST bodies, evaluation tables in JSON lines, CSV and parquet,
and this program's own annotation export).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from annotator.readers._common import NotATraceFile, one_line

# Format ids of span files, with a description.
SPAN_FORMATS: dict[str, str] = {
    "otlp_json": "OTLP/JSON document (ExportTraceServiceRequest)",
    "otlp_jsonl": "OTLP/JSON lines (one ExportTraceServiceRequest per line)",
    "otlp_spans_json": "JSON array of bare OTLP spans",
    "otlp_spans_jsonl": "JSON lines of bare OTLP spans",
    "phoenix_otlpv1_json": "Phoenix /spans/otlpv1 page (snake_case OTLP spans)",
    "phoenix_spans_json": "Phoenix REST span objects (page, array or named lists)",
    "phoenix_spans_jsonl": "Phoenix span JSON lines (legacy export)",
    "phoenix_dataframe_json": "Phoenix get_spans_dataframe() records (JSON array)",
    "phoenix_dataframe_jsonl": "Phoenix get_spans_dataframe() records (JSON lines)",
    "parquet_dataframe": "Phoenix get_spans_dataframe() saved as parquet",
    "parquet_trace_dataset": "Phoenix TraceDataset.save() parquet",
}

# Format ids of files that are not span files, with the reason given for them.
_ANNOTATIONS = "looks like annotation records, not spans"
# A JSON document with an empty record list: nothing to import, and nothing wrong.
EMPTY = "empty_json"

NOT_SPANS: dict[str, str] = {
    "phoenix_annotations_json": _ANNOTATIONS,
    "phoenix_annotations_jsonl": _ANNOTATIONS,
    "phoenix_annotations_parquet": _ANNOTATIONS,
    "annotations_csv": _ANNOTATIONS,
    "phoenix_traces_json": (
        "looks like a Phoenix trace listing (GET /v1/projects/P/traces), not spans: "
        "export the spans (GET /v1/projects/P/spans) instead"
    ),
    "phoenix_sessions_json": (
        "looks like a Phoenix session listing (GET /v1/projects/P/sessions), not spans"
    ),
    "attribute_map_json": (
        "looks like a single span's attribute map (dotted attribute keys, no span ids or "
        "times), not spans"
    ),
}

# Annotation files (read by annotator.annotations_io): a JSON document, JSON lines, parquet, CSV.
ANNOTATION_FORMATS = frozenset(
    {
        "phoenix_annotations_json",
        "phoenix_annotations_jsonl",
        "phoenix_annotations_parquet",
        "annotations_csv",
    }
)

NO_SPANS = (
    "no spans found: expected OTLP resourceSpans, Phoenix span objects (context.span_id), "
    'a Phoenix {"data": [...]} page or get_spans_dataframe() records'
)

_PROBE_LINES = 50
_HEAD_BYTES = 8192

_UNSET: Any = object()


@dataclass(slots=True)
class Sniffed:
    fmt: str
    document: Any = _UNSET  # the parsed document, for single-document JSON formats
    parquet: Any = None  # the open pyarrow ParquetFile, for parquet formats


# ---------------------------------------------------------------- record shapes

# What an annotation or evaluation row can be about.
_TARGET_ID_KEYS = (
    "span_id", "trace_id", "session_id", "spanId", "context.span_id", "context.trace_id",
)  # fmt: skip


# Result fields: flat (evaluation tables), or as phoenix-client's annotation DataFrame names
# them after flattening the ``result`` object (``result.label`` ...).
RESULT_KEYS = frozenset(
    {"label", "score", "explanation", "result.label", "result.score", "result.explanation"}
)
# Every column an annotation record or an annotation DataFrame has besides its target ids.
_ANNOTATION_KEYS = RESULT_KEYS | {
    "result", "name", "annotation_name", "annotator_kind", "annotatorKind", "metadata",
    "identifier", "source", "created_at", "updated_at", "id", "user_id", "document_position",
    "documentPosition", "position",
}  # fmt: skip


def _has_result(obj: dict) -> bool:
    return any(key in obj for key in RESULT_KEYS)


def _annotation_without_target(obj: dict) -> bool:
    """An annotation record with nothing saying what it is about: what pandas' to_json(orient=
    "records") leaves of an annotation DataFrame indexed by span id. Recognised (and then
    refused with the reason) rather than called 'not spans' with no hint."""
    return ("result" in obj or _has_result(obj)) and all(key in _ANNOTATION_KEYS for key in obj)


def classify(obj: Any) -> str | None:
    """What one JSON value is: a span record of some kind, a container, or something else."""
    if type(obj) is not dict:
        return None
    if "resourceSpans" in obj or "resource_spans" in obj:
        return "otlp_request"
    if type(obj.get("context")) is dict:
        return "phoenix_span"
    # Who annotated: no span shape has these keys at the top (this program's own export rows
    # carry span context such as span_kind beside them).
    if ("annotator_kind" in obj or "annotatorKind" in obj or "annotation_name" in obj) and any(
        key in obj for key in _TARGET_ID_KEYS
    ):
        return "annotation"
    if "context.trace_id" in obj:
        # Phoenix TraceEvaluations rows: a trace id and a result, no span id.
        if "context.span_id" not in obj and _has_result(obj):
            return "annotation"
        return "dataframe_record"
    if "context.span_id" in obj:
        # Phoenix evaluation/annotation DataFrames are keyed by span id too, but have no trace.
        spanlike = "name" in obj and ("start_time" in obj or "span_kind" in obj)
        if _has_result(obj) and not spanlike:
            return "annotation"
        return "dataframe_record"
    if "spanId" in obj or "traceId" in obj:
        return "otlp_span"
    has_span_id = "span_id" in obj
    if has_span_id and "trace_id" in obj:
        if (
            "start_time_unix_nano" in obj
            or "startTimeUnixNano" in obj
            or type(obj.get("attributes")) is list
        ):
            return "otlp_span"
        if "name" in obj and ("start_time" in obj or "span_kind" in obj) and "result" not in obj:
            return "phoenix_span"
    if (
        "name" in obj
        and ("result" in obj or "annotator_kind" in obj or "annotatorKind" in obj)
        and (has_span_id or "trace_id" in obj or "session_id" in obj or "spanId" in obj)
    ):
        return "annotation"
    if "trace_id" in obj and "project_id" in obj:
        return "trace_listing"
    if "session_id" in obj and ("traces" in obj or "project_id" in obj):
        return "session_listing"
    # Evaluation table rows: what they are about and a result (label / score / explanation).
    if _has_result(obj) and (has_span_id or "trace_id" in obj or "session_id" in obj):
        return "annotation"
    if _annotation_without_target(obj):
        return "annotation"
    data = obj.get("data")
    if type(data) is list:
        return "page"
    # A Phoenix note request body (POST /v1/span_notes, trace_notes, session_notes).
    if type(data) is dict and "note" in data and any(k in data for k in _TARGET_ID_KEYS):
        return "annotation"
    return None


SPAN_RECORDS = frozenset({"phoenix_span", "dataframe_record", "otlp_span", "otlp_request"})


def detect_kind(obj: Any) -> str | None:
    """``classify``, but a Phoenix span must carry an id to count when detecting a format.

    Reading is lenient (``{"context": {}}`` in a span list is reported as a span without an id);
    deciding what a whole file is needs more than a stray ``context`` key.
    """
    kind = classify(obj)
    if kind == "phoenix_span":
        context = obj["context"]
        if not ("span_id" in context or "trace_id" in context):
            return None
    return kind


def _looks_like_attribute_map(obj: dict) -> bool:
    if "openinference.span.kind" in obj:
        return True
    keys = [k for k in obj if isinstance(k, str)]
    dotted = sum(1 for k in keys if "." in k)
    return (
        len(keys) >= 3
        and dotted * 2 >= len(keys)
        and not any(isinstance(v, list) and v and isinstance(v[0], dict) for v in obj.values())
    )


def _list_kind(items: list) -> str | None:
    """Kind of a list by its first few dict members."""
    for item in items[:20]:
        kind = detect_kind(item)
        if kind is not None:
            return kind
    return None


def document_format(doc: Any) -> str:
    """Format id of a whole JSON document, or raise a reason (ValueError) if it holds no spans."""
    if type(doc) is list:
        if not doc:
            return EMPTY  # a valid export of nothing (an empty project, a filter that matched none)
        return _format_of_items(_list_kind(doc))
    if type(doc) is not dict:
        raise ValueError(f"no spans found: the file is a single JSON {type(doc).__name__}")
    kind = detect_kind(doc)
    if kind == "otlp_request":
        return "otlp_json"
    if kind == "page":
        items = doc["data"]
        if not items:
            return EMPTY
        return _format_of_items(_list_kind(items), page=True)
    if kind in ("phoenix_span",):
        return "phoenix_spans_json"
    if kind == "dataframe_record":
        return "phoenix_dataframe_json"
    if kind == "otlp_span":
        return "otlp_spans_json"
    if kind in ("annotation", "trace_listing", "session_listing"):
        return _format_of_items(kind)
    # An object of named span lists: {"trace_a": [...], "trace_b": [...]}.
    named = [_list_kind(v) for v in doc.values() if type(v) is list and v]
    for found in named:
        if found in SPAN_RECORDS:
            return _format_of_items(found)
    for found in named:
        if found is not None:
            return _format_of_items(found)
    if _annotation_bodies(doc):
        return "phoenix_annotations_json"
    if _looks_like_attribute_map(doc):
        return "attribute_map_json"
    if not doc:
        raise ValueError("no spans found: the file is an empty JSON object")
    raise ValueError(NO_SPANS)


# Keys of this program's Phoenix export (``annotator export --format phoenix``): one request
# body per Phoenix endpoint.
PHOENIX_ENDPOINT_KEYS = frozenset(
    {
        "span_annotations",
        "trace_annotations",
        "document_annotations",
        "session_annotations",
        "span_notes",
        "trace_notes",
        "session_notes",
    }
)


def _annotation_bodies(doc: dict) -> bool:
    """An object of Phoenix annotation request bodies keyed by endpoint (may all be empty)."""
    if not doc or not set(doc) <= PHOENIX_ENDPOINT_KEYS:
        return False
    for value in doc.values():
        items = value.get("data") if type(value) is dict else value
        if type(items) is not list:
            return False
        if items and _list_kind(items) != "annotation":
            return False
    return True


def _format_of_items(kind: str | None, *, page: bool = False) -> str:
    if kind == "phoenix_span":
        return "phoenix_spans_json"
    if kind == "dataframe_record":
        return "phoenix_dataframe_json"
    if kind == "otlp_span":
        return "phoenix_otlpv1_json" if page else "otlp_spans_json"
    if kind == "otlp_request":
        return "otlp_json"
    if kind == "annotation":
        return "phoenix_annotations_json"
    if kind == "trace_listing":
        return "phoenix_traces_json"
    if kind == "session_listing":
        return "phoenix_sessions_json"
    raise ValueError(NO_SPANS)


_LINE_FORMATS = {
    "otlp_request": "otlp_jsonl",
    "otlp_span": "otlp_spans_jsonl",
    "phoenix_span": "phoenix_spans_jsonl",
    "page": "phoenix_spans_jsonl",
    "dataframe_record": "phoenix_dataframe_jsonl",
    "annotation": "phoenix_annotations_jsonl",
}


# ---------------------------------------------------------------- file level


def _not_json_reason(head: bytes) -> str:
    """A short guess at what a text file that is not JSON is."""
    lines = [line.strip() for line in head.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    first = lines[0] if lines else ""
    content = next((line for line in lines if not line.startswith("#")), "")
    preview = one_line(first, 40)
    if first.startswith(("---", "%YAML")) or _yaml_line(content):
        return f"looks like YAML, not JSON (starts with {preview!r})"
    if first.startswith("<"):
        return f"looks like XML/HTML, not JSON (starts with {preview!r})"
    if content and ("," in content or "\t" in content) and not first.startswith("#"):
        return f"looks like CSV/TSV, not JSON (starts with {preview!r})"
    return f"not JSON (starts with {preview!r})"


_ID_COLUMNS = frozenset(
    {"span_id", "context.span_id", "trace_id", "context.trace_id", "session_id"}
)


def _annotation_csv(head: bytes) -> bool:
    """A CSV evaluation / annotation table: a header with what a row is about (a span, trace or
    session id column, or pandas' unnamed index column first) and label / score / explanation
    (or ``result.label`` ...). A header of annotation columns only, without ids, is one too:
    the importer says that the ids are missing."""
    import csv

    line = head.decode("utf-8", "replace").splitlines()[0] if head else ""
    try:
        header = [name.strip() for name in next(csv.reader([line]))]
    except (csv.Error, StopIteration):
        return False
    names = set(header)
    if len(header) < 2 or not names & RESULT_KEYS:
        return False
    if names & _ID_COLUMNS or header[0] == "":
        return True
    return names <= _ANNOTATION_KEYS


def _annotation_parquet(parquet_file: Any) -> bool:
    """Phoenix ``Evaluations.save()`` files and evaluation / annotation DataFrames. A spans
    DataFrame has both a span id and a trace id column and no result columns."""
    schema = parquet_file.schema_arrow
    arize = (schema.metadata or {}).get(b"arize") or b""
    if b"eval_type" in arize:
        return True
    names = set(schema.names)
    if not names & RESULT_KEYS:
        return False
    if "annotator_kind" in names or "annotation_name" in names:
        return True
    span_ids = names & {"context.span_id", "span_id"}
    trace_ids = names & {"context.trace_id", "trace_id"}
    if span_ids and trace_ids:
        return False
    return bool(span_ids or trace_ids or "session_id" in names or "__index_level_0__" in names)


def _yaml_line(line: str) -> bool:
    """``key: value``, ``key:`` or ``- item``, as YAML documents start."""
    if line.startswith("- "):
        return True
    key, colon, rest = line.partition(":")
    return bool(
        colon
        and key
        and " " not in key.strip()
        and '"' not in key
        and "," not in key
        and (not rest or rest.startswith(" "))
    )


def _binary_reason(head: bytes) -> str | None:
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed: decompress it first (gunzip)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive: unpack it first"
    if head.startswith(b"SQLite format 3\x00"):
        return "an SQLite database, not a trace export"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text: save it as UTF-8"
    if b"\x00" in head:
        return "binary data, not JSON text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            return "binary data (not UTF-8 text)"
    return None


# orjson refuses nesting deeper than this (its message: "depth limit exceeded").
JSON_DEPTH_LIMIT = 1024


def json_error_reason(
    exc: orjson.JSONDecodeError, *, line_offset: int = 0, with_line: bool = True
) -> str:
    """One line about a JSON value that cannot be parsed: where, and what is wrong."""
    where = f"column {exc.colno}"
    if with_line:
        where = f"line {exc.lineno + line_offset} {where}"
    if "depth limit" in exc.msg:
        return (
            f"JSON nested more than {JSON_DEPTH_LIMIT:,} levels deep (at {where}): no trace or "
            "annotation record nests that deep"
        )
    return f"JSON syntax error at {where} ({exc.msg})"


def sniff(path: Path) -> Sniffed:
    """Detect a file's format from its content; NotATraceFile if it is not a span file."""
    try:
        if path.is_dir():
            raise NotATraceFile(path, "is a directory")
        with open(path, "rb") as stream:
            head = stream.read(_HEAD_BYTES)
            if head.startswith(b"PAR1"):
                from annotator.readers._parquet import open_parquet, parquet_kind

                parquet_file = open_parquet(path)
                if _annotation_parquet(parquet_file):
                    return Sniffed("phoenix_annotations_parquet", parquet=parquet_file)
                return Sniffed(parquet_kind(path, parquet_file), parquet=parquet_file)
            reason = _binary_reason(head)
            if reason:
                raise NotATraceFile(path, reason)
            body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
            stripped = body.lstrip()
            if not stripped:
                if len(head) < _HEAD_BYTES:
                    raise NotATraceFile(path, "empty file")
                stripped = b" "  # a long run of whitespace: look further below
            first = stripped[:1]
            if first not in (b"{", b"[", b" "):
                if _annotation_csv(stripped):
                    return Sniffed("annotations_csv")
                raise NotATraceFile(path, _not_json_reason(stripped))
            stream.seek(0)
            return _sniff_json(path, stream)
    except OSError as exc:
        raise NotATraceFile(path, f"cannot read it ({exc.strerror or exc})") from None


def _sniff_json(path: Path, stream: Any) -> Sniffed:
    lines = _nonblank_lines(stream)
    first = next(lines, None)
    if first is None:
        raise NotATraceFile(path, "empty file")
    _, first_line = first
    try:
        first_value = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        first_value = _UNSET
    if first_value is not _UNSET and type(first_value) is dict:
        second = next(lines, None)
        if second is None:
            return _document(path, first_value)
        kind = detect_kind(first_value)
        if kind not in _LINE_FORMATS:
            kind = _probe_kind([second], lines) or kind
        return _line_format(path, kind)
    # Not one value per line: a (pretty-printed) document, or JSON lines whose first is broken.
    stream.seek(0)
    data = stream.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        del data
        stream.seek(0)
        lines = _nonblank_lines(stream)
        next(lines, None)
        kind = _probe_kind([], lines)
        if kind in _LINE_FORMATS:
            return _line_format(path, kind)
        raise NotATraceFile(path, json_error_reason(exc)) from None
    return _document(path, document)


def _nonblank_lines(stream: Any):
    for lineno, raw in enumerate(stream, 1):
        if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if raw.strip():
            yield lineno, raw


def _probe_kind(first: list, rest: Any) -> str | None:
    """The kind of the first recognisable record among the next lines."""
    seen = 0
    for _, raw in (*first, *_take(rest, _PROBE_LINES)):
        seen += 1
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        kind = detect_kind(value)
        if kind in _LINE_FORMATS:
            return kind
    return None


def _take(iterator: Any, count: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= count:
            break
    return out


def _line_format(path: Path, kind: str | None) -> Sniffed:
    fmt = _LINE_FORMATS.get(kind or "")
    if fmt is None:
        raise NotATraceFile(path, NO_SPANS)
    return Sniffed(fmt)


def _document(path: Path, document: Any) -> Sniffed:
    try:
        fmt = document_format(document)
    except ValueError as exc:
        raise NotATraceFile(path, str(exc)) from None
    return Sniffed(fmt, document=document)
