"""Regenerate tests/data/readers/reference/: two traces of each reference project, every format.

    python tests/data/readers/make_reference_subsets.py [../shared]

The reference exports in ../shared/reference_traces were generated for this project (scripted
LangChain apps sent to a real Phoenix and exported from it); trimmed copies of them live in the
repository so that the tests that read them also run on a clean clone. The same two traces are
kept in every format, records untouched apart from dropping the other traces; the annotation
exports and the trace and session listings keep the records on those traces' spans, traces and
sessions (same layout as Phoenix wrote them). The third-party files beside them in ../shared are
NOT copied (their licences): tests/data/readers/handwritten/ has files of our own in their shapes.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
OUT = HERE / "reference"

TRACES = {
    # retriever nested in a tool + a trace whose tool raises (ERROR spans, exception events)
    "langchain-agent": ("15f0389cbd259eadbb181b3d0ee4b8d5", "b314d94ce487e85a708684e9f815e152"),
    # plain RAG with documents and a prompt template + the query-rewrite trace that times out
    "langchain-rag": ("8742a4856a491d4929981b7342cad93b", "2c96dcf99c75a88cc7710f4a24d1485c"),
}


def _hex(trace_id: str) -> str:
    if trace_id.endswith("="):
        return base64.b64decode(trace_id).hex()
    return trace_id.lower()


def _keep(trace_id: str | None, wanted: set[str]) -> bool:
    return trace_id is not None and _hex(trace_id) in wanted


def _otlp_lines(src: Path, dst: Path, wanted: set[str]) -> None:
    out = []
    for line in src.read_bytes().splitlines():
        request = orjson.loads(line)
        resources = []
        for resource in request["resourceSpans"]:
            scopes = []
            for scope in resource["scopeSpans"]:
                spans = [s for s in scope["spans"] if _keep(s["traceId"], wanted)]
                if spans:
                    scopes.append({**scope, "spans": spans})
            if scopes:
                resources.append({**resource, "scopeSpans": scopes})
        if resources:
            out.append(orjson.dumps({"resourceSpans": resources}))
    dst.write_bytes(b"\n".join(out) + b"\n")


def _record_lines(src: Path, dst: Path, wanted: set[str]) -> None:
    out = []
    for line in src.read_bytes().splitlines():
        record = orjson.loads(line)
        context = record.get("context") or {}
        trace_id = context.get("trace_id") or record.get("context.trace_id")
        if _keep(trace_id, wanted):
            out.append(line)
    dst.write_bytes(b"\n".join(out) + b"\n")


def _json_doc(src: Path, dst: Path, wanted: set[str]) -> None:
    doc = orjson.loads(src.read_bytes())

    def trace_of(span: dict) -> str | None:
        return (span.get("context") or {}).get("trace_id") or span.get("trace_id")

    if isinstance(doc, list):  # phoenix-client output, saved pretty-printed
        doc = [s for s in doc if _keep(trace_of(s), wanted)]
        dst.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:  # raw REST responses: compact, as the server sends them
        doc = {**doc, "data": [s for s in doc["data"] if _keep(trace_of(s), wanted)]}
        dst.write_bytes(orjson.dumps(doc))


def _parquet(src: Path, dst: Path, wanted: set[str]) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    full = [t for t in set(table.column("context.trace_id").to_pylist()) if _keep(t, wanted)]
    mask = pc.is_in(table.column("context.trace_id"), value_set=pa.array(full))
    pq.write_table(table.filter(mask), dst)


def _kept_ids(project: str) -> dict[str, set[str]]:
    """Span, trace and session ids of the subset just written (from its OTLP file)."""
    ids: dict[str, set[str]] = {"span_id": set(), "trace_id": set(), "session_id": set()}
    for line in (OUT / f"{project}.otlp.jsonl").read_bytes().splitlines():
        for resource in orjson.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    ids["span_id"].add(span["spanId"])
                    ids["trace_id"].add(span["traceId"])
                    for kv in span.get("attributes", []):
                        if kv["key"] == "session.id":
                            ids["session_id"].add(kv["value"]["stringValue"])
    return ids


def _listing(src: Path, dst: Path, ids: dict[str, set[str]]) -> None:
    """Annotation exports (indented, as saved) and /v1 trace or session listings (compact, as
    the server sends them): the records about what the subset holds."""
    raw = src.read_bytes()
    doc = orjson.loads(raw)
    kept = [
        record
        for record in doc["data"]
        if any(record.get(key) in wanted for key, wanted in ids.items())
    ]
    doc = {**doc, "data": kept}
    if raw.startswith(b"{\n"):
        dst.write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    else:
        dst.write_bytes(orjson.dumps(doc))


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared"
    OUT.mkdir(exist_ok=True)
    for project, traces in TRACES.items():
        wanted = set(traces)
        src_dir = shared / "reference_traces" / project
        listings = []
        for src in sorted(src_dir.iterdir()):
            name = src.name
            if "annotations" in name or "v1_traces" in name or "v1_sessions" in name:
                listings.append(src)
                continue
            if name.startswith("trace_dataset-"):
                name = f"{project}.trace_dataset.parquet"
            dst = OUT / name
            if name.endswith((".otlp.jsonl", ".raw-messagetojson.jsonl")):
                _otlp_lines(src, dst, wanted)
            elif name.endswith(".jsonl"):
                _record_lines(src, dst, wanted)
            elif name.endswith(".json"):
                _json_doc(src, dst, wanted)
            elif name.endswith(".parquet"):
                _parquet(src, dst, wanted)
            print(f"{dst.relative_to(HERE)}: {dst.stat().st_size} bytes")
        ids = _kept_ids(project)
        for src in listings:
            dst = OUT / src.name
            _listing(src, dst, ids)
            print(f"{dst.relative_to(HERE)}: {dst.stat().st_size} bytes")


if __name__ == "__main__":
    main()
