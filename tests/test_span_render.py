"""annotator.app.span_render: the centre pane, rendered to text and checked.

Hand-built spans exercise every section; two traces of each reference project (nested
``legacy_spans.jsonl`` in tests/data/readers/reference) and hand-written attribute maps in the
shapes of OpenInference's and gen_ai's (tests/data/readers/handwritten) are rendered whole. Hostile
strings go through every field: nothing may raise, reach the terminal raw, or become markup.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.style import Style
from rich.text import Text

from annotator.app.span_render import (
    SECTION_TITLES,
    RenderOptions,
    render_span,
    span_full_text,
    span_sections,
    span_summary,
)
from annotator.model import Span
from annotator.semconv import document_count as _document_count
from annotator.text import sanitize

# --------------------------------------------------------------------------------- helpers


def plain(renderable: RenderableType, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def ansi(renderable: RenderableType, width: int = 100) -> str:
    console = Console(
        file=io.StringIO(), width=width, color_system="truecolor", force_terminal=True
    )
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


_SGR = re.compile(r"\x1b\[[0-9;]*m")


def walk(renderable: RenderableType) -> Iterator[Text]:
    """Every Text in a render_span/span_sections result; fails on any unexpected renderable
    (a str would be parsed as markup)."""
    if isinstance(renderable, Text):
        yield renderable
    elif isinstance(renderable, Group):
        for child in renderable.renderables:
            yield from walk(child)
    elif isinstance(renderable, Padding):
        yield from walk(renderable.renderable)
    elif isinstance(renderable, Panel):
        assert renderable.title is None or isinstance(renderable.title, Text)
        if renderable.title is not None:
            yield renderable.title
        yield from walk(renderable.renderable)
    elif isinstance(renderable, Rule):
        assert isinstance(renderable.title, Text)
        yield renderable.title
    else:
        raise TypeError(f"unexpected renderable {type(renderable).__name__}")


def assert_no_actions_or_links(renderable: RenderableType) -> None:
    for text in walk(renderable):
        styles = [text.style, *(span.style for span in text.spans)]
        for style in styles:
            if isinstance(style, str):
                assert "@" not in style and "link" not in style, style
                style = Style.parse(style) if style else Style()
            assert style.link is None, style
            assert not style.meta, style


def assert_terminal_safe(output: str) -> None:
    """Only Rich's own SGR sequences may carry ESC; no other control or bidi character."""
    stripped = _SGR.sub("", output)
    bad = [
        ch
        for ch in stripped
        if (ord(ch) < 0x20 and ch not in "\n")
        or 0x7F <= ord(ch) <= 0x9F
        or ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff"
        or 0xD800 <= ord(ch) <= 0xDFFF
    ]
    assert not bad, sorted({hex(ord(ch)) for ch in bad})


def make_span(attributes: Any = None, **fields: Any) -> Span:
    defaults: dict[str, Any] = {
        "span_id": "5f0de0cee74990a7",
        "trace_id": "b314d94ce487e85a708684e9f815e152",
        "parent_id": "b8c76cee5e617cf7",
        "name": "span",
        "span_kind": "CHAIN",
        "start_time": "2026-11-26T19:56:47.794241+00:00",
        "end_time": "2026-11-26T19:56:47.817049+00:00",
        "status_code": "OK",
    }
    defaults.update(fields)
    return Span(attributes={} if attributes is None else attributes, **defaults)


def section_titles(span: Span, options: RenderOptions | None = None) -> list[str]:
    return [title for title, _ in span_sections(span, options or RenderOptions())]


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat dotted OpenInference keys → Phoenix's nested shape (numeric parts become lists)."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def lists(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: lists(v) for k, v in node.items()}
            if node and all(k.isdigit() for k in node):
                return [node[k] for k in sorted(node, key=int)]
        return node

    return lists(root)


NOT_RENDERED = "could not render this section"

# ------------------------------------------------------------------------- hand-built spans

WEATHER_SCHEMA = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def llm_span() -> Span:
    return make_span(
        {
            "openinference": {"span": {"kind": "LLM"}},
            "llm": {
                "model_name": "gpt-4o",
                "provider": "openai",
                "system": "openai",
                "input_messages": [
                    {"message": {"role": "system", "content": "You are terse."}},
                    {
                        "message": {
                            "role": "user",
                            "contents": [
                                {"message_content": {"type": "text", "text": "What is this?"}},
                                {
                                    "message_content": {
                                        "type": "image",
                                        "image": {"image": {"url": "https://example.com/cat.png"}},
                                    }
                                },
                            ],
                        }
                    },
                    {
                        "message": {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "tool_call": {
                                        "id": "call_c1",
                                        "function": {
                                            "name": "get_weather",
                                            "arguments": '{"city": "Paris"}',
                                        },
                                    }
                                }
                            ],
                        }
                    },
                    {
                        "message": {
                            "role": "tool",
                            "name": "get_weather",
                            "tool_call_id": "call_c1",
                            "content": "rainy, 57°F",
                        }
                    },
                ],
                "output_messages": [
                    {"message": {"role": "assistant", "content": "It is rainy in Paris."}}
                ],
                "token_count": {
                    "prompt": 1234,
                    "completion": 56,
                    "total": 1290,
                    "prompt_details": {"cache_read": 1000, "cache_write": 200},
                    "completion_details": {"reasoning": 7},
                },
                "cost": {"total": 0.00123, "prompt": 0.001, "completion": 0.00023},
                "invocation_parameters": '{"temperature": 0.2, "max_tokens": 256}',
                "tools": [{"tool": {"json_schema": json.dumps(WEATHER_SCHEMA)}}],
                "prompt_template": {
                    "template": "Weather in {city}?",
                    "variables": '{"city": "Paris"}',
                    "version": "v3",
                },
            },
            "input": {"value": '{"city": "Paris"}', "mime_type": "application/json"},
            "output": {"value": "It is rainy in Paris.", "mime_type": "text/plain"},
            "session": {"id": "sess-1"},
            "user": {"id": "user-1"},
            "metadata": {"experiment": "exp-7", "nested": {"a": 1}},
            "tag": {"tags": ["weather", "prod"]},
            "custom": {"thing": "custom-value-42", "count": 3},
        },
        name="ChatOpenAI",
        span_kind="LLM",
        session_id="sess-1",
        events=[
            {
                "name": "first_token",
                "timestamp": "2026-11-26T19:56:47.800000+00:00",
                "attributes": {"ttft_ms": 120},
            }
        ],
    )


