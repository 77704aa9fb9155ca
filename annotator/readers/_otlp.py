"""OTLP/JSON spans: spec form, protobuf ``MessageToJson`` form, and Phoenix's snake_case view.

One decoder covers all of them: keys are looked up in camelCase, then in snake_case (Phoenix's
``/spans/otlpv1`` view and ``MessageToJson(preserving_proto_field_name=True)``); ids may be hex
(any case) or base64; enums numbers or names; int64 strings or numbers. In the snake_case view
every AnyValue lists all its fields with null for the unused ones.
"""

from __future__ import annotations

from typing import Any

import orjson

from annotator.attributes import unflatten_dict
from annotator.model import Span, SpanKind
from annotator.readers._common import (
    BadRecord,
    clean_parent_id,
    describe,
    kind_from_attributes,
    required_ids,
    session_from_attributes,
    span_kind,
    status_code,
    text_field,
)
from annotator.timeutil import iso_from_unix_nanos

DEFAULT_PROJECT = "default"

_ANY_KEYS = {
    "stringValue": "s",
    "string_value": "s",
    "intValue": "i",
    "int_value": "i",
    "doubleValue": "d",
    "double_value": "d",
    "boolValue": "b",
    "bool_value": "b",
    "arrayValue": "a",
    "array_value": "a",
    "kvlistValue": "k",
    "kvlist_value": "k",
    "bytesValue": "y",
    "bytes_value": "y",
}


# Arrays and kvlists nested deeper than this are kept as their JSON text: storage (orjson) refuses
# documents deeper than 254 levels, and no real attribute comes near this.
_MAX_VALUE_DEPTH = 32


def any_value(value: Any, depth: int = 0) -> Any:
    """An OTLP AnyValue (dict) to a Python value; None for an empty one."""
    if type(value) is not dict:
        return value  # lenient: a bare JSON value where an AnyValue was expected
    found = value.get("stringValue")
    if found is not None:
        return found
    for key, raw in value.items():
        if raw is None:
            continue
        tag = _ANY_KEYS.get(key)
        if tag is None:
            continue
        if tag == "s":
            return raw
        if tag == "i":
            try:
                return int(raw)
            except (TypeError, ValueError):
                return raw
        if tag == "d":
            try:
                return float(raw)
            except (TypeError, ValueError):
                return raw
        if tag == "b":
            if type(raw) is bool:
                return raw
            return str(raw).strip().lower() == "true"
        if tag == "y":
            return raw  # bytes: the base64 text as given
        if depth >= _MAX_VALUE_DEPTH:
            try:
                return orjson.dumps(raw).decode()
            except TypeError:  # deeper than orjson writes
                return f"[{key} nested more than {_MAX_VALUE_DEPTH} levels deep: not kept]"
        items = raw.get("values") if type(raw) is dict else raw
        if type(items) is not list:
            items = []
        if tag == "a":
            out = []
            for item in items:
                decoded = any_value(item, depth + 1)
                if decoded is not None:
                    out.append(decoded)
            return out
        return key_values(items, depth + 1)
    return None


def key_values(items: Any, depth: int = 0) -> dict[str, Any]:
    """A list of OTLP KeyValue to a flat dict (keys as given, not split)."""
    if type(items) is dict:
        return items
    out: dict[str, Any] = {}
    if type(items) is not list:
        return out
    for kv in items:
        if type(kv) is not dict:
            continue
        key = kv.get("key")
        if key is None:
            continue
        value = any_value(kv.get("value"), depth)
        if value is not None:
            out[key if type(key) is str else str(key)] = value
    return out


def resource_project(resource: Any) -> str:
    """``openinference.project.name``, else ``service.name``, else ``default``."""
    if type(resource) is not dict:
        return DEFAULT_PROJECT
    attrs = resource.get("attributes")
    if type(attrs) is list:
        found = key_values(attrs)
    elif type(attrs) is dict:
        found = attrs
    else:
        return DEFAULT_PROJECT
    for key in ("openinference.project.name", "service.name"):
        name = found.get(key)
        if type(name) is str and name.strip():
            return name.strip()
    return DEFAULT_PROJECT


def _get(span: dict, camel: str, snake: str) -> Any:
    value = span.get(camel)
    if value is None:
        value = span.get(snake)
    return value


