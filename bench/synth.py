"""Big trace files for the benchmarks, cloned from the bundled samples with fresh ids.

`clone_samples(n, path)` writes OTLP/JSON lines (the samples' own form) holding at least `n`
spans: the sample requests repeated, every trace and span id replaced by a new deterministic one
per copy, so that every copy is a distinct trace. `one_big_trace(n, path)` writes a single trace
of about `n` spans (sample traces grafted under one root), for the big-trace navigation bench.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from annotator.resources import sample_trace_files


def _sample_requests() -> list[dict]:
    requests = []
    for path in sample_trace_files():
        with path.open("rb") as handle:
            requests.extend(orjson.loads(line) for line in handle if line.strip())
    return requests


def _spans(request: dict) -> Iterator[dict]:
    for resource in request.get("resourceSpans", ()):
        for scope in resource.get("scopeSpans", ()):
            yield from scope.get("spans", ())


def _new_id(old: str, copy: int, length: int) -> str:
    return hashlib.blake2b(f"{copy}:{old}".encode(), digest_size=length // 2).hexdigest()


def _rewrite(request: dict, copy: int) -> dict:
    clone = orjson.loads(orjson.dumps(request))
    for span in _spans(clone):
        span["traceId"] = _new_id(span["traceId"], copy, 32)
        span["spanId"] = _new_id(span["spanId"], copy, 16)
        if span.get("parentSpanId"):
            span["parentSpanId"] = _new_id(span["parentSpanId"], copy, 16)
    return clone


def clone_samples(n_spans: int, path: Path) -> int:
    """Write at least `n_spans` spans to `path`; returns how many were written."""
    requests = _sample_requests()
    per_round = sum(sum(1 for _ in _spans(r)) for r in requests)
    written = 0
    copy = 0
    with path.open("wb") as out:
        while written < n_spans:
            for request in requests:
                out.write(orjson.dumps(_rewrite(request, copy)) + b"\n")
            written += per_round
            copy += 1
    return written


def one_big_trace(n_spans: int, path: Path) -> int:
    """One trace of about `n_spans` spans: copies of every sample trace hung under a new root."""
    requests = _sample_requests()
    trace_id = "b" * 32
    root = {
        "traceId": trace_id,
        "spanId": "a" * 16,
        "name": "big_batch_job",
        "kind": 1,
        "startTimeUnixNano": "1795000000000000000",
        "endTimeUnixNano": "1795000900000000000",
        "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "CHAIN"}}],
        "status": {},
    }
    written = 1
    copy = 0
    with path.open("wb") as out:
        out.write(
            orjson.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [root]}]}]})
            + b"\n"
        )
        while written < n_spans:
            for request in requests:
                clone = _rewrite(request, copy)
                for span in _spans(clone):
                    span["traceId"] = trace_id
                    if not span.get("parentSpanId"):
                        span["parentSpanId"] = root["spanId"]
                    written += 1
                out.write(orjson.dumps(clone) + b"\n")
            copy += 1
    return written
