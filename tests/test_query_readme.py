"""The README's filter examples are filters: every line of its two example blocks compiles and
runs, and the error it quotes is the error given."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.query import FilterError, SpanFilter, TraceFilter
from tests.query_data import build

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Filter expressions: choosing what to annotate")[1].split("\n## ")[0]
BLOCKS = [block.split("\n", 1)[1] for block in SECTION.split("```")[1::2]]
SPAN_EXAMPLES = [line for line in BLOCKS[0].splitlines() if line.strip()]
TRACE_EXAMPLES = [line for line in BLOCKS[1].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("query-readme") / "annotations.db"
    build(path)
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


@pytest.mark.parametrize("text", SPAN_EXAMPLES)
def test_span_examples_run(conn, text: str) -> None:
    SpanFilter(text).count(conn)


@pytest.mark.parametrize("text", TRACE_EXAMPLES)
def test_trace_examples_run(conn, text: str) -> None:
    TraceFilter(text).count(conn)


def test_the_examples_were_found() -> None:
    assert len(SPAN_EXAMPLES) == 6 and len(TRACE_EXAMPLES) == 6


def test_the_quoted_error_is_the_real_one() -> None:
    quoted = SECTION.split("instead, e.g. `")[1].split("`. Limits")[0]
    with pytest.raises(FilterError) as caught:
        SpanFilter("span_kind == 'LLM' and name.startswith('x')")
    assert str(caught.value) == " ".join(quoted.split())