def _nanos(span: dict, camel: str, snake: str) -> str | None:
    raw = span.get(camel)
    if raw is None:
        raw = span.get(snake)
        if raw is None:
            return None
    try:
        return iso_from_unix_nanos(raw)
    except (TypeError, ValueError, OverflowError):
        raise BadRecord(f"{camel} is not a time: {describe(raw)}") from None


def decode_span(span: Any, project: str) -> Span:
    """One OTLP span (camelCase or snake_case) to a canonical Span; BadRecord if unusable."""
    if type(span) is not dict:
        raise BadRecord(f"span is a {type(span).__name__}, expected an object")
    get = span.get
    span_id = get("spanId")
    if span_id is None:
        span_id = get("span_id")
    trace_id = get("traceId")
    if trace_id is None:
        trace_id = get("trace_id")
    span_id, trace_id = required_ids(span_id, trace_id, "spanId", "traceId")
    parent = get("parentSpanId")
    if parent is None:
        parent = get("parent_span_id")
    parent_id = clean_parent_id(parent, zero_is_none=True) if parent else None

    name = text_field(get("name"))

    raw_attrs = get("attributes")
    if raw_attrs:
        if type(raw_attrs) is list:
            flat: dict[str, Any] = {}
            try:
                for kv in raw_attrs:
                    value = kv["value"]
                    found = value.get("stringValue")
                    if found is None:
                        found = any_value(value)
                        if found is None:
                            continue
                    flat[kv["key"]] = found
            except (KeyError, AttributeError, TypeError):
                flat = key_values(raw_attrs)  # odd entries: the slow, lenient path
        elif type(raw_attrs) is dict:
            flat = raw_attrs
        else:
            raise BadRecord(f"span {span_id}: attributes is a {type(raw_attrs).__name__}")
        attributes = unflatten_dict(flat, True)
        kind_value = kind_from_attributes(attributes)
        kind = span_kind(kind_value) if kind_value is not None else SpanKind.UNKNOWN
        session_id = session_from_attributes(attributes)
    else:
        attributes = {}
        kind = SpanKind.UNKNOWN
        session_id = None

    status = get("status")
    if status:
        if type(status) is not dict:
            raise BadRecord(f"span {span_id}: status is a {type(status).__name__}")
        code = status_code(status.get("code"))
        message = status.get("message") or ""
        if type(message) is not str:
            message = str(message)
    else:
        code = status_code(None)
        message = ""

    raw_events = get("events")
    events = decode_events(raw_events, span_id) if raw_events else []

    return Span(
        span_id=span_id,
        trace_id=trace_id,
        parent_id=parent_id,
        name=name,
        span_kind=kind,
        start_time=_nanos(span, "startTimeUnixNano", "start_time_unix_nano"),
        end_time=_nanos(span, "endTimeUnixNano", "end_time_unix_nano"),
        status_code=code,
        status_message=message,
        attributes=attributes,
        events=events,
        project=project,
        session_id=session_id,
    )


def decode_events(raw_events: Any, span_id: str) -> list[dict[str, Any]]:
    if type(raw_events) is not list:
        raise BadRecord(f"span {span_id}: events is a {type(raw_events).__name__}")
    events = []
    for event in raw_events:
        if type(event) is not dict:
            raise BadRecord(f"span {span_id}: an event is a {type(event).__name__}")
        raw_time = _get(event, "timeUnixNano", "time_unix_nano")
        try:
            timestamp = iso_from_unix_nanos(raw_time)
        except (TypeError, ValueError, OverflowError):
            raise BadRecord(
                f"span {span_id}: event time is not a time: {describe(raw_time)}"
            ) from None
        attrs = event.get("attributes")
        name = event.get("name")
        events.append(
            {
                "name": name if type(name) is str else ("" if name is None else str(name)),
                "timestamp": timestamp,
                "attributes": key_values(attrs) if attrs else {},
            }
        )
    return events


def resource_spans_of(request: dict) -> Any:
    found = request.get("resourceSpans")
    if found is None:
        found = request.get("resource_spans")
    return found


def scope_spans_of(resource_spans: dict) -> Any:
    for key in (
        "scopeSpans",
        "scope_spans",
        "instrumentationLibrarySpans",
        "instrumentation_library_spans",
    ):
        found = resource_spans.get(key)
        if found is not None:
            return found
    return None
