"""Putting the bundled samples into the shared Phoenix under fresh ids.

Phoenix keeps span ids (and session ids) unique across the whole server, and every test shares
one server, so each copy of the samples has every trace, span and session id rewritten from a
salt of its own and every span in a project of its own. The copies are written to disk so that
the same files can be imported directly for comparison. One copy of all three samples is shared
by the tests that only read (`shared_samples`); a test that writes to Phoenix sends its own
copy of the agent sample (`samples`: a third of the spans, so a third of Phoenix's ingestion).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from annotator.phoenix.connection import PhoenixClient
from annotator.phoenix.otlp import send_otlp_file, wait_for_spans

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted((REPO / "sample_traces").glob("*.otlp.jsonl"))
SAMPLE_SPANS = 301  # every span of the three sample files (the shared project)
AGENT_SPANS = 95  # the agent sample alone (a project of a test's own)


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


def remapped_samples(
    directory: Path, salt: str, project: str, names: tuple[str, ...] | None = None
) -> list[Path]:
    """Copies of the samples (all, or those `names`: "agent", "chat", "rag") with fresh ids."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for sample in SAMPLES:
        if names is not None and sample.name.split(".")[0] not in names:
            continue
        target = directory / sample.name
        lines = [
            orjson.dumps(_remap(orjson.loads(line), salt, project))
            for line in sample.read_bytes().splitlines()
            if line.strip()
        ]
        target.write_bytes(b"\n".join(lines) + b"\n")
        out.append(target)
    return out


def load_samples(
    client: PhoenixClient, directory: Path, names: tuple[str, ...] | None = None
) -> PhoenixProject:
    salt = uuid.uuid4().hex[:8]
    project = f"samples-{salt}"
    files = remapped_samples(directory, salt, project, names)
    sent = sum(send_otlp_file(client, path) for path in files)
    wait_for_spans(client, project, sent)
    return PhoenixProject(name=project, files=files, spans=sent)