def retriever_span(n: int = 3) -> Span:
    return make_span(
        {
            "retrieval": {
                "documents": [
                    {
                        "document": {
                            "id": f"doc-{i}",
                            "score": round(0.9 - i / 10, 2),
                            "content": f"Content of document {i}.",
                            "metadata": json.dumps({"source": f"kb/{i}.md"})
                            if i % 2
                            else {"source": f"kb/{i}.md"},
                        }
                    }
                    for i in range(n)
                ]
            },
            "input": {"value": "what is the return window?"},
        },
        name="VectorStoreRetriever",
        span_kind="RETRIEVER",
    )


def reranker_span() -> Span:
    def docs(ids: list[str]) -> list[dict[str, Any]]:
        return [{"document": {"id": i, "score": 0.5, "content": f"text {i}"}} for i in ids]

    return make_span(
        {
            "reranker": {
                "query": "return policy",
                "model_name": "cross-encoder/ms-marco",
                "top_k": 2,
                "input_documents": docs(["in-a", "in-b", "in-c"]),
                "output_documents": docs(["out-c", "out-a"]),
            }
        },
        name="Reranker",
        span_kind="RERANKER",
    )


def embedding_span() -> Span:
    return make_span(
        {
            "embedding": {
                "model_name": "text-embedding-3-small",
                "embeddings": [
                    {"embedding": {"text": "first text", "vector": [0.123456789] * 1536}},
                    {"embedding": {"text": "second text", "vector": [0.5] * 1536}},
                ],
                "invocation_parameters": '{"dimensions": 1536}',
            }
        },
        name="embed",
        span_kind="EMBEDDING",
    )


STACK = "\n".join(
    ["Traceback (most recent call last):"]
    + [f'  File "/app/mod{i}.py", line {i}, in f{i}' for i in range(80)]
    + ["ValueError: unknown city 'Atlantis'"]
)


def tool_error_span() -> Span:
    return make_span(
        {
            "tool": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": json.dumps({"type": "object", "properties": {"city": {}}}),
                "id": "call_c1",
            },
            "input": {"value": '{"city": "Atlantis"}'},
        },
        name="get_weather",
        span_kind="TOOL",
        status_code="ERROR",
        status_message="ValueError: unknown city 'Atlantis'",
        events=[
            {
                "name": "exception",
                "timestamp": "2026-11-26T19:56:47.816822+00:00",
                "attributes": {
                    "exception.type": "ValueError",
                    "exception.message": "unknown city 'Atlantis'",
                    "exception.stacktrace": STACK,
                    "exception.escaped": "False",
                },
            }
        ],
    )


def genai_span() -> Span:
    messages_in = [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Rome?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "tool_call", "id": "t1", "name": "lookup", "arguments": {"q": "Rome"}}
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "t1", "response": "sunny"}],
        },
    ]
    messages_out = [{"role": "assistant", "parts": [{"type": "text", "content": "Sunny in Rome."}]}]
    return make_span(
        nest(
            {
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4",
                "gen_ai.response.model": "gpt-4-0613",
                "gen_ai.usage.input_tokens": 97,
                "gen_ai.usage.output_tokens": 52,
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.input.messages": json.dumps(messages_in),
                "gen_ai.output.messages": json.dumps(messages_out),
            }
        ),
        name="chat gpt-4",
        span_kind="LLM",
    )


# --------------------------------------------------------------------------- section tests


def test_llm_span_sections_in_order() -> None:
    titles = section_titles(llm_span())
    assert titles == [
        "header",
        "messages",
        "prompt template",
        "tools available",
        "input",
        "output",
        "invocation parameters",
        "metadata",
        "events",
        "other attributes",
    ]
    assert titles == [t for t in SECTION_TITLES if t in titles]
    assert section_titles(llm_span(), RenderOptions(show_raw=True))[-1] == "raw"


def test_header() -> None:
    out = plain(render_span(llm_span()))
    header = out.split("messages ─")[0]
    for expected in (
        " LLM ",
        "ChatOpenAI",
        "● OK",
        "22.8 ms",
        "2026-11-26 19:56:47.794 UTC",
        "span 5f0de0ce…",
        "trace b314d94c…",
        "parent b8c76cee…",
        "session sess-1",
        "user user-1",
        "model gpt-4o",
        "provider openai",
        "1,234 prompt · 56 completion · 1,290 total",
        "prompt cache read 1,000",
        "prompt cache write 200",
        "completion reasoning 7",
        "cost $0.00123",
        "prompt $0.001",
        "completion $0.00023",
    ):
        assert expected in header, expected


