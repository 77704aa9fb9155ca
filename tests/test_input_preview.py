"""The one-line preview of a trace's root input: what tells twenty "docs_qa" rows apart.

`semconv.input_preview` reads the shapes frameworks write (LangChain's chain inputs and
serialised messages, OpenAI messages with content parts, OpenInference `llm.input_messages`,
plain text), `Store.trace_previews` reads it for the trace rows on screen, and the tree shows it
after the root span's name, sanitised and clipped to the row."""

from __future__ import annotations

import json
from pathlib import Path

from annotator import semconv
from annotator.app.app import AnnotatorApp
from annotator.model import Span
from annotator.store import Store
from tests.app_data import build_db, config_set
from tests.llamaindex_trace import QUESTION, TRACE, llamaindex_spans
from tests.screen_text import screen_lines

LANGCHAIN_CHAT = json.dumps(
    {
        "messages": [
            {"type": "human", "data": {"content": "Dinner idea for two?", "type": "human"}},
            {"type": "ai", "data": {"content": "Lemon chicken.", "type": "ai"}},
            {"type": "human", "data": {"content": "No lemon after all.\nWhat else?"}},
        ]
    }
)


def preview(value: object, mime: str | None = None) -> str:
    io: dict = {"value": value}
    if mime:
        io["mime_type"] = mime
    return semconv.input_preview({"input": io})


def test_a_chain_input_shows_its_question_not_the_json() -> None:
    chain = json.dumps({"question": "Is there a dashboard?", "chat_history": [{"x": "older"}]})
    assert preview(chain, "application/json") == "Is there a dashboard?"
    assert preview(json.dumps({"chat_history": [], "query": "refund policy"})) == "refund policy"


def test_a_conversation_shows_the_last_thing_the_user_said() -> None:
    assert preview(LANGCHAIN_CHAT, "application/json") == "No lemon after all."
    openai = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "  Parts   question  "}]},
        {"role": "assistant", "content": "An answer."},
    ]
    assert preview(json.dumps(openai)) == "Parts question"


def test_plain_text_shows_its_first_non_blank_line_with_whitespace_collapsed() -> None:
    assert preview("\n \n  Where\tis my   order?\nsecond line") == "Where is my order?"
    assert preview(12345) == "12345"
    assert preview("x" * 5000) == "x" * semconv.PREVIEW_CHARS


def test_an_llm_root_without_input_value_shows_its_last_user_message() -> None:
    attributes = {
        "llm": {
            "input_messages": [
                {"message": {"role": "system", "content": "You answer."}},
                {"message": {"role": "user", "content": "Hi!"}},
                {"message": {"role": "assistant", "content": "Hello"}},
                {"message": {"role": "user", "content": "Bye"}},
            ]
        }
    }
    assert semconv.input_preview(attributes) == "Bye"


def test_no_input_is_no_preview_and_odd_values_never_raise() -> None:
    assert semconv.input_preview({}) == ""
    assert semconv.input_preview({"input": None}) == ""
    assert preview(None) == ""
    assert preview(json.dumps({"a": {"b": [1, 2, None]}})) == ""
    assert preview("{not json") == "{not json"
    nested: object = "deep"
    for _ in range(500):
        nested = {"k": nested}
    assert preview(json.dumps(nested)) == ""  # beyond the depth looked at: nothing, no error


def test_store_reads_the_previews_of_the_traces_asked_for(tmp_path: Path) -> None:
    db = build_db(tmp_path / "a.db", llamaindex_spans())
    build_db(db)  # the demo traces beside it
    with Store.open(db, readonly=True) as store:
        found = store.trace_previews([TRACE, "trace-rag", "trace-chat-2", "no-such-trace"])
    assert found == {
        TRACE: QUESTION,
        "trace-rag": "How long do I have to return an order?",
        "trace-chat-2": "Bye",  # an LLM root: its last user message
        "no-such-trace": "",
    }


async def test_trace_rows_show_the_root_input_after_the_name(tmp_path: Path) -> None:
    db = build_db(tmp_path / "a.db")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(150, 40)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
    # The tree's pane ends at its border; the preview is clipped to the row, the counts kept.
    rows = [line.split("▎")[0] for line in lines if line.startswith(("▸ ", "▾ "))]
    assert rows == [
        "▾ CHN rag_pipeline  How long do I have t…  3 0/3 ●",
        "▸ AGT order_agent  Where is B0000?      3 ✗2 0/2  ",
        "▸ LLM chat_turn  Hi!                       1 0/1  ",
        "▸ LLM chat_turn  Bye                       1 0/1  ",
    ]


async def test_a_wide_tree_shows_the_start_time_and_a_hostile_preview_literally(
    tmp_path: Path,
) -> None:
    evil = "\x1b]52;c;ZXZpbA==\x07[@click=app.quit]go[/] \u202eevil"
    spans = [
        Span(
            "s1", "t1", None, "docs_qa", "CHAIN",
            "2026-05-01T10:00:00.000000+00:00", "2026-05-01T10:00:01.000000+00:00", "OK",
            attributes={"input": {"value": evil + "\nsecond line"}},
        ),
    ]  # fmt: skip
    db = build_db(tmp_path / "a.db", spans)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(300, 20)) as pilot:
        await pilot.pause()
        row = next(line for line in screen_lines(app) if line.startswith("▾ "))
    expected = (
        "05-01 10:00:00 CHN docs_qa  \\x1b]52;c;ZXZpbA==\\x07[@click=app.quit]go[/] \\u202eevil"
    )
    assert row[2:].startswith(expected)
    assert "second line" not in row
