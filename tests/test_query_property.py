"""Properties of the filter language over generated input.

* Any expression built from the grammar (valid or not) either compiles — and then runs on
  SQLite without error, also nested inside the store's deepest queue query — or raises
  FilterError; nothing else.
* Any text at all never crashes the parser and never reaches SQLite unparameterised: the
  emitted SQL holds no quoted string whatsoever (every value is a `?`), one `?` per parameter.
* Laws the language must satisfy whatever the translation: a condition and its negation never
  share a span; `and` is intersection, `or` union; adding a conjunct never grows the set.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from annotator.query import FilterError, SpanFilter, TraceFilter
from annotator.query.limits import TOO_DEEP
from annotator.text import sanitize
from tests.properties import examples
from tests.query_data import build

# QUERY_PROPERTY_EXAMPLES=5000 (say) runs every property on that many examples instead of 300
# (a quarter of that in the default profile: tests/properties.py); vary --hypothesis-seed to
# explore further.
_ASKED = os.environ.get("QUERY_PROPERTY_EXAMPLES")
EXAMPLES = int(_ASKED) if _ASKED else examples(300)


def scaled(count: int) -> int:
    """`count` (for 300 examples), scaled like EXAMPLES."""
    return max(examples(count), count * EXAMPLES // 300)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory):
    path: Path = tmp_path_factory.mktemp("query-property") / "annotations.db"
    build(path)
    connection = sqlite3.connect(path)
    yield connection
    connection.close()


def assert_parameterised(sql_text: str, params: dict) -> None:
    assert "'" not in sql_text and '"' not in sql_text, sql_text
    assert "?" not in sql_text
    # Every named placeholder is bound, and every bound value is used.
    assert set(re.findall(r":(q[st]\d+)\b", sql_text)) == set(params)


# The store's deepest use of a filter (next_queue_trace, once filters are wired in).
EMBEDDED = (
    "SELECT t.trace_id FROM traces t WHERE 1 AND EXISTS (SELECT 1 FROM spans s WHERE "
    "s.trace_id = t.trace_id AND ((s.span_kind != '') AND ({})) AND (s.name IS NOT NULL)) "
    "LIMIT 1"
)


def run(conn: sqlite3.Connection, flt: SpanFilter | TraceFilter) -> int:
    sql = flt.sql
    assert_parameterised(sql.text, sql.params)
    conn.execute(EMBEDDED.format(sql.text), sql.params).fetchall()
    event("compiled and ran")  # (--hypothesis-show-statistics counts these)
    return flt.count(conn)


def refused(error: FilterError) -> None:
    """A refusal is the user's matter, never SQLite rejecting what the compiler wrote."""
    assert error.line >= 1 and error.col >= 1 and error.message
    assert "this is a bug" not in error.message, error
    event("refused: too deep for SQLite" if error.message == TOO_DEEP else "refused")


# --- a generator of expressions from the grammar ------------------------------------------------

text_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
string_literal = text_values.map(repr)
number_literal = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(["1e400", "0x10", "1_000", "-0.0", "10**3"]),
)
literal = st.one_of(
    string_literal,
    number_literal,
    st.sampled_from(["None", "True", "False"]),
    st.sampled_from(["'2026-11-17T08:00:00Z'", "'2026-11-17T08:00:00'", "'2026-13-45T00:00Z'"]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "llm.model_name",
            "input.value",
            "x",
            "flag",
            "metadata.turn",
            "a.b.c",
            "llm.input_messages.0.message.role",
            "k.j",
            "tag.tags",
        ]
    ),
    text_values,
)
span_fields = st.sampled_from(
    [
        "span_kind",
        "name",
        "status_code",
        "latency_ms",
        "start_time",
        "end_time",
        "span_id",
        "trace_id",
        "parent_id",
        "status_message",
        "input.value",
        "output.value",
        "llm.token_count.total",
        "llm.model_name",
        "metadata['experiment']",
        "x",
        "flag",
        "cumulative_token_count.total",
        "parent_span",
        "context.span_id",
        "user.id",
    ]
)
annotation_ref = st.builds(
    lambda accessor, name, who, field: f"{accessor}[{name!r}{who}]{field}",
    st.sampled_from(["annotations", "evals", "trace_annotations"]),
    st.one_of(
        st.sampled_from(["correctness", "relevance", "quality", "note", "hallucination"]),
        text_values,
    ),
    st.sampled_from(["", ", 'LLM'", ", 'human'", ", 'alice'", ", 'judge-gpt'"]),
    st.sampled_from(["", ".label", ".score", ".explanation", ".lable"]),
)
span_atom = st.one_of(
    span_fields,
    keys.map(lambda k: f"attributes[{k!r}]"),
    keys.map(lambda k: f"metadata[{k!r}]"),
    annotation_ref,
    literal,
)
compare_ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"])