def test_messages_conversation() -> None:
    out = plain(render_span(llm_span()))
    messages = out.split("messages ─")[1].split("prompt template ─")[0]
    for expected in (
        "input messages  (4 messages)",
        "#0 system",
        "You are terse.",
        "#1 user",
        "What is this?",
        "[image: https://example.com/cat.png]",
        "#2 assistant",
        "→ get_weather  id call_c1",
        '"city": "Paris"',
        "#3 tool · name get_weather · tool_call_id call_c1",
        "rainy, 57°F",
        "output messages  (1 message)",
        "It is rainy in Paris.",
    ):
        assert expected in messages, expected
    # arguments are pretty-printed (one key per line), not the raw one-line JSON
    assert '{"city": "Paris"}' not in messages


def test_prompt_template_tools_io_invocation_metadata_events_other() -> None:
    out = plain(render_span(llm_span()))
    for expected in (
        "Weather in {city}?",
        "version v3",
        "1 tool",
        "#0 get_weather",
        "Weather for a city",
        '"temperature": 0.2',
        "tags weather · prod",
        "experiment: exp-7",
        'nested: {"a": 1}',
        "#0 first_token",
        "ttft_ms: 120",
        "custom.thing: custom-value-42",
        "custom.count: 3",
    ):
        assert expected in out, expected
    # the tool schema is only shown in the raw view
    assert '"properties"' not in out
    raw = plain(render_span(llm_span(), RenderOptions(show_raw=True)))
    assert '"properties"' in raw
    # attributes shown in a section do not repeat under "other attributes"
    other = out.split("other attributes ─")[1]
    assert "llm." not in other and "session" not in other and "openinference" not in other


def test_input_output_json_pretty_and_text() -> None:
    out = plain(render_span(llm_span()))
    section = out.split("input ─")[1].split("output ─")[0]
    assert section.splitlines()[1:] == ["{", '  "city": "Paris"', "}"]  # after the rule
    otel_input = make_span({"input": '{"a": [1, 2]}', "output": "plain answer"})
    text = plain(render_span(otel_input))
    assert '"a": [' in text and "plain answer" in text


def test_documents_with_ids_scores_metadata_and_selection() -> None:
    span = retriever_span()
    assert _document_count(span.attributes) == 3
    out = plain(render_span(span))
    for expected in (
        "retrieval documents  (3 documents)",
        "#0  id doc-0  score 0.9",
        "#1  id doc-1  score 0.8",
        "#2  id doc-2  score 0.7",
        "Content of document 1.",
        'metadata {"source": "kb/0.md"}',
        'metadata {"source": "kb/1.md"}',
    ):
        assert expected in out, expected
    assert "selected document" not in out

    selected = render_span(span, RenderOptions(selected_document=1))
    text = plain(selected)
    assert "selected document" in text and "▶ #1" in text
    panels = [
        r
        for _, body in span_sections(span, RenderOptions(selected_document=1))
        for r in body.renderables
        if isinstance(r, Panel)
    ]  # type: ignore[attr-defined]
    assert len(panels) == 1
    assert "doc-1" in plain(panels[0])
    # out of range: nothing highlighted, nothing raised
    assert "selected document" not in plain(render_span(span, RenderOptions(selected_document=9)))


def test_selected_document_beyond_the_cap_is_still_shown() -> None:
    span = retriever_span(1000)
    out = plain(render_span(span, RenderOptions(selected_document=500, max_items=10)))
    assert "id doc-500" in out and "▶ #500" in out
    assert "more documents" in out
    assert _document_count(span.attributes) == 1000


def test_reranker_documents() -> None:
    span = reranker_span()
    assert _document_count(span.attributes) == 2  # positions refer to the output documents
    out = plain(render_span(span, RenderOptions(selected_document=0)))
    for expected in (
        "query return policy",
        "model cross-encoder/ms-marco",
        "top_k 2",
        "reranker input documents  (3 documents)",
        "reranker output documents  (2 documents)",
        "id in-b",
    ):
        assert expected in out, expected
    selected = out.split("selected document")[1]
    assert "id out-c" in selected.split("╰")[0]


def test_embedding_vectors_are_summarised() -> None:
    out = plain(render_span(embedding_span(), RenderOptions(show_raw=True)))
    assert "model text-embedding-3-small" in out
    assert "#0 [1,536 floats: 0.1235, 0.1235, 0.1235, 0.1235 … 0.1235]" in out
    assert "first text" in out and "second text" in out
    assert '"dimensions": 1536' in out
    assert "0.123456789" not in out.split("raw ─")[0]
    assert out.count("0.123456789") == 0  # raw view summarises vectors too
    assert "[… 1,536 numbers]" in out


def test_error_section_with_exception_event() -> None:
    span = tool_error_span()
    titles = section_titles(span)
    assert titles[:2] == ["header", "error"]
    out = plain(render_span(span))
    assert "✖ ERROR" in out
    error = out.split("error ─")[1].split("input ─")[0]
    for expected in (
        "ValueError: unknown city 'Atlantis'",
        "exception ValueError",
        "escaped False",
        "unknown city 'Atlantis'",
        'File "/app/mod79.py", line 79, in f79',
        "earlier lines",
    ):
        assert expected in error, expected
    # the trace keeps its bottom: the first frames are clipped away
    assert "mod0.py" not in error
    assert "Traceback (most recent call last)" not in error
    tool = out.split("tool ─")[1]
    assert "name get_weather" in tool and "id call_c1" in tool and '"properties"' in tool
    assert span_summary(span)["error"] == "ValueError: unknown city 'Atlantis'"


