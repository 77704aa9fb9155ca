"""Sending OTLP/JSON trace files to Phoenix's OTLP endpoint (``POST /v1/traces``), which takes
protobuf only (OTLP/JSON gets 415). Each JSON line is an ``ExportTraceServiceRequest`` as the
Collector's file exporter writes it (hex ids); it is turned into the protobuf message (base64 ids
in protobuf's JSON mapping) and posted as ``application/x-protobuf``. Phoenix ingests spans
asynchronously: `wait_for_spans` polls until a project holds the expected number.

Needs ``opentelemetry-proto`` (installed with the ``phoenix`` extra: Phoenix's client depends on
the OTLP exporter).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from annotator.phoenix import errors
from annotator.phoenix.connection import PhoenixClient

_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _protobuf_ids(value: Any) -> Any:
    """OTLP/JSON hex ids -> base64 (protobuf's JSON mapping of bytes), recursively."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str) and item:
                with contextlib.suppress(ValueError):  # else already base64 (MessageToJson form)
                    item = base64.b64encode(bytes.fromhex(item)).decode()
            out[key] = _protobuf_ids(item)
        return out
    if isinstance(value, list):
        return [_protobuf_ids(item) for item in value]
    return value


def requests_in(path: Path) -> Iterator[bytes]:
    """Each line of an OTLP/JSON lines file as a serialised protobuf request."""
    try:
        from google.protobuf import json_format
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ImportError as exc:
        raise errors.MissingExtra(exc.name or "opentelemetry-proto") from None
    with open(path, "rb") as stream:
        for line in stream:
            if not line.strip():
                continue
            message = ExportTraceServiceRequest()
            json_format.ParseDict(_protobuf_ids(orjson.loads(line)), message)
            yield message.SerializeToString()


def send_otlp_file(client: PhoenixClient, path: Path) -> int:
    """Post every request of the file; returns how many spans were sent."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    sent = 0
    for body in requests_in(path):
        with client.errors(f"sending {path.name} to /v1/traces"):
            response = client.http.post(
                "/v1/traces",
                content=body,
                headers={"content-type": "application/x-protobuf"},
            )
        if response.status_code != 200:
            raise client.error_for(response, f"sending {path.name} to /v1/traces")
        message = ExportTraceServiceRequest.FromString(body)
        sent += sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    return sent


def count_spans(client: PhoenixClient, project: str) -> int:
    """How many spans the project holds now (0 when it does not exist yet). One cheap GraphQL
    count: paging through the spans themselves would compete with the ingestion it waits for."""
    data = client.graphql(
        "query ($name: String!) { getProjectByName(name: $name) { recordCount } }",
        {"name": project},
        what=f"counting the spans of {project!r}",
    )
    found = data.get("getProjectByName")
    return int(found["recordCount"]) if found else 0


def wait_for_spans(
    client: PhoenixClient, project: str, expected: int, timeout: float = 60.0
) -> int:
    """Poll until the project holds at least `expected` spans; the count (TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        count = count_spans(client, project)
        if count >= expected:
            return count
        if time.monotonic() > deadline:
            raise TimeoutError(f"{project}: {count} of {expected} spans after {timeout:g}s")
        time.sleep(0.1)
