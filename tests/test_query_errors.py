"""A bad filter is one FilterError: line, column (characters, in the text as typed) and a
message that says what is wrong and what to write instead."""

from __future__ import annotations

import pytest

from annotator.query import (
    FilterError,
    SpanFilter,
    TraceFilter,
    compile_span_filter,
    compile_trace_filter,
)


def span_error(text: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        SpanFilter(text)
    return caught.value


def trace_error(text: str) -> FilterError:
    with pytest.raises(FilterError) as caught:
        TraceFilter(text)
    return caught.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "span_kind == 'LLM' and name.startswith('x')",
            "col 29: unknown function 'startswith' — only float(), str() and int() are allowed",
        ),
        (
            "latency_ms > '100'",
            "col 1: cannot compare number and string, write 100 instead of '100'",
        ),
        ("latency_ms >", "col 13: the filter ends before the expression is complete"),
        ("name = 'x'", "col 6: invalid syntax: compare with `==`, not `=`"),
        (
            "start_time > '2026-07-01T00:00:00'",
            "col 14: datetime '2026-07-01T00:00:00' has no timezone, add an offset "
            "(e.g. 'Z' for UTC)",
        ),
        (
            "start_time > 'yesterday'",
            "col 14: invalid datetime 'yesterday': write ISO 8601 with an offset, "
            "e.g. '2026-07-01T00:00:00Z'",
        ),
        (
            "name == 'x' and r",
            "col 17: `r` is not a condition, expected a comparison such as `r == ...`",
        ),
        (
            "latency_ms",
            "col 1: `latency_ms` is not a condition, expected a comparison such as "
            "`latency_ms == ...`",
        ),
        ("True", "col 1: `True` alone is not a condition; an empty filter selects everything"),
        ("latency_ms ** 2 > 4", "col 1: unsupported operator `**`: only + - * / % are allowed"),
        ("latency_ms // 2 > 4", "col 1: unsupported operator `//`: only + - * / % are allowed"),
        ("~latency_ms == 1", "col 1: unsupported operator `~`"),
        (
            "name is 'a'",
            "col 1: `name is 'a'` uses `is` with a value, which SQL cannot express; "
            "use `==`, or `is` with None/True/False",
        ),
        (
            "name in [None]",
            "col 10: a list cannot hold None, which never matches in SQL; test for "
            "missing values with `is None` / `is not None`",
        ),
        ("name in ['a', 1]", "col 9: a list cannot mix number and string values"),
        (
            "name == ('a', 'b')",
            "col 1: `name == ('a', 'b')` compares against a collection, which "
            "is only supported with `in` / `not in`",
        ),
        ("1 in [1, 2]", "col 1: `1 in [1, 2]` compares two literals, expected a field on the left"),
        ("name in 'abc'", "col 9: `in` expects a list or a text field on the right, got `'abc'`"),
        (
            "latency_ms < True",
            "col 1: `latency_ms < True` orders a boolean, use `==`, `!=` or `is` "
            "instead of `<` / `>`",
        ),
        ("float(name) > 1", "col 7: cannot convert a string to a number"),
        ("float('1_000') > 1", "col 7: cannot convert '1_000' to a number"),
        ("str(latency_ms) == '1'", "col 5: cannot convert a number to text"),
        ("latency_ms > 1e400", "col 14: invalid number: 1e400"),
        ("name == b'x'", "col 9: unsupported literal: `b'x'`"),
        ("name == 'a\\x00'", "col 9: string literals cannot contain a NUL character"),
        ("lambda: 1", "col 1: a lambda is not allowed in a filter: `lambda: 1`"),
        ("(x := 1)", "col 2: an assignment (:=) is not allowed in a filter: `x := 1`"),
        ("f'{name}' == 'a'", "col 1: an f-string is not allowed in a filter: `f'{name}'`"),
        ("ｎａｍｅ == 'a'", "col 1: `ｎａｍｅ` is read as `name`; write names in plain ASCII"),
        (
            "parent_span.name == 'x'",
            "col 1: `parent_span.name` is not supported: only "
            "`parent_span is None` and `parent_span is not None`",
        ),
        (
            "parent_span == 'x'",
            "col 1: `parent_span` can only be compared to None: "
            "`parent_span is None` or `parent_span is not None`",
        ),
        (
            "annotations['q'].lable == 'a'",
            "col 18: invalid annotation field `.lable`, did you mean `label`?",
        ),
        (
            "annotations['q'].bogus == 'a'",
            "col 18: invalid annotation field `.bogus`, expected "
            "`.label`, `.score` or `.explanation`",
        ),
        ("evals[''].label == 'a'", "col 1: missing annotation name in `evals['']`"),
        (
            "annotations['q', 'LLM', 'x'].label == 'a'",
            "col 1: write annotations['name'] or annotations['name', 'LLM'] (a kind: HUMAN, LLM, "
            "CODE; or an annotator's identifier)",
        ),
        (
            "annotations.label == 'a'",
            "col 1: `annotations` needs an annotation name, e.g. annotations['correctness']",
        ),
        (
            "llm['model_name'] == 'x'",
            "col 1: `llm['model_name']`: subscripts only apply to "
            "attributes[...], metadata[...], annotations[...], evals[...] and "
            "trace_annotations[...]",
        ),
        (
            "attributes['llm'].model_name == 'x'",
            "col 1: `.model_name` after a subscript is not supported; write the whole key inside "
            "the "
            "brackets, e.g. attributes['llm.model_name']",
        ),
        (
            "attributes['a\"b'] == 1",
            "col 1: attribute keys with quotes, backslashes or control "
            "characters cannot be looked up",
        ),
        (
            "any(span.name == 'x' for span in spans)",
            "col 34: cannot iterate `spans` in a span filter; iterate the span's annotations or "
            "its "
            "trace_annotations (spans are iterated in trace filters)",
        ),
        (
            "any(a.label == 'x' for a in annotations['q'])",
            "col 29: cannot iterate `annotations['q']`; iterate spans, trace_annotations, "
            "span_annotations, or a span's children, siblings or annotations",
        ),
        (
            "name == 'a' if True else False",
            "col 1: a conditional expression is not allowed in a filter: "
            "`name == 'a' if True else False`",
        ),
    ],
)
def test_span_filter_errors(text: str, expected: str) -> None:
    assert str(span_error(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("num_spanz > 3", "col 1: unknown name `num_spanz`, did you mean `num_spans`?"),
        (
            "llm.model_name == 'x'",
            "col 1: unknown name `llm.model_name`; read other root-span "
            "attributes with attributes['...']",
        ),
        (
            "total_cost > 1",
            "col 1: `total_cost`: annotator stores no model prices, so there are no "
            "costs to filter on",
        ),
        (
            "annotations['x'].label == 'a'",
            "col 1: `annotations[...]` is not available in a trace filter; use "
            "trace_annotations[...] "
            "for the trace's annotations, or iterate span_annotations, e.g. "
            "any(a.label == 'incorrect' for a in span_annotations)",
        ),
        (
            "any(span.latncy_ms > 3 for span in spans)",
            "col 10: unknown field `span.latncy_ms`, did you mean `latency_ms`?",
        ),
        (
            "any(span.latency_ms > latency_ms for span in spans)",
            "col 23: inside a comprehension, use the loop variable's fields (e.g. "
            "`span.latency_ms`), not `latency_ms`",
        ),
        (
            "any(span for span in spans)",
            "col 5: `span` is a span; compare one of its fields, e.g. `span.name`",
        ),
        ("len(spans) > 3", "col 5: len() takes a comprehension, e.g. len(span for span in spans)"),
        (
            "spans",
            "col 1: `spans` is a collection; use it in a comprehension, e.g. "
            "any(x.name == '...' for x in spans)",
        ),
        (
            "any(s.name == 'x' for s in spanz)",
            "col 28: cannot iterate `spanz`, did you mean `spans`?; iterate spans, "
            "trace_annotations "
            "or span_annotations",
        ),
        (
            "any(s.name == 'x' for s in s.kids)",
            "col 28: cannot iterate `s.kids`; iterate spans, "
            "trace_annotations, span_annotations, or a span's children, siblings or annotations",
        ),
        (
            "any(c.name == 'x' for s in spans for c in s.children)",
            "col 38: a comprehension may have only one `for`",
        ),
        (
            "any(any(s.name == 'x' for s in spans) for s in spans)",
            "col 27: the loop variable `s` is already in use",
        ),
        ("sum(s.name for s in spans) > 1", "col 5: sum() needs numbers, not a string: `s.name`"),
        (
            "any(s.parent_span.parent_span.name == 'x' for s in spans)",
            "col 5: `s.parent_span.parent_span.name` is not supported: a span's parent_span has "
            "its "
            "fields and attributes, not a parent_span or collections of its own",
        ),
        (
            "any(s.parent_span.nme == 'x' for s in spans)",
            "col 19: unknown field `s.parent_span.nme`, did you mean `name`?",
        ),
        (
            "any(s.children for s in spans)",
            "col 5: `s.children` is a collection; use it in a "
            "comprehension, e.g. any(c.status_code == 'ERROR' for c in s.children)",
        ),
        (
            "any(span_cost_details)",
            "col 5: any() takes a comprehension, e.g. "
            "any(span.status_code == 'ERROR' for span in spans)",
        ),
        (
            "any(d.cost > 1 for d in span_cost_details)",
            "col 25: `span_cost_details`: annotator "
            "stores no model prices, so there are no costs to filter on",
        ),
        ("attributes", "col 1: `attributes` needs a key, e.g. attributes['...']"),
        (
            "name.upper() == 'A'",
            "col 6: unknown function 'upper' — only float(), str(), int() and the reducers any(), "
            "all(), len(), sum(), max(), min() over a comprehension are allowed",
        ),
    ],
)
def test_trace_filter_errors(text: str, expected: str) -> None:
    assert str(trace_error(text)) == expected


