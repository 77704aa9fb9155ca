"""Reader speed against the parse floor (``orjson.loads`` of the same lines).

    python bench/reader_speed.py [--spans 100000] [--shared ../shared]

Builds big JSON-lines files by repeating the reference exports (OTLP JSONL, DataFrame JSONL,
legacy JSONL) in a temporary directory, with the ids of each copy rewritten so that every span is
new, then times (CPU time of this process, best of --repeat) per file: ``orjson.loads`` of every
line (the floor) and ``read_spans`` consuming every span. Prints spans/s and reader/floor ratio.
"""

from __future__ import annotations

import argparse
import base64
import gc
import tempfile
import time
from pathlib import Path

import orjson

from annotator.model import Problem
from annotator.readers import read_spans

REPO = Path(__file__).resolve().parents[1]


def _sources(shared: Path) -> list[tuple[str, Path, int]]:
    rag = shared / "reference_traces" / "langchain-rag"
    agent = shared / "reference_traces" / "langchain-agent"
    out = []
    for label, path in (
        ("OTLP JSONL (rag)", rag / "langchain-rag.otlp.jsonl"),
        ("OTLP JSONL (agent)", agent / "langchain-agent.otlp.jsonl"),
        ("OTLP MessageToJson JSONL (rag)", rag / "langchain-rag.otlp.raw-messagetojson.jsonl"),
        ("DataFrame JSONL (rag)", rag / "langchain-rag.spans_dataframe.jsonl"),
        ("DataFrame JSONL (agent)", agent / "langchain-agent.spans_dataframe.jsonl"),
        ("legacy span JSONL (rag)", rag / "langchain-rag.legacy_spans.jsonl"),
    ):
        if path.exists():
            count = sum(1 for _ in read_spans(path))
            out.append((label, path, count))
    return out


def _floor(path: Path) -> float:
    loads = orjson.loads
    start = time.process_time()
    with open(path, "rb") as stream:
        for line in stream:
            loads(line)
    return time.process_time() - start


def _reader(path: Path) -> tuple[float, int]:
    start = time.process_time()
    count = 0
    for item in read_spans(path):
        if type(item) is Problem:
            raise SystemExit(f"unexpected problem: {item}")
        count += 1
    return time.process_time() - start, count


def _new_id(value: str | None, copy: int) -> str | None:
    """The same id with its first three bytes replaced by the copy number (hex or base64)."""
    if not value:
        return value
    if value.endswith("="):
        raw = base64.b64decode(value)
        return base64.b64encode(copy.to_bytes(3, "big") + raw[3:]).decode()
    return f"{copy:06x}{value[6:]}"


def _renumber(record: dict, copy: int) -> None:
    if "resourceSpans" in record:
        for resource in record["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in span:
                            span[key] = _new_id(span[key], copy)
        return
    context = record.get("context")
    holder = context if isinstance(context, dict) else record
    prefix = "" if isinstance(context, dict) else "context."
    for key in ("trace_id", "span_id"):
        holder[prefix + key] = _new_id(holder[prefix + key], copy)
    record["parent_id"] = _new_id(record.get("parent_id"), copy)


def _write_copies(source: Path, target: Path, copies: int) -> None:
    records = [orjson.loads(line) for line in source.read_bytes().splitlines() if line.strip()]
    with open(target, "wb") as stream:
        for copy in range(copies):
            for record in records:
                fresh = orjson.loads(orjson.dumps(record))
                _renumber(fresh, copy)
                stream.write(orjson.dumps(fresh) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, source, per_copy in _sources(args.shared):
            copies = max(1, round(args.spans / per_copy))
            big = Path(tmp) / source.name
            _write_copies(source, big, copies)
            size_mb = big.stat().st_size / 1e6
            floor = min(_floor(big) for _ in range(args.repeat))
            best = None
            count = 0
            for _ in range(args.repeat):
                gc.collect()
                elapsed, count = _reader(big)
                best = elapsed if best is None else min(best, elapsed)
            assert best is not None
            print(
                f"{label:32s} {count:7d} spans {size_mb:6.0f} MB  "
                f"orjson.loads {floor:6.2f}s  read_spans {best:6.2f}s  "
                f"{count / best:9,.0f} spans/s  ratio {best / floor:4.2f}x"
            )
            big.unlink()


if __name__ == "__main__":
    main()
