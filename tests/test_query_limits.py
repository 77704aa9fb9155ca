"""The SQL of a filter grows linearly with the expression: no construct writes a
sub-expression's SQL twice. And data cannot make a compiled filter fail at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from annotator.query import SpanFilter, TraceFilter
from annotator.query.compile import compile_checked
from annotator.query.parse import parse_span_filter, parse_trace_filter
from annotator.store import Store


def nested(template: str, seed: str, condition: str, depth: int) -> str:
    text = seed
    for _ in range(depth):
        text = template.format(text)
    return condition.format(text)


# --- linear growth ----------------------------------------------------------------------------

# One level of nesting around `{}` for constructs that read a value more than once.
GROWING = [
    (parse_span_filter, "({} % 7)", "latency_ms", "{} > 1"),
    (parse_span_filter, "(7 % {})", "x", "{} > 1"),
    (parse_span_filter, "(x % ({} + 1))", "x", "{} > 1"),
    (parse_span_filter, "(float(x) * {})", "x", "{} > 1"),
    (parse_span_filter, "True == ({}) == True", "1 < latency_ms % 7 < 5", "{}"),
    (parse_span_filter, "(cumulative_token_count.total % {})", "x", "{} > 1"),
    (parse_trace_filter, "({} % token_count_total)", "num_spans", "{} > 1"),
    (parse_trace_filter, "False == ({}) == (0 < token_count_total < 5)",
     "any(0 < s.latency_ms % 7 < 5 for s in spans)", "{}"),
]


@pytest.mark.parametrize(("parse", "template", "seed", "condition"), GROWING,
                         ids=[g[1] for g in GROWING])
def test_sql_grows_by_the_same_amount_at_every_level(parse, template, seed, condition) -> None:
    """Each level adds the same SQL and the same parameters. Writing a value twice would double them instead:
    `x % y` once repeated each operand four times, and a chain's middle was parsed and written
    twice, so 20 nested chains took 50 s to compile into megabytes of SQL."""
    sizes = []
    for depth in range(1, 16):
        fragment = compile_checked(parse(nested(template, seed, condition, depth)))
        # (Aliases are numbered: qf_v9 and qf_v10 differ in length, not in structure.)
        text = re.sub(r"qf_([a-z]+)\d+", r"qf_\1", fragment.text)
        sizes.append((len(text), len(fragment.params)))
        if len(sizes) >= 3:
            step = (sizes[1][0] - sizes[0][0], sizes[1][1] - sizes[0][1])
            assert (sizes[-1][0] - sizes[-2][0], sizes[-1][1] - sizes[-2][1]) == step, sizes


# --- data that used to make a compiled filter fail at run time ----------------------------------

BIG = 9_000_000_000_000_000_000  # fits a 64-bit integer; two of them do not


def test_sums_of_big_integers_do_not_fail(tmp_path: Path) -> None:
    """SQLite's sum() raises "integer overflow" when integers add up past 2**63; sums of
    comprehensions, trace token counts and subtree rollups use total(), which cannot."""
    from annotator.model import Span

    def span(span_id: str, kind: str, parent: str | None) -> Span:
        return Span(
            span_id=span_id, trace_id="b" * 32, parent_id=parent, name=span_id,
            span_kind=kind, start_time="2026-12-01T10:00:00.000000+00:00",
            end_time="2026-12-01T10:00:01.000000+00:00", status_code="OK", status_message="",
            attributes={"big": BIG, "llm": {"token_count": {"prompt": BIG, "completion": 0}}},
            project="big",
        )

    with Store.open(tmp_path / "big.db") as opened:
        writer = opened.span_writer()
        writer.add_all([span("b000000000000001", "CHAIN", None),
                        span("b000000000000002", "LLM", "b000000000000001"),
                        span("b000000000000003", "LLM", "b000000000000001")])
        writer.close()
        conn = opened.connection
        assert SpanFilter("cumulative_token_count.total > 1e19").span_ids(conn) == [
            "b000000000000001"
        ]
        assert SpanFilter("cumulative_llm_token_count_prompt > 1e19").span_ids(conn) == [
            "b000000000000001"
        ]
        for text in (
            "token_count_total > 1e19",
            "token_count_prompt > 1e19",
            "sum(s.attributes['big'] for s in spans) > 2e19",
            "sum(s.llm_token_count_total for s in spans) > 1e19",
            "any(s.cumulative_llm_token_count_total > 1e19 for s in spans)",
        ):
            assert TraceFilter(text).trace_ids(conn) == ["b" * 32], text
        assert TraceFilter("sum(s.attributes['big'] for s in spans) > 3e19").trace_ids(conn) == []