def test_positions_count_characters_not_bytes() -> None:
    # 'é' is two bytes in UTF-8; the column counts it once.
    error = span_error("name == 'é' and latency_ms > 'x'")
    assert (error.line, error.col) == (1, 17)
    assert error.message == "cannot compare number and string"


def test_positions_are_in_the_text_as_typed() -> None:
    # Surrounding whitespace is ignored, but columns still point into the original text.
    error = span_error("   name == 'x' and r")
    assert (error.line, error.col) == (1, 20)
    assert str(error) == "col 20: `r` is not a condition, expected a comparison such as `r == ...`"


def test_multiline_expressions_name_the_line() -> None:
    text = "(span_kind == 'LLM'\n and latency_ms > '5')"
    error = span_error(text)
    assert (error.line, error.col) == (2, 6)
    assert str(error) == ("line 2, col 6: cannot compare number and string, write 5 instead of '5'")
    error = span_error("span_kind == 'LLM' and\n latency_ms > 5")
    assert str(error) == (
        "line 1, col 23: invalid syntax (a filter on several lines needs parentheses around it)"
    )


def test_error_fragments_are_bounded() -> None:
    long_name = "x" * 5000
    error = span_error(f"name == 'a' and {long_name}")
    assert len(str(error)) < 200
    assert error.message.startswith("`xxxxxxxx")