def combine(children):
    return st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", children, compare_ops, children),
        st.builds(lambda a, b: f"({a} and {b})", children, children),
        st.builds(lambda a, b: f"({a} or {b})", children, children),
        children.map(lambda a: f"not {a}"),
        st.builds(
            lambda a, op, b: f"({a} {op} {b})",
            children,
            st.sampled_from(["+", "-", "*", "/", "%", "**", "//", "&"]),
            children,
        ),
        st.builds(
            lambda fn, a: f"{fn}({a})", st.sampled_from(["float", "int", "str", "len"]), children
        ),
        st.builds(
            lambda a, b: f"{a} in [{b}]", children, st.lists(literal, max_size=3).map(", ".join)
        ),
        st.builds(lambda a, b, c: f"{a} < {b} < {c}", children, children, children),
        children.map(lambda a: f"-{a}"),
    )


span_expression = st.recursive(span_atom, combine, max_leaves=8)

element_fields = st.sampled_from(
    [
        "span.name",
        "span.span_kind",
        "span.status_code",
        "span.latency_ms",
        "span.start_time",
        "span.parent_span",
        "span.parent_span.span_kind",
        "span.cumulative_error_count",
        "span.llm_token_count_total",
        "span.attributes['llm.model_name']",
        "span.metadata['x']",
        "span.bogus",
        "latency_ms",
    ]
)
trace_atom = st.one_of(
    st.sampled_from(
        [
            "latency_ms",
            "num_spans",
            "error_count",
            "token_count_total",
            "llm_span_count",
            "tool_span_count",
            "input",
            "output",
            "user.id",
            "metadata['experiment']",
            "attributes['user.id']",
            "trace_annotations['quality'].score",
            "start_time",
            "name",
            "span_kind",
            "total_cost",
            "trace_id",
        ]
    ),
    literal,
)


def trace_combine(children):
    comprehension = st.builds(
        lambda fn, element, condition, source: (
            f"{fn}({element} for span in {source}{' if ' + condition if condition else ''})"
        ),
        st.sampled_from(["any", "all", "len", "sum", "max", "min"]),
        st.one_of(
            element_fields,
            st.builds(lambda f, op, v: f"{f} {op} {v}", element_fields, compare_ops, literal),
        ),
        st.one_of(st.just(""), st.builds(lambda f, v: f"{f} == {v}", element_fields, literal)),
        st.sampled_from(["spans", "trace_annotations", "span_annotations", "spanz"]),
    )
    return st.one_of(combine(children), comprehension)


trace_expression = st.recursive(trace_atom, trace_combine, max_leaves=8)


