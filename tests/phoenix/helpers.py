"""Putting the bundled samples into the shared Phoenix under fresh ids.

Phoenix keeps span ids (and session ids) unique across the whole server, and every test shares
one server, so each copy of the samples has every trace, span and session id rewritten from a
salt of its own and every span in a project of its own. The copies are written to disk so that
the same files can be imported directly for comparison. Phoenix's CPU goes with what it ingests
and serves, so a test sends only what it needs. The tests that only read share one copy of all
three samples (`shared_samples`, 301 spans) and one of their covering traces (`shared_few`,
`covering_traces`: the few traces that hold every kind of thing the tests look at, 24 spans);
a test that writes to Phoenix sends its own copy of the agent sample's covering traces
(`samples`: 12 of its 95 spans). Counts come from what was sent (`PhoenixProject.spans`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.otlp import send_otlp_file, wait_for_spans

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "sample_traces").glob("*.otlp.jsonl"))
SAMPLE_SPANS = 301  # every span of the three sample files (the shared project)


@dataclass
class PhoenixProject:
    name: str
    files: list[Path]
    spans: int


def new_id(salt: str, old: str) -> str:
    return hashlib.sha256(f"{salt}:{old}".encode()).hexdigest()[: len(old)]


def _remap(value: Any, salt: str, project: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str) and item:
                out[key] = new_id(salt, item.lower())
            elif key == "attributes" and isinstance(item, list):
                out[key] = [_attribute(kv, salt, project) for kv in item]
            else:
                out[key] = _remap(item, salt, project)
        return out
    if isinstance(value, list):
        return [_remap(item, salt, project) for item in value]
    return value


def _attribute(kv: Any, salt: str, project: str) -> Any:
    if isinstance(kv, dict) and kv.get("key") == "openinference.project.name":
        return {"key": kv["key"], "value": {"stringValue": project}}
    if isinstance(kv, dict) and kv.get("key") == "session.id":
        old = kv["value"].get("stringValue", "")
        return {"key": kv["key"], "value": {"stringValue": f"{old}-{salt}"}}
    return _remap(kv, salt, project)


# --- a few traces that hold every kind of thing the tests need -------------------------------

# What a writing test annotates or checks: an LLM span with its messages, a tool call, a
# retriever with at least two documents (document annotations at positions 0 and 1), a session
# (session annotations and notes) and a span in error.
FEATURES = ("llm_messages", "tool", "documents", "session", "error")


def _spans_of(request: dict) -> Iterator[dict]:
    for resource in request.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            yield from scope.get("spans", [])


def _features(span: dict) -> set[str]:
    keys = {kv.get("key", "") for kv in span.get("attributes", [])}
    kind = next(
        (
            kv["value"].get("stringValue")
            for kv in span.get("attributes", [])
            if kv.get("key") == "openinference.span.kind"
        ),
        None,
    )
    found = set()
    if kind == "LLM" and any(k.startswith("llm.input_messages.") for k in keys):
        found.add("llm_messages")
    if kind == "TOOL":
        found.add("tool")
    positions = {k.split(".")[2] for k in keys if k.startswith("retrieval.documents.")}
    if kind == "RETRIEVER" and len(positions) >= 2:
        found.add("documents")
    if "session.id" in keys:
        found.add("session")
    if span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"):
        found.add("error")
    return found


@cache
def covering_traces(sample: Path) -> frozenset[str]:
    """The trace ids of `sample` (a few) that between them hold every one of FEATURES the sample
    has: chosen by what the traces hold, greedily (the trace that adds the most, then the one
    with the fewest spans), not by where they are in the file."""
    spans: dict[str, int] = {}
    holds: dict[str, set[str]] = {}
    for line in sample.read_bytes().splitlines():
        if line.strip():
            for span in _spans_of(orjson.loads(line)):
                trace = span["traceId"].lower()
                spans[trace] = spans.get(trace, 0) + 1
                holds.setdefault(trace, set()).update(_features(span))
    wanted = set().union(*holds.values()) & set(FEATURES)
    chosen: set[str] = set()
    while wanted:
        best = min(holds, key=lambda t: (-len(holds[t] & wanted), spans[t], t))
        chosen.add(best)
        wanted -= holds[best]
    return frozenset(chosen)


def _only(request: dict, traces: frozenset[str]) -> dict | None:
    """The request with only the spans of `traces` (None when none is left)."""
    resources = []
    for resource in request.get("resourceSpans", []):
        scopes = []
        for scope in resource.get("scopeSpans", []):
            kept = [s for s in scope.get("spans", []) if s["traceId"].lower() in traces]
            if kept:
                scopes.append({**scope, "spans": kept})
        if scopes:
            resources.append({**resource, "scopeSpans": scopes})
    return {**request, "resourceSpans": resources} if resources else None


def remapped_samples(
    directory: Path,
    salt: str,
    project: str,
    names: tuple[str, ...] | None = None,
    *,
    few: bool = False,
) -> list[Path]:
    """Copies of the samples (all, or those `names`: "agent", "chat", "rag") with fresh ids;
    `few`: only each sample's `covering_traces`."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for sample in SAMPLES:
        if names is not None and sample.name.split(".")[0] not in names:
            continue
        target = directory / sample.name
        requests = [orjson.loads(line) for line in sample.read_bytes().splitlines() if line.strip()]
        if few:
            traces = covering_traces(sample)
            requests = [r for r in (_only(request, traces) for request in requests) if r]
        lines = [orjson.dumps(_remap(request, salt, project)) for request in requests]
        target.write_bytes(b"\n".join(lines) + b"\n")
        out.append(target)
    return out


def span_count(files: list[Path]) -> int:
    """How many spans the OTLP/JSON lines files hold."""
    return sum(
        len(list(_spans_of(orjson.loads(line))))
        for path in files
        for line in path.read_bytes().splitlines()
        if line.strip()
    )


def load_samples(
    client: PhoenixClient,
    directory: Path,
    names: tuple[str, ...] | None = None,
    *,
    few: bool = False,
) -> PhoenixProject:
    salt = uuid.uuid4().hex[:8]
    project = f"samples-{salt}"
    files = remapped_samples(directory, salt, project, names, few=few)
    sent = sum(send_otlp_file(client, path) for path in files)
    wait_for_spans(client, project, sent)
    return PhoenixProject(name=project, files=files, spans=sent)
