"""Every example of Phoenix's "Filter expressions" documentation that this program has data for
is accepted here (the span-filter ones as span filters, the trace-filter ones as trace
filters), and the forms it documents as refused are refused."""

from __future__ import annotations

import sqlite3

import pytest

from annotator.query import FilterError, SpanFilter, TraceFilter
from tests.query_data import build

PHOENIX_SPAN_EXAMPLES = [
    "span_kind == 'RETRIEVER'",
    "latency_ms > 100",
    "0.5 < latency_ms < 1000",
    "span_kind in ['LLM', 'RETRIEVER']",
    "span_kind == 'LLM' and 'programming' in input.value",
    "attributes['llm.model_name'] == 'gpt-4o'",
    "llm.model_name == 'gpt-4o'",
    "metadata['topic'] == 'programming'",
    "'programming' in metadata['topic']",
    "annotations['correctness'].label == 'incorrect'",
    "annotations['hallucination'].score > 0.5",
    "evals['correctness'].label == 'incorrect'",
    "annotations['correctness'].label is None",
    "parent_span is None",
    "parent_span is not None",
    "trace_annotations['quality'].score < 0.5",
    "start_time > '2024-01-01T00:00:00Z'",
    "float(attributes['retry_count']) > 1",
    "attributes['user.tier'] == 'premium'",
    "attributes['user.tier'] != 'premium'",
    "attributes['user.tier'] != 'premium' or attributes['user.tier'] is None",
    "cumulative_token_count.total > 100",
    "context.span_id == 'abc'",
    "int(attributes['x']) > 1",
    "attributes['a'] > attributes['b']",
    "'b' in str(metadata['k'])",
    "attributes['parent_span'] == 'x'",
    "parent == 'x'",
]

PHOENIX_TRACE_EXAMPLES = [
    "latency_ms > 1000",
    "num_spans > 10 and error_count > 0",
    "token_count_prompt + token_count_completion > 5000",
    "'refund' in input",
    "output is not None",
    "attributes['llm.model_name'] == 'gpt-4o'",
    "user.id == 'u1'",
    "metadata['topic'] == 'support'",
    "trace_annotations['quality'].score < 0.5",
    "any(span.status_code == 'ERROR' for span in spans)",
    "any(annotation.label == 'incorrect' for annotation in trace_annotations)",
    "any(annotation.score < 0.5 for annotation in span_annotations)",
    "any(any(child.status_code == 'ERROR' for child in span.children) for span in spans)",
    "any(span.parent_span.span_kind == 'LLM' and span.span_kind == 'TOOL' for span in spans)",
    "any(span.parent_span is None for span in spans)",
    "any(span.parent_span is not None and span.parent_span.parent_id is None for span in spans)",
    "any(span.parent_span.start_time >= '2026-07-01T00:00:00Z' for span in spans)",
    "start_time >= '2026-07-01T00:00:00+00:00'",
    "llm_span_count > 1 and tool_span_count == 0",
]

PHOENIX_REFUSED = [
    "latency_ms > '100'",
    "'100' < latency_ms",
    "annotations['q'].score >= '0.5'",
    "annotations['q'].label == 100",
    "float('1_000') > 1",
    "float('nan') > 1",
    "str(True) == 'true'",
    "str(latency_ms) == '1'",
    "str(start_time) == '2026-01-01'",
    "attributes['x'] > True",
    "start_time > attributes['x']",
    "start_time > '2024-01-01T00:00:00'",
    "start_time > 'yesterday'",
    "name == 'x' and metadata['flag']",
    "not attributes['flag']",
    "name == 'x' or 5",
    "1 in [1, 2]",
    "latency_ms ** 2 > 10",
    "name == 'a' & status_code == 'b'",
    "parent_span.name == 'x'",
    "parent_span == 'LLM'",
    "evals[''] == 'x'",
    "name.startswith('a')",
    "len(span_id) > 3",
    "name is 'abc'",
    "name in ['a', None]",
    "~latency_ms == 1",
]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("query-phoenix") / "annotations.db"
    build(path)
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


@pytest.mark.parametrize("text", PHOENIX_SPAN_EXAMPLES)
def test_phoenix_span_examples(conn, text: str) -> None:
    SpanFilter(text).count(conn)


@pytest.mark.parametrize("text", PHOENIX_TRACE_EXAMPLES)
def test_phoenix_trace_examples(conn, text: str) -> None:
    TraceFilter(text).count(conn)


@pytest.mark.parametrize("text", PHOENIX_REFUSED)
def test_phoenix_refusals(text: str) -> None:
    with pytest.raises(FilterError):
        SpanFilter(text)
