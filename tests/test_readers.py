"""Trace readers: every export format, the same spans whatever the format.

Runs everywhere on the fixtures in tests/data/readers/: trimmed reference exports (two traces
of each reference project in every format, with the project's annotation exports and listings
trimmed the same way; `make_reference_subsets.py` writes them from ../shared) and hand-written
files of our own in the shapes of third-party ones, which are not copied here (their licences):
OTLP/JSON with UPPERCASE hex ids and times as JSON numbers (opentelemetry-proto's example:
`otlp_uppercase_numbers.json`), base64 ids and a trace split across lines and resources
(Phoenix's datagen fixtures: `otlp_base64_split.jsonl`), REST spans with non-hex and all-zero
ids, long flat multi-turn messages and cache token counts (Phoenix's pxi fixtures:
`phoenix_named_lists.json`, `phoenix_array_nonhex.json`), bare attribute maps (OpenInference's
and OpenTelemetry gen_ai's: `*attribute_map.json`, `openinference_tool_calls_map.json`).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from annotator.model import Problem, Span, SpanKind, StatusCode
from annotator.readers import NotATraceFile, detect_format, read_spans
from tests.readers_support import assert_same_spans, expected_format, project_files, read_all

DATA = Path(__file__).resolve().parent / "data" / "readers"
REF = DATA / "reference"
HAND = DATA / "handwritten"


def spans_of(path: Path, **kwargs) -> list[Span]:
    items = list(read_spans(path, **kwargs))
    problems = [item for item in items if isinstance(item, Problem)]
    assert not problems, problems
    return items  # type: ignore[return-value]


# ---------------------------------------------------------------- reference subsets

SUBSETS = {
    # project: spans, traces, sessions, ERROR spans, kinds
    "langchain-agent": (17, 2, 2, 3, {"CHAIN", "TOOL", "LLM", "AGENT", "RETRIEVER"}),
    "langchain-rag": (21, 2, 2, 5, {"CHAIN", "RETRIEVER", "PROMPT", "LLM"}),
}


@pytest.mark.parametrize("project", sorted(SUBSETS))
def test_reference_subset_formats_are_detected(project: str) -> None:
    files = project_files(REF, project)
    # rag: the DataFrame as parquet and a TraceDataset; agent: the JSON-columns parquet only
    assert len(files) == {"langchain-agent": 8, "langchain-rag": 9}[project]
    for path in files:
        assert detect_format(path) == expected_format(path), path.name


@pytest.mark.parametrize("project", sorted(SUBSETS))
def test_reference_subset_counts(project: str) -> None:
    n_spans, n_traces, n_sessions, n_errors, kinds = SUBSETS[project]
    for path, spans in read_all(project_files(REF, project)).items():
        assert len(spans) == n_spans, path
        assert len({s.trace_id for s in spans}) == n_traces, path
        assert len({s.session_id for s in spans if s.session_id}) == n_sessions, path
        assert sum(s.status_code == StatusCode.ERROR for s in spans) == n_errors, path
        assert {s.span_kind for s in spans} == kinds, path
        assert sum(s.parent_id is None for s in spans) == n_traces, path  # one root per trace


@pytest.mark.parametrize("project", sorted(SUBSETS))
def test_reference_subset_same_spans_in_every_format(project: str) -> None:
    assert_same_spans(project, read_all(project_files(REF, project)))


def test_reference_subset_shapes_in_detail() -> None:
    spans = {s.span_id: s for s in spans_of(REF / "langchain-agent.spans_dataframe.jsonl")}
    llm = next(
        s
        for s in spans.values()
        if s.span_kind == SpanKind.LLM and "tool_calls" in str(s.attributes)
    )
    messages = llm.attributes["llm"]["input_messages"]
    assert messages[0] == {
        "message": {"role": "system", "content": messages[0]["message"]["content"]}
    }
    calls = llm.attributes["llm"]["output_messages"][0]["message"]["tool_calls"]
    assert calls[0]["tool_call"]["function"]["name"] == "get_order_status"
    tokens = llm.attributes["llm"]["token_count"]
    assert all(type(v) is int for v in tokens.values())  # 230.0 in the file
    assert llm.attributes["openinference"]["span"]["kind"] == "LLM"

    rag = spans_of(REF / "langchain-rag.otlp.jsonl")
    retriever = next(s for s in rag if s.span_kind == SpanKind.RETRIEVER and s.status_code == "OK")
    documents = retriever.attributes["retrieval"]["documents"]
    assert documents[0]["document"]["metadata"].keys() == {"source", "topic"}  # JSON text decoded
    assert isinstance(documents[0]["document"]["content"], str)
    assert rag[0].project == "langchain-rag"


def test_times_are_iso_utc_and_match_phoenix_to_the_microsecond() -> None:
    otlp = {s.span_id: s for s in spans_of(REF / "langchain-rag.otlp.jsonl")}
    rest = {s.span_id: s for s in spans_of(REF / "langchain-rag.get_spans.json")}
    for span_id, span in otlp.items():
        assert span.start_time is not None and span.start_time.endswith("+00:00")
        assert len(span.start_time) == len("2026-11-26T19:56:47.742336+00:00")
        assert span.start_time == rest[span_id].start_time
        assert span.end_time == rest[span_id].end_time
        assert span.latency_ms is not None and span.latency_ms >= 0


def test_project_override() -> None:
    for path in project_files(REF, "langchain-agent"):
        assert {s.project for s in spans_of(path, project="mine")} == {"mine"}, path


# ---------------------------------------------------------------- hand-written fixtures


def test_otlp_uppercase_hex_ids_numbers_and_all_value_kinds() -> None:
    path = HAND / "otlp_uppercase_numbers.json"
    assert detect_format(path) == "otlp_json"
    root, child = spans_of(path)
    assert root.span_id == "b7ad6b7169203331"
    assert root.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert root.parent_id is None  # all-zero parent id
    assert child.parent_id == root.span_id
    assert root.project == "checkout-api"  # service.name when there is no project name
    assert root.span_kind == SpanKind.CHAIN  # "chain" in the file
    assert root.status_code == StatusCode.ERROR and root.status_message == "card declined"
    assert root.start_time == "2023-11-14T22:13:20.123457+00:00"  # JSON number nanos
    assert root.attributes["http"] == {"status_code": 500, "retry_ratio": 0.25, "cached": False}
    assert root.attributes["acme"] == {
        "shard_ids": [3, 7],
        "labels": {"team": "payments", "tier.level": 2},  # kvlist keys are not split
        "payload": "aGVsbG8=",
    }
    assert root.events == [
        {
            "name": "exception",
            "timestamp": "2023-11-14T22:13:21.500000+00:00",
            "attributes": {"exception.type": "CardDeclined", "exception.message": "card declined"},
        }
    ]
    assert child.attributes["llm"]["token_count"] == {"prompt": 120, "completion": 30, "total": 150}
    assert child.session_id == "checkout-session-9"


def test_otlp_base64_ids_and_a_trace_split_across_lines_and_resources() -> None:
    path = HAND / "otlp_base64_split.jsonl"
    assert detect_format(path) == "otlp_jsonl"
    spans = {s.name: s for s in spans_of(path)}
    assert len(spans) == 4
    turn, lookup = spans["conversation-turn"], spans["lookup-user"]
    assert turn.trace_id == lookup.trace_id == "112233445566778899aabbccddeeff00"
    assert turn.span_id == "0102030405060708"
    assert lookup.parent_id == turn.span_id
    assert (turn.project, lookup.project) == ("support-bot", "backend")
    assert (turn.status_code, lookup.status_code) == (StatusCode.OK, StatusCode.ERROR)
    job, step = spans["nightly-job"], spans["nightly-step"]
    assert step.parent_id == job.span_id == "aaaaaaaaaaaaaaaa"
    assert (job.project, step.project) == ("backend", "worker")
    assert job.span_kind == SpanKind.UNKNOWN and job.attributes == {}


def test_otlp_snake_case_keys() -> None:
    path = HAND / "otlp_snake_case.json"
    assert detect_format(path) == "otlp_json"
    root, retriever = spans_of(path)
    assert root.project == "snake-project"
    assert root.parent_id is None and retriever.parent_id == root.span_id
    assert root.attributes["metadata"] == {"customer": "acme", "attempt": 2}
    assert root.start_time == "2023-11-14T22:13:20.000000+00:00"
    assert retriever.attributes["retrieval"]["documents"] == [
        {"document": {"content": "doc zero", "metadata": {"source": "a.md"}}},
        {"document": {"content": "doc one", "score": 0.5}},
    ]


def test_phoenix_named_span_lists_with_non_hex_ids() -> None:
    path = HAND / "phoenix_named_lists.json"
    assert detect_format(path) == "phoenix_spans_json"
    spans = {s.span_id: s for s in spans_of(path)}
    assert set(spans) == {"t1-root", "t1-llm", "t1-tool", "0000000000000000", "0000000000000001"}
    assert spans["t1-llm"].parent_id == "t1-root"
    assert spans["t1-root"].trace_id == "handmade-trace-1"
    # an all-zero id is a real id in Phoenix's own JSON (its fixtures use it for roots)
    assert spans["0000000000000001"].parent_id == "0000000000000000"
    assert spans["t1-root"].end_time == "2025-03-01T10:00:05.000000+00:00"  # +02:00 in the file
    llm = spans["t1-llm"].attributes["llm"]
    assert len(llm["input_messages"]) == 7
    assert [c["tool_call"]["id"] for c in llm["input_messages"][2]["message"]["tool_calls"]] == [
        "call-a",
        "call-b",
    ]
    assert llm["token_count"]["prompt_details"] == {"cache_read": 1024, "cache_write": 0}
    params = spans["t1-tool"].attributes["tool"]["parameters"]
    assert params["properties"]["status"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert params["required"] == ["status"]
    # span_kind lifted out by the REST form is put back as Phoenix stores it
    assert spans["t1-tool"].attributes["openinference"] == {"span": {"kind": "TOOL"}}


def test_phoenix_array_and_dataframe_records_and_legacy_uuid_ids() -> None:
    p01, p02 = spans_of(HAND / "phoenix_array_nonhex.json")
    assert (p01.span_id, p02.parent_id) == ("p01", "p01")
    assert p01.attributes["metadata"] == {"run": 3, "tags": ["x", "y"]}
    assert p02.attributes["retrieval"]["documents"][0]["document"]["metadata"] == {
        "source": "kb/1.md"
    }

    path = HAND / "phoenix_dataframe_records.json"
    assert detect_format(path) == "phoenix_dataframe_json"
    qa, llm = spans_of(path)
    assert qa.start_time == "2025-03-03T11:06:40.123000+00:00"
    assert "llm" not in qa.attributes  # null columns are absent attributes
    assert llm.attributes["llm"]["token_count"] == {"total": 42}
    assert llm.attributes["llm"]["input_messages"][1]["message"]["tool_calls"] == [
        {"tool_call": {"function": {"name": "f", "arguments": "{}"}}}
    ]
    assert llm.events[0]["attributes"] == {"exception.message": "rate limited"}

    path = HAND / "phoenix_legacy_uuid.jsonl"
    assert detect_format(path) == "phoenix_spans_jsonl"
    root, child = spans_of(path)
    assert root.span_id == "7a1b2c3d4e5f60718293a4b5c6d7e8f9"  # UUID text -> hex, as Phoenix does
    assert child.parent_id == root.span_id
    assert root.start_time == "2024-01-02T03:04:05.678901+00:00"  # no offset = UTC


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("attribute_map.json", "attribute map"),
        ("openinference_tool_calls_map.json", "attribute map"),
        ("genai_attribute_map.json", "attribute map"),
        ("span_annotations_page.json", "looks like annotation records, not spans"),
    ],
)
def test_handwritten_files_that_are_not_span_files(name: str, reason: str) -> None:
    with pytest.raises(NotATraceFile) as caught:
        detect_format(HAND / name)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{HAND / name}: not a trace file: ")
    with pytest.raises(NotATraceFile):
        read_spans(HAND / name)


@pytest.mark.parametrize("project", sorted(SUBSETS))
def test_reference_non_span_exports_are_refused(project: str) -> None:
    """The project's annotation exports and trace / session listings are not span files."""
    others = sorted(
        p
        for p in REF.iterdir()
        if p.name.startswith(project)
        and ("annotations" in p.name or "v1_traces" in p.name or "v1_sessions" in p.name)
    )
    assert len(others) == 6
    empty = []
    for path in others:
        if path.read_bytes() == b'{\n "data": []\n}':  # an export of nothing: no spans
            assert list(read_spans(path)) == []
            empty.append(path.name.split(".")[1])
            continue
        with pytest.raises(NotATraceFile) as caught:
            detect_format(path)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"{path}: not a trace file: ")
        if "annotations" in path.name:
            assert caught.value.reason == "looks like annotation records, not spans"
    assert (
        empty
        == {
            "langchain-agent": ["document_annotations", "session_annotations"],
            "langchain-rag": ["trace_annotations"],
        }[project]
    )


