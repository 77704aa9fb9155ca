"""``push --spans``: the spans of the database that Phoenix does not have (traces imported from
files), sent to Phoenix's OTLP endpoint, so that their annotations have something to attach to.

Which spans Phoenix has is asked by id (GraphQL ``getSpanByOtelId``, server-wide: span ids are
unique across a Phoenix), so spans a pull brought, or sent before, are not sent again (Phoenix
would ignore them anyway: it keeps the first span of an id). The rest are rebuilt as OTLP
protobuf from the database: attributes flattened back to dotted keys (the attributes Phoenix
reads as JSON text - ``metadata``, ``tool.parameters``, ... - as JSON text again), events, status,
times in nanoseconds, and the project name as the resource's ``openinference.project.name``.
Phoenix ingests asynchronously: the call returns once every sent span is readable, so that the
annotations pushed next find them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from annotator.attributes import JSON_STRING_ATTRIBUTES
from annotator.phoenix import errors
from annotator.phoenix.connection import PhoenixClient
from annotator.store import Store

SPANS_PER_REQUEST = 500  # spans in one OTLP request
IDS_PER_QUERY = 50  # aliased getSpanByOtelId lookups in one GraphQL query (Phoenix: at most 50)
_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
_JSON_SUFFIXES = tuple(f".{name}" for name in JSON_STRING_ATTRIBUTES)
_INT64 = (-(2**63), 2**63 - 1)

Progress = Any  # (stage, done, total) -> None, as pull and push take


@dataclass
class SpanPushReport:
    sent: int = 0
    present: int = 0  # already in Phoenix
    projects: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"Sent {self.sent:,} spans Phoenix did not have ({self.present:,} it had) in "
            f"{self.seconds:.1f}s."
        )


def send_missing_spans(
    store: Store,
    client: PhoenixClient,
    *,
    project: str | None = None,
    progress: Progress | None = None,
    ingest_timeout: float | None = None,
) -> SpanPushReport:
    """Send the spans of `project` (else of every project) that Phoenix lacks; wait until
    Phoenix has ingested them. Raises PhoenixError (nothing is recorded: asking Phoenix again
    is how the next push knows what it has)."""
    started = time.perf_counter()
    notify = progress or (lambda stage, done, total: None)
    report = SpanPushReport()
    conn = store.connection
    if project:
        projects = [project]
    else:
        projects = [r[0] for r in conn.execute("SELECT DISTINCT project FROM spans ORDER BY 1")]
    report.projects = projects
    missing: list[str] = []
    for name in projects:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT span_id FROM spans WHERE project = ? ORDER BY trace_id, start_time",
                (name,),
            )
        ]
        lacking = phoenix_lacks(client, ids)
        report.present += len(ids) - len(lacking)
        missing.extend(lacking)
    total = len(missing)
    notify("spans", 0, total)
    for chunk in _chunks(missing, SPANS_PER_REQUEST):
        _post(client, _request(store, chunk))
        report.sent += len(chunk)
        notify("spans", report.sent, total)
    if missing:
        _wait_for(client, missing, ingest_timeout or max(60.0, total / 50), notify)
    report.seconds = time.perf_counter() - started
    return report


def phoenix_lacks(client: PhoenixClient, span_ids: list[str]) -> list[str]:
    """The ids of `span_ids` that Phoenix has no span of, in order."""
    lacking: list[str] = []
    for chunk in _chunks(span_ids, IDS_PER_QUERY):
        aliases = "\n".join(
            f"s{i}: getSpanByOtelId(spanId: {orjson.dumps(span_id).decode()}) {{ spanId }}"
            for i, span_id in enumerate(chunk)
        )
        data = client.graphql(f"query {{\n{aliases}\n}}", {}, what="asking Phoenix for spans")
        lacking.extend(span_id for i, span_id in enumerate(chunk) if not data.get(f"s{i}"))
    return lacking


def _wait_for(client: PhoenixClient, span_ids: list[str], timeout: float, notify: Any) -> None:
    deadline = time.monotonic() + timeout
    waiting = span_ids
    total = len(span_ids)
    while True:
        waiting = phoenix_lacks(client, waiting)
        notify("ingested", total - len(waiting), total)
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise errors.Timeout(
                f"sending spans: Phoenix at {client.url} accepted {total:,} spans but has "
                f"ingested only {total - len(waiting):,} after {timeout:.0f}s; push again later "
                "(spans already ingested are not sent again)"
            )
        time.sleep(0.25)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _post(client: PhoenixClient, body: bytes) -> None:
    what = "sending spans to /v1/traces"
    with client.errors(what):
        response = client.http.post(
            "/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
        )
    if response.status_code != 200:
        raise client.error_for(response, what)


def _request(store: Store, span_ids: list[str]) -> bytes:
    """One ExportTraceServiceRequest holding these spans, one resource per project."""
    try:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
        from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    except ImportError as exc:
        raise errors.MissingExtra(exc.name or "opentelemetry-proto") from None
    marks = ",".join("?" * len(span_ids))
    rows = store.connection.execute(
        "SELECT span_id, trace_id, parent_id, name, start_time, end_time, status_code, "
        f"status_message, project, attributes, events FROM spans WHERE span_id IN ({marks})",
        span_ids,
    )
    request = ExportTraceServiceRequest()
    by_project: dict[str, Any] = {}
    for (
        span_id, trace_id, parent_id, name, start, end, status, message, project, attributes,
        events,
    ) in rows:  # fmt: skip
        scope = by_project.get(project)
        if scope is None:
            resource = request.resource_spans.add()
            resource.resource.attributes.append(
                KeyValue(
                    key="openinference.project.name", value=AnyValue(string_value=str(project))
                )
            )
            scope = resource.scope_spans.add()
            scope.scope.name = "annotator"
            by_project[project] = scope
        span = scope.spans.add()
        span.trace_id = _id_bytes(trace_id, 16)
        span.span_id = _id_bytes(span_id, 8)
        if parent_id:
            span.parent_span_id = _id_bytes(parent_id, 8)
        span.name = name
        span.start_time_unix_nano = _nanos(start)
        span.end_time_unix_nano = _nanos(end) or span.start_time_unix_nano
        span.status.code = _STATUS.get(status, 0)
        if message:
            span.status.message = message
        for key, value in _flat(orjson.loads(attributes)):
            _add(span.attributes, key, value)
        for event in orjson.loads(events):
            if not isinstance(event, dict):
                continue
            out = span.events.add()
            out.name = str(event.get("name") or "")
            out.time_unix_nano = _nanos(event.get("timestamp"))
            for key, value in _flat(event.get("attributes") or {}):
                _add(out.attributes, key, value)
    return request.SerializeToString()


def _id_bytes(value: str, size: int) -> bytes:
    """Hex ids as OTLP bytes; an id that is not hex of the right size (REST-style ids such as
    ``s01``) is refused: OTLP cannot carry it."""
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise errors.BadSettings(
            f"span or trace id {value!r} is not {size * 2} hex digits: OTLP cannot carry it, so "
            "push --spans cannot send this span (send its traces to Phoenix the way they came)"
        )
    return raw


def _nanos(iso: Any) -> int:
    if not iso:
        return 0
    when = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    whole = int(when.timestamp())
    return whole * 1_000_000_000 + when.microsecond * 1000


def _is_json_key(key: str) -> bool:
    return key in JSON_STRING_ATTRIBUTES or key.endswith(_JSON_SUFFIXES)


def _flat(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested attributes -> dotted keys (lists of objects indexed), the JSON-text attributes
    as JSON text, as instrumentation sends them."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict | list) and _is_json_key(full):
            yield full, orjson.dumps(value).decode()
        elif isinstance(value, dict):
            yield from _flat(value, full)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                yield from _flat(item, f"{full}.{index}")
        elif value is not None:
            yield full, value


def _add(attributes: Any, key: str, value: Any) -> None:
    item = attributes.add()
    item.key = key
    _set(item.value, value)


def _set(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int) and _INT64[0] <= value <= _INT64[1]:
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, list):
        array = target.array_value
        array.SetInParent()
        for item in value:
            _set(array.values.add(), item)
    elif isinstance(value, dict):
        target.string_value = orjson.dumps(value).decode()
    else:
        target.string_value = str(value)
