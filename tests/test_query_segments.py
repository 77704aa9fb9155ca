"""The parser quotes a filter's parts in its messages. It reads each part's text from lines
split once; `ast.get_source_segment` split the whole text again for every part, so a filter of
a few hundred terms took seconds to check (each keystroke in the filter dialog checks it)."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.query import FilterError, SpanFilter, TraceFilter
from annotator.query.parse import _Parser
from tests.properties import examples
from tests.test_query_filters import SPAN_CASES, TRACE_CASES


def assert_segments_match(text: str) -> None:
    parser = _Parser(text, "span")
    try:
        tree = ast.parse(parser.source, mode="eval")
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        assert parser._segment(node) == ast.get_source_segment(parser.source, node), node


@pytest.mark.parametrize("text", [text for text, _ in SPAN_CASES + TRACE_CASES])
def test_each_part_reads_as_the_standard_library_reads_it(text: str) -> None:
    assert_segments_match(text)


@pytest.mark.parametrize(
    "text",
    [
        "name == 'é'\r\n and  latency_ms > 1",
        "name == 'a'\rand 'ü\u2028x' in name",  # \u2028 is a line break to str.splitlines only
        "(\n  span_kind == 'LLM'\n  or name == '🙂🙂'\n)",
        "name == 'x'\x0c or name == 'y'",
    ],
)
def test_line_breaks_and_wide_characters(text: str) -> None:
    assert_segments_match(text)


TOKENS = [*"ab ()'=<>.\n\r\t\u2028\x0cé🙂01", " and ", " or ", "name", "[1, 2]"]


@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
@settings(max_examples=examples(200))
def test_any_text_reads_as_the_standard_library_reads_it(text: str) -> None:
    assert_segments_match(text)


def test_a_long_filter_never_splits_its_text_per_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every part of a 600-term filter (near the 2,000-part limit) is read without the
    per-call re-split, which took about 6 s on such a filter."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ast.get_source_segment re-splits the whole filter on every call")

    monkeypatch.setattr(ast, "get_source_segment", refuse)
    SpanFilter(" or ".join(f"x == {i}" for i in range(600)))
    TraceFilter(" and ".join(f"num_spans > {i}" for i in range(500)))
    with pytest.raises(FilterError, match="cannot compare"):
        SpanFilter(" or ".join(f"x == {i}" for i in range(599)) + " or name > 1")
