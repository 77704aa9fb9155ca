"""What each filter selects: Phoenix's documented examples and the edge cases (missing values,
case, enums, datetimes, nested attributes, annotations by several annotators, comprehensions),
each checked against the EXACT span (or trace) set on the bundled samples plus hostile spans.

The expected sets come from plain Python predicates over the spans and annotations read back
with plain SELECTs (tests/query_data.py), written from the language's rules, never from the
SQL under test. A handful of rows also pin hand-counted sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from annotator.query import SpanFilter, TraceFilter
from tests.query_data import (
    EXTRA_ROOT,
    EXTRA_TRACE,
    ORPHAN,
    Data,
    SpanView,
    TraceView,
    as_text,
    attr,
    boolean,
    build,
    contains,
    llm_tokens,
    number,
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Data]:
    path = tmp_path_factory.mktemp("query") / "annotations.db"
    return path, build(path)


# --- comparisons that let a missing value (None) match nothing ----------------------------------


def gt(a, b):
    return a is not None and b is not None and a > b


def ge(a, b):
    return a is not None and b is not None and a >= b


def lt(a, b):
    return a is not None and b is not None and a < b


def eq(a, b):
    return a is not None and b is not None and a == b


def ne(a, b):
    return a is not None and b is not None and a != b


def mod(a, b):
    """Python's `%`; missing (None) when a side is, or when dividing by zero (as SQL)."""
    return None if a is None or b is None or b == 0 else a % b


def add(a, b):
    return None if a is None or b is None else a + b


class Ctx:
    """Questions the predicates ask of the fixture, answered in plain Python."""

    def __init__(self, data: Data):
        self.data = data
        self.by_trace: dict[str, list[SpanView]] = {}
        for span in data.spans:
            self.by_trace.setdefault(span.trace, []).append(span)

    def anns(
        self, span: SpanView, name: str, kind: str | None = None, who: str | None = None
    ) -> list[dict]:
        return [
            a
            for a in self.data.annotations
            if a["target"] in ("span", "document")
            and a["span_id"] == span.id
            and a["name"] == name
            and (kind is None or a["annotator_kind"] == kind)
            and (who is None or a["identifier"] == who)
        ]

    def tanns(self, trace_id: str, name: str | None = None, kind: str | None = None) -> list[dict]:
        return [
            a
            for a in self.data.annotations
            if a["target"] == "trace"
            and a["trace_id"] == trace_id
            and (name is None or a["name"] == name)
            and (kind is None or a["annotator_kind"] == kind)
        ]

    def span_anns(self, trace_id: str) -> list[dict]:
        """Annotations on the trace's spans and documents, notes left out."""
        return [
            a
            for a in self.data.annotations
            if a["target"] in ("span", "document")
            and a["trace_id"] == trace_id
            and a["name"] != "note"
        ]

    def own_anns(self, span: SpanView) -> list[dict]:
        return [
            a
            for a in self.data.annotations
            if a["target"] in ("span", "document")
            and a["span_id"] == span.id
            and a["name"] != "note"
        ]

    @staticmethod
    def rows(found: list[dict]) -> list[dict | None]:
        """Phoenix's rows for one lookup: each annotation, or one 'nothing' row."""
        return list(found) or [None]

    def parent_stored(self, span: SpanView) -> bool:
        return span.parent is not None and span.parent in self.data.by_id

    def parent(self, span: SpanView) -> SpanView | None:
        """The stored parent in the same trace."""
        found = self.data.by_id.get(span.parent) if span.parent else None
        return found if found is not None and found.trace == span.trace else None

    def children(self, span: SpanView) -> list[SpanView]:
        return [c for c in self.by_trace[span.trace] if c.parent == span.id]

    def siblings(self, span: SpanView) -> list[SpanView]:
        if self.parent(span) is None:
            return []
        return [x for x in self.by_trace[span.trace] if x.parent == span.parent and x.id != span.id]

    def subtree(self, span: SpanView) -> list[SpanView]:
        found, stack = [], [span]
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(self.children(node))
        return found

    def cumulative(self, span: SpanView, which: str) -> float:
        if which == "errors":
            return float(sum(1 for s in self.subtree(span) if s.status == "ERROR"))
        return sum(llm_tokens(s, which) or 0.0 for s in self.subtree(span))


def A(s: SpanView, dotted: str):
    return attr(s.attrs, dotted)


def label_of(row):
    return None if row is None else row["label"]


def score_of(row):
    return None if row is None else row["score"]


# --- span filters ---------------------------------------------------------------------------------

SpanPredicate = Callable[[SpanView, Ctx], bool]