def test_messages_never_carry_terminal_controls() -> None:
    error = span_error("'\x1b[31mred' and r")
    assert str(error) == (
        "col 1: `'\\x1b[31mred'` is not a condition, expected a comparison such as "
        "`'\\x1b[31mred' == ...`"
    )
    assert "\u202e" not in str(span_error("float('\u202e1') > 1"))
    assert "\x9b" not in str(span_error("name is '\x9b31m'"))


def test_limits() -> None:
    assert "longer than 10,000 characters" in str(span_error("name == '" + "a" * 10_001 + "'"))
    deep = "not " * 100 + "name == 'a'"
    assert str(span_error(deep)) == "col 241: the filter is nested more than 60 levels deep"
    many = " or ".join(f"annotations['n{i}'].label == 'x'" for i in range(17))
    assert "at most 16 different annotations" in str(span_error(many))
    assert "NUL" in str(span_error("name == 'a'\x00"))
    # Python's own parser limits come back as the same error type, never a crash.
    assert str(span_error("(" * 250 + "x" + ")" * 250)) == "col 201: too many nested parentheses"
    assert str(span_error("-" * 5000 + "1 > 0")) == "col 1: the filter is nested too deeply"
    assert "more than 2,000 parts" in str(span_error(" or ".join(["x == 1"] * 1000)))
    assert "at most 1000 values" in str(span_error("x in [" + ", ".join(["1"] * 1001) + "]"))


def test_long_flat_expressions_stay_within_sqlite_limits(tmp_path) -> None:
    """SQLite refuses expressions more than 1000 deep; a long `or` chain is built as a
    balanced tree, so the longest filter the limits allow still runs."""
    import sqlite3

    from annotator.store import Store

    Store.open(tmp_path / "a.db").close()
    conn = sqlite3.connect(tmp_path / "a.db")
    text = " or ".join(f"x == {i}" for i in range(500))
    assert SpanFilter(text).count(conn) == 0
    text = " and ".join(f"'{i}' not in x" for i in range(500))
    assert SpanFilter(text).count(conn) == 0


def test_empty_filters_select_everything() -> None:
    assert not SpanFilter("")
    assert not SpanFilter("   \n ")
    assert SpanFilter("name == 'a'")
    assert compile_span_filter("  ").text == "1"
    assert compile_trace_filter("").text == "1"


def test_filter_objects_are_values() -> None:
    assert SpanFilter("name == 'a'") == SpanFilter("name == 'a'")
    assert hash(SpanFilter("name == 'a'")) == hash(SpanFilter("name == 'a'"))
    assert SpanFilter("name == 'a'") != SpanFilter("name == 'b'")
    # Handing out the SQL never lets a caller change the filter's own copy.
    flt = SpanFilter("name == 'a'")
    flt.sql.params["qs0"] = "oops"
    assert flt.sql.params == {"qs0": "a"}


def test_the_exception_carries_its_parts() -> None:
    error = span_error("latency_ms > 'x'")
    assert isinstance(error, ValueError)
    assert (error.line, error.col, error.message) == (1, 1, "cannot compare number and string")
