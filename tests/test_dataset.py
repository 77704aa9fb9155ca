"""`annotator dataset`: every filter, the JSONL and CSV shapes (Phoenix's example dict), streaming,
and bad arguments (one line, exit code 2)."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.model import Annotation, Span
from annotator.store import Store
from annotator.team.dataset import build_spec, example_input, example_output, iter_examples
from tests.app_data import build_db, config_set, demo_spans

REFERENCE = Path(__file__).parent / "data" / "readers" / "reference"


def _extra_spans() -> list[Span]:
    return [
        Span("j1", "trace-json", None, "json_tool", "TOOL", attributes={
            "input": {"value": '{"query": "refund", "k": 3}', "mime_type": "application/json"},
            "output": {"value": "[1, 2]", "mime_type": "application/json"}}),
        Span("j2", "trace-json", "j1", "object_text", "CHAIN", attributes={
            "input": {"value": '{"question": "why?"}'},  # no mime type, but a JSON object
            "output": {"value": "[not json"}}),
        Span("t1", "trace-template", None, "templated", "LLM", attributes={
            "input": {"value": "raw prompt"},
            "llm": {"prompt_template": {"variables": {"city": "Paris", "messages": "no"}},
                    "tools": [{"tool": {"json_schema": '{"name": "lookup"}'}}]},
            "output": {"value": "It is sunny."}}),
    ]  # fmt: skip


def _spans() -> list[Span]:
    spans = demo_spans() + _extra_spans()
    for span in spans:
        if span.trace_id.startswith("trace-chat"):
            span.project = "chat"
    return spans


def _add(store: Store, **fields) -> None:
    store.set_annotation(Annotation(**fields))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = build_db(tmp_path_factory.mktemp("dataset") / "curate.db", _spans())
    with Store.open(path) as store:
        store.save_config_document(config_set().to_document())
        # correctness: r3 all humans agree "incorrect"; a2 alice incorrect / bob correct;
        # c1 both correct; c2 only the LLM judge says incorrect
        for span, alice, bob in (
            ("r3", "incorrect", "incorrect"),
            ("a2", "incorrect", "correct"),
            ("c1", "correct", "correct"),
        ):
            _add(store, name="correctness", span_id=span, label=alice, identifier="alice")
            _add(store, name="correctness", span_id=span, label=bob, identifier="bob")
        _add(store, name="correctness", span_id="c1", label="partial", identifier="carol")
        _add(
            store,
            name="correctness",
            span_id="c2",
            label="incorrect",
            annotator_kind="LLM",
            identifier="judge",
            source="API",
        )
        for span, alice, bob in (("r3", 2, 3), ("c1", 8, 9), ("c2", 6, None)):
            _add(store, name="quality", span_id=span, score=alice, identifier="alice")
            if bob is not None:
                _add(store, name="quality", span_id=span, score=bob, identifier="bob")
        _add(
            store,
            name="relevance",
            target="document",
            span_id="r2",
            document_position=2,
            label="irrelevant",
            identifier="alice",
            explanation="off topic",
        )
        _add(
            store,
            name="relevance",
            target="document",
            span_id="r2",
            document_position=0,
            label="relevant",
            identifier="alice",
        )
        _add(
            store,
            name="task_success",
            target="trace",
            trace_id="trace-agent",
            label="failure",
            identifier="alice",
        )
        _add(store, name="note", span_id="r3", explanation="check the dates", identifier="bob")
    return path


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, ["dataset", *args])


def _export(db: Path, tmp_path: Path, *args: str, name: str = "out.jsonl") -> list[dict]:
    out = tmp_path / name
    result = _run("--db", str(db), "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _ids(examples: list[dict]) -> list[str]:
    return [e["span_id"] for e in examples]


# --- filters -------------------------------------------------------------------------------


def test_no_filter_exports_every_span_in_import_order(db, tmp_path):
    assert _ids(_export(db, tmp_path)) == [s.span_id for s in _spans()]


def test_label_any_human_matches(db, tmp_path):
    # a2: alice said incorrect, bob correct -> matches by default; c2: only the LLM -> no
    assert _ids(_export(db, tmp_path, "--label", "correctness=incorrect")) == ["r3", "a2"]


def test_agreed_requires_every_human(db, tmp_path):
    assert _ids(_export(db, tmp_path, "--label", "correctness=incorrect", "--agreed")) == ["r3"]
    # c1: alice and bob correct, carol partial
    assert _ids(_export(db, tmp_path, "--label", "correctness=correct", "--agreed")) == []
    assert _ids(
        _export(
            db,
            tmp_path,
            "--label",
            "correctness=correct",
            "--label",
            "correctness=partial",
            "--agreed",
        )
    ) == ["c1"]


def test_same_name_labels_are_or_ed(db, tmp_path):
    examples = _export(
        db, tmp_path, "--label", "correctness=partial", "--label", "correctness=incorrect"
    )
    assert _ids(examples) == ["r3", "a2", "c1"]


def test_different_names_are_and_ed(db, tmp_path):
    examples = _export(db, tmp_path, "--label", "correctness=incorrect", "--max-score", "quality=5")
    assert _ids(examples) == ["r3"]


def test_score_bounds(db, tmp_path):
    assert _ids(_export(db, tmp_path, "--min-score", "quality=8")) == ["c1"]
    assert _ids(_export(db, tmp_path, "--max-score", "quality=2.5")) == ["r3"]
    # both bounds on one annotation: alice 6 on c2 is in [5, 7]; nobody on c1 (8, 9)
    assert _ids(_export(db, tmp_path, "--min-score", "quality=5", "--max-score", "quality=7")) == [
        "c2"
    ]
    # agreed: r3 has 2 and 3 (both <= 3); c2 has alice only
    assert _ids(_export(db, tmp_path, "--max-score", "quality=3", "--agreed")) == ["r3"]
    assert _ids(_export(db, tmp_path, "--max-score", "quality=2", "--agreed")) == []


def test_annotator_filter(db, tmp_path):
    assert _ids(
        _export(db, tmp_path, "--label", "correctness=incorrect", "--annotator", "bob")
    ) == ["r3"]
    # an LLM judge's identifier works too (the default counts humans only)
    assert _ids(
        _export(db, tmp_path, "--label", "correctness=incorrect", "--annotator", "judge")
    ) == ["c2"]
    assert _ids(_export(db, tmp_path, "--min-score", "quality=9", "--annotator", "alice")) == []


def test_trace_annotations_select_the_root_span(db, tmp_path):
    assert _ids(_export(db, tmp_path, "--label", "task_success=failure")) == ["a1"]


def test_span_kind_project_limit(db, tmp_path):
    assert _ids(_export(db, tmp_path, "--span-kind", "retriever")) == ["r2"]
    assert _ids(_export(db, tmp_path, "--span-kind", "TOOL", "--span-kind", "CHAIN")) == [
        "r1", "a3", "j1", "j2",
    ]  # fmt: skip
    assert _ids(_export(db, tmp_path, "--project", "chat")) == ["c1", "c2"]
    assert _ids(_export(db, tmp_path, "--span-kind", "LLM", "--limit", "2")) == ["r3", "a2"]
    assert _ids(_export(db, tmp_path, "--label", "correctness=correct", "--project", "chat")) == [
        "c1"
    ]


def test_unknown_names_warn_and_match_nothing(db, tmp_path):
    out = tmp_path / "none.jsonl"
    result = _run("--db", str(db), "--out", str(out), "--label", "nosuch=x")
    assert result.exit_code == 0
    assert "warning: no config or annotation is named 'nosuch'" in result.output
    assert "Wrote 0 examples" in result.output
    assert out.read_bytes() == b""
    result = _run("--db", str(db), "--out", str(out), "--label", "correctness=maybe")
    assert result.exit_code == 0 and "'maybe' is not a label of 'correctness'" in result.output


# --- shapes ----------------------------------------------------------------------------------


def _by_id(examples: list[dict]) -> dict[str, dict]:
    return {e["span_id"]: e for e in examples}


def test_jsonl_example_shape(db, tmp_path):
    examples = _by_id(_export(db, tmp_path))
    for example in examples.values():
        assert set(example) == {"input", "output", "metadata", "span_id"}
        assert isinstance(example["input"], dict) and isinstance(example["output"], dict)
    # plain strings are wrapped
    assert examples["r1"]["input"] == {"input": "How long do I have to return an order?"}
    assert examples["r1"]["output"] == {"output": "30 days."}
    # LLM spans: the messages
    assert examples["r3"]["input"] == {"messages": [
        {"role": "system", "content": "You answer from the documents."},
        {"role": "user", "content": "How long do I have to return an order?"}]}  # fmt: skip
    assert examples["r3"]["output"] == {
        "messages": [{"role": "assistant", "content": "You have 30 days."}]
    }
    assert examples["a2"]["output"]["messages"][0]["tool_calls"] == [
        {"id": "c1", "function": {"name": "get_order", "arguments": '{"id": "B0000"}'}}
    ]
    assert examples["a2"]["input"] == {}  # no input at all
    # retriever: the documents
    documents = examples["r2"]["output"]["documents"]
    assert [d["id"] for d in documents] == ["doc-0", "doc-1", "doc-2"]
    # JSON values: an object is used as it is, anything else wrapped
    assert examples["j1"]["input"] == {"query": "refund", "k": 3}
    assert examples["j1"]["output"] == {"output": [1, 2]}
    assert examples["j2"]["input"] == {"question": "why?"}
    assert examples["j2"]["output"] == {"output": "[not json"}
    # template variables hoisted (never replacing a key), tool definitions
    assert examples["t1"]["input"] == {
        "input": "raw prompt", "city": "Paris", "messages": "no", "tools": [{"name": "lookup"}],
    }  # fmt: skip


def test_metadata_shape(db, tmp_path):
    examples = _by_id(_export(db, tmp_path))
    meta = examples["r3"]["metadata"]
    assert {k: meta[k] for k in ("span_id", "trace_id", "session_id", "span_kind", "name",
                                 "project")} == {
        "span_id": "r3", "trace_id": "trace-rag", "session_id": "sess-1", "span_kind": "LLM",
        "name": "ChatModel", "project": "default",
    }  # fmt: skip
    assert meta["annotations"]["correctness"] == [
        {"label": "incorrect", "score": None, "explanation": None, "annotator_kind": "HUMAN",
         "identifier": "alice"},
        {"label": "incorrect", "score": None, "explanation": None, "annotator_kind": "HUMAN",
         "identifier": "bob"},
    ]  # fmt: skip
    assert [a["score"] for a in meta["annotations"]["quality"]] == [2, 3]
    assert meta["annotations"]["note"][0]["explanation"] == "check the dates"
    assert meta["document_annotations"] == [] and meta["trace_annotations"] == {}
    # no session: the key is left out (a CSV could not tell null from absent)
    assert list(examples["j1"]["metadata"]) == [
        "span_id", "trace_id", "span_kind", "name", "project", "annotations",
        "document_annotations", "trace_annotations", "votes",
    ]  # fmt: skip
    documents = examples["r2"]["metadata"]["document_annotations"]
    assert [d["document_position"] for d in documents] == [0, 2]
    assert documents[1]["annotations"]["relevance"][0]["explanation"] == "off topic"
    assert examples["a1"]["metadata"]["trace_annotations"]["task_success"][0]["label"] == "failure"
    assert examples["a2"]["metadata"]["trace_annotations"] == {}  # not the root


def phoenix_csv_examples(path: Path, keys: dict[str, list[str]], span_id_key: str) -> list[dict]:
    """The examples Phoenix's CSV upload makes of `path`, read the way its server does
    (src/phoenix/server/api/routers/v1/datasets.py `_process_csv`, Arize-ai/phoenix 9478f95,
    the path taken when the keys are dotted and no flatten_keys are given, which is what
    phoenix-client's create_dataset(csv_file_path=..., input_keys=..., ...) sends): the whole
    file decoded as UTF-8 into csv.DictReader; per bucket, blank cells are skipped, a cell that
    looks like a JSON array or object is parsed, the "input." / "output." / "metadata." prefix
    is stripped and the rest of a dotted key nested; the span id from its column. Kept because
    it runs without a server and on the edge cases; tests/phoenix/test_dataset_upload.py checks
    that it reads files as a live Phoenix does."""

    def value(raw: str):
        stripped = raw.strip()
        if (stripped[:1], stripped[-1:]) in (("[", "]"), ("{", "}")):
            try:
                return json.loads(stripped)
            except ValueError:
                pass
        return raw

    def bucket(row: dict, columns: list[str], prefix: str) -> dict:
        found: dict = {}
        for column in columns:
            raw = row.get(column)
            if raw is None or not raw.strip():
                continue
            place = found
            parts = column.removeprefix(f"{prefix}.").split(".")
            for part in parts[:-1]:
                place = place.setdefault(part, {})
            place[parts[-1]] = value(raw)
        return found

    with open(path, "rb") as stream:
        rows = list(csv.DictReader(io.StringIO(stream.read().decode())))
    return [
        {
            "input": bucket(row, keys["input"], "input"),
            "output": bucket(row, keys["output"], "output"),
            "metadata": bucket(row, keys["metadata"], "metadata"),
            "span_id": (row.get(span_id_key) or "").strip() or None,
        }
        for row in rows
    ]


def _csv_keys(path: Path) -> dict[str, list[str]]:
    """What the user passes: every input.* / output.* / metadata.* column of the header."""
    with open(path, encoding="utf-8", newline="") as stream:
        header = next(csv.reader(stream))
    return {
        bucket: [c for c in header if c.startswith(f"{bucket}.")]
        for bucket in ("input", "output", "metadata")
    }


def test_csv_reads_into_phoenix_as_the_jsonl_examples(db, tmp_path):
    jsonl = _export(db, tmp_path)
    out = tmp_path / "out.csv"
    result = _run("--db", str(db), "--out", str(out))
    assert result.exit_code == 0 and "(csv)" in result.output
    keys = _csv_keys(out)
    assert keys == {
        "input": ["input.input", "input.messages", "input.query", "input.k", "input.question",
                  "input.city", "input.tools"],
        "output": ["output.output", "output.documents", "output.messages"],
        "metadata": ["metadata.span_id", "metadata.trace_id", "metadata.session_id",
                     "metadata.span_kind", "metadata.name", "metadata.project",
                     "metadata.annotations", "metadata.document_annotations",
                     "metadata.trace_annotations", "metadata.votes"],
    }  # fmt: skip
    # the command prints the exact call that uploads it
    assert (
        f"Upload: Client().datasets.create_dataset(name=..., csv_file_path={str(out)!r}, "
        f"input_keys={keys['input']!r}, output_keys={keys['output']!r}, "
        f"metadata_keys={keys['metadata']!r}, span_id_key='span_id')"
    ) in result.output
    phoenix = phoenix_csv_examples(out, keys, "span_id")
    assert len(phoenix) == len(jsonl) == 11
    for from_csv, from_jsonl in zip(phoenix, jsonl, strict=True):
        if from_jsonl["span_id"] == "j1":
            # the one value a CSV cannot carry: the number 3 arrives as the text "3"
            assert from_jsonl["input"] == {"query": "refund", "k": 3}
            assert from_csv == {**from_jsonl, "input": {"query": "refund", "k": "3"}}
        else:
            assert from_csv == from_jsonl
    assert "annotator: warning: Phoenix's CSV upload will not read every example exactly as the " \
        "JSONL has it: 1 with numbers or true/false (Phoenix reads them as text). The JSONL " \
        "format keeps every value." in result.output  # fmt: skip
    # --format wins over the extension
    forced = tmp_path / "forced.txt"
    assert _run("--db", str(db), "--out", str(forced), "--format", "csv").exit_code == 0
    assert forced.read_text().startswith("span_id,input.input,input.messages,")


@pytest.mark.parametrize("project, spans", [("langchain-agent", 17), ("langchain-rag", 21)])
def test_csv_of_the_reference_traces_reads_into_phoenix_exactly(tmp_path, project, spans):
    """Real LangChain spans (messages, tool calls, documents, JSON inputs): no difference."""
    from annotator.importer import import_files

    path = tmp_path / "reference.db"
    with Store.open(path) as store:
        import_files(store, [REFERENCE / f"{project}.otlp.jsonl"])
    jsonl = _export(path, tmp_path)
    out = tmp_path / "reference.csv"
    result = _run("--db", str(path), "--out", str(out))
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert len(jsonl) == spans
    assert phoenix_csv_examples(out, _csv_keys(out), "span_id") == jsonl


def test_csv_neutralises_formula_text(tmp_path):
    spans = [
        Span("-s1", "@t", None, "=name", "CHAIN", attributes={
            "input": {"value": '=HYPERLINK("http://evil.example","x")'},
            "output": {"value": "+cmd|' /C calc'!A0"}}),
        Span("s2", "@t", "-s1", "tool", "TOOL", attributes={
            "input": {"value": '{"n": -3, "q": "@SUM(A1)", "ok": "fine"}',
                      "mime_type": "application/json"},
            "output": {"value": "\tTAB"}}),
    ]  # fmt: skip
    path = build_db(tmp_path / "hostile.db", spans)
    out = tmp_path / "hostile.csv"
    result = _run("--db", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert rows[0]["span_id"] == "'-s1"
    assert rows[0]["input.input"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[0]["output.output"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["metadata.name"] == "'=name" and rows[0]["metadata.trace_id"] == "'@t"
    assert rows[1]["input.n"] == "-3"  # a number stays a number
    assert rows[1]["input.q"] == "'@SUM(A1)" and rows[1]["input.ok"] == "fine"
    assert rows[1]["output.output"] == "'\tTAB"
    assert "annotator: warning: Phoenix's CSV upload will not read every example exactly as the " \
        "JSONL has it: 1 with numbers or true/false (Phoenix reads them as text); 2 with text " \
        "starting with = + - @, a tab or CR (written with a leading '). The JSONL format keeps " \
        "every value." in result.output  # fmt: skip
    # the JSONL has the raw values
    jsonl = _export(path, tmp_path)
    assert jsonl[0]["input"] == {"input": '=HYPERLINK("http://evil.example","x")'}
    assert jsonl[1]["input"] == {"n": -3, "q": "@SUM(A1)", "ok": "fine"}


def test_stdout(db):
    result = CliRunner().invoke(
        cli, ["dataset", "--db", str(db), "--out", "-", "--label", "task_success=failure"]
    )
    assert result.exit_code == 0
    line = result.stdout.splitlines()[0]
    assert orjson.loads(line)["span_id"] == "a1"


def test_example_builders_never_fail_on_odd_attributes():
    for attributes in (
        {},
        {"input": "x"},
        {"input": {"value": 3}},
        {"llm": {"input_messages": 5}},
        {"llm": {"input_messages": [1, {"message": "x"}]}},
        {"retrieval": {"documents": [{"no": 1}]}},
        {"input": {"value": "{bad"}},
    ):
        for kind in ("LLM", "RETRIEVER", "CHAIN"):
            assert isinstance(example_input(kind, attributes), dict)
            assert isinstance(example_output(kind, attributes), dict)


# --- streaming ---------------------------------------------------------------------------------


def test_streams_a_few_thousand_spans(tmp_path):
    spans = [
        Span(f"s{i:05d}", f"t{i // 5:05d}", None if i % 5 == 0 else f"s{i - i % 5:05d}", "step",
             "LLM" if i % 2 else "CHAIN", attributes={"input": {"value": f"q{i}"}})
        for i in range(3000)
    ]  # fmt: skip
    path = build_db(tmp_path / "many.db", spans)
    with Store.open(path) as store:
        for i in range(0, 3000, 3):
            _add(
                store,
                name="verdict",
                span_id=f"s{i:05d}",
                label="bad" if i % 2 else "good",
                identifier="ann",
            )
    with Store.open(path, readonly=True) as store:
        queries: list[str] = []
        store.connection.set_trace_callback(queries.append)
        spec = build_spec()
        first = list(itertools.islice(iter_examples(store.connection, spec), 1))
        assert first[0]["span_id"] == "s00000"
        # one span query and one chunk of annotations so far: nothing read ahead
        # per chunk of spans, one query for span and one for trace annotations; once, which
        # names have final values
        assert sum("FROM annotations" in q for q in queries) <= 3
        assert sum("FROM spans" in q for q in queries) == 1
        store.connection.set_trace_callback(None)
    examples = _export(path, tmp_path)
    assert len(examples) == 3000
    assert _ids(examples) == [s.span_id for s in spans]
    bad = _export(path, tmp_path, "--label", "verdict=bad", name="bad.jsonl")
    assert len(bad) == 500 and all(
        e["metadata"]["annotations"]["verdict"][0]["label"] == "bad" for e in bad
    )


# --- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--label", "foo"],
        ["--label", "=x"],
        ["--label", "correctness="],
        ["--min-score", "q=abc"],
        ["--max-score", "q"],
        ["--min-score", "q=nan"],
        ["--min-score", "q=5", "--max-score", "q=1"],
        ["--span-kind", "LMM"],
        ["--limit", "ten"],
        ["--limit", "0"],
        ["--format", "xml"],
        ["--annotator", ""],
    ],
)
def test_bad_arguments_exit_2_with_one_line(db, tmp_path, args):
    out = tmp_path / "bad.jsonl"
    out.write_text("keep me")
    result = _run("--db", str(db), "--out", str(out), *args)
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert out.read_text() == "keep me"  # nothing written


def test_missing_out_and_missing_db(db, tmp_path):
    result = _run("--db", str(db))
    assert result.exit_code == 2 and "--out" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = _run("--db", str(db), "--out", str(db))
    assert result.exit_code == 2 and "the database itself" in result.output
    result = _run("--db", str(tmp_path / "nope.db"), "--out", str(tmp_path / "x.jsonl"))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "nope.db").exists()


def test_write_failure_leaves_no_partial_file(db, tmp_path):
    missing_dir = tmp_path / "no" / "such" / "dir" / "out.jsonl"
    result = _run("--db", str(db), "--out", str(missing_dir))
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no stray temporary files


def test_written_file_is_readable_jsonl(db, tmp_path):
    out = tmp_path / "all.jsonl"
    assert _run("--db", str(db), "--out", str(out)).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    assert all(json.loads(line) for line in io.StringIO(text))
