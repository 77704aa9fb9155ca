"""Trace readers on hostile and broken input: NotATraceFile (one line) or Problems, nothing else."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.model import Problem, Span
from annotator.readers import MissingExtra, NotATraceFile, detect_format, read_spans
from tests.properties import examples

HAND = Path(__file__).resolve().parent / "data" / "readers" / "handwritten"
REF = Path(__file__).resolve().parent / "data" / "readers" / "reference"


def otlp_span(span_id: str = "1111111111111111", **extra: object) -> dict:
    span = {
        "traceId": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "spanId": span_id,
        "name": "s",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "LLM"}}],
    }
    span.update(extra)
    return {k: v for k, v in span.items() if v is not None}


def otlp_line(*spans: dict) -> bytes:
    return orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]})


def rest_span(span_id: str = "s1", **extra: object) -> dict:
    span = {
        "name": "n",
        "context": {"trace_id": "t1", "span_id": span_id},
        "span_kind": "CHAIN",
        "parent_id": None,
        "start_time": "2025-01-01T00:00:00+00:00",
        "end_time": "2025-01-01T00:00:01+00:00",
        "status_code": "OK",
        "attributes": {"input.value": "x"},
    }
    span.update(extra)
    return span


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def refused(path: Path) -> NotATraceFile:
    with pytest.raises(NotATraceFile) as caught:
        detect_format(path)
    with pytest.raises(NotATraceFile) as again:
        read_spans(path)
    error = caught.value
    assert str(error) == str(again.value)
    assert "\n" not in str(error)
    assert str(error) == f"{path}: not a trace file: {error.reason}"
    assert error.path == path
    return error


def read(path: Path) -> tuple[list[Span], list[Problem]]:
    spans, problems = [], []
    for item in read_spans(path):
        if isinstance(item, Problem):
            assert "\n" not in str(item)
            assert str(item).startswith(str(path))
            problems.append(item)
        else:
            assert isinstance(item, Span)
            spans.append(item)
    return spans, problems


# ---------------------------------------------------------------- whole files refused


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n\t \n", "empty file"),
        (b"\x00\x01\x02garbage\xff\xfe" * 50, "binary"),
        (bytes(range(128, 256)) * 20, "binary data (not UTF-8 text)"),
        (gzip.compress(b'{"resourceSpans": []}', mtime=0), "gzip-compressed"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "SQLite"),
        (b"span_id,trace_id,name\n1,2,x\n", "looks like CSV"),
        (b"project: demo\nlabels:\n  - good\n", "looks like YAML"),
        (b"---\nkey: value\n", "looks like YAML"),
        (b"# my labels\n#\nlabels:\n  - name: good\n", "looks like YAML"),
        (b"<html><body>no</body></html>", "XML/HTML"),
        (b"hello world", "not JSON"),
        (b"{}", "empty JSON object"),
        (b'{"foo": 1, "bar": [1, 2]}', "no spans found: expected OTLP resourceSpans"),
        (b"42", "not JSON"),
        (b'"text"', "not JSON"),
    ],
)
def test_not_trace_files(tmp_path: Path, content: bytes, reason: str) -> None:
    assert reason in refused(write(tmp_path, "input.json", content)).reason


@pytest.mark.parametrize("content", [b"[]", b'{"data": []}', b'{"data": [], "next_cursor": null}'])
def test_an_export_of_nothing_is_empty_not_an_error(tmp_path: Path, content: bytes) -> None:
    # An empty project or a filter that matched nothing exports an empty list: zero spans.
    assert list(read_spans(write(tmp_path, "empty.json", content))) == []


def test_truncated_json_document(tmp_path: Path) -> None:
    text = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span()]}]}]}, indent=2)
    error = refused(write(tmp_path, "cut.json", text[: len(text) // 2]))
    assert error.reason.startswith("JSON syntax error at line ")
    assert " column " in error.reason


def test_syntax_error_position(tmp_path: Path) -> None:
    error = refused(write(tmp_path, "bad.json", '[\n  {"a": 1},\n  {"b": }\n]\n'))
    assert error.reason.startswith("JSON syntax error at line 3 column 9")


DEEP = "[" * 10_000 + "]" * 10_000
DEEP_REASON = (
    "JSON nested more than 1,024 levels deep (at {where}): no trace or annotation record nests "
    "that deep"
)


def test_deeply_nested_json(tmp_path: Path) -> None:
    assert refused(write(tmp_path, "deep.json", DEEP)).reason == DEEP_REASON.format(
        where="line 1 column 1026"
    )
    # as one line among good ones it is one Problem
    path = write(tmp_path, "deep.jsonl", otlp_line(otlp_span()) + b"\n" + DEEP.encode() + b"\n")
    spans, problems = read(path)
    assert len(spans) == 1
    assert [(p.line, p.message) for p in problems] == [(2, DEEP_REASON.format(where="column 1026"))]


@pytest.mark.parametrize(
    "content",
    [
        DEEP,  # a trace file of nothing but brackets
        '{"data": [' + '{"a": ' * 10_000 + "1" + "}" * 10_000 + "]}",  # a page of one record
        '{"span_id": "ab", "name": "q", "label": "x", "metadata": '
        + '{"a": ' * 10_000
        + "1"
        + "}" * 10_000
        + "}",  # an annotation record
        DEEP + "\n" + DEEP + "\n",  # JSON lines, every line too deep
    ],
    ids=["array", "page", "annotation", "lines"],
)
def test_ten_thousand_levels_deep_is_one_line_and_exit_2(tmp_path: Path, content: str) -> None:
    from click.testing import CliRunner

    from annotator.cli.main import cli

    path = write(tmp_path, "deep.json", content)
    result = CliRunner().invoke(
        cli, ["import", str(path), "--db", str(tmp_path / "a.db"), "-q"], catch_exceptions=False
    )
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"{path}: not a trace file: JSON nested more than 1,024 levels deep")


def test_deep_attribute_keys_are_capped(tmp_path: Path) -> None:
    key = ".".join(["a"] * 1000)
    span = otlp_span(attributes=[{"key": key, "value": {"stringValue": "v"}}])
    spans, problems = read(write(tmp_path, "deep-key.jsonl", otlp_line(span)))
    assert not problems
    orjson.dumps(spans[0].attributes)  # the store must be able to serialise it


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    assert "is a directory" in refused(tmp_path).reason
    assert "cannot read it" in refused(tmp_path / "missing.json").reason


def test_non_span_jsonl_is_refused(tmp_path: Path) -> None:
    annotations = b"\n".join(
        orjson.dumps({"span_id": "ab", "name": "q", "annotator_kind": "HUMAN", "result": {}})
        for _ in range(3)
    )
    assert refused(write(tmp_path, "ann.jsonl", annotations)).reason == (
        "looks like annotation records, not spans"
    )
    junk = b'{"a": 1}\n{"b": 2}\n'
    assert "no spans found" in refused(write(tmp_path, "junk.jsonl", junk)).reason


# ---------------------------------------------------------------- bad records in good files


def test_jsonl_with_a_broken_line_among_good_ones(tmp_path: Path) -> None:
    lines = [
        otlp_line(otlp_span("0000000000000001")),
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "ab", ',  # truncated
        b"",
        otlp_line(otlp_span("0000000000000003")),
        b'{"just": "json"}',
        otlp_line(otlp_span("0000000000000005")),
    ]
    spans, problems = read(write(tmp_path, "mixed.jsonl", b"\n".join(lines) + b"\n"))
    assert [s.span_id for s in spans] == [
        "0000000000000001",
        "0000000000000003",
        "0000000000000005",
    ]
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (2, "JSON syntax error at column 65"),
        (5, "not a span record"),
    ]


def test_jsonl_whose_first_line_is_broken(tmp_path: Path) -> None:
    good = orjson.dumps(rest_span("s2"))
    path = write(tmp_path, "first-broken.jsonl", b'{"name": "x", "cont\n' + good + b"\n")
    assert detect_format(path) == "phoenix_spans_jsonl"
    spans, problems = read(path)
    assert [s.span_id for s in spans] == ["s2"] and [p.line for p in problems] == [1]


@pytest.mark.parametrize(
    ("span", "message"),
    [
        (otlp_span(spanId=None), "span without spanId"),
        (otlp_span(traceId=""), "without traceId"),
        (otlp_span(startTimeUnixNano="abc"), "startTimeUnixNano is not a time: 'abc'"),
        (otlp_span(endTimeUnixNano="1" * 40), "endTimeUnixNano is not a time"),
        (otlp_span(attributes="oops"), "attributes is a str"),
        (otlp_span(status="OK"), "status is a str"),
        (otlp_span(events={"name": "e"}), "events is a dict"),
        (otlp_span(events=[{"timeUnixNano": "soon"}]), "event time is not a time"),
        (otlp_span(spanId=["x"]), "id is a list"),
        ("not a span", "span is a str"),
    ],
)
def test_bad_otlp_spans_are_problems(tmp_path: Path, span: object, message: str) -> None:
    good = otlp_span("2222222222222222")
    path = write(tmp_path, "bad.jsonl", otlp_line(good) + b"\n" + otlp_line(span, good))
    spans, problems = read(path)
    assert len(spans) == 2
    (problem,) = problems
    assert problem.line == 2
    assert problem.message.startswith("resourceSpans[0].scopeSpans[0].spans[0]: ")
    assert message in problem.message


@pytest.mark.parametrize(
    ("span", "message"),
    [
        (rest_span(context={"trace_id": "t1"}), "span without context.span_id"),
        (rest_span(context={"span_id": "s9"}), "span s9 without context.trace_id"),
        (rest_span(start_time="abc"), "start_time is not a time: 'abc'"),
        (rest_span(end_time="2025-13-45T99:00:00"), "end_time is not a time"),
        (rest_span(start_time=True), "start_time is not a time"),
        (rest_span(attributes=["a", "b"]), "attributes is a list, expected an object"),
        (rest_span(attributes=7), "attributes is a int"),
        (rest_span(events="boom"), "events is text"),
        (rest_span(events=[{"name": "e", "timestamp": "later"}]), "event timestamp is not a time"),
        (
            {"span_id": "x", "name": "q", "result": {"label": "a"}, "annotator_kind": "HUMAN"},
            "looks like an annotation record",
        ),
        (17, "a JSON int"),
    ],
)
def test_bad_phoenix_records_are_problems(tmp_path: Path, span: object, message: str) -> None:
    document = {"data": [rest_span("s0"), span, rest_span("s2")], "next_cursor": None}
    spans, problems = read(write(tmp_path, "page.json", orjson.dumps(document)))
    assert [s.span_id for s in spans] == ["s0", "s2"]
    (problem,) = problems
    assert problem.line is None
    assert problem.message.startswith("data[1]: ")
    assert message in problem.message


def test_bad_record_in_named_lists_and_in_jsonl(tmp_path: Path) -> None:
    document = {"first": [rest_span("a1")], "second": [rest_span("b1"), {"context": {}}]}
    spans, problems = read(write(tmp_path, "named.json", orjson.dumps(document)))
    assert len(spans) == 2
    assert [p.message for p in problems] == ["second[1]: span without context.span_id"]

    lines = [orjson.dumps(rest_span("a")), orjson.dumps(rest_span("b", start_time=[]))]
    spans, problems = read(write(tmp_path, "legacy.jsonl", b"\n".join(lines)))
    assert len(spans) == 1
    assert [(p.line, p.message) for p in problems] == [(2, "start_time is not a time: []")]


def test_huge_values_and_markup_are_kept_verbatim(tmp_path: Path) -> None:
    big = "x" * 5_000_000
    name = "[bold red]boom[/] \x1b[31mred\x1b[0m <script>alert(1)</script> \u202e\u0000"
    span = otlp_span(
        name=name,
        attributes=[
            {"key": "input.value", "value": {"stringValue": big}},
            {"key": "[link=file:///etc/passwd]x[/link]", "value": {"stringValue": name}},
        ],
    )
    (got,), problems = read(write(tmp_path, "big.jsonl", otlp_line(span)))
    assert not problems
    assert got.name == name
    assert got.attributes["input"]["value"] == big
    assert got.attributes["[link=file:///etc/passwd]x[/link]"] == name


def test_duplicate_and_conflicting_attribute_keys(tmp_path: Path) -> None:
    span = otlp_span(
        attributes=[
            {"key": "a.b", "value": {"stringValue": "leaf"}},
            {"key": "a.b.c", "value": {"intValue": "2"}},
            {"key": "a.b", "value": {"stringValue": "again"}},
            {"key": 5, "value": {"stringValue": "numeric key"}},
            {"value": {"stringValue": "no key"}},
            {"key": "no value"},
        ]
    )
    (got,), problems = read(write(tmp_path, "dup.jsonl", otlp_line(span)))
    assert not problems
    assert got.attributes == {"a": {"b": "again", "b.c": 2}, "5": "numeric key"}


def test_parquet_without_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = REF / "langchain-rag.spans_dataframe.parquet"
    with pytest.raises(MissingExtra) as caught:
        read_spans(path)
    assert "pip install 'annotator[parquet]'" in str(caught.value)
    assert isinstance(caught.value, NotATraceFile)
    assert "\n" not in str(caught.value)


def test_parquet_that_is_not_spans_or_is_damaged(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "table.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    assert "without a context.span_id column" in refused(path).reason
    damaged = write(tmp_path, "damaged.parquet", b"PAR1" + b"\x00garbage" * 10)
    assert "unreadable parquet file" in refused(damaged).reason


def test_parquet_bad_rows_are_problems(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "context.span_id": ["a", None, "c"],
            "context.trace_id": ["t", "t", "t"],
            "name": ["x", "y", "z"],
            "start_time": ["2025-01-01T00:00:00+00:00", None, "nope"],
            "attributes.llm.token_count.total": [3.0, None, None],
        }
    )
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    spans, problems = read(path)
    assert [s.span_id for s in spans] == ["a"]
    assert spans[0].attributes == {"llm": {"token_count": {"total": 3}}}
    assert [p.message for p in problems] == [
        "row 2: span without context.span_id",
        "row 3: start_time is not a time: 'nope'",
    ]


# ---------------------------------------------------------------- nothing else ever escapes

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "resourceSpans",
        "scopeSpans",
        "spans",
        "spanId",
        "traceId",
        "context",
        "span_id",
        "trace_id",
        "attributes",
        "data",
        "events",
        "status",
        "start_time",
        "context.span_id",
        "key",
        "value",
    ]
)
_SPANISH = st.recursive(
    _JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=examples(150), suppress_health_check=list(HealthCheck), deadline=None)
@given(st.lists(_SPANISH, min_size=1, max_size=3), st.booleans())
def test_arbitrary_json_never_raises_anything_but_not_a_trace_file(
    tmp_path_factory: pytest.TempPathFactory, values: list, as_lines: bool
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    if as_lines:
        content = b"\n".join(orjson.dumps(v) for v in values)
    else:
        content = orjson.dumps(values[0])
    path = write(folder, "fuzz.json", content)
    try:
        items = list(read_spans(path))
    except NotATraceFile as error:
        assert "\n" not in str(error)
        return
    assert all(isinstance(item, Span | Problem) for item in items)


@settings(max_examples=examples(100), suppress_health_check=list(HealthCheck), deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    path = write(tmp_path_factory.mktemp("bytes"), "f", content)
    try:
        items = list(read_spans(path))
    except NotATraceFile:
        return
    assert all(isinstance(item, Span | Problem) for item in items)


def test_evaluation_and_annotation_dataframes_are_not_spans(tmp_path: Path) -> None:
    rows = b'{"context.span_id": "ab", "label": "good", "score": 1.0, "explanation": null}\n' * 2
    assert refused(write(tmp_path, "evals.jsonl", rows)).reason == (
        "looks like annotation records, not spans"
    )
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "evals.parquet"
    pq.write_table(pa.table({"context.span_id": ["ab"], "label": ["good"], "score": [1.0]}), path)
    assert refused(path).reason == "looks like annotation records, not spans"


def test_a_stray_context_key_is_not_a_span_file(tmp_path: Path) -> None:
    assert "no spans found" in refused(write(tmp_path, "c.json", b'{"context": {"x": 1}}')).reason


def test_deeply_nested_otlp_values_stay_serialisable(tmp_path: Path) -> None:
    value: dict = {"stringValue": "bottom"}
    for _ in range(200):
        value = {"arrayValue": {"values": [value]}}
    span = otlp_span(attributes=[{"key": "deep", "value": value}])
    line = json.dumps(
        {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    )  # too deep for orjson
    (got,), problems = read(write(tmp_path, "deep-values.jsonl", line))
    assert not problems
    orjson.dumps(got.attributes)