def test_error_without_message_and_langchain_glued_traceback() -> None:
    bare = make_span(status_code="ERROR")
    assert "no status message" in plain(render_span(bare))
    glued = make_span(
        status_code="ERROR",
        status_message=(
            'KeyError("x")Traceback (most recent call last):\n\n\n  File "a.py"\nKeyError: x'
        ),
    )
    out = plain(render_span(glued))
    assert 'KeyError("x")\n' in out
    assert span_summary(glued)["error"] == 'KeyError("x")'


def test_genai_section() -> None:
    span = genai_span()
    assert section_titles(span) == ["header", "gen_ai"]
    out = plain(render_span(span))
    for expected in (
        "model gpt-4-0613",
        "requested gpt-4",
        "provider openai",
        "97 prompt · 52 completion",
        "input messages  (3 messages)",
        "#0 user",
        "Weather in Rome?",
        "→ lookup  id t1",
        '"q": "Rome"',
        "← result  id t1",
        "sunny",
        "output messages  (1 message)",
        "Sunny in Rome.",
        "gen_ai.usage.input_tokens: 97",
        'gen_ai.response.finish_reasons: ["stop"]',
    ):
        assert expected in out, expected
    summary = span_summary(span)
    assert summary["model"] == "gpt-4-0613"
    assert summary["total_tokens"] == 149


def test_completion_api_prompts_and_choices() -> None:
    span = make_span(
        {
            "llm": {
                "prompts": [{"prompt": {"text": "Say hi"}}],
                "choices": [{"completion": {"text": "hi"}}],
            }
        }
    )
    out = plain(render_span(span))
    assert "prompts  (1 message)" in out and "Say hi" in out
    assert "choices  (1 message)" in out and "#0 assistant" in out


# Enumerated values that the layout itself shows (a JSON body, a text part, a function call).
IMPLIED = {"application/json", "text/plain", "text", "function"}


def assert_everything_shown(span: Span) -> None:
    full = span_full_text(span)
    for value in _string_leaves(span.attributes):
        if value.lstrip()[:1] in "{[" or value in IMPLIED:
            continue  # JSON values are pretty-printed
        for line in value.splitlines():
            assert sanitize(line.strip()) in full, line


