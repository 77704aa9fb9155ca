"""The span view reads like text, not like escaped JSON: strings inside JSON values keep their
line breaks and quotes, Python reprs (LlamaIndex) have their escapes read, embedding vectors are
summarised, and a raw request that repeats the messages shown above is collapsed to one line
saying so. The whole-span text (`o`) still holds everything."""

from __future__ import annotations

import io
import json

from rich.console import Console

from annotator.app import readable
from annotator.app.span_render import RenderOptions, render_span, span_full_text
from annotator.model import Span
from tests.llamaindex_trace import ANSWER, llamaindex_spans, vector


def _span(attributes: dict, kind: str = "LLM") -> Span:
    return Span("s1", "t1", None, "step", kind, "2026-05-01T10:00:00.000000+00:00",
                "2026-05-01T10:00:01.000000+00:00", "OK", attributes=attributes)  # fmt: skip


def plain(span: Span, width: int = 100, options: RenderOptions | None = None) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_span(span, options or RenderOptions()))
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def section(text: str, title: str) -> str:
    """The lines under one section's rule, up to the next rule."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{title} ──"))
    end = next((i for i in range(start + 1, len(lines)) if "──────" in lines[i]), len(lines))
    return "\n".join(lines[start + 1 : end])


LLAMA = {span.span_id: span for span in llamaindex_spans()}


def test_strings_in_json_values_keep_their_line_breaks_and_quotes() -> None:
    history = [
        {"role": "user", "content": 'Summarise "remote.md" for me.\nKeep it short.'},
        {"role": "assistant", "content": "Up to two days a week.\nC:\\share is the drive."},
    ]
    shown = section(plain(_span({"input": {"value": json.dumps({"history": history})}}, "CHAIN")),
                    "input")  # fmt: skip
    assert shown == "\n".join([
        "{",
        '  "history": [',
        "    {",
        '      "role": "user",',
        '      "content": "Summarise "remote.md" for me.',
        '        Keep it short."',
        "    },",
        "    {",
        '      "role": "assistant",',
        '      "content": "Up to two days a week.',
        '        C:\\share is the drive."',
        "    }",
        "  ]",
        "}",
    ])  # fmt: skip


def test_llamaindex_reprs_have_their_escapes_read() -> None:
    shown = plain(LLAMA["li-chat"])
    output = section(shown, "output")
    assert "\\'" not in output and "\\n" not in output
    assert output.splitlines()[2:4] == [
        'Fridays are "focus days".',
        "See 'handbook/remote.md' and agree the days with your manager.')]),",
    ]
    # The same repr inside JSON (input.value of a chat without messages) is read too.
    request = json.loads(LLAMA["li-chat"].attributes["input"]["value"])
    alone = _span({"input": {"value": json.dumps(request), "mime_type": "application/json"}})
    text = section(plain(alone, width=200), "input")
    assert "\\\\'" not in text and "\\'" not in text and "\\n" not in text
    assert "  Always answer the query using the provided context information" in text


def test_repr_reading_leaves_other_text_alone() -> None:
    assert readable.unescape_repr("Use '\\n' to split lines.") == "Use '\\n' to split lines."
    assert readable.unescape_repr('{"a": "b\\nc"}') == '{"a": "b\\nc"}'  # JSON is read as JSON
    escape = "Name(text='\\x1b[2J', other='a\\'b')"
    assert readable.unescape_repr(escape) == "Name(text='\\x1b[2J', other='a'b')"  # \x1b stays


def test_embedding_vectors_are_summarised_not_one_float_per_line() -> None:
    shown = plain(LLAMA["li-embed"])
    assert (
        section(shown, "output") == "[1,536 floats: 0.03645, 0.04636, 0.04999, 0.04686 … -0.006905]"
    )
    assert "#0 [1,536 floats: 0.03645, 0.04636, 0.04999, 0.04686 … -0.006905]" in section(
        shown, "embedding"
    )
    short = section(plain(_span({"output": {"value": json.dumps({"v": vector(2, 8)})}})), "output")
    assert short.splitlines()[1] == (
        '  "v": [0.049901, 0.045389, 0.034734, 0.019377, 0.001398, -0.01677, -0.032669, -0.044146]'
    )
    full = span_full_text(LLAMA["li-embed"])
    assert len(full.splitlines()) < 40  # the vector is one line in the whole-span text too
    assert json.dumps(vector(1))[1:-1] in full  # and written out whole


def test_a_request_repeating_the_messages_is_collapsed_in_one_line() -> None:
    shown = plain(LLAMA["li-chat"])
    assert section(shown, "input") == '{\n  "messages": … the 2 input messages shown above\n}'
    langchain = _span({
        "llm": {
            "input_messages": [
                {"message": {"role": "user", "content": "Where is my order B0000?"}}
            ],
            "output_messages": [{"message": {"role": "assistant", "content": "It ships today."}}],
            "invocation_parameters": json.dumps({"model": "gpt-4o", "temperature": 0,
                "messages": [{"role": "user", "content": "Where is my order B0000?"}]}),
        },
        "input": {"value": json.dumps({"messages": [[{"lc": 1, "type": "constructor",
            "id": ["langchain", "schema", "messages", "HumanMessage"],
            "kwargs": {"content": "Where is my order B0000?", "type": "human"}}]]}),
            "mime_type": "application/json"},
        "output": {"value": "assistant: It ships today."},
    })  # fmt: skip
    shown = plain(langchain)
    assert section(shown, "input") == '{\n  "messages": … the input message shown above\n}'
    assert section(shown, "output") == "… the output message shown above"
    assert section(shown, "invocation parameters") == "\n".join([
        "{",
        '  "model": "gpt-4o",',
        '  "temperature": 0,',
        '  "messages": … the input message shown above',
        "}",
    ])  # fmt: skip
    # The whole-span text keeps the request as it was.
    assert '"Where is my order B0000?"' in span_full_text(langchain).split("── input")[1]


def test_values_with_more_than_the_messages_are_not_collapsed() -> None:
    span = _span({
        "llm": {"input_messages": [{"message": {"role": "user", "content": "Where is B0000?"}}]},
        "input": {"value": json.dumps({"messages": [
            {"role": "user", "content": "Where is B0000?"},
            {"role": "user", "content": "A message the pane never showed."},
        ]})},
    })  # fmt: skip
    assert "A message the pane never showed." in section(plain(span), "input")


def test_answer_output_value_equal_to_the_message_is_collapsed_only_when_messages_shown() -> None:
    assert section(plain(LLAMA["li-predict"]), "output") == "\n".join(ANSWER.splitlines())


def test_hostile_content_stays_literal_and_bounded_in_laid_out_json() -> None:
    evil = "[bold]x[/] \x1b]52;c;ZXZpbA==\x07 \u202eevil [@click=app.quit]q[/]"
    huge = "B" * 3_000_000
    nested: dict = {"v": evil}
    for _ in range(300):
        nested = {"d": nested}
    span = _span({
        "input": {"value": json.dumps({"text": evil, "huge": huge, "deep": nested})},
        "output": {"value": f"Name(text={evil!r}, more='a\\nb')"},
        "llm": {"invocation_parameters": {"p": huge, "nested": nested}},
    }, "CHAIN")  # fmt: skip
    shown = plain(span)  # (how fast: bench/render_bench.py)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "[bold]x[/] \\x1b]52;c;ZXZpbA==\\x07 \\u202eevil [@click=app.quit]q[/]" in shown
    assert "press o to see all]" in shown
    assert len(shown) < 200_000