SPAN_CASES: list[tuple[str, SpanPredicate]] = [
    # Built-in fields, enums, case
    ("span_kind == 'LLM'", lambda s, d: s.kind == "LLM"),
    ("span_kind == 'llm'", lambda s, d: s.kind == "LLM"),
    ("span_kind in ['llm', 'retriever']", lambda s, d: s.kind in ("LLM", "RETRIEVER")),
    ("span_kind != 'CHAIN'", lambda s, d: s.kind != "CHAIN"),
    ("status_code == 'error'", lambda s, d: s.status == "ERROR"),
    ("name == 'ScriptedChatModel'", lambda s, d: s.name == "ScriptedChatModel"),
    ("name == 'scriptedchatmodel'", lambda s, d: False),  # == is exact
    ("name == 'ünïcödé'", lambda s, d: s.name == "ünïcödé"),
    ("name + '!' == 'tools!'", lambda s, d: s.name == "tools"),
    ("'503' in status_message", lambda s, d: "503" in s.message),
    (f"context.span_id == '{ORPHAN}'", lambda s, d: s.id == ORPHAN),
    (f"span_id in ['{ORPHAN}', '{EXTRA_ROOT}']", lambda s, d: s.id in (ORPHAN, EXTRA_ROOT)),
    (f"context.trace_id == '{EXTRA_TRACE}'", lambda s, d: s.trace == EXTRA_TRACE),
    # Numbers, chains, arithmetic
    ("latency_ms > 2000", lambda s, d: gt(s.latency, 2000)),
    ("0.5 < latency_ms < 1000", lambda s, d: gt(s.latency, 0.5) and lt(s.latency, 1000)),
    ("latency_ms / 1000 > 2", lambda s, d: gt(s.latency, 2000)),
    (
        "span_kind == 'LLM' and llm.model_name == 'scripted-chat-large' and latency_ms > 1000",
        lambda s, d: (
            s.kind == "LLM"
            and A(s, "llm.model_name") == "scripted-chat-large"
            and gt(s.latency, 1000)
        ),
    ),
    (
        "llm.model_name == 'gpt-4o' and latency_ms > 2000",
        lambda s, d: A(s, "llm.model_name") == "gpt-4o" and gt(s.latency, 2000),
    ),
    # Attribute paths: dotted names, subscripts, key lists, list positions
    (
        "attributes['llm.model_name'] == 'scripted-chat-small'",
        lambda s, d: A(s, "llm.model_name") == "scripted-chat-small",
    ),
    (
        "attributes['llm']['model_name'] == 'scripted-chat-small'",
        lambda s, d: A(s, "llm.model_name") == "scripted-chat-small",
    ),
    (
        "attributes[['llm', 'model_name']] == 'scripted-chat-small'",
        lambda s, d: A(s, "llm.model_name") == "scripted-chat-small",
    ),
    (
        "llm.model_name != 'scripted-chat-small'",
        lambda s, d: ne(A(s, "llm.model_name"), "scripted-chat-small"),
    ),
    (
        "not (llm.model_name == 'scripted-chat-small')",
        lambda s, d: ne(A(s, "llm.model_name"), "scripted-chat-small"),
    ),
    ("llm.model_name is None", lambda s, d: A(s, "llm.model_name") is None),
    ("llm.model_name is not None", lambda s, d: A(s, "llm.model_name") is not None),
    ("llm.model_name == None", lambda s, d: A(s, "llm.model_name") is None),
    (
        "llm.model_name in ['scripted-chat-small', 'gpt-4o']",
        lambda s, d: A(s, "llm.model_name") in ("scripted-chat-small", "gpt-4o"),
    ),
    (
        "llm.model_name not in ['scripted-chat-small']",
        lambda s, d: A(s, "llm.model_name") not in (None, "scripted-chat-small"),
    ),
    ("llm.modle_name == 'scripted-chat-small'", lambda s, d: False),  # a typo matches nothing
    (
        "attributes['llm']['input_messages'][0]['message']['role'] == 'system'",
        lambda s, d: A(s, "llm.input_messages.0.message.role") == "system",
    ),
    (
        "attributes['llm.input_messages.0.message.role'] == 'system'",
        lambda s, d: A(s, "llm.input_messages.0.message.role") == "system",
    ),
    (
        "tool.name in ['get_order', 'track_shipment']",
        lambda s, d: A(s, "tool.name") in ("get_order", "track_shipment"),
    ),
    ("'order' in tool.name", lambda s, d: contains(A(s, "tool.name"), "order")),
    ("user.id == 'user-7781'", lambda s, d: A(s, "user.id") == "user-7781"),
    ("'support' in tag.tags", lambda s, d: contains(A(s, "tag.tags"), "support")),
    # Text containment: case-insensitive, missing matches nothing
    ("'refund' in input.value", lambda s, d: contains(A(s, "input.value"), "refund")),
    ("'REFUND' in input.value", lambda s, d: contains(A(s, "input.value"), "refund")),
    (
        "'refund' not in input.value",
        lambda s, d: (
            A(s, "input.value") is not None and not contains(A(s, "input.value"), "refund")
        ),
    ),
    ("'über' in input.value", lambda s, d: contains(A(s, "input.value"), "über")),
    # ß has no one-letter upper case; the haystack's ß matches as it is
    ("'STRAßE' in input.value", lambda s, d: s.name == "ünïcödé"),
    (
        "'refund' in output.value or 'refund' in input.value",
        lambda s, d: (
            contains(A(s, "output.value"), "refund") or contains(A(s, "input.value"), "refund")
        ),
    ),
    ("'a' in x", lambda s, d: contains(A(s, "x"), "a")),
    ("'12' in x", lambda s, d: contains(A(s, "x"), "12")),  # numbers are searched as rendered
    ("'e' in x", lambda s, d: contains(A(s, "x"), "e")),
    ("'tru' in flag", lambda s, d: contains(A(s, "flag"), "tru")),  # true is 1 to SQLite
    ("'100%_done' in input.value", lambda s, d: s.name == "percent"),
    ("input.value == 'progress: 100%_done'", lambda s, d: s.name == "percent"),
    # Metadata (as an object, as JSON text, keys with dots)
    ("metadata['experiment'] == 'rag-v1'", lambda s, d: A(s, "metadata.experiment") == "rag-v1"),
    ("metadata['experiment'] != 'rag-v1'", lambda s, d: ne(A(s, "metadata.experiment"), "rag-v1")),
    (
        "metadata['experiment'] != 'rag-v1' or metadata['experiment'] is None",
        lambda s, d: A(s, "metadata.experiment") != "rag-v1",
    ),
    ("metadata['topic'] == 'billing'", lambda s, d: s.id == EXTRA_ROOT),
    ("metadata['ls.model'] == 'dotted-key'", lambda s, d: s.name == "conflict"),
    ("metadata['nested']['deep'] == 5", lambda s, d: s.name == "conflict"),
    ("metadata.nested.deep > 4", lambda s, d: s.name == "conflict"),
    ("attributes['a.b'] == 1", lambda s, d: s.name == "conflict"),
    ("attributes['a.b.c'] == 2", lambda s, d: s.name == "conflict"),
    ("k.j == 'joined'", lambda s, d: s.name == "conflict"),
    ("metadata['turn'] == 0", lambda s, d: number(A(s, "metadata.turn")) == 0),
    ("metadata['turn'] > 0", lambda s, d: gt(number(A(s, "metadata.turn")), 0)),
    ("metadata['turn'] == '0'", lambda s, d: A(s, "metadata.turn") == "0"),  # no implicit cast
    ("str(metadata['turn']) == '0'", lambda s, d: as_text(A(s, "metadata.turn")) == 0),
    ("float(metadata['turn']) >= 1", lambda s, d: ge(number(A(s, "metadata.turn")), 1)),
    # One key holding every JSON shape
    ("x == 12", lambda s, d: number(A(s, "x")) == 12),
    ("x > 5", lambda s, d: gt(number(A(s, "x")), 5)),
    ("x < 1", lambda s, d: lt(number(A(s, "x")), 1)),
    ("x != 12", lambda s, d: ne(number(A(s, "x")), 12)),
    ("x == 'abc'", lambda s, d: A(s, "x") == "abc"),
    ("x == '12'", lambda s, d: A(s, "x") == "12"),
    ("x is None", lambda s, d: A(s, "x") is None),
    ("x is not None", lambda s, d: A(s, "x") is not None),
    ("x in [12, 1]", lambda s, d: number(A(s, "x")) in (12, 1)),
    ("x is True", lambda s, d: boolean(A(s, "x")) is True),
    ("x is not True", lambda s, d: boolean(A(s, "x")) is not True),
    ("flag == True", lambda s, d: boolean(A(s, "flag")) is True),
    ("flag == False", lambda s, d: boolean(A(s, "flag")) is False),
    ("float(x) > 12", lambda s, d: gt(number(A(s, "x")), 12)),
    ("int(x) == 12.5", lambda s, d: number(A(s, "x")) == 12.5),  # int() does not truncate
    ("x + 1 > 13", lambda s, d: gt(number(A(s, "x")), 12)),
    ("x * 2 == 24", lambda s, d: number(A(s, "x")) == 12),
    ("x % 5 == 2", lambda s, d: number(A(s, "x")) is not None and number(A(s, "x")) % 5 == 2),
    ("-x < -10", lambda s, d: gt(number(A(s, "x")), 10)),
    ("x / 0 == 1", lambda s, d: False),  # division by zero is missing, not an error
    ("float('12') == x", lambda s, d: number(A(s, "x")) == 12),
    # Token counts
    ("llm.token_count.total > 1000", lambda s, d: gt(number(A(s, "llm.token_count.total")), 1000)),
    ("llm.token_count.prompt > 100", lambda s, d: gt(number(A(s, "llm.token_count.prompt")), 100)),
    (
        "llm.token_count.prompt + llm.token_count.completion > 1500",
        lambda s, d: (
            gt(number(A(s, "llm.token_count.prompt")), -1e9)
            and gt(number(A(s, "llm.token_count.completion")), -1e9)
            and number(A(s, "llm.token_count.prompt")) + number(A(s, "llm.token_count.completion"))
            > 1500
        ),
    ),
    ("cumulative_token_count.total > 3000", lambda s, d: d.cumulative(s, "total") > 3000),
    ("cumulative_llm_token_count_prompt == 0", lambda s, d: d.cumulative(s, "prompt") == 0),
    # Datetimes: an offset is required; any offset works
    (
        "start_time >= '2026-11-17T00:00:00Z'",
        lambda s, d: ge(s.start, "2026-11-17T00:00:00.000000+00:00"),
    ),
    (
        "start_time < '2026-11-17T08:41:21+00:00'",
        lambda s, d: lt(s.start, "2026-11-17T08:41:21.000000+00:00"),
    ),
    (
        "end_time > '2026-12-01T11:00:03+01:00'",
        lambda s, d: gt(s.end, "2026-12-01T10:00:03.000000+00:00"),
    ),
    (
        "start_time in ['2026-12-01T10:00:00Z']",
        lambda s, d: s.start == "2026-12-01T10:00:00.000000+00:00",
    ),
    ("start_time is None", lambda s, d: s.start is None),
    # The tree
    ("parent_span is None", lambda s, d: not d.parent_stored(s)),
    ("parent_span is not None", lambda s, d: d.parent_stored(s)),
    ("parent_id is None", lambda s, d: s.parent is None),
    (
        "span_kind == 'LLM' and parent_span is None",
        lambda s, d: s.kind == "LLM" and not d.parent_stored(s),
    ),
    # Boolean structure
    ("not (span_kind == 'CHAIN')", lambda s, d: s.kind != "CHAIN"),
    (
        "span_kind == 'TOOL' or status_code == 'ERROR'",
        lambda s, d: s.kind == "TOOL" or s.status == "ERROR",
    ),
    (
        "(span_kind == 'LLM' or span_kind == 'TOOL') and not status_code == 'OK'",
        lambda s, d: s.kind in ("LLM", "TOOL") and s.status != "OK",
    ),
    ("span_kind == 'TOOL' and True", lambda s, d: s.kind == "TOOL"),
    ("span_kind == 'TOOL' and False", lambda s, d: False),
    # Annotations: any annotator, by kind, by identifier; one row per lookup
    (
        "annotations['correctness'].label == 'incorrect'",
        lambda s, d: any(a["label"] == "incorrect" for a in d.anns(s, "correctness")),
    ),
    (
        "evals['correctness'].label == 'incorrect'",
        lambda s, d: any(a["label"] == "incorrect" for a in d.anns(s, "correctness")),
    ),
    (
        "annotations['correctness', 'LLM'].label == 'incorrect'",
        lambda s, d: any(a["label"] == "incorrect" for a in d.anns(s, "correctness", "LLM")),
    ),
    (
        "annotations['correctness', 'human'].label == 'incorrect'",
        lambda s, d: any(a["label"] == "incorrect" for a in d.anns(s, "correctness", "HUMAN")),
    ),
    (
        "annotations['correctness', 'bob'].label == 'incorrect'",
        lambda s, d: any(a["label"] == "incorrect" for a in d.anns(s, "correctness", who="bob")),
    ),
    (
        "annotations['correctness', 'alice'].label == 'correct' and "
        "annotations['correctness', 'bob'].label == 'incorrect'",
        lambda s, d: (
            any(a["label"] == "correct" for a in d.anns(s, "correctness", who="alice"))
            and any(a["label"] == "incorrect" for a in d.anns(s, "correctness", who="bob"))
        ),
    ),
    (
        "annotations['correctness'].label == 'incorrect' and annotations['correctness'].score < "
        "0.1",
        lambda s, d: any(
            a["label"] == "incorrect" and lt(a["score"], 0.1) for a in d.anns(s, "correctness")
        ),
    ),
    (
        "annotations['correctness'].label is None",
        lambda s, d: any(label_of(r) is None for r in d.rows(d.anns(s, "correctness"))),
    ),
    (
        "annotations['correctness'].label is not None",
        lambda s, d: any(a["label"] is not None for a in d.anns(s, "correctness")),
    ),
    ("annotations['correctness']", lambda s, d: bool(d.anns(s, "correctness"))),
    ("not annotations['correctness']", lambda s, d: not d.anns(s, "correctness")),
    ("annotations['correctness'] is False", lambda s, d: not d.anns(s, "correctness")),
    ("annotations['correctness'] is not False", lambda s, d: bool(d.anns(s, "correctness"))),
    ("annotations['correctness'] is not True", lambda s, d: not d.anns(s, "correctness")),
    (
        "(annotations['correctness'].score > 0.5) is False",
        lambda s, d: any(
            a["score"] is not None and a["score"] <= 0.5 for a in d.anns(s, "correctness")
        ),
    ),
    (
        "(annotations['correctness'].score > 0.5) is not True",
        lambda s, d: any(not gt(score_of(r), 0.5) for r in d.rows(d.anns(s, "correctness"))),
    ),
    (
        "annotations['correctness'] and span_kind == 'LLM'",
        lambda s, d: bool(d.anns(s, "correctness")) and s.kind == "LLM",
    ),
    (
        "annotations['correctness'].label != 'incorrect'",
        lambda s, d: any(ne(a["label"], "incorrect") for a in d.anns(s, "correctness")),
    ),
    (
        "not annotations['correctness'].label == 'correct'",
        lambda s, d: any(ne(a["label"], "correct") for a in d.anns(s, "correctness")),
    ),
    (
        "'hallucinated' in annotations['correctness'].explanation",
        lambda s, d: any(
            contains(a["explanation"], "hallucinated") for a in d.anns(s, "correctness")
        ),
    ),
    (
        "annotations['hallucination'].score == 1",
        lambda s, d: any(a["score"] == 1 for a in d.anns(s, "hallucination")),
    ),
    (
        "annotations['hallucination', 'CODE'].score >= 0",
        lambda s, d: any(ge(a["score"], 0) for a in d.anns(s, "hallucination", "CODE")),
    ),
    (
        "annotations['relevance'].label == 'irrelevant'",
        lambda s, d: any(a["label"] == "irrelevant" for a in d.anns(s, "relevance")),
    ),
    (
        "span_kind == 'RETRIEVER' and annotations['relevance', 'LLM'].label == 'irrelevant'",
        lambda s, d: (
            s.kind == "RETRIEVER"
            and any(a["label"] == "irrelevant" for a in d.anns(s, "relevance", "LLM"))
        ),
    ),
    (
        "annotations['relevance', 'HUMAN'].label == 'irrelevant'",
        lambda s, d: any(a["label"] == "irrelevant" for a in d.anns(s, "relevance", "HUMAN")),
    ),
    ("annotations['note']", lambda s, d: bool(d.anns(s, "note"))),
    (
        "annotations['note'].explanation == 'check this one'",
        lambda s, d: any(a["explanation"] == "check this one" for a in d.anns(s, "note")),
    ),
    (
        "annotations['correctness', 'judge-gpt'].score > annotations['correctness', 'alice'].score",
        lambda s, d: any(
            gt(j["score"], a["score"])
            for j in d.anns(s, "correctness", who="judge-gpt")
            for a in d.anns(s, "correctness", who="alice")
        ),
    ),
    (
        "annotations['correctness'].score > latency_ms / 10000",
        lambda s, d: any(
            gt(a["score"], s.latency / 10000)
            for a in d.anns(s, "correctness")
            if s.latency is not None
        ),
    ),
    (
        "annotations['correctness'].label == 'incorrect' or annotations['hallucination'].score == "
        "1",
        lambda s, d: any(
            label_of(c) == "incorrect" or score_of(h) == 1
            for c in d.rows(d.anns(s, "correctness"))
            for h in d.rows(d.anns(s, "hallucination"))
        ),
    ),
    ("annotations['no such name'].label is None", lambda s, d: True),
    (
        "trace_annotations['quality'].score < 0.5",
        lambda s, d: any(lt(a["score"], 0.5) for a in d.tanns(s.trace, "quality")),
    ),
    # Comprehensions over a span's annotations (an extension): "nobody said incorrect"
    (
        "annotations['correctness'] and not any(a.label == 'incorrect' for a in annotations)",
        lambda s, d: (
            bool(d.anns(s, "correctness"))
            and not any(a["label"] == "incorrect" for a in d.own_anns(s))
        ),
    ),
    (
        "all(a.label == 'correct' for a in annotations if a.name == 'correctness') "
        "and annotations['correctness', 'HUMAN']",
        lambda s, d: (
            all(a["label"] == "correct" for a in d.anns(s, "correctness"))
            and bool(d.anns(s, "correctness", "HUMAN"))
        ),
    ),
    (
        "any(a.annotator_kind == 'human' and a.label == 'incorrect' for a in evals)",
        lambda s, d: any(
            a["annotator_kind"] == "HUMAN" and a["label"] == "incorrect" for a in d.own_anns(s)
        ),
    ),
    (
        "len([a for a in annotations if a.name == 'correctness']) >= 3",
        lambda s, d: len(d.anns(s, "correctness")) >= 3,
    ),
    (
        "max(a.score for a in annotations if a.name == 'correctness') < 0.5",
        lambda s, d: (
            any(a["score"] is not None for a in d.anns(s, "correctness"))
            and max(a["score"] for a in d.anns(s, "correctness") if a["score"] is not None) < 0.5
        ),
    ),
    (
        "any(a.label == 'incorrect' and metadata['experiment'] == 'rag-v1' for a in annotations)",
        lambda s, d: (
            A(s, "metadata.experiment") == "rag-v1"
            and any(a["label"] == "incorrect" for a in d.own_anns(s))
        ),
    ),
    (
        "any(a.score > latency_ms / 10000 for a in annotations)",
        lambda s, d: any(
            gt(a["score"], s.latency / 10000) for a in d.own_anns(s) if s.latency is not None
        ),
    ),
    ("any(a.name == 'note' for a in annotations)", lambda s, d: False),  # notes are not evals
    (
        "any(a.label == 'bad' for a in trace_annotations)",
        lambda s, d: any(a["label"] == "bad" for a in d.tanns(s.trace) if a["name"] != "note"),
    ),
    (
        "trace_annotations['quality', 'LLM'].label == 'bad' and parent_span is None",
        lambda s, d: (
            not d.parent_stored(s)
            and any(a["label"] == "bad" for a in d.tanns(s.trace, "quality", "LLM"))
        ),
    ),
    # Values a construct reads twice (Python's %, conversions, chains) are computed once: this
    # one compiled to 9.7 KB of SQL that SQLite refused ("parser stack overflow").
    (
        (
            "parent_span is None and (name == name and latency_ms == (annotations['correctness']"
            ".score % (latency_ms + cumulative_token_count.total)))"
        ),
        lambda s, d: (
            not d.parent_stored(s)
            and any(
                eq(s.latency, mod(score_of(r), add(s.latency, d.cumulative(s, "total"))))
                for r in d.rows(d.anns(s, "correctness"))
            )
        ),
    ),
    (
        (
            "parent_span is not None and (name == name and latency_ms > (annotations['correctness']"
            ".score % (latency_ms + cumulative_token_count.total)))"
        ),
        lambda s, d: (
            d.parent_stored(s)
            and any(
                gt(s.latency, mod(score_of(r), add(s.latency, d.cumulative(s, "total"))))
                for r in d.rows(d.anns(s, "correctness"))
            )
        ),
    ),
    (
        "x % (x % 5 + 3) == 2",
        lambda s, d: mod(number(A(s, "x")), add(mod(number(A(s, "x")), 5), 3)) == 2,
    ),
    (
        "100 < latency_ms % 1000 < 500",
        lambda s, d: gt(mod(s.latency, 1000), 100) and lt(mod(s.latency, 1000), 500),
    ),
    (
        "0 < llm.token_count.total % 1000 <= cumulative_token_count.total % 1000",
        lambda s, d: (
            gt(mod(number(A(s, "llm.token_count.total")), 1000), 0)
            and ge(
                mod(d.cumulative(s, "total"), 1000),
                mod(number(A(s, "llm.token_count.total")), 1000),
            )
        ),
    ),
]

