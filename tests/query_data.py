"""The database the filter-language tests run on, and a plain-Python reading of it.

The bundled samples (imported with `import_files`), a trace of hand-made spans whose
attributes break things (one key holding every JSON shape, metadata stored as JSON text, keys
with dots, non-ASCII text, an orphan, a span without times), and annotations by several
annotators: two people, an LLM judge and a code check, on spans, documents and traces, plus
notes.

`Data` holds the same spans and annotations as Python objects, read back with plain SELECTs,
so that tests compute what a filter should select without the code under test.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from annotator.importer import import_files
from annotator.model import Annotation, Span
from annotator.resources import sample_trace_files
from annotator.store import Store
from annotator.store.annotations import import_annotations

EXTRA_TRACE = "f" * 32
EXTRA_ROOT = "e000000000000001"
ORPHAN = "e0000000000000f1"
MISSING_PARENT = "00000000deadbeef"

# Every JSON shape one attribute can take (the highest-yield fixture for conversions).
SHAPES: dict[str, Any] = {
    "int": 12,
    "real": 12.5,
    "numtext": "12",
    "text": "abc",
    "true": True,
    "false": False,
    "null": None,
    "array": [1, 2],
    "object": {"a": 1},
    "spaced": " 7 ",
    "negative": -3,
    "one": 1,
    "zero": 0,
    "truetext": "TRUE",
}
_ABSENT = object()
FLAGS: dict[str, Any] = {
    "int": True,
    "real": False,
    "numtext": "true",
    "text": "FALSE",
    "true": 1,
    "false": 0,
    "null": 2,
    "array": "yes",
}


def _span(
    span_id: str,
    name: str,
    kind: str,
    attributes: dict,
    *,
    parent: str | None = EXTRA_ROOT,
    start: str | None = "2026-12-01T10:00:01.000000+00:00",
    end: str | None = "2026-12-01T10:00:01.250000+00:00",
    status: str = "OK",
    message: str = "",
) -> Span:
    return Span(
        span_id=span_id,
        trace_id=EXTRA_TRACE,
        parent_id=parent,
        name=name,
        span_kind=kind,
        start_time=start,
        end_time=end,
        status_code=status,
        status_message=message,
        attributes=attributes,
        project="sample-extra",
    )


def extra_spans() -> list[Span]:
    spans = [
        _span(
            EXTRA_ROOT,
            "extra_root",
            "CHAIN",
            {
                # Stored as JSON text, not an object (as a writer that does not decode it would).
                "metadata": '{"topic": "billing", "tier": "gold"}',
                "input": {"value": "Über die Rückerstattung: I want a REFUND"},
                "user": {"id": "user-extra"},
            },
            parent=None,
            start="2026-12-01T10:00:00.000000+00:00",
            end="2026-12-01T10:00:05.000000+00:00",
        )
    ]
    for index, (shape, value) in enumerate(SHAPES.items()):
        attributes: dict[str, Any] = {"x": value}
        if shape in FLAGS:
            attributes["flag"] = FLAGS[shape]
        spans.append(_span(f"e00000000000a{index:03d}", f"shape_{shape}", "UNKNOWN", attributes))
    spans.append(_span("e00000000000a100", "shape_absent", "UNKNOWN", {"other": 1}))
    spans += [
        _span(
            "e0000000000000c1",
            "conflict",
            "CHAIN",
            {
                # A leaf/prefix conflict as the store keeps it, and a key with dots at the top.
                "a": {"b": 1, "b.c": 2},
                "k.j": "joined",
                "metadata": {"ls.model": "dotted-key", "nested": {"deep": 5}},
                "tag": {"tags": ["support", "agent"]},
            },
        ),
        _span(
            "e0000000000000u1",
            "ünïcödé",
            "CHAIN",
            {"input": {"value": "ÜBER ALLES — Straße"}, "output": {"value": "fine"}},
        ),
        _span(
            ORPHAN,
            "orphan_llm",
            "LLM",
            {
                "llm": {
                    "model_name": "gpt-4o",
                    "token_count": {"prompt": "120", "completion": 30, "total": 150},
                },
                "input": {"value": "Where is my refund?"},
            },
            parent=MISSING_PARENT,
            start="2026-12-01T10:00:02.000000+00:00",
            end="2026-12-01T10:00:04.500000+00:00",
        ),
        _span("e0000000000000n1", "timeless", "TOOL", {}, start=None, end=None),
        # LIKE's wildcards in text: a search for '100%_done' must not match '100xxdone'.
        _span("e0000000000000p1", "percent", "CHAIN", {"input": {"value": "progress: 100%_done"}}),
        _span(
            "e0000000000000p2",
            "percent_lookalike",
            "CHAIN",
            {"input": {"value": "progress: 100xxdone"}},
        ),
        _span(
            "e0000000000000x1",
            "failing_tool",
            "TOOL",
            {"tool": {"name": "refund_api"}},
            status="ERROR",
            message="RefundError: refund service down",
        ),
    ]
    return spans


@dataclass
class SpanView:
    id: str
    trace: str
    parent: str | None
    name: str
    kind: str
    status: str
    message: str
    start: str | None
    end: str | None
    latency: float | None
    documents: int
    attrs: dict


@dataclass
class TraceView:
    id: str
    spans: list[SpanView]
    root: SpanView | None
    start: str | None
    end: str | None
    latency: float | None


@dataclass
class Data:
    spans: list[SpanView]
    traces: list[TraceView]
    annotations: list[dict]
    by_id: dict[str, SpanView] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {s.id: s for s in self.spans}


def build(path: Path) -> Data:
    """The database at `path` (a file of its own), and its reading. Made once a process and
    copied: the modules that use it (eight) each built it, about 0.1 CPU-s each, in every
    xdist worker that ran one of their tests."""
    shutil.copyfile(_built_once(), path)
    return read(path)


@functools.cache
def _built_once() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="annotator-query-data-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = directory / "annotations.db"
    _build(path)
    return path


def _build(path: Path) -> None:
    with Store.open(path) as store:
        report = import_files(store, sample_trace_files())
        assert not report.problems and not report.rejected_files
        writer = store.span_writer()
        writer.add_all(extra_spans())
        writer.close()
        conn = store.connection
        import_annotations(conn, _annotations(conn), actor="fixture")


def _annotations(conn: sqlite3.Connection) -> list[Annotation]:
    llm = [
        r[0]
        for r in conn.execute(
            "SELECT span_id FROM spans WHERE span_kind = 'LLM' AND project != 'sample-extra' "
            "ORDER BY start_time, span_id"
        )
    ]
    retrievers = conn.execute(
        "SELECT span_id, document_count FROM spans WHERE span_kind = 'RETRIEVER' "
        "ORDER BY start_time, span_id"
    ).fetchall()
    traces = [
        r[0]
        for r in conn.execute(
            "SELECT trace_id FROM traces WHERE trace_id != ? ORDER BY trace_id", (EXTRA_TRACE,)
        )
    ]
    out: list[Annotation] = []

    def span(span_id, name, kind, who, label=None, score=None, explanation=None):
        out.append(
            Annotation(
                name=name,
                target="span",
                span_id=span_id,
                label=label,
                score=score,
                explanation=explanation,
                annotator_kind=kind,
                source="API",
                identifier=who,
            )
        )

    for i, span_id in enumerate(llm[:12]):
        bad = i % 3 == 0
        span(
            span_id,
            "correctness",
            "HUMAN",
            "alice",
            "incorrect" if bad else "correct",
            0.0 if bad else 1.0,
            "wrong total" if bad else None,
        )
    for i, span_id in enumerate(llm[6:18]):
        bad = i % 2 == 0
        span(
            span_id,
            "correctness",
            "HUMAN",
            "bob",
            "incorrect" if bad else "correct",
            0.0 if bad else 1.0,
            "Hallucinated a refund policy" if i % 4 == 0 else None,
        )
    for i, span_id in enumerate(llm):
        if i % 2 == 0:
            bad = i % 4 == 0
            span(
                span_id,
                "correctness",
                "LLM",
                "judge-gpt",
                "incorrect" if bad else "correct",
                0.2 if bad else 0.9,
                "The judge's reasoning",
            )
    for i, span_id in enumerate(llm[::5]):
        span(span_id, "hallucination", "CODE", "regex-check", None, 1.0 if i % 2 == 0 else 0.0)
    span(llm[20], "correctness", "HUMAN", "carol", None, 0.5)  # a score without a label
    span(llm[1], "note", "HUMAN", "alice", explanation="check this one")
    span(llm[2], "note", "HUMAN", "bob", explanation="odd answer")
    for index, (span_id, count) in enumerate(retrievers):
        for position in range(count):
            bad = position == 2 or (index % 3 == 0 and position == 1)
            out.append(
                Annotation(
                    name="relevance",
                    target="document",
                    span_id=span_id,
                    document_position=position,
                    label="irrelevant" if bad else "relevant",
                    score=0.0 if bad else 1.0,
                    annotator_kind="LLM",
                    source="API",
                    identifier="judge-gpt",
                )
            )
        if index < 3:
            out.append(
                Annotation(
                    name="relevance",
                    target="document",
                    span_id=span_id,
                    document_position=0,
                    label="irrelevant" if index == 0 else "relevant",
                    annotator_kind="HUMAN",
                    source="API",
                    identifier="alice",
                )
            )
    for i, trace_id in enumerate(traces[:10]):
        out.append(
            Annotation(
                name="quality",
                target="trace",
                trace_id=trace_id,
                score=(i % 5) / 4,
                annotator_kind="HUMAN",
                source="API",
                identifier="alice",
            )
        )
    for i, trace_id in enumerate(traces[5:15]):
        out.append(
            Annotation(
                name="quality",
                target="trace",
                trace_id=trace_id,
                label="bad" if i % 3 == 0 else "good",
                annotator_kind="LLM",
                source="API",
                identifier="judge-gpt",
            )
        )
    out.append(
        Annotation(
            name="note",
            target="trace",
            trace_id=traces[0],
            explanation="a trace note",
            annotator_kind="HUMAN",
            source="API",
            identifier="alice",
        )
    )
    return out


def read(path: Path) -> Data:
    conn = sqlite3.connect(path)
    try:
        spans = [
            SpanView(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                orjson.loads(r[11]),
            )
            for r in conn.execute(
                "SELECT span_id, trace_id, parent_id, name, span_kind, status_code, "
                "status_message, start_time, end_time, latency_ms, document_count, attributes "
                "FROM spans"
            )
        ]
        columns = [
            "target",
            "span_id",
            "trace_id",
            "document_position",
            "name",
            "label",
            "score",
            "explanation",
            "annotator_kind",
            "identifier",
        ]
        annotations = [
            dict(zip(columns, row, strict=True))
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM annotations")
        ]
        roots = dict(conn.execute("SELECT trace_id, root_span_id FROM traces"))
    finally:
        conn.close()
    by_trace: dict[str, list[SpanView]] = {}
    for span in spans:
        by_trace.setdefault(span.trace, []).append(span)
    by_id = {s.id: s for s in spans}
    traces = []
    for trace_id, members in by_trace.items():
        starts = [s.start for s in members if s.start]
        ends = [s.end for s in members if s.end]
        start, end = (min(starts) if starts else None), (max(ends) if ends else None)
        latency = None
        if start and end:
            from datetime import datetime

            elapsed = datetime.fromisoformat(end) - datetime.fromisoformat(start)
            latency = elapsed.total_seconds() * 1000
        traces.append(
            TraceView(trace_id, members, by_id.get(roots.get(trace_id)), start, end, latency)
        )
    return Data(spans, traces, annotations)


# --- a plain-Python reading of values, as the language defines them ----------------------------

_MISSING = None


def _walk(value: Any, keys: list[Any]) -> Any:
    for key in keys:
        if isinstance(key, int):
            if not isinstance(value, list) or key >= len(value):
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
    return value


def attr(attrs: dict, dotted: str) -> Any:
    """An attribute by its dotted name: nested first, then with the tail's dots kept in one key
    (`a.b.c` -> a/b/c, a/'b.c', 'a.b.c'); metadata stored as JSON text is looked into."""
    parts = dotted.split(".")
    for cut in range(len(parts), -1, -1):
        keys: list[Any] = [
            int(p) if p.isdigit() and i < len(parts) - 1 else p for i, p in enumerate(parts[:cut])
        ]
        if cut < len(parts):
            keys.append(".".join(parts[cut:]))
        found = _walk(attrs, keys)
        if found is not None:
            return found
    if parts[0] == "metadata" and isinstance(attrs.get("metadata"), str):
        try:
            inner = json.loads(attrs["metadata"])
        except ValueError:
            return None
        return attr({"m": inner}, "m." + ".".join(parts[1:])) if len(parts) > 1 else None
    return None


def number(value: Any) -> float | None:
    """A JSON value as a number: numbers, and text holding a JSON number; nothing else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        if isinstance(parsed, int | float) and not isinstance(parsed, bool):
            return float(parsed)
    return None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_text(value: Any) -> Any:
    """What SQLite holds for a JSON value: text, a number, 1/0 for booleans, JSON text for
    containers, None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


def contains(haystack: Any, needle: str) -> bool:
    """Case-insensitive substring, with None (missing) matching nothing."""
    if haystack is None:
        return False
    text = as_text(haystack)
    if isinstance(text, float) and text.is_integer():
        text = repr(text)
    return needle.casefold() in str(text).casefold()


def llm_tokens(span: SpanView, which: str) -> float | None:
    """Phoenix's per-span counts: LLM spans only, 0 when absent."""
    if span.kind != "LLM":
        return None if which != "total" else 0.0
    if which == "total":
        return (llm_tokens(span, "prompt") or 0.0) + (llm_tokens(span, "completion") or 0.0)
    return number(attr(span.attrs, f"llm.token_count.{which}")) or 0.0


def fresh_copy(built: tuple[Path, Data], directory: Path) -> tuple[Path, Data]:
    """A test's own copy of a database built once per module (`build`), beside what it holds."""
    path, data = built
    copy = directory / path.name
    shutil.copy(path, copy)
    return copy, data


def digest(path: Path) -> str:
    """The file's bytes, hashed: equal digests mean a command left it as it was."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
