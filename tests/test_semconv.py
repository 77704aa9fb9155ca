"""annotator.semconv: one reading of the OpenInference conventions for the store (document rows),
the span view and the dataset export. The cases here are the ones where those three used to
disagree: each is checked through every consumer, and through the app as a user drives it."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from rich.console import Console

from annotator import semconv
from annotator.app.app import AnnotatorApp
from annotator.app.span_render import render_span, span_summary
from annotator.app.tree_model import DOCUMENT
from annotator.model import Span
from annotator.team.dataset import example_input, example_output
from tests.app_data import build_db, config_set
from tests.test_app import SIZE, cursor, press, rows


def _doc(i: int) -> dict:
    return {"document": {"id": f"kb-{i}", "score": 0.5 + i / 10, "content": f"Passage {i}."}}


# Documents written as an object keyed by position (some exporters write lists that way).
KEYED = {"retrieval": {"documents": {"1": _doc(1), "0": _doc(0)}}}
# A reranker span: the retriever's list is empty, the reranker's output holds the documents.
RERANKED = {
    "retrieval": {"documents": []},
    "reranker": {"input_documents": [_doc(0), _doc(1), _doc(2)],
                 "output_documents": [_doc(2), _doc(0)]},
}  # fmt: skip


def _span(span_id: str, attributes: dict, kind: str = "RETRIEVER") -> Span:
    return Span(
        span_id, "trace-docs", None, "retrieve", kind,
        "2026-05-01T10:00:00.000000+00:00", "2026-05-01T10:00:01.000000+00:00", "OK",
        attributes=attributes,
    )  # fmt: skip


def _plain(span: Span) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(render_span(span))
    return console.file.getvalue()  # type: ignore[attr-defined]


def _stored_count(db: Path, span_id: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT document_count FROM spans WHERE span_id = ?", (span_id,)
        ).fetchone()[0]


def test_documents_keyed_by_position_are_counted_once_for_everyone(tmp_path: Path) -> None:
    span = _span("k1", KEYED)
    db = build_db(tmp_path / "docs.db", [span])
    assert _stored_count(db, "k1") == 2  # the tree's rows
    assert semconv.document_count(KEYED) == 2
    assert span_summary(span)["documents"] == 2
    shown = _plain(span)
    assert "retrieval documents  (2 documents)" in shown
    assert "#0  id kb-0  score 0.5" in shown and "#1  id kb-1  score 0.6" in shown
    assert [d["id"] for d in example_output("RETRIEVER", KEYED)["documents"]] == ["kb-0", "kb-1"]


def test_empty_retrieval_list_beside_reranker_output(tmp_path: Path) -> None:
    span = _span("rr", RERANKED, "RERANKER")
    db = build_db(tmp_path / "docs.db", [span])
    assert _stored_count(db, "rr") == 2  # positions refer to the reranker's output
    assert semconv.annotatable_document_path(RERANKED) == "reranker.output_documents"
    shown = _plain(span)
    assert "reranker output documents  (2 documents)" in shown
    assert "#0  id kb-2" in shown


async def test_the_tree_offers_a_row_for_every_numbered_document(tmp_path: Path) -> None:
    db = build_db(tmp_path / "docs.db", [_span("k1", KEYED)])
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        positions = []
        for _ in range(3):
            row = cursor(app)
            if row.kind == DOCUMENT:
                positions.append(row.position)
                await press(pilot, "1")  # relevance: relevant (no auto-advance)
            await press(pilot, "j")
        assert positions == [0, 1]
    assert rows(db, "SELECT span_id, document_position, name, label FROM annotations") == [
        ("k1", 0, "relevance", "relevant"),
        ("k1", 1, "relevance", "relevant"),
    ]


def test_messages_keyed_by_position_reach_the_dataset_as_the_view_shows_them() -> None:
    attributes = {
        "llm": {
            "input_messages": {
                "1": {"message": {"role": "user", "content": "Where is B0000?"}},
                "0": {"message": {"role": "system", "content": "Answer briefly."}},
            },
            "output_messages": [{"message": {"role": "assistant", "tool_calls": [
                {"tool_call": {"id": "c1", "function.name": "get_order",
                               "function.arguments": "{\"id\": \"B0000\"}"}}]}}],
        }
    }  # fmt: skip
    assert example_input("LLM", attributes) == {"messages": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Where is B0000?"},
    ]}  # fmt: skip
    call = {"id": "c1", "function": {"name": "get_order", "arguments": '{"id": "B0000"}'}}
    assert example_output("LLM", attributes) == {
        "messages": [{"role": "assistant", "tool_calls": [call]}]
    }
    shown = _plain(_span("m1", attributes, "LLM"))
    assert "input messages  (2 messages)" in shown
    assert "→ get_order  id c1" in shown


def test_token_counts_fill_gaps_from_gen_ai_usage() -> None:
    attributes = {"llm": {"token_count": {"prompt": "120"}},
                  "gen_ai": {"usage": {"input_tokens": 99, "output_tokens": 8}}}  # fmt: skip
    counts = semconv.token_counts(attributes)
    assert (counts.prompt, counts.completion, counts.total) == (120, 8, 128)
    summary = span_summary(_span("t1", attributes, "LLM"))
    assert (summary["prompt_tokens"], summary["completion_tokens"], summary["total_tokens"]) == (
        120, 8, 128,
    )  # fmt: skip


def test_input_output_values() -> None:
    attributes = {"input": {"value": '{"q": 1}', "mime_type": "application/json"},
                  "output": "plain"}  # fmt: skip
    found = semconv.io_value(attributes, "input")
    assert (found.value, found.mime_type) == ('{"q": 1}', "application/json")
    assert semconv.parse_json_value(found.value, found.mime_type) == {"q": 1}
    assert semconv.io_value(attributes, "output").node == "plain"
    assert semconv.parse_json_value("[1, 2]") is semconv.MISSING  # text, unless the mime says JSON
    assert semconv.parse_json_value("[1, 2]", "application/json") == [1, 2]
    assert not semconv.io_value({}, "input").present