# Sizes counted by hand from the fixture: they hold whatever the predicates above say.
SPAN_COUNTS = {
    "span_kind == 'LLM'": 58,  # 57 sample LLM spans + the orphan
    "parent_span is None": 41,  # 39 sample roots + the extra root + the orphan
    "parent_id is None": 40,
    "x == 12": 2,  # 12 and "12"; not 12.5, true, or "abc"
    "x % 5 == 2": 4,  # 12, "12", " 7 ", and -3 (Python's modulo)
    "x % (x % 5 + 3) == 2": 4,  # the same four: 12 % 5, 7 % 5, -3 % 5 (2 each)
    "x is True": 3,  # true, 1 and "TRUE"
    "annotations['note']": 2,
    "metadata['topic'] == 'billing'": 1,
}


@pytest.mark.parametrize(("expression", "predicate"), SPAN_CASES, ids=[c[0] for c in SPAN_CASES])
def test_span_filter_selects_exactly(db, expression: str, predicate: SpanPredicate) -> None:
    path, data = db
    ctx = Ctx(data)
    expected = {s.id for s in data.spans if predicate(s, ctx)}
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        flt = SpanFilter(expression)
        got = set(flt.span_ids(conn))
        assert flt.count(conn) == len(got)
    finally:
        conn.close()
    assert got == expected, (
        f"{expression}: unexpected {sorted(got - expected)[:5]}, missing "
        f"{sorted(expected - got)[:5]}"
    )
    if expression in SPAN_COUNTS:
        assert len(got) == SPAN_COUNTS[expression]


