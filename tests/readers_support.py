"""Helpers for the reader tests: which file is which format, and the cross-format comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotator.model import Problem, Span
from annotator.readers import read_spans

# file-name ending -> expected format id (the reader itself never looks at names)
_ENDINGS = [
    (".otlp.jsonl", "otlp_jsonl"),
    (".otlp.raw-messagetojson.jsonl", "otlp_jsonl"),
    (".spans_dataframe.jsonl", "phoenix_dataframe_jsonl"),
    (".legacy_spans.jsonl", "phoenix_spans_jsonl"),
    (".get_spans.json", "phoenix_spans_json"),
    (".v1_spans.page-0.json", "phoenix_spans_json"),
    (".v1_spans_otlpv1.page-0.json", "phoenix_otlpv1_json"),
    (".spans_dataframe.parquet", "parquet_dataframe"),
    (".spans_dataframe.jsoncols.parquet", "parquet_dataframe"),
    (".trace_dataset.parquet", "parquet_trace_dataset"),
]


def expected_format(path: Path) -> str:
    if path.name.startswith("trace_dataset-"):
        return "parquet_trace_dataset"
    for ending, fmt in _ENDINGS:
        if path.name.endswith(ending):
            return fmt
    raise AssertionError(f"unknown reference file {path.name}")


def project_files(folder: Path, project: str) -> list[Path]:
    """The span files of one reference project (annotations and listings left out)."""
    files = []
    for path in sorted(folder.iterdir()):
        if not (path.name.startswith(project) or path.name.startswith("trace_dataset-")):
            continue
        if "annotations" in path.name or "v1_traces" in path.name or "v1_sessions" in path.name:
            continue
        files.append(path)
    return files


def read_all(files: list[Path]) -> dict[Path, list[Span]]:
    out = {}
    for path in files:
        items = list(read_spans(path))
        problems = [i for i in items if isinstance(i, Problem)]
        assert not problems, (path, problems[:3])
        out[path] = items
    return out


def _ms(text: str | None) -> str | None:
    return text[:23] if text else text  # "YYYY-MM-DDTHH:MM:SS.mmm"


def _without(attributes: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k != key}


def assert_same_spans(project: str, by_file: dict[Path, list[Span]]) -> None:
    """Every file holds the same spans as the OTLP export, field by field.

    Known differences of the exports themselves (not of the readers):
    * DataFrame JSON has epoch milliseconds: times compared to the millisecond.
    * The DataFrame JSON files were written from another run's process, so their tracebacks
      (status messages, exception.stacktrace) name other file paths: compared up to "Traceback".
    * Phoenix's legacy span JSON keeps only exception.message in events.
    * Phoenix's /spans/otlpv1 view turns mixed-type lists inside ``metadata`` into strings
      (``["__pregel_push", 2, false]`` -> ``["__pregel_push", "2", "False"]``).
    """
    base_path = next(p for p in by_file if p.name.endswith(".otlp.jsonl"))
    base = {s.span_id: s for s in by_file[base_path]}
    assert len(base) == len(by_file[base_path])
    for path, spans in by_file.items():
        name = path.name
        ms_only = name.endswith(".spans_dataframe.jsonl")
        other_run = name.endswith(".spans_dataframe.jsonl")
        thin_events = name.endswith(".legacy_spans.jsonl")
        otlpv1 = name.endswith(".v1_spans_otlpv1.page-0.json")
        found = {s.span_id: s for s in spans}
        assert found.keys() == base.keys(), name
        for span_id, want in base.items():
            got = found[span_id]
            where = f"{name} span {span_id}"
            assert got.trace_id == want.trace_id, where
            assert got.parent_id == want.parent_id, where
            assert got.name == want.name, where
            assert got.span_kind == want.span_kind, where
            assert got.status_code == want.status_code, where
            assert got.session_id == want.session_id, where
            if ms_only:
                assert _ms(got.start_time) == _ms(want.start_time), where
                assert _ms(got.end_time) == _ms(want.end_time), where
            else:
                assert got.start_time == want.start_time, where
                assert got.end_time == want.end_time, where
            if other_run:
                head = want.status_message.split("Traceback")[0]
                assert got.status_message.split("Traceback")[0] == head, where
            else:
                assert got.status_message == want.status_message, where
            if otlpv1:
                assert _without(got.attributes, "metadata") == _without(
                    want.attributes, "metadata"
                ), where
                assert (
                    got.attributes.get("metadata", {}).keys()
                    == want.attributes.get("metadata", {}).keys()
                ), where
            else:
                assert got.attributes == want.attributes, where
            assert len(got.events) == len(want.events), where
            for got_event, want_event in zip(got.events, want.events, strict=True):
                assert got_event["name"] == want_event["name"], where
                if ms_only:
                    assert _ms(got_event["timestamp"]) == _ms(want_event["timestamp"]), where
                else:
                    assert got_event["timestamp"] == want_event["timestamp"], where
                message = "exception.message"
                assert got_event["attributes"].get(message) == want_event["attributes"].get(
                    message
                ), where
                if not (thin_events or other_run):
                    assert got_event["attributes"] == want_event["attributes"], where
            if name.endswith((".otlp.jsonl", ".raw-messagetojson.jsonl")):
                assert got.project == project, where
            elif "trace_dataset" in name:
                assert got.project == "langchain-rag", where  # the dataset's name
            else:
                assert got.project == "default", where