def test_every_attribute_is_shown_somewhere() -> None:
    for span in (llm_span(), retriever_span(), reranker_span(), tool_error_span(), genai_span()):
        assert_everything_shown(span)


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for sub in value.values():
            yield from _string_leaves(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from _string_leaves(sub)


# ------------------------------------------------------------------------------ clipping


def test_clip_marker_with_count_and_custom_hint() -> None:
    span = make_span({"output": {"value": "x" * 10_000}})
    out = plain(render_span(span, RenderOptions(clip_chars=4000)), width=120)
    assert "… [+6,000 chars — press o to see all]" in out
    custom = plain(render_span(span, RenderOptions(clip_chars=4000, more_hint="F5 shows all")))
    assert "… [+6,000 chars — F5 shows all]" in custom


def test_clip_marker_counts_lines() -> None:
    value = "\n".join(f"line {i}" for i in range(100))
    out = plain(render_span(make_span({"output": {"value": value}}), RenderOptions(clip_lines=60)))
    assert "line 59" in out and "line 60" not in out
    assert "… [+40 more lines, " in out


def test_json_clip_marker_and_highlight_only_on_clipped_text() -> None:
    value = json.dumps({"rows": [{"i": i} for i in range(1000)]})
    out = plain(
        render_span(make_span({"output": {"value": value, "mime_type": "application/json"}}))
    )
    assert '"rows": [' in out and "more lines" in out


def test_long_conversation_keeps_head_and_tail() -> None:
    messages = [
        {
            "message": {
                "role": "user" if i % 2 else "assistant",
                "content": f"message number {i} " * 50,
            }
        }
        for i in range(10_000)
    ]
    span = make_span({"llm": {"input_messages": messages}}, span_kind="LLM")
    out = plain(render_span(span))  # (its speed: bench/render_bench.py)
    assert "input messages  (10,000 messages)" in out
    assert "… 9,800 more messages (#50–#9,849)" in out
    assert "#0 assistant" in out and "#49 user" in out
    assert "#9850 assistant" in out and "#9999 user" in out and "message number 9999" in out
    assert "#50 " not in out
    # each of the 200 messages shown is clipped harder than a lone one would be
    assert out.count("chars — press o to see all]") == 200
    assert len(out) < RenderOptions().total_chars  # the pane's budget holds (103,886 here)


def test_many_attributes_are_capped() -> None:
    span = make_span({f"custom.attr_{i:06d}": f"value {i}" for i in range(100_000)})
    out = plain(render_span(span))
    assert "custom.attr_000000: value 0" in out and "custom.attr_000499: value 499" in out
    assert "custom.attr_000500" not in out
    assert "… more than 10,000 more attributes — press o to see all" in out
    small = make_span({f"k{i}": i for i in range(600)})
    assert "… 100 more attributes" in plain(render_span(small))


def test_full_text_is_sanitised_and_not_clipped() -> None:
    long_value = "start " + "y" * 100_000 + " end\x1b[2J"
    span = make_span({"output": {"value": long_value}, "k": "v"}, name="n\u202e")
    full = span_full_text(span)
    assert "start " + "y" * 100_000 + " end\\x1b[2J" in full
    assert "press o" not in full
    assert "n\\u202e" in full
    assert "span 5f0de0cee74990a7  trace b314d94ce487e85a708684e9f815e152" in full
    assert "k: v" in full
    assert "\x1b" not in full and "\u202e" not in full


def test_full_text_cap() -> None:
    messages = [{"message": {"role": "user", "content": "z" * 100_000}} for _ in range(300)]
    full = span_full_text(make_span({"llm": {"input_messages": messages}}))
    assert 20_000_000 <= len(full) < 20_300_000
    assert full.endswith("… [truncated: the full text is capped at 20,000,000 characters]")
    assert "#199 user" in full


# --------------------------------------------------------------------------- wrong types


WRONG_TYPES: list[tuple[str, Span, list[str]]] = [
    (
        "content dict",
        make_span(
            {"llm": {"input_messages": [{"message": {"role": "user", "content": {"a": 1}}}]}}
        ),
        ['"a": 1'],
    ),
    ("documents string", make_span({"retrieval": {"documents": "not a list"}}), ["not a list"]),
    (
        "token count text",
        make_span({"llm": {"token_count": {"prompt": "abc", "total": None}}}),
        ["abc prompt", "null total"],
    ),
    ("token count scalar", make_span({"llm": {"token_count": "lots"}}), ["tokens lots"]),
    (
        "message without role",
        make_span({"llm": {"input_messages": [{"message": {"content": "hi"}}]}}),
        ["(no role)", "hi"],
    ),
    (
        "messages as index dict",
        make_span(
            {
                "llm": {
                    "input_messages": {
                        "1": {"message": {"role": "user", "content": "second"}},
                        "0": {"message": {"role": "system", "content": "first"}},
                    }
                }
            }
        ),
        ["#0 system", "#1 user"],
    ),
    ("messages not a list", make_span({"llm": {"output_messages": 42}}), ["output messages", "42"]),
    (
        "message is a string",
        make_span({"llm": {"input_messages": ["bare string"]}}),
        ["(no role)", "bare string"],
    ),
    (
        "tool_calls string",
        make_span(
            {"llm": {"input_messages": [{"message": {"role": "assistant", "tool_calls": "oops"}}]}}
        ),
        ["tool_calls: oops"],
    ),
    (
        "tool call without function",
        make_span(
            {
                "llm": {
                    "input_messages": [
                        {
                            "message": {
                                "role": "assistant",
                                "tool_calls": [{"tool_call": {"id": "x"}}],
                            }
                        }
                    ]
                }
            }
        ),
        ["(unnamed call)", "id x"],
    ),
    (
        "role is a number",
        make_span({"llm": {"input_messages": [{"message": {"role": 7, "content": "c"}}]}}),
        ["#0 7"],
    ),
    (
        "contents not a list",
        make_span({"llm": {"input_messages": [{"message": {"role": "user", "contents": "flat"}}]}}),
        ["contents: flat"],
    ),
    ("events string", make_span(events="bad events"), ["bad events"]),  # type: ignore[arg-type]
    (
        "events odd items",
        make_span(events=[1, None, {"name": 5, "attributes": "x"}]),
        ["#0: 1", "#1: null", "#2 5", "attributes: x"],
    ),
    (
        "exception attributes string",
        make_span(events=[{"name": "exception", "attributes": "boom"}]),
        ["exception", "attributes: boom"],
    ),
    (
        "attributes not a dict",
        make_span(["not", "a", "dict"]),
        ['attributes: ["not", "a", "dict"]'],
    ),
    (
        "fields of wrong type",
        make_span(
            name=None,
            span_kind=5,
            status_code=None,
            start_time="garbage",
            end_time=5,
            span_id=None,
            trace_id=7,
        ),
        ["null", "garbage"],
    ),  # type: ignore[arg-type]
    ("tools not a list", make_span({"llm": {"tools": {"x": 1}}}), ['"x": 1']),
    (
        "vector is text",
        make_span({"embedding": {"embeddings": [{"embedding": {"vector": "abc"}}]}}),
        ["abc"],
    ),
    ("metadata broken json", make_span({"metadata": "not json {"}), ["not json {"]),
    ("tags string", make_span({"tag": {"tags": "one-tag"}}), ["tags one-tag"]),
    ("variables list", make_span({"llm": {"prompt_template": {"variables": [1, 2]}}}), ["1,", "2"]),
    ("input plain string", make_span({"input": "just text"}), ["just text"]),
    ("status message number", make_span(status_code="ERROR", status_message=123), ["123"]),  # type: ignore[arg-type]
    (
        "score text",
        make_span({"retrieval": {"documents": [{"document": {"score": "high", "content": 5}}]}}),
        ["score high", "5"],
    ),
    (
        "document bare string",
        make_span({"retrieval": {"documents": ["just content"]}}),
        ["#0", "just content"],
    ),
    ("cost text", make_span({"llm": {"cost": {"total": "free"}}}), ["cost free"]),
    ("gen_ai scalar", make_span({"gen_ai": "weird"}), ["gen_ai: weird"]),
    (
        "gen_ai messages not json",
        make_span({"gen_ai": {"input": {"messages": "hello"}}}),
        ["hello"],
    ),
    ("non-string keys", make_span({1: "one", None: {2: "two"}}), ["1: one", "null.2: two"]),
    ("bytes value", make_span({"blob": b"\x00\x01\x02"}), ["blob: <3 bytes>"]),
    (
        "nan and inf",
        make_span({"llm": {"token_count": {"total": float("nan")}}, "x": float("inf")}),
        ["NaN total", "x: Infinity"],
    ),
]


@pytest.mark.parametrize(("label", "span", "visible"), WRONG_TYPES, ids=[w[0] for w in WRONG_TYPES])
def test_wrong_types_never_crash(label: str, span: Span, visible: list[str]) -> None:
    out = plain(render_span(span, RenderOptions(show_raw=True, selected_document=0)), width=200)
    assert NOT_RENDERED not in out
    for expected in visible:
        assert expected in out, expected
    full = span_full_text(span)
    assert NOT_RENDERED not in full
    span_summary(span)
    assert _document_count(span.attributes) >= 0


def test_summary() -> None:
    summary = span_summary(llm_span())
    assert summary == {
        "kind": "LLM",
        "model": "gpt-4o",
        "provider": "openai",
        "prompt_tokens": 1234,
        "completion_tokens": 56,
        "total_tokens": 1290,
        "cost": 0.00123,
        "latency_ms": pytest.approx(22.808),
        "error": None,
        "documents": 0,
    }
    assert span_summary(retriever_span())["documents"] == 3
    odd = span_summary(make_span({"llm": {"token_count": {"prompt": "abc", "completion": 2.0}}}))
    assert odd["prompt_tokens"] is None and odd["completion_tokens"] == 2
    exc = make_span(
        events=[{"name": "exception", "attributes": {"exception": {"message": "nested\nshape"}}}]
    )
    assert span_summary(exc)["error"] == "nested"


# --------------------------------------------------------------------------------- hostile

PAYLOADS = [
    "[/x]",
    "[bold",
    "[@click=app.quit]x[/]",
    "[link=https://evil]y[/link]",
    "\x1b]0;pwned\x07",
    "\x1b[2J",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x9b31m",
    "\u202e",
    "\x00",
    "\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\",
    "\ud800",
    ":smile: :warning:",
    "\r\x08\x0b\x0c\x7f\x85",
]


def hostile_span(p: str) -> Span:
    """The payload in every field the renderer reads."""
    message = {
        "message": {
            "role": p,
            "name": p,
            "content": p,
            "tool_call_id": p,
            "contents": [
                {"message_content": {"type": p, "text": p}},
                {"message_content": {"type": "image", "image": {"image": {"url": p}}}},
            ],
            "tool_calls": [{"tool_call": {"id": p, "function": {"name": p, "arguments": p}}}],
            p: p,
        }
    }
    json_args = {
        "message": {
            "role": "assistant",
            "tool_calls": [
                {"tool_call": {"function": {"name": "f", "arguments": json.dumps({p: p})}}}
            ],
        }
    }
    document = {"document": {"id": p, "score": p, "content": p, "metadata": {p: p}, p: p}}
    return make_span(
        {
            "openinference": {"span": {"kind": p}},
            "llm": {
                "model_name": p,
                "provider": p,
                "input_messages": [message, json_args],
                "output_messages": [message],
                "token_count": {"prompt": p, "completion": 3, "total": p, "prompt_details": {p: p}},
                "cost": {"total": p, p: p},
                "invocation_parameters": json.dumps({p: p}),
                "tools": [{"tool": {"json_schema": json.dumps({"name": p, "description": p})}}, p],
                "prompt_template": {"template": p, "variables": {p: p}, "version": p},
                "prompts": [p],
            },
            "retrieval": {"documents": [document, p]},
            "reranker": {"query": p, "input_documents": [document], "output_documents": [document]},
            "embedding": {
                "model_name": p,
                "embeddings": [{"embedding": {"text": p, "vector": [p]}}],
            },
            "tool": {"name": p, "description": p, "parameters": json.dumps({p: p})},
            "input": {"value": p, "mime_type": p},
            "output": {"value": json.dumps({p: [p]}), "mime_type": "application/json"},
            "session": {"id": p},
            "user": {"id": p},
            "metadata": {p: p},
            "tag": {"tags": [p, p]},
            "gen_ai": {
                "input": {
                    "messages": json.dumps(
                        [
                            {
                                "role": p,
                                "parts": [
                                    {"type": "text", "content": p},
                                    {"type": "tool_call", "name": p, "arguments": {p: p}},
                                    {"type": p, p: p},
                                ],
                            }
                        ]
                    )
                },
                p: p,
            },
            p: {p: p},
            "plain": p,
        },
        name=p,
        span_kind=p,
        status_code="ERROR",
        status_message=p + "\n" + p,
        span_id=p,
        trace_id=p,
        parent_id=p,
        session_id=p,
        project=p,
        start_time=p,
        events=[
            {
                "name": "exception",
                "timestamp": p,
                "attributes": {
                    "exception.type": p,
                    "exception.message": p,
                    "exception.stacktrace": p + "\n" + p,
                    p: p,
                },
            },
            {"name": p, "timestamp": p, "attributes": {p: p}},
        ],
    )


@pytest.mark.parametrize("payload", PAYLOADS, ids=[repr(p) for p in PAYLOADS])
def test_hostile_strings_in_every_field(payload: str) -> None:
    span = hostile_span(payload)
    options = RenderOptions(show_raw=True, selected_document=0)
    group = render_span(span, options)
    assert_no_actions_or_links(group)
    assert_terminal_safe(ansi(group))
    text = plain(group, width=200)
    assert_terminal_safe(text)
    assert NOT_RENDERED not in text
    shown = sanitize(payload)
    assert shown in text
    if payload.startswith("[@click"):
        assert "[@click=app.quit]x[/]" in text
    if payload.startswith("[link"):
        assert "[link=https://evil]y[/link]" in text
    if payload.startswith(":smile:"):
        assert ":smile: :warning:" in text  # no emoji substitution
    full = span_full_text(span)
    assert shown in full and NOT_RENDERED not in full
    assert_terminal_safe(full)
    summary = span_summary(span)
    for value in summary.values():
        if isinstance(value, str):
            assert_terminal_safe(value)
    assert _document_count(span.attributes) == 2


async def test_hostile_rendering_in_a_textual_app() -> None:
    """Mounted in a real Static: no MarkupError, no action, the app keeps running."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    payload = "[@click=app.quit]" + "x" * 60 + "[/] [bold \x1b]0;t\x07 [/x]"
    span = hostile_span(payload)
    span.span_kind = "LLM"
    span.name = payload  # the header's first line: " LLM  [@click=app.quit]xxxx…"

    class Viewer(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(render_span(span, RenderOptions(show_raw=True)), id="pane")

    app = Viewer()
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        # Right on the x's: were the name parsed as markup, this click would quit the app.
        await pilot.click("#pane", offset=(40, 0))
        for row in range(1, 60, 3):
            await pilot.click("#pane", offset=(12, row))
        await pilot.pause()
        assert app.is_running
        assert app.return_value is None


def test_link_and_meta_styles_never_come_from_data() -> None:
    span = hostile_span("[link=https://evil]y[/link][@click=app.bell]z[/]")
    assert_no_actions_or_links(render_span(span, RenderOptions(show_raw=True, selected_document=0)))
    for _, body in span_sections(span):
        assert_no_actions_or_links(body)


# ------------------------------------------------------------------------- size and depth

FIVE_MB = 5 * 1024 * 1024


def _rendered(span: Span, options: RenderOptions | None = None) -> str:
    """The span as the terminal gets it; bounded in size whatever the input (how fast: see
    bench/render_bench.py, which renders these same spans)."""
    group = render_span(span, options or RenderOptions(show_raw=True, selected_document=0))
    out = ansi(group)
    assert len(out) < 2_000_000
    return out


def test_five_mb_in_every_field() -> None:
    span = hostile_span("A" * FIVE_MB)
    out = _rendered(span)
    assert NOT_RENDERED not in out
    assert "chars — press o to see all]" in out


def test_five_mb_multiline_and_json_values() -> None:
    text = "line of text\n" * (FIVE_MB // 13)
    big_json = json.dumps({"rows": ["x" * 100] * (FIVE_MB // 100)})
    span = make_span(
        {
            "input": {"value": text},
            "output": {"value": big_json, "mime_type": "application/json"},
            "llm": {"input_messages": [{"message": {"role": "user", "content": text}}]},
        }
    )
    out = _rendered(span)
    plain_out = _SGR.sub("", out)
    assert '"rows": [' in plain_out
    assert "line of text\nline of text" in plain_out
    assert "chars — press o to see all]" in plain_out  # lines are not counted in megabytes


@pytest.mark.parametrize(
    "deep",
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * FIVE_MB,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
    ],
    ids=["balanced-200k", "unbalanced-5MB", "objects-100k"],
)
def test_deeply_nested_json_strings_everywhere(deep: str) -> None:
    span = hostile_span(deep)
    out = _rendered(span)
    assert NOT_RENDERED not in out


def test_deeply_nested_objects_everywhere() -> None:
    deep: dict[str, Any] = {}
    cur = deep
    for _ in range(50_000):
        cur["k"] = {}
        cur = cur["k"]
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    span = make_span(
        {
            "metadata": deep,
            "llm": {
                "input_messages": [{"message": {"role": "user", "content": deep}}],
                "invocation_parameters": deep,
            },
            "retrieval": {"documents": [{"document": {"content": deep, "metadata": cyclic}}]},
            "input": {"value": deep},
            "other": deep,
            "loop": cyclic,
        }
    )
    out = _rendered(span)
    assert NOT_RENDERED not in out
    full = span_full_text(span)
    assert NOT_RENDERED not in full


# --------------------------------------------------------------------- reference traces


REFERENCE = Path(__file__).resolve().parent / "data" / "readers" / "reference"


def _legacy_spans(project: str) -> list[Span]:
    """Two traces of a reference project (tests/data/readers/reference), as Phoenix's legacy
    span JSON holds them (nested attributes)."""
    path = REFERENCE / f"{project}.legacy_spans.jsonl"
    spans = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        attributes = record.get("attributes") or {}
        spans.append(
            Span(
                span_id=record["context"]["span_id"],
                trace_id=record["context"]["trace_id"],
                parent_id=record.get("parent_id"),
                name=record["name"],
                span_kind=record.get("span_kind") or "UNKNOWN",
                start_time=record.get("start_time"),
                end_time=record.get("end_time"),
                status_code=record.get("status_code") or "UNSET",
                status_message=record.get("status_message") or "",
                attributes=attributes,
                events=record.get("events") or [],
                session_id=(attributes.get("session") or {}).get("id"),
            )
        )
    return spans


def test_reference_llm_span_with_tool_calls() -> None:
    spans = _legacy_spans("langchain-agent")
    span = next(
        s
        for s in spans
        if s.span_kind == "LLM"
        and any("tool_calls" in m["message"] for m in s.attributes["llm"]["input_messages"])
    )
    assert span.attributes["llm"]["token_count"]["prompt"] == 390.0  # a float in this export
    out = plain(render_span(span))
    for expected in (
        "#0 system",
        "You are Acme's order assistant. Use tools when needed.",
        "#1 user",
        "How do I return an opened gift card?",
        "#2 assistant · name order_support_agent",
        "→ search_knowledge_base  id call_search_knowledge_base_1",
        '"query": "return gift card"',
        "#3 tool · name search_knowledge_base · tool_call_id call_search_knowledge_base_1",
        "[kb/kb-018.md] You can request deletion of your account data",
        "output messages  (1 message)",
        "Gift cards can't be returned, sorry.",
        "390 prompt · 10 completion · 400 total",
        "provider scriptedtoolchatmodel",
        "session sess-agent-03",
        '"_type": "fake-messages-list-chat-model"',
    ):
        assert expected in out, expected
    assert span_summary(span)["total_tokens"] == 400


def test_reference_retriever_span() -> None:
    spans = _legacy_spans("langchain-rag")
    span = next(s for s in spans if s.span_kind == "RETRIEVER" and s.status_code == "OK")
    documents = span.attributes["retrieval"]["documents"]
    assert _document_count(span.attributes) == len(documents) > 0
    out = plain(render_span(span, RenderOptions(selected_document=0)), width=160)
    assert f"retrieval documents  ({len(documents)} documents)" in out
    for index, doc in enumerate(documents):
        assert f"#{index}" in out
        assert doc["document"]["content"][:60] in out
        assert doc["document"]["metadata"]["source"] in out
    assert "selected document" in out


def test_reference_error_tool_span() -> None:
    spans = _legacy_spans("langchain-agent")
    span = next(s for s in spans if s.span_kind == "TOOL" and s.status_code == "ERROR")
    out = plain(render_span(span))
    error = out.split("error ─")[1]
    assert "✖ ERROR" in out
    assert "KeyError(\"order 'B0000' not found in orders database\")" in error
    assert "exception  2026-11-26 19:56:47.816 UTC" in error
    assert "\"order 'B0000' not found in orders database\"" in error
    assert "Traceback (most recent call last):" in error
    assert "KeyError: \"order 'B0000' not found in orders database\"" in error
    assert "name get_order_status" in out
    assert "Look up the fulfilment status of an order" in out
    assert span_summary(span)["error"] == "KeyError(\"order 'B0000' not found in orders database\")"


def test_reference_prompt_span() -> None:
    spans = _legacy_spans("langchain-rag")
    span = next(
        s
        for s in spans
        if s.span_kind == "PROMPT" and "variables" in s.attributes["llm"]["prompt_template"]
    )
    template = span.attributes["llm"]["prompt_template"]
    out = plain(render_span(span), width=160)
    assert "prompt template ─" in out
    for line in template["template"].splitlines():
        assert line.strip() in out
    lines = [line.strip() for line in out.splitlines()]
    for name, value in template["variables"].items():
        assert name in lines
        assert value.splitlines()[0][:80] in out


def test_every_reference_span_renders_completely() -> None:
    spans = _legacy_spans("langchain-agent") + _legacy_spans("langchain-rag")
    assert len(spans) == 38
    seen: set[tuple[str, str, str]] = set()
    for span in spans:  # (how fast: bench/render_bench.py renders these same spans)
        group = render_span(span)
        assert_no_actions_or_links(group)
        assert NOT_RENDERED not in plain(group)
        shape = (span.span_kind, span.status_code, span.name)
        if shape not in seen:  # one span of each shape: the raw view, and nothing hidden
            seen.add(shape)
            raw = plain(render_span(span, RenderOptions(show_raw=True, selected_document=0)))
            assert NOT_RENDERED not in raw and "raw ─" in raw
            assert_everything_shown(span)
    assert len(seen) == 26


HANDWRITTEN = Path(__file__).resolve().parent / "data" / "readers" / "handwritten"


def test_flat_rest_attributes_nested_or_not() -> None:
    """Phoenix REST spans keep attributes flat (``llm.input_messages.2.message.tool_calls.0…``,
    prompt cache token counts): read nested, and read as they are (a reader that did not nest)."""
    records = json.loads((HANDWRITTEN / "phoenix_named_lists.json").read_text())["happy_path"]
    llm = next(r for r in records if "llm.token_count.prompt_details.cache_read" in r["attributes"])
    flat = llm["attributes"]
    span = make_span(nest(flat), name=llm["name"], span_kind=llm["span_kind"])
    out = plain(render_span(span), width=160)
    assert "prompt cache read 1,024" in out
    assert "model acme-large" in out
    assert "input messages  (7 messages)" in out
    assert "→ list_tickets  id call-a" in out and "→ whoami  id call-b" in out
    assert "#4 tool · tool_call_id call-b" in out
    assert NOT_RENDERED not in out
    # left flat: single keys are still found, the rest is listed
    flat_out = plain(render_span(make_span(flat, name=llm["name"], span_kind="LLM")), width=160)
    assert "model acme-large" in flat_out
    assert "llm.token_count.prompt_details.cache_read: 1,024" in flat_out
    assert NOT_RENDERED not in flat_out
    # a tool's JSON schema, flattened too, comes back whole in the raw view
    tool = next(r for r in records if r["span_kind"] == "TOOL")
    span = make_span(nest(tool["attributes"]), name=tool["name"], span_kind="TOOL")
    raw = plain(render_span(span, RenderOptions(show_raw=True)))
    assert NOT_RENDERED not in raw
    assert '"additionalProperties": false' in raw


def test_openinference_and_genai_attribute_maps() -> None:
    oi = nest(json.loads((HANDWRITTEN / "openinference_tool_calls_map.json").read_text()))
    out = plain(render_span(make_span(oi, span_kind="LLM")))
    for expected in (
        "How much is 10 EUR in USD?",
        "→ convert_currency  id call-fx-1",
        '"from": "EUR"',
        "tool_call_id call-fx-1",
        "64 prompt · 21 completion · 85 total",
        "model acme-large-2025-01",
    ):
        assert expected in out, expected
    genai = nest(json.loads((HANDWRITTEN / "genai_attribute_map.json").read_text()))
    out = plain(render_span(make_span(genai, span_kind="LLM")))
    for expected in (
        "gen_ai ─",
        "How much is 10 EUR in USD?",
        "→ convert_currency  id call-fx-1",
        "← result  id call-fx-1",
        "10.85 USD",
        "10 EUR is 10.85 USD at today's rate.",
    ):
        assert expected in out, expected
    assert NOT_RENDERED not in out