def test_the_table_is_not_trivial(db) -> None:
    """Most rows select something and not everything, so a filter that ignored its text (or
    matched nothing) would fail them."""
    _, data = db
    ctx = Ctx(data)
    sizes = [sum(1 for s in data.spans if p(s, ctx)) for _, p in SPAN_CASES]
    partial = [n for n in sizes if 0 < n < len(data.spans)]
    assert len(SPAN_CASES) >= 100
    assert len(partial) >= 90


# --- trace filters --------------------------------------------------------------------------------

TracePredicate = Callable[[TraceView, Ctx], bool]


def tokens(t: TraceView, which: str) -> float:
    return sum(llm_tokens(s, which) or 0.0 for s in t.spans if s.kind == "LLM")


def root_attr(t: TraceView, dotted: str):
    return attr(t.root.attrs, dotted) if t.root else None


TRACE_CASES: list[tuple[str, TracePredicate]] = [
    ("latency_ms > 5000", lambda t, d: gt(t.latency, 5000)),
    (
        "num_spans > 10 and error_count > 0",
        lambda t, d: len(t.spans) > 10 and any(s.status == "ERROR" for s in t.spans),
    ),
    ("error_count == 0", lambda t, d: not any(s.status == "ERROR" for s in t.spans)),
    ("token_count_total > 2000", lambda t, d: tokens(t, "total") > 2000),
    (
        "token_count_prompt + token_count_completion > 2000",
        lambda t, d: tokens(t, "prompt") + tokens(t, "completion") > 2000,
    ),
    ("token_count_prompt == 0", lambda t, d: tokens(t, "prompt") == 0),
    ("llm_span_count >= 2", lambda t, d: sum(s.kind == "LLM" for s in t.spans) >= 2),
    ("tool_span_count == 0", lambda t, d: not any(s.kind == "TOOL" for s in t.spans)),
    ("'refund' in input", lambda t, d: contains(root_attr(t, "input.value"), "refund")),
    (
        "'REFUND' not in input",
        lambda t, d: (
            root_attr(t, "input.value") is not None
            and not contains(root_attr(t, "input.value"), "refund")
        ),
    ),
    ("output is not None", lambda t, d: root_attr(t, "output.value") is not None),
    ("output is None", lambda t, d: root_attr(t, "output.value") is None),
    ("user.id == 'user-7781'", lambda t, d: root_attr(t, "user.id") == "user-7781"),
    ("attributes['user.id'] == 'user-extra'", lambda t, d: t.id == EXTRA_TRACE),
    (
        "metadata['experiment'] == 'rag-v2'",
        lambda t, d: root_attr(t, "metadata.experiment") == "rag-v2",
    ),
    ("metadata['tier'] == 'gold'", lambda t, d: t.id == EXTRA_TRACE),
    ("name == 'support_agent'", lambda t, d: t.root is not None and t.root.name == "support_agent"),
    ("span_kind == 'agent'", lambda t, d: t.root is not None and t.root.kind == "AGENT"),
    (
        "start_time > '2026-11-18T00:00:00Z'",
        lambda t, d: gt(t.start, "2026-11-18T00:00:00.000000+00:00"),
    ),
    (
        "trace_annotations['quality'].score < 0.5",
        lambda t, d: any(lt(a["score"], 0.5) for a in d.tanns(t.id, "quality")),
    ),
    (
        "trace_annotations['quality', 'LLM'].label == 'bad'",
        lambda t, d: any(a["label"] == "bad" for a in d.tanns(t.id, "quality", "LLM")),
    ),
    ("trace_annotations['quality']", lambda t, d: bool(d.tanns(t.id, "quality"))),
    ("not trace_annotations['quality']", lambda t, d: not d.tanns(t.id, "quality")),
    (
        "trace_annotations['quality'].label is None",
        lambda t, d: any(label_of(r) is None for r in d.rows(d.tanns(t.id, "quality"))),
    ),
    (
        "any(span.status_code == 'ERROR' for span in spans)",
        lambda t, d: any(s.status == "ERROR" for s in t.spans),
    ),
    (
        "all(span.status_code == 'ok' for span in spans)",
        lambda t, d: all(s.status == "OK" for s in t.spans),
    ),
    (
        "all(span.latency_ms < 3000 for span in spans)",
        lambda t, d: all(lt(s.latency, 3000) for s in t.spans),
    ),
    # A span without a latency is not "at least 0": all() is false for its trace.
    (
        "all(span.latency_ms >= 0 for span in spans)",
        lambda t, d: all(ge(s.latency, 0) for s in t.spans),
    ),
    (
        "any(span.span_kind == 'TOOL' and span.parent_span.span_kind == 'CHAIN' for span in spans)",
        lambda t, d: any(
            s.kind == "TOOL" and d.parent(s) is not None and d.parent(s).kind == "CHAIN"
            for s in t.spans
        ),
    ),
    (
        "any(span.parent_span is None and span.parent_id is not None for span in spans)",
        lambda t, d: any(d.parent(s) is None and s.parent is not None for s in t.spans),
    ),
    (
        "any(any(c.status_code == 'ERROR' for c in span.children) for span in spans)",
        lambda t, d: any(any(c.status == "ERROR" for c in d.children(s)) for s in t.spans),
    ),
    (
        "len([s for s in spans if s.span_kind == 'TOOL']) > 2",
        lambda t, d: sum(s.kind == "TOOL" for s in t.spans) > 2,
    ),
    ("len(s for s in spans) == num_spans", lambda t, d: True),
    ("sum(s.llm_token_count_total for s in spans) > 2000", lambda t, d: tokens(t, "total") > 2000),
    (
        "max(s.latency_ms for s in spans) > 5000",
        lambda t, d: (
            max((s.latency for s in t.spans if s.latency is not None), default=None) is not None
            and max(s.latency for s in t.spans if s.latency is not None) > 5000
        ),
    ),
    (
        "min(s.start_time for s in spans) < '2026-11-17T00:00:00Z'",
        lambda t, d: lt(t.start, "2026-11-17T00:00:00.000000+00:00"),
    ),
    (
        "max(s.end_time for s in spans) > '2026-12-01T10:00:04Z'",
        lambda t, d: gt(t.end, "2026-12-01T10:00:04.000000+00:00"),
    ),
    (
        "sum(s.status_code == 'ERROR' for s in spans) >= 2",
        lambda t, d: sum(s.status == "ERROR" for s in t.spans) >= 2,
    ),
    (
        "any(a.label == 'incorrect' for a in span_annotations)",
        lambda t, d: any(a["label"] == "incorrect" for a in d.span_anns(t.id)),
    ),
    (
        "any(a.label == 'irrelevant' and a.annotator_kind == 'llm' for a in span_annotations)",
        lambda t, d: any(
            a["label"] == "irrelevant" and a["annotator_kind"] == "LLM" for a in d.span_anns(t.id)
        ),
    ),
    (
        "len([a for a in span_annotations if a.identifier == 'alice']) >= 3",
        lambda t, d: sum(a["identifier"] == "alice" for a in d.span_anns(t.id)) >= 3,
    ),
    ("any(a.name == 'note' for a in span_annotations)", lambda t, d: False),  # notes are not evals
    ("any(a.name == 'note' for a in trace_annotations)", lambda t, d: False),
    (
        "any(a.score > 0.7 for a in trace_annotations)",
        lambda t, d: any(gt(a["score"], 0.7) for a in d.tanns(t.id) if a["name"] != "note"),
    ),
    (
        "any(span.span_kind == 'LLM' and any(a.label == 'incorrect' for a in span.annotations) "
        "for span in spans)",
        lambda t, d: any(
            s.kind == "LLM" and any(a["label"] == "incorrect" for a in d.own_anns(s))
            for s in t.spans
        ),
    ),
    (
        "any(s.cumulative_error_count >= 2 for s in spans)",
        lambda t, d: any(d.cumulative(s, "errors") >= 2 for s in t.spans),
    ),
    (
        "any(len(c for c in s.children) > 3 for s in spans)",
        lambda t, d: any(len(d.children(s)) > 3 for s in t.spans),
    ),
    (
        "any(len(x for x in s.siblings) >= 2 for s in spans if s.span_kind == 'TOOL')",
        lambda t, d: any(len(d.siblings(s)) >= 2 for s in t.spans if s.kind == "TOOL"),
    ),
    (
        "any(s.attributes['llm.model_name'] == 'gpt-4o' for s in spans)",
        lambda t, d: any(A(s, "llm.model_name") == "gpt-4o" for s in t.spans),
    ),
    (
        "any(s.metadata['experiment'] == 'rag-v1' for s in spans)",
        lambda t, d: any(A(s, "metadata.experiment") == "rag-v1" for s in t.spans),
    ),
    (
        "any(s.llm_token_count_prompt > 100 for s in spans)",
        lambda t, d: any(gt(llm_tokens(s, "prompt"), 100) for s in t.spans),
    ),
    (
        "all(s.parent_span.span_kind != 'LLM' for s in spans if s.parent_span is not None)",
        lambda t, d: all(d.parent(s).kind != "LLM" for s in t.spans if d.parent(s) is not None),
    ),
    (
        "any(any(c.latency_ms * 2 > s.latency_ms for c in s.children) for s in spans)",
        lambda t, d: any(
            any(
                c.latency is not None and s.latency is not None and c.latency * 2 > s.latency
                for c in d.children(s)
            )
            for s in t.spans
        ),
    ),
]


