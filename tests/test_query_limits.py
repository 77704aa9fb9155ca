"""What SQLite can take: a filter either compiles to SQL that runs inside every query of the
store, however deeply it is nested, or it is refused with one FilterError. And the SQL grows
linearly with the expression: no construct writes a sub-expression's SQL twice.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotator.query import FilterError, Selection, SpanFilter, TraceFilter
from annotator.query.compile import compile_checked
from annotator.query.limits import TOO_DEEP
from annotator.query.parse import MAX_DEPTH, parse_span_filter, parse_trace_filter
from annotator.store import Store
from annotator.store.queue import QueueFilter, QueueState
from tests.app_data import config_set
from tests.query_data import build


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("query-limits") / "annotations.db"
    build(path)
    return path


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store.open(db) as opened:
        yield opened


def run_in_store(store: Store, flt: SpanFilter | TraceFilter) -> None:
    """Runs every queue query of the store with the filter in the queue (QueueFilter's `where`
    or `trace_where`), as the app and `annotate --where` use it: inside `EXISTS (SELECT 1 FROM
    spans s ...)`, ANDed again with what still needs annotating, and so on; then in the
    annotation selection export, dataset and stats use."""
    slot = "where" if isinstance(flt, SpanFilter) else "trace_where"
    configs = config_set().annotations
    for state in (QueueState.ALL, QueueState.TODO, QueueState.DISAGREE):
        queue = QueueFilter(state=state, span_kinds=frozenset({"LLM", "CHAIN"}), **{slot: flt})
        trace_ids = store.trace_ids(queue, configs, "alice")
        store.queue_progress(queue, configs, "alice")
        store.next_queue_trace(None, queue, configs, "alice")
        store.next_queue_trace(
            trace_ids[0] if trace_ids else "x", queue, configs, "alice", backwards=True
        )
        store.queue_marks(trace_ids[0] if trace_ids else "x", queue, configs, "alice")
        store.row_states(trace_ids[0] if trace_ids else "x", queue, configs, "alice")
        store.trace_progress(trace_ids[:3] or ["x"], configs, "alice", queue)
    selection = Selection(**{slot: flt})
    annotations = selection.annotations_sql()
    store.connection.execute(
        f"SELECT count(*) FROM annotations a WHERE a.name != 'x' AND ({annotations.text})",
        annotations.params,
    ).fetchone()


def fixed_parser_stack() -> bool:
    """SQLite before 3.46 has a parser stack of 100 entries (about 90 nested parentheses);
    later versions grow it. The deepest nesting each construct reaches is pinned for the
    former (the build this project runs on), and only checked to run on the latter."""
    try:
        sqlite3.connect(":memory:").execute("SELECT " + "(" * 100 + "1" + ")" * 100)
    except sqlite3.OperationalError as error:
        return "parser stack overflow" in str(error)
    return False


# (filter kind, one level of nesting around `{}`, the innermost value, how the value becomes a
# condition, the deepest nesting accepted with a 100-entry parser stack)
CONSTRUCTS = [
    (SpanFilter, "not ({})", "latency_ms > 1000", "{}", 33),
    (SpanFilter, "name == 'x' or ({})", "latency_ms > 1000", "{}", 22),
    (SpanFilter, "True == ({}) == True", "1 < latency_ms % 7 < 5", "{}", 3),
    (SpanFilter, "(1 - {})", "latency_ms", "{} > 1", 22),
    (SpanFilter, "-({})", "latency_ms", "{} > 1", 33),
    (SpanFilter, "({} / 2)", "latency_ms", "{} > 1", 22),
    (SpanFilter, "({} % 7)", "latency_ms", "{} > 1", 5),
    (SpanFilter, "(7 % {})", "latency_ms", "{} > 1", 5),
    (SpanFilter, "(x % {})", "x", "{} > 1", 4),
    (SpanFilter, "(float(x) * {})", "llm.token_count.total", "{} > 1", 15),
    (
        SpanFilter,
        "(cumulative_token_count.total + {})",
        "cumulative_token_count.total",
        "{} > 1",
        11,
    ),
    (SpanFilter, "(annotations['correctness'].score % {})", "latency_ms", "latency_ms == {}", 4),
    (TraceFilter, "not ({})", "token_count_total > 3000", "{}", 18),
    (TraceFilter, "({} % 7)", "latency_ms", "{} > 1", 5),
    (
        TraceFilter,
        "({} + sum(s.llm_token_count_total for s in spans))",
        "token_count_total",
        "{} > 1",
        25,
    ),
    # Parentheses alone (the left operand of and / +) cost SQLite one entry each: the parser's
    # own limit comes first.
    (SpanFilter, "({}) and latency_ms > 1", "latency_ms > 1000", "{}", MAX_DEPTH - 2),
    (SpanFilter, "({} + 1)", "latency_ms", "{} > 1", MAX_DEPTH - 2),
]


def nested(template: str, seed: str, condition: str, depth: int) -> str:
    text = seed
    for _ in range(depth):
        text = template.format(text)
    return condition.format(text)


@pytest.mark.parametrize(
    ("kind", "template", "seed", "condition", "deepest"),
    CONSTRUCTS,
    ids=[f"{c[0].__name__}:{c[1]}" for c in CONSTRUCTS],
)
def test_the_deepest_accepted_nesting_runs_in_every_store_query(
    store: Store,
    kind,
    template: str,
    seed: str,
    condition: str,
    deepest: int,
) -> None:
    """Nest each construct deeper and deeper: every level either compiles and then runs in all
    the store's queue queries, or is refused with the one message; never a filter that
    compiles and then fails in SQLite (`parser stack overflow`)."""
    accepted = 0
    for depth in range(1, MAX_DEPTH + 1):
        text = nested(template, seed, condition, depth)
        try:
            flt = kind(text)
        except FilterError as error:
            too_long = f"the filter is nested more than {MAX_DEPTH} levels deep"
            assert error.message in (TOO_DEEP, too_long), error
            break
        accepted = depth
    flt = kind(nested(template, seed, condition, accepted))
    run_in_store(store, flt)
    flt.count(store.connection)
    if fixed_parser_stack():
        assert accepted == deepest


def test_a_filter_too_deep_for_sqlite_points_at_its_deepest_part() -> None:
    if not fixed_parser_stack():
        pytest.skip("this SQLite grows its parser stack")
    text = "((((((latency_ms % 2) % 2) % 2) % 2) % 2) % 2) == 1"
    with pytest.raises(FilterError) as caught:
        SpanFilter(text)
    assert str(caught.value) == f"col 7: {TOO_DEEP}"
    assert text[6:16] == "latency_ms"
    with pytest.raises(FilterError) as caught:
        TraceFilter("(\n  " + text.replace("latency_ms", "num_spans") + "\n)")
    assert str(caught.value) == f"line 2, col 9: {TOO_DEEP}"


def test_the_regression_runs_in_every_store_query(store: Store) -> None:
    flt = SpanFilter(
        "parent_span is None and (name == name and latency_ms == (annotations['correctness']"
        ".score % (latency_ms + cumulative_token_count.total)))"
    )
    run_in_store(store, flt)


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
    (
        parse_trace_filter,
        "False == ({}) == (0 < token_count_total < 5)",
        "any(0 < s.latency_ms % 7 < 5 for s in spans)",
        "{}",
    ),
]


@pytest.mark.parametrize(
    ("parse", "template", "seed", "condition"), GROWING, ids=[g[1] for g in GROWING]
)
def test_sql_grows_by_the_same_amount_at_every_level(parse, template, seed, condition) -> None:
    """Each level adds the same SQL and the same parameters (compiled without the SQLite
    check, which refuses the deeper ones). Writing a value twice would double them instead:
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