# Mostly well-typed expressions, so that most examples compile and reach SQLite.
numbers = st.one_of(
    st.sampled_from(
        [
            "latency_ms",
            "llm.token_count.total",
            "x",
            "metadata['turn']",
            "float(metadata['turn'])",
            "annotations['correctness'].score",
            "annotations['correctness', 'LLM'].score",
            "cumulative_token_count.total",
            "trace_annotations['quality'].score",
            "attributes['a.b.c']",
        ]
    ),
    st.integers(-5000, 5000).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(repr),
)
numbers = st.recursive(
    numbers,
    lambda c: st.builds(
        lambda a, op, b: f"({a} {op} {b})", c, st.sampled_from(["+", "-", "*", "/", "%"]), c
    ),
    max_leaves=4,
)
strings = st.one_of(
    st.sampled_from(
        [
            "name",
            "span_kind",
            "status_code",
            "input.value",
            "llm.model_name",
            "attributes['tool.name']",
            "metadata['experiment']",
            "str(x)",
            "annotations['correctness'].label",
            "evals['relevance', 'HUMAN'].label",
            "annotations['note'].explanation",
            "user.id",
            "tag.tags",
        ]
    ),
    string_literal,
)
datetimes = st.sampled_from(
    ["start_time", "end_time", "'2026-11-17T08:41:20Z'", "'2026-12-01T11:00:00+01:00'"]
)


def typed_condition(numbers, strings, datetimes, extra):
    atom = st.one_of(
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            numbers,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
            numbers,
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", strings, st.sampled_from(["==", "!="]), strings
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}", strings, st.sampled_from(["in", "not in"]), strings
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} [{b}]",
            strings,
            st.sampled_from(["in", "not in"]),
            st.lists(string_literal, max_size=3).map(", ".join),
        ),
        st.builds(
            lambda a, op, b: f"{a} {op} {b}",
            datetimes,
            st.sampled_from(["<", ">=", "=="]),
            datetimes,
        ),
        st.builds(
            lambda a, op: f"{a} {op} None",
            st.one_of(numbers, strings),
            st.sampled_from(["is", "is not"]),
        ),
        extra,
    )
    return st.recursive(
        atom,
        lambda c: st.one_of(
            st.builds(lambda a, b: f"({a} and {b})", c, c),
            st.builds(lambda a, b: f"({a} or {b})", c, c),
            c.map(lambda a: f"not {a}"),
        ),
        max_leaves=6,
    )


typed_span = typed_condition(
    numbers,
    strings,
    datetimes,
    st.sampled_from(
        [
            "parent_span is None",
            "parent_span is not None",
            "annotations['correctness']",
            "not trace_annotations['quality']",
            "flag == True",
            "x is False",
        ]
    ),
)
element_numbers = st.one_of(
    st.sampled_from(
        [
            "s.latency_ms",
            "s.cumulative_error_count",
            "s.llm_token_count_total",
            "s.parent_span.latency_ms",
            "s.attributes['x']",
        ]
    ),
    st.integers(-10, 5000).map(str),
)
element_strings = st.one_of(
    st.sampled_from(
        [
            "s.name",
            "s.span_kind",
            "s.status_code",
            "s.parent_span.name",
            "s.attributes['llm.model_name']",
            "s.metadata['experiment']",
        ]
    ),
    string_literal,
)
element_condition = typed_condition(
    element_numbers,
    element_strings,
    st.sampled_from(["s.start_time", "'2026-11-17T00:00Z'"]),
    st.sampled_from(
        [
            "s.parent_span is None",
            "any(c.status_code == 'ERROR' for c in s.children)",
            "any(a.label == 'incorrect' for a in s.annotations)",
        ]
    ),
)
trace_numbers = st.one_of(
    st.sampled_from(
        [
            "latency_ms",
            "num_spans",
            "error_count",
            "token_count_total",
            "llm_span_count",
            "tool_span_count",
            "trace_annotations['quality'].score",
        ]
    ),
    st.builds(
        lambda fn, e: f"{fn}(s.latency_ms for s in spans if {e})",
        st.sampled_from(["sum", "max", "min"]),
        element_condition,
    ),
    element_condition.map(lambda e: f"len([s for s in spans if {e}])"),
    st.integers(0, 5000).map(str),
)
typed_trace = typed_condition(
    trace_numbers,
    st.one_of(
        st.sampled_from(
            ["input", "output", "user.id", "metadata['experiment']", "name", "span_kind"]
        ),
        string_literal,
    ),
    st.sampled_from(["start_time", "end_time", "'2026-11-17T08:41:20Z'"]),
    st.builds(
        lambda fn, e: f"{fn}({e} for s in spans)",
        st.sampled_from(["any", "all"]),
        element_condition,
    ),
)


