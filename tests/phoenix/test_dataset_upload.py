"""`annotator dataset` against a real Phoenix (issue 7, item 16): the bundled samples, annotated
here, written as CSV and as JSONL, uploaded the way the README and the command say (the CSV
with the exact call `dataset` prints, the JSONL lines as `examples=`), read back with
`get_dataset`: the two datasets hold the same examples, equal to the JSONL lines, each linked
to its span. The same server also checks the hand transcription of Phoenix's CSV reader that
tests/test_dataset.py uses without a server."""

from __future__ import annotations

import ast
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.importer import import_files
from annotator.model import NOTE_NAME, Annotation
from annotator.phoenix.local_server import LocalPhoenix
from annotator.store import Store
from tests.phoenix.helpers import SAMPLE_SPANS, PhoenixProject
from tests.test_dataset import REFERENCE, _csv_keys, phoenix_csv_examples

TIMEOUT = 120  # seconds per request: 301 examples on a loaded machine


def _annotate(store: Store) -> None:
    """Every kind of annotation a dataset example carries in its metadata."""
    conn = store.connection
    llm, retriever = (
        conn.execute(
            f"SELECT span_id FROM spans WHERE {where} ORDER BY span_id LIMIT 1"
        ).fetchone()[0]
        for where in ("span_kind = 'LLM'", "document_count >= 2")
    )
    root, trace = conn.execute(
        "SELECT root_span_id, trace_id FROM traces ORDER BY trace_id LIMIT 1"
    ).fetchone()
    for annotation in (
        Annotation(name="correctness", span_id=llm, label="incorrect", score=0.0,
                   explanation="cites the wrong policy", identifier="alice"),
        Annotation(name="correctness", span_id=llm, label="correct", score=1.0,
                   identifier="bob"),
        Annotation(name="correctness", span_id=llm, label="incorrect", score=0.25,
                   explanation='judge: "no"', annotator_kind="LLM", identifier="judge",
                   source="API"),
        Annotation(name=NOTE_NAME, span_id=llm, explanation="check the dates\nand the names",
                   identifier="bob"),
        Annotation(name="relevance", target="document", span_id=retriever,
                   document_position=1, label="irrelevant", identifier="alice"),
        Annotation(name="task_success", target="trace", trace_id=trace, label="failure",
                   score=0.0, identifier="alice"),
        Annotation(name="quality", span_id=root, score=7.5, identifier="alice"),
    ):  # fmt: skip
        store.set_annotation(annotation)


def _printed_call(output: str) -> dict[str, Any]:
    """The keyword arguments of the `Upload: Client().datasets.create_dataset(...)` line the
    command printed, as Python values (name=... is left for the caller)."""
    line = next(line for line in output.splitlines() if line.startswith("Upload: "))
    call = ast.parse(re.sub(r"^Upload: Client\(\)\.datasets\.", "", line), mode="eval").body
    assert isinstance(call, ast.Call) and ast.unparse(call.func) == "create_dataset"
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg is not None}
    assert kwargs.pop("name") is Ellipsis
    return kwargs


def _examples(client: Any, name: str) -> list[dict[str, Any]]:
    """The examples Phoenix holds, in upload order: what the JSONL line has, the span id
    being the span Phoenix linked the example to."""
    dataset = client.datasets.get_dataset(dataset=name, timeout=TIMEOUT)
    return [
        {
            "input": example["input"],
            "output": example["output"],
            "metadata": example["metadata"],
            "span_id": (example.get("source") or {}).get("span_id"),
        }
        for example in dataset.examples
    ]


