"""Phoenix's own span shapes.

* REST span objects (``GET /v1/projects/P/spans``, phoenix-client ``spans.get_spans()``):
  ``context.{trace_id,span_id}``, ISO times, ``span_kind`` lifted out of the attributes, and
  attributes as FLAT dotted keys.
* Legacy span JSON lines: the same fields, attributes as NESTED dicts.
* ``get_spans_dataframe()`` records (JSON lines, JSON array or parquet rows): flat columns
  ``context.span_id``, ``attributes.<dotted.key>`` (null where absent), times as epoch ms (JSON)
  or timestamps (parquet), list attributes as lists of flat dicts, dict/list columns possibly
  JSON-encoded text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from annotator.attributes import STRUCTURED_ATTRIBUTES, unflatten_dict
from annotator.model import Span, SpanKind
from annotator.readers._common import (
    BadRecord,
    clean_parent_id,
    describe,
    fix_token_counts,
    kind_from_attributes,
    required_ids,
    session_from_attributes,
    set_kind_attribute,
    span_kind,
    status_code,
    text_field,
)
from annotator.readers._otlp import key_values
from annotator.timeutil import iso_from_any, iso_from_epoch_millis, normalise_iso

_ATTR_PREFIX = "attributes."
_KIND_TEXT = {kind: kind.value for kind in SpanKind}  # plain str, and no enum property lookups

# column name -> attribute key ("attributes.llm.provider" -> "llm.provider"), or "" for others
_COLUMNS: dict[str, str] = {}


def _column_key(column: str) -> str:
    found = _COLUMNS.get(column)
    if found is None:
        found = column[len(_ATTR_PREFIX) :] if column.startswith(_ATTR_PREFIX) else ""
        if len(_COLUMNS) > 100_000:
            _COLUMNS.clear()
        _COLUMNS[column] = found
    return found


def _time(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        if type(value) is str:
            try:
                return normalise_iso(value)
            except ValueError:
                return iso_from_any(value)  # numbers as text ("1741000000123")
        if type(value) is int and 100_000_000_000 <= value < 100_000_000_000_000:
            return iso_from_epoch_millis(value)  # DataFrame JSON: epoch milliseconds
        if isinstance(value, datetime):  # parquet timestamps nested in structs
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        return iso_from_any(value)
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(f"{field} is not a time: {describe(value)}") from None


def _maybe_json(value: Any) -> Any:
    """Decode text that holds a JSON object/array (DataFrame saved with JSON-text columns)."""
    if type(value) is str:
        stripped = value.lstrip()
        if stripped[:1] in ("[", "{"):
            try:
                return orjson.loads(stripped)
            except orjson.JSONDecodeError:
                return value
    return value


def _attributes_from_mapping(raw: dict, span_id: str) -> dict[str, Any]:
    """REST (flat dotted) or legacy (nested) attributes, or a mix, to the nested form."""
    needs_work = False
    for key, value in raw.items():
        if (
            value is None
            or type(key) is not str
            or "." in key
            or type(value) is list
            or (key == "metadata" and type(value) is str)
        ):
            needs_work = True
            break
    if not needs_work:
        return raw  # already nested (legacy JSON): used as it is, no copy
    return unflatten_dict(raw, True)


def _attributes_from_columns(record: dict) -> dict[str, Any]:
    """DataFrame columns ``attributes.<key>`` to the nested form."""
    flat: dict[str, Any] = {}
    for column, value in record.items():
        if value is None:
            continue
        key = _column_key(column)
        if not key:
            continue
        if type(value) is str and key in STRUCTURED_ATTRIBUTES:
            value = _maybe_json(value)
        flat[key] = value
    return unflatten_dict(flat, True)


def _attributes_from_list(raw: list, span_id: str) -> dict[str, Any]:
    """OTLP-style ``[{"key":…, "value":…}]`` attributes inside a Phoenix record."""
    if raw and all(type(kv) is dict and "key" in kv for kv in raw):
        return unflatten_dict(key_values(raw), True)
    raise BadRecord(f"span {span_id}: attributes is a list, expected an object")


def _events(raw: Any, span_id: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if type(raw) is str:
        raw = _maybe_json(raw)
        if type(raw) is str:
            raise BadRecord(f"span {span_id}: events is text, expected a list")
    if type(raw) is not list:
        raise BadRecord(f"span {span_id}: events is a {type(raw).__name__}, expected a list")
    events = []
    for event in raw:
        if type(event) is not dict:
            raise BadRecord(f"span {span_id}: an event is a {type(event).__name__}")
        name = event.get("name")
        attrs = event.get("attributes")
        if attrs is None:
            attrs = {}
        elif type(attrs) is list:
            attrs = key_values(attrs)
        elif type(attrs) is not dict:
            raise BadRecord(f"span {span_id}: event attributes is a {type(attrs).__name__}")
        else:
            attrs = {k: v for k, v in attrs.items() if v is not None}
        timestamp = event.get("timestamp")
        if timestamp is None:
            timestamp = event.get("time")
        events.append(
            {
                "name": name if type(name) is str else ("" if name is None else str(name)),
                "timestamp": _time(timestamp, "event timestamp"),
                "attributes": attrs,
            }
        )
    return events


def decode_record(record: Any, project: str) -> Span:
    """One Phoenix span record (REST, legacy or DataFrame row) to a Span; BadRecord if unusable."""
    if type(record) is not dict:
        raise BadRecord(f"record is a {type(record).__name__}, expected a span object")
    get = record.get
    context = get("context")
    if type(context) is dict:
        span_id = context.get("span_id")
        trace_id = context.get("trace_id")
        columns = False
    else:
        span_id = get("context.span_id")
        trace_id = get("context.trace_id")
        columns = span_id is not None or trace_id is not None
        if not columns:
            span_id = get("span_id")
            trace_id = get("trace_id")
    span_id, trace_id = required_ids(span_id, trace_id, "context.span_id", "context.trace_id")
    parent_id = clean_parent_id(get("parent_id"), zero_is_none=False)

    name = text_field(get("name"))

    raw_attrs = get("attributes")
    if raw_attrs is None:
        attributes = _attributes_from_columns(record) if columns else {}
    elif type(raw_attrs) is dict:
        attributes = _attributes_from_mapping(raw_attrs, span_id)
    elif type(raw_attrs) is list:
        attributes = _attributes_from_list(raw_attrs, span_id)
    elif type(raw_attrs) is str and raw_attrs.lstrip()[:1] == "{":
        decoded = _maybe_json(raw_attrs)
        if type(decoded) is not dict:
            raise BadRecord(f"span {span_id}: attributes is text, expected an object")
        attributes = _attributes_from_mapping(decoded, span_id)
    else:
        raise BadRecord(
            f"span {span_id}: attributes is a {type(raw_attrs).__name__}, expected an object"
        )
    fix_token_counts(attributes)

    kind_value = get("span_kind")
    if kind_value is None:
        kind_value = kind_from_attributes(attributes)
        kind = span_kind(kind_value) if kind_value is not None else SpanKind.UNKNOWN
    else:
        kind = span_kind(kind_value)
        if kind is not SpanKind.UNKNOWN:
            set_kind_attribute(attributes, _KIND_TEXT[kind])

    message = text_field(get("status_message"))

    return Span(
        span_id=span_id,
        trace_id=trace_id,
        parent_id=parent_id,
        name=name,
        span_kind=kind,
        start_time=_time(get("start_time"), "start_time"),
        end_time=_time(get("end_time"), "end_time"),
        status_code=status_code(get("status_code")),
        status_message=message,
        attributes=attributes,
        events=_events(get("events"), span_id),
        project=project,
        session_id=session_from_attributes(attributes),
    )