@SETTINGS
@given(typed_span)
def test_typed_span_expressions_compile_and_run(conn, text: str) -> None:
    try:
        flt = SpanFilter(text)
    except FilterError as error:
        refused(error)
        return
    run(conn, flt)


@SETTINGS
@given(typed_trace)
def test_typed_trace_expressions_compile_and_run(conn, text: str) -> None:
    try:
        flt = TraceFilter(text)
    except FilterError as error:
        refused(error)
        return
    run(conn, flt)


@SETTINGS
@given(span_expression)
def test_span_expressions_compile_and_run_or_fail_cleanly(conn, text: str) -> None:
    try:
        flt = SpanFilter(text)
    except FilterError as error:
        refused(error)
        return
    run(conn, flt)


@SETTINGS
@given(trace_expression)
def test_trace_expressions_compile_and_run_or_fail_cleanly(conn, text: str) -> None:
    try:
        flt = TraceFilter(text)
    except FilterError as error:
        refused(error)
        return
    run(conn, flt)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_is_a_filter_or_one_clear_error(conn, text: str) -> None:
    for kind in (SpanFilter, TraceFilter):
        try:
            flt = kind(text)
        except FilterError as error:
            # One line, bounded, nothing a terminal would interpret.
            refused(error)
            assert "\n" not in error.message and len(str(error)) < 400
            assert sanitize(str(error)) == str(error)
            continue
        run(conn, flt)


hostile = st.one_of(
    text_values,
    st.sampled_from(
        [
            "'; DROP TABLE spans; --",
            '" OR 1=1 --',
            "x') OR ('1'='1",
            "\\",
            "%_*?[",
            "$.llm",
            "\u202e evil",
            "\x1b[31m",
            "NULL",
            "1); DELETE FROM annotations; --",
        ]
    ),
)


@SETTINGS
@given(
    hostile,
    st.sampled_from(
        [
            "name == {v}",
            "{v} in input.value",
            "attributes[{v}] == 1",
            "metadata[{v}] is None",
            "annotations[{v}].label == {v}",
            "annotations['correctness', {v}].label == 'a'",
            "span_kind in [{v}, {v}]",
            "str(x) + {v} == name",
            "trace_annotations[{v}]",
        ]
    ),
)
def test_user_text_only_ever_travels_as_a_parameter(conn, value: str, template: str) -> None:
    text = template.format(v=repr(value))
    try:
        flt = SpanFilter(text)
    except FilterError:
        return
    sql = flt.sql
    assert_parameterised(sql.text, sql.params)
    if value and value not in ("name",):
        assert repr(value) not in sql.text
    run(conn, flt)


# --- laws ----------------------------------------------------------------------------------

# Annotation lookups are left out: one lookup is one annotation row, so
# `annotations['q'].score == 0 and annotations['q'].score == 1` needs one annotation with both
# (Phoenix's meaning), which is narrower than the intersection. That law is checked below.
conditions = st.one_of(
    st.builds(
        lambda f, op, v: f"{f} {op} {v}",
        st.sampled_from(
            [
                "latency_ms",
                "x",
                "metadata['turn']",
                "llm.token_count.total",
                "cumulative_token_count.total",
            ]
        ),
        st.sampled_from(["==", "!=", "<", ">="]),
        st.sampled_from(["0", "1", "12", "500.5", "2000"]),
    ),
    st.builds(
        lambda f, v: f"{f} == {v}",
        st.sampled_from(["span_kind", "name", "llm.model_name", "x", "status_code"]),
        st.sampled_from(["'LLM'", "'tools'", "'abc'", "'incorrect'", "'scripted-chat-small'"]),
    ),
    st.builds(
        lambda n, f: f"{n!r} in {f}",
        st.sampled_from(["refund", "a", "über"]),
        st.sampled_from(["input.value", "name", "x"]),
    ),
)