def _upload_both(server: LocalPhoenix, db: Path, tmp_path: Path) -> dict[str, Any]:
    """Write the dataset of `db` as JSONL and as CSV, upload both as the README and the command
    say, and read them back."""
    from phoenix.client import Client

    jsonl, csv_file = tmp_path / "dataset.jsonl", tmp_path / "dataset.csv"
    runner = CliRunner()
    written = runner.invoke(cli, ["dataset", "--db", str(db), "--out", str(jsonl)])
    assert written.exit_code == 0, written.output
    written = runner.invoke(cli, ["dataset", "--db", str(db), "--out", str(csv_file)])
    assert written.exit_code == 0, written.output
    call = _printed_call(written.output)
    assert call.pop("csv_file_path") == str(csv_file)
    lines = [orjson.loads(line) for line in jsonl.read_bytes().splitlines()]

    client = Client(base_url=server.url)
    salt = uuid.uuid4().hex[:8]
    client.datasets.create_dataset(name=f"jsonl-{salt}", examples=lines, timeout=TIMEOUT)
    client.datasets.create_dataset(
        name=f"csv-{salt}", csv_file_path=csv_file, **call, timeout=TIMEOUT
    )
    # the transcription of Phoenix's CSV reader, which tests/test_dataset.py runs without a
    # server, must read this file as the server does
    keys = {bucket: call[f"{bucket}_keys"] for bucket in ("input", "output", "metadata")}
    assert keys == _csv_keys(csv_file) and call["span_id_key"] == "span_id"
    return {
        "lines": lines,
        "csv_output": written.output,
        "from_jsonl": _examples(client, f"jsonl-{salt}"),
        "from_csv": _examples(client, f"csv-{salt}"),
        "transcribed": phoenix_csv_examples(csv_file, keys, "span_id"),
    }


def test_dataset_csv_and_jsonl_are_the_same_examples_in_phoenix(
    phoenix_server: LocalPhoenix, shared_samples: PhoenixProject, tmp_path: Path
) -> None:
    samples = shared_samples  # the project is only read (the datasets link to its spans)
    db = tmp_path / "curate.db"
    with Store.open(db) as store:
        assert import_files(store, samples.files).spans_new == SAMPLE_SPANS
        _annotate(store)
    got = _upload_both(phoenix_server, db, tmp_path)
    lines, from_jsonl, from_csv = got["lines"], got["from_jsonl"], got["from_csv"]
    assert len(lines) == SAMPLE_SPANS
    assert sum(1 for line in lines if line["metadata"]["annotations"]) == 2  # LLM span, root
    assert any(line["metadata"]["document_annotations"] for line in lines)
    assert any(line["metadata"]["trace_annotations"] for line in lines)

    # Phoenix keeps every JSONL line as it is, each example linked to its span
    assert from_jsonl == lines
    assert all(example["span_id"] for example in from_jsonl)
    # The CSV gives the same examples, span links included, but for what the command's warning
    # counts (Phoenix's CSV upload has no numbers and no nulls at the top level of a bucket):
    assert "annotator: warning: Phoenix's CSV upload will not read every example exactly as the " \
        "JSONL has it: 1 with numbers or true/false (Phoenix reads them as text); 3 with null or " \
        "blank values (Phoenix leaves them out). The JSONL format keeps every value." \
        in got["csv_output"]  # fmt: skip
    different = []
    for csv_example, example in zip(from_csv, from_jsonl, strict=True):
        if csv_example == example:
            continue
        different.append(example["metadata"]["name"])
        if example["metadata"]["span_kind"] == "TOOL":  # {"query": ..., "max_price": 150}
            assert example["input"]["max_price"] == 150
            assert csv_example == {**example, "input": {**example["input"], "max_price": "150"}}
        else:  # a LangChain LLMResult: {"generations": ..., "llm_output": null, "run": null}
            output = dict(example["output"])
            assert (output.pop("llm_output"), output.pop("run")) == (None, None)
            assert csv_example == {**example, "output": output}
    assert sorted(different) == ["ScriptedChatModel"] * 3 + ["search_products"]
    assert got["transcribed"] == from_csv


@pytest.mark.parametrize("project, spans", [("langchain-agent", 17), ("langchain-rag", 21)])
def test_reference_traces_are_identical_through_the_csv(
    phoenix_server: LocalPhoenix, tmp_path: Path, project: str, spans: int
) -> None:
    """What the README claims: real LangChain spans come back from the CSV upload exactly as
    from the JSONL (not linked to spans: these traces are not in this Phoenix)."""
    db = tmp_path / "reference.db"
    with Store.open(db) as store:
        assert import_files(store, [REFERENCE / f"{project}.otlp.jsonl"]).spans_new == spans
    got = _upload_both(phoenix_server, db, tmp_path)
    assert "warning" not in got["csv_output"], got["csv_output"]
    unlinked = [{**line, "span_id": None} for line in got["lines"]]
    assert len(unlinked) == spans
    assert got["from_jsonl"] == unlinked
    assert got["from_csv"] == unlinked
    assert [{**e, "span_id": None} for e in got["transcribed"]] == unlinked
