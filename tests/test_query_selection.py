"""`Selection` (a span filter and a trace filter together) and the CLI's `--where` /
`--trace-where` pair: exact span and annotation sets on the bundled samples plus the hostile
spans of tests/query_data.py, computed here in plain Python."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from annotator.cli.common import BadInput
from annotator.cli.filter_options import selection_from
from annotator.query import Selection, SpanFilter, TraceFilter, positional
from annotator.store import QueueFilter, QueueState
from tests.query_data import Data, build


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Data]:
    path = tmp_path_factory.mktemp("selection") / "annotations.db"
    return path, build(path)


def selected_spans(path: Path, selection: Selection) -> set[str]:
    sql = selection.sql
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            f"SELECT s.span_id FROM spans s JOIN traces t USING (trace_id) WHERE {sql.text}",
            sql.params,
        )
        return {row[0] for row in rows}


def selected_annotations(path: Path, selection: Selection, *, named: bool) -> list[tuple]:
    sql = selection.annotations_sql()
    text, params = (sql.text, sql.params) if named else positional(sql)
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            f"SELECT a.target, a.span_id, a.trace_id, a.name, a.identifier FROM annotations a "
            f"WHERE {text}",
            params,
        )
        return sorted(rows, key=repr)


def errored_traces(data: Data) -> set[str]:
    return {t.id for t in data.traces if any(s.status == "ERROR" for s in t.spans)}


def test_the_empty_selection_selects_everything(db):
    path, data = db
    assert not Selection()
    assert selected_spans(path, Selection()) == {s.id for s in data.spans}
    assert Selection().describe() == ""


def test_span_and_trace_filters_are_anded(db):
    path, data = db
    selection = Selection(
        SpanFilter("span_kind == 'LLM'"),
        TraceFilter("any(span.status_code == 'ERROR' for span in spans)"),
    )
    errored = errored_traces(data)
    expected = {s.id for s in data.spans if s.kind == "LLM" and s.trace in errored}
    assert expected  # the samples have LLM spans in traces with an error
    assert selected_spans(path, selection) == expected
    only_traces = Selection(trace_where=TraceFilter("error_count > 0"))
    assert selected_spans(path, only_traces) == {s.id for s in data.spans if s.trace in errored}


@pytest.mark.parametrize("named", [True, False])
def test_annotations_follow_the_span_they_are_about(db, named):
    path, data = db
    selection = Selection(SpanFilter("parent_span is None or span_kind == 'LLM'"))
    roots = {t.id: t.root.id for t in data.traces if t.root is not None}
    chosen = {s.id for s in data.spans if s.parent is None or s.kind == "LLM"}
    chosen |= {s.id for s in data.spans if s.parent is not None and s.parent not in data.by_id}
    expected = sorted(
        (
            (a["target"], a["span_id"], a["trace_id"], a["name"], a["identifier"])
            for a in data.annotations
            if (a["target"] in ("span", "document") and a["span_id"] in chosen)
            or (a["target"] == "trace" and roots.get(a["trace_id"]) in chosen)
        ),
        key=repr,
    )
    # span and trace annotations are in; the documents' (on RETRIEVER spans) are not
    assert {e[0] for e in expected} == {"span", "trace"}
    assert selected_annotations(path, selection, named=named) == expected
    retrievers = Selection(SpanFilter("span_kind == 'RETRIEVER'"))
    expected_documents = sorted(
        (
            (a["target"], a["span_id"], a["trace_id"], a["name"], a["identifier"])
            for a in data.annotations
            if a["target"] == "document"
        ),
        key=repr,
    )
    assert selected_annotations(path, retrievers, named=named) == expected_documents


def test_positional_binds_a_repeated_name_each_time():
    selection = Selection(SpanFilter("latency_ms > 10 and name == 'x'"))
    text, params = positional(selection.annotations_sql())
    assert text.count("?") == 6
    assert params == [10.0, "x"] * 3
    assert ":qs" not in text


def test_describe_is_sanitised_and_clipped():
    selection = Selection(
        SpanFilter("name == '\x1b]52;c;AAAA\x07" + "x" * 200 + "'"),
        TraceFilter("error_count > 0"),
    )
    shown = selection.describe(limit=30)
    assert shown == "where: name == '\\x1b]52;c;AAAA\\x07xx… · trace: error_count > 0"


def test_selection_from_names_the_option_that_is_wrong():
    with pytest.raises(BadInput) as error:
        selection_from("name.startswith('x')", None)
    assert error.value.format_message() == (
        "--where: col 6: unknown function 'startswith' — only float(), str() and int() are allowed"
    )
    with pytest.raises(BadInput) as error:
        selection_from("span_kind == 'LLM'", "num_spanz > 3")
    assert error.value.format_message().startswith("--trace-where: col 1: ")
    assert selection_from(None, "") == Selection()
    assert selection_from("latency_ms > 5", None) == Selection(SpanFilter("latency_ms > 5"))


def test_the_queue_filter_holds_expressions_frozen_and_hashable():
    where = SpanFilter("span_kind == 'LLM'")
    spans = TraceFilter("num_spans > 1")
    queue = QueueFilter(state=QueueState.TODO, where=where, trace_where=spans)
    same = QueueFilter(
        state=QueueState.TODO,
        where=SpanFilter("span_kind == 'LLM'"),
        trace_where=TraceFilter("num_spans > 1"),
    )
    assert queue == same and hash(queue) == hash(same)
    assert queue != QueueFilter(state=QueueState.TODO, where=where)
    assert queue.scope() == QueueFilter(where=where, trace_where=TraceFilter("num_spans > 1"))
    with pytest.raises(AttributeError):
        queue.where = None  # type: ignore[misc]


def test_the_queue_describes_its_expressions_sanitised_and_clipped():
    queue = QueueFilter(
        status="ERROR",
        where=SpanFilter("name == '\x1b[2J\u202e" + "y" * 100 + "'"),
        trace_where=TraceFilter("(error_count\n  > 0)"),
    )
    assert queue.describe() == (
        "status=ERROR where name == '\\x1b[2J\\u202eyyyyyyyyyyyyyyyyy… "
        "trace where (error_count > 0)"
    )