def test_bare_otlp_spans_and_single_objects(tmp_path: Path) -> None:
    span = {
        "traceId": "ab" * 16,
        "spanId": "cd" * 8,
        "name": "bare",
        "startTimeUnixNano": 1_700_000_000_000_000_000,
        "attributes": [{"key": "session.id", "value": {"stringValue": "s"}}],
    }
    array = tmp_path / "spans.json"
    array.write_bytes(orjson.dumps([span]))
    assert detect_format(array) == "otlp_spans_json"
    (got,) = spans_of(array)
    assert (got.span_id, got.session_id, got.project, got.end_time) == (
        "cd" * 8,
        "s",
        "default",
        None,
    )

    lines = tmp_path / "spans.jsonl"
    lines.write_bytes(orjson.dumps(span) + b"\n" + orjson.dumps(dict(span, spanId="ef" * 8)))
    assert detect_format(lines) == "otlp_spans_jsonl"
    assert [s.span_id for s in spans_of(lines, project="p")] == ["cd" * 8, "ef" * 8]

    single = tmp_path / "one.json"
    single.write_bytes(
        orjson.dumps(
            {"name": "x", "context": {"trace_id": "t", "span_id": "s"}, "span_kind": "LLM"}
        )
    )
    assert detect_format(single) == "phoenix_spans_json"
    (one,) = spans_of(single)
    assert one.span_kind == SpanKind.LLM and one.start_time is None