@pytest.fixture(scope="module")
def ids(conn):
    """The ids of the spans a filter's text selects. The database never changes, so each text
    is compiled and run once, in the example that first asks for it: a law's examples share
    their conditions (a few hundred texts in all), and only the combinations are new."""
    found: dict[str, frozenset[str]] = {}

    def span_ids(text: str) -> frozenset[str]:
        if text not in found:
            found[text] = frozenset(SpanFilter(text).span_ids(conn))
        return found[text]

    return span_ids


@settings(
    max_examples=scaled(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(conditions, conditions)
def test_boolean_laws(ids, p: str, q: str) -> None:
    assume(p != q)
    p_set, q_set = ids(p), ids(q)
    assert not p_set & ids(f"not ({p})")
    assert ids(f"({p}) and ({q})") == p_set & q_set
    assert ids(f"({p}) or ({q})") == p_set | q_set
    assert ids(f"not (not ({p}))") == p_set


annotation_conditions = st.builds(
    lambda who, field: f"annotations['correctness'{who}].{field}",
    st.sampled_from(["", ", 'LLM'", ", 'alice'"]),
    st.sampled_from(
        [
            "label == 'incorrect'",
            "label == 'correct'",
            "score > 0.5",
            "score < 0.5",
            "label is None",
            "explanation is not None",
        ]
    ),
)


@settings(
    max_examples=scaled(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(annotation_conditions, annotation_conditions, conditions)
def test_annotation_laws(ids, p: str, q: str, r: str) -> None:
    """Over one lookup, `and` asks more of one annotation than each side asks alone; a condition
    on the span itself combines as plain intersection and union."""
    p_set, q_set, r_set = ids(p), ids(q), ids(r)
    assert ids(f"({p}) and ({q})") <= p_set & q_set
    assert ids(f"({p}) and ({r})") == p_set & r_set
    assert ids(f"({p}) or ({r})") == p_set | r_set
    assert ids(f"({p}) or ({q})") == p_set | q_set


@pytest.fixture(scope="module")
def data(conn):
    from tests.query_data import read

    path = conn.execute("PRAGMA database_list").fetchone()[2]
    return read(Path(path))


@pytest.fixture(scope="module")
def values(data):
    """Each span's value of an attribute, read by plain Python (tests/query_data.py's `attr`),
    by the dotted name: the same in every example, so read once for each name."""
    from tests.query_data import attr

    found: dict[str, list[tuple[str, object]]] = {}

    def of(dotted: str) -> list[tuple[str, object]]:
        if dotted not in found:
            found[dotted] = [(s.id, attr(s.attrs, dotted)) for s in data.spans]
        return found[dotted]

    return of


needles = st.one_of(
    st.text(alphabet="refundREFUND12.e%_ -über", min_size=0, max_size=6),
    st.sampled_from(["refund", "100%_done", "tru", "12", "e", "support", "rag-v", "Über"]),
)


@settings(
    max_examples=scaled(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(needles, st.sampled_from(["input.value", "x", "flag", "tag.tags", "metadata.experiment"]))
def test_containment_and_equality_match_python(conn, values, needle: str, dotted: str) -> None:
    """`in` (case-insensitive, missing matches nothing) and `==` on attributes select what a
    plain Python reading selects, whatever the needle (LIKE wildcards, digits, non-ASCII)."""
    from tests.query_data import contains

    field = f"attributes[{dotted!r}]"
    found = set(SpanFilter(f"{needle!r} in {field}").span_ids(conn))
    assert found == {span for span, value in values(dotted) if contains(value, needle)}
    found = set(SpanFilter(f"{field} == {needle!r}").span_ids(conn))
    assert found == {span for span, value in values(dotted) if value == needle}