@pytest.mark.parametrize(("expression", "predicate"), TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_filter_selects_exactly(db, expression: str, predicate: TracePredicate) -> None:
    path, data = db
    ctx = Ctx(data)
    expected = {t.id for t in data.traces if predicate(t, ctx)}
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        flt = TraceFilter(expression)
        got = set(flt.trace_ids(conn))
        assert flt.count(conn) == len(got)
    finally:
        conn.close()
    assert got == expected, (
        f"{expression}: unexpected {sorted(got - expected)[:5]}, missing "
        f"{sorted(expected - got)[:5]}"
    )


def test_the_trace_table_is_not_trivial(db) -> None:
    _, data = db
    ctx = Ctx(data)
    sizes = [sum(1 for t in data.traces if p(t, ctx)) for _, p in TRACE_CASES]
    assert len(TRACE_CASES) >= 45
    assert sum(1 for n in sizes if 0 < n < len(data.traces)) >= 40


def test_filters_combine_with_the_queue_sql(db) -> None:
    """How the queue will take them (a few lines in filter_sql): ANDed into its clause over
    `spans s JOIN traces t`, also inside the store's `EXISTS (SELECT 1 FROM spans s WHERE
    s.trace_id = t.trace_id AND ...)`. The result is the intersection, whatever the nesting."""
    import sqlite3

    from annotator.store.queue import QueueFilter, QueueState, filter_sql, with_configs
    from tests.app_data import config_set

    path, _ = db
    conn = sqlite3.connect(path)
    try:
        configs = config_set().annotations
        queue = filter_sql(QueueFilter(state=QueueState.TODO), configs, "alice")
        spans = SpanFilter("span_kind == 'LLM' and annotations['correctness', 'LLM']")
        traces = TraceFilter("any(s.status_code == 'ERROR' for s in spans)")
        member = queue & spans.sql & traces.sql

        def span_ids(clause) -> set[str]:
            return {
                r[0]
                for r in conn.execute(
                    with_configs(
                        "SELECT s.span_id FROM spans s JOIN traces t USING (trace_id) "
                        f"WHERE {clause.text}"
                    ),
                    clause.params,
                )
            }

        in_traces = {
            r[0]
            for r in conn.execute(
                "SELECT span_id FROM spans WHERE trace_id IN "
                f"(SELECT t.trace_id FROM traces t WHERE {traces.sql.text})",
                traces.sql.params,
            )
        }
        expected = span_ids(queue) & set(spans.span_ids(conn)) & in_traces
        assert len(expected) == 5
        assert span_ids(member) == expected
        trace_rows = conn.execute(
            with_configs(
                "SELECT t.trace_id FROM traces t WHERE EXISTS (SELECT 1 FROM spans s "
                f"WHERE s.trace_id = t.trace_id AND {member.text})"
            ),
            member.params,
        ).fetchall()
        assert {r[0] for r in trace_rows} == {
            r[0]
            for r in conn.execute(
                f"SELECT trace_id FROM spans WHERE span_id IN ({','.join('?' * len(expected))})",
                sorted(expected),
            )
        }
    finally:
        conn.close()