LONG = [
    (parse_span_filter, " or ", "x == {}"),
    (parse_span_filter, " and ", "x != {}"),
    (parse_span_filter, " or ", "(x > {} and x < 1000)"),
    (parse_span_filter, " or ", "flag is True or x in [{}, 1]"),
    (parse_span_filter, " or ", "not (x == {} or x < 0) and flag == True"),
]


@pytest.mark.parametrize(("parse", "joiner", "term"), LONG, ids=[t for _, _, t in LONG])
def test_terms_reading_one_attribute_convert_it_once(parse, joiner, term) -> None:
    """Comparisons of one attribute as a number (or a boolean) share one conversion: each
    further term adds its own comparison only, not another copy of the conversion (a CASE
    over json_extract in a subquery, ~290 characters and a subquery for SQLite to prepare
    per term; 600 terms were 180 KB of SQL and took 70 ms to prepare, in every query)."""
    sizes = []
    for count in (10, 20):
        fragment = compile_checked(parse(joiner.join(term.format(i) for i in range(count))))
        sizes.append((len(fragment.text), fragment.text.count("SELECT"), len(fragment.params)))
    (short, selects, params), (long, more_selects, more_params) = sizes
    per_term = (long - short) / 10
    assert per_term <= 2 * len(term) + 40, sizes
    assert more_selects == selects, sizes
    assert more_params - params <= 10 * term.count("{}") * 3, sizes


# --- data that used to make a compiled filter fail at run time ----------------------------------

BIG = 9_000_000_000_000_000_000  # fits a 64-bit integer; two of them do not


def test_sums_of_big_integers_do_not_fail(tmp_path: Path) -> None:
    """SQLite's sum() raises "integer overflow" when integers add up past 2**63; sums of
    comprehensions, trace token counts and subtree rollups use total(), which cannot."""
    from annotator.model import Span

    def span(span_id: str, kind: str, parent: str | None) -> Span:
        return Span(
            span_id=span_id,
            trace_id="b" * 32,
            parent_id=parent,
            name=span_id,
            span_kind=kind,
            start_time="2026-12-01T10:00:00.000000+00:00",
            end_time="2026-12-01T10:00:01.000000+00:00",
            status_code="OK",
            status_message="",
            attributes={"big": BIG, "llm": {"token_count": {"prompt": BIG, "completion": 0}}},
            project="big",
        )

    with Store.open(tmp_path / "big.db") as opened:
        writer = opened.span_writer()
        writer.add_all(
            [
                span("b000000000000001", "CHAIN", None),
                span("b000000000000002", "LLM", "b000000000000001"),
                span("b000000000000003", "LLM", "b000000000000001"),
            ]
        )
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
