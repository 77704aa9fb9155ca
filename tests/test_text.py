"""annotator.text: sanitising, clipping and formatting untrusted values."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.text import (
    Clip,
    clip,
    clip_lines,
    dump_json,
    first_line,
    format_number,
    json_preview,
    looks_like_json,
    pretty_json,
    sanitize,
    to_display,
)
from tests.properties import examples

# ------------------------------------------------------------------------------- sanitize


def _bad(ch: str) -> bool:
    """Characters sanitize must never let through."""
    code = ord(ch)
    if ch in "\n\t":
        return False
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return True
    category = unicodedata.category(ch)
    if category in ("Cc", "Cs", "Zl", "Zp"):
        return True
    return category == "Cf" and ch not in "\u200c\u200d"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
        ("\x9b31m", "\\x9b31m"),
        ("a\u202eb", "a\\u202eb"),
        ("\u2066x\u2069", "\\u2066x\\u2069"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("tag \U000e0041 smuggling", "tag \\U000e0041 smuggling"),
        ("line\u2028sep", "line\\u2028sep"),
        ("bom\ufeff", "bom\\ufeff"),
        ("cr\rlf", "cr\\x0dlf"),
        ("windows\r\nline", "windows\nline"),
    ],
)
def test_sanitize_escapes(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


@pytest.mark.parametrize(
    "clean",
    [
        "",
        "plain ascii",
        "multi\nline\twith tabs",
        "[bold]markup[/] stays [@click=app.quit]x[/]",
        "héllo wörld 日本語 emoji 👨\u200d👩\u200d👧 ZWNJ می\u200cخواهم",
        "\u00a0non-breaking space and 🏳️ variation selector",
    ],
)
def test_sanitize_keeps_clean_text_identical(clean: str) -> None:
    assert sanitize(clean) is clean  # nothing to escape: the same object, not even a copy


def test_sanitize_fast_path_returns_same_object() -> None:
    text = "x" * 10_000 + "\n" + "y" * 10
    assert sanitize(text) is text
    unicode = "日本語\n" * 1000
    assert sanitize(unicode) is unicode


def test_sanitize_non_string_is_stringified() -> None:
    assert sanitize(12) == "12"  # type: ignore[arg-type]


def test_sanitize_covers_every_format_and_control_character() -> None:
    """Exhaustive over the BMP and the tag block: nothing unsafe passes, per unicodedata."""
    codes = [*range(0x10000), *range(0xE0000, 0xE0080), *range(0x1D170, 0x1D180)]
    for code in codes:
        ch = chr(code)
        if _bad(ch):
            assert sanitize(ch) != ch, hex(code)


def test_sanitize_on_5_mb() -> None:  # its speed: bench/render_bench.py
    clean = "lorem ipsum dolor\n" * 300_000
    dirty = clean + "\x1b"
    assert sanitize(clean) is clean
    assert sanitize(dirty) == clean + "\\x1b"


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200))
def test_sanitize_property(text: str) -> None:
    out = sanitize(text)
    assert not any(_bad(ch) for ch in out)
    assert "\x1b" not in out and "\x9b" not in out and "\x7f" not in out
    assert sanitize(out) == out  # idempotent
    out.encode("utf-8")  # no lone surrogate survives


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200))
def test_sanitize_printable_ascii_unchanged(text: str) -> None:
    assert sanitize(text) == text


@settings(max_examples=examples(200), deadline=None)
@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=200))
def test_sanitize_printable_unicode_unchanged(text: str) -> None:
    assert sanitize(text) == text


# ---------------------------------------------------------------------------------- clip


def test_clip() -> None:
    assert clip("hello", 10) == ("hello", 0)
    assert clip("hello", 3) == ("hel", 2)
    assert clip("hello", 0) == ("", 5)
    assert clip("hello", -1) == ("", 5)


def test_clip_lines_head() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    result = clip_lines(text, 10, 10_000)
    assert result.text.split("\n") == [f"line {i}" for i in range(10)]
    assert result.cut_lines == 90
    assert result.cut_chars == len(text) - len(result.text)
    assert result.clipped and result.exact


def test_clip_lines_chars_limit_single_line() -> None:
    result = clip_lines("x" * 5_000_000, 60, 4000)
    assert result == Clip("x" * 4000, 4_996_000, 0)


def test_clip_lines_complete() -> None:
    assert clip_lines("a\nb", 5, 100) == Clip("a\nb")
    assert not clip_lines("a\nb", 5, 100).clipped
    assert clip_lines("a\nb\nc", None, 100) == Clip("a\nb\nc")
    assert clip_lines("", 1, 1) == Clip("")


def test_clip_lines_tail_keeps_the_bottom() -> None:
    text = "\n".join(f"frame {i}" for i in range(100))
    result = clip_lines(text, 5, 10_000, tail=True)
    assert result.text.split("\n") == [f"frame {i}" for i in range(95, 100)]
    assert result.cut_lines == 95
    assert result.cut_chars == len(text) - len(result.text)
    tail_chars = clip_lines("abcdef", None, 2, tail=True)
    assert tail_chars == Clip("ef", 4, 0)


def test_first_line() -> None:
    assert first_line("\n\n  Error: boom  \nmore") == "Error: boom"
    assert first_line("x" * 1000, 10) == "x" * 10
    assert first_line("") == ""


# ------------------------------------------------------------------------------ display


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("text", "text"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (420.0, "420"),
        (0.1 + 0.2, "0.3"),
        (0.8, "0.8"),
        (1e-7, "1e-07"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        ({"a": 1, "b": [1, "x"]}, '{"a": 1, "b": [1, "x"]}'),
        ([1, None], "[1, null]"),
        ({"é": "日本"}, '{"é": "日本"}'),
        (b"\x00\x01", "<2 bytes>"),
    ],
)
def test_to_display(value: object, shown: str) -> None:
    assert to_display(value) == shown


def test_to_display_survives_cycles_depth_and_odd_objects() -> None:
    cyclic: dict[str, object] = {}
    cyclic["self"] = cyclic
    assert to_display(cyclic) == '{"self": {…}}'
    deep: dict[str, object] = {}
    cur = deep
    for _ in range(5000):
        cur["k"] = {}
        cur = cur["k"]  # type: ignore[assignment]
    assert to_display(deep).startswith('{"k": {"k"')

    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert to_display(Hostile()) == "<Hostile>"
    assert to_display({"set": {1}}) == '{"set": [1]}'


def test_format_number() -> None:
    assert format_number(3.0) == "3"
    assert format_number(2.5) == "2.5"
    assert format_number(1 / 3) == "0.333333333333"
    assert format_number(7) == "7"


# --------------------------------------------------------------------------------- JSON


def test_looks_like_json() -> None:
    assert looks_like_json('  {"a": 1}')
    assert looks_like_json("\n[1]")
    assert not looks_like_json("hello")
    assert not looks_like_json("")
    assert looks_like_json(" " * 100 + "{")


def test_pretty_json() -> None:
    assert (
        pretty_json('{"a": [1, 2], "b": "é"}') == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "é"\n}'
    )
    assert pretty_json({"x": None}) == '{\n  "x": null\n}'
    assert pretty_json([1]) == "[\n  1\n]"
    assert pretty_json("not json") is None
    assert pretty_json("[unterminated") is None
    assert pretty_json('"a string"') is None
    assert pretty_json("42") is None
    assert pretty_json(42) is None
    assert pretty_json("[" * 100_000 + "]" * 100_000) is None  # too deep to parse: no crash


def test_pretty_json_refuses_huge_input_without_parsing_it(monkeypatch) -> None:
    import annotator.text

    def parse(text: str) -> object:
        raise AssertionError(f"parsed {len(text):,} characters")

    huge = json.dumps({"k": "v" * 10_000_000})
    monkeypatch.setattr(annotator.text, "_parse", parse)
    assert pretty_json(huge, limit=1_000_000) is None


def test_json_preview_parsed_is_exact() -> None:
    value = json.dumps({"messages": [{"role": "user", "content": "x" * 50} for _ in range(200)]})
    result = json_preview(value, 1000, 20)
    assert result is not None and result.exact
    full = pretty_json(value)
    assert full is not None and full.startswith(result.text)
    assert result.cut_chars == len(full) - len(result.text)
    assert result.cut_lines == full.count("\n", len(result.text))
    assert json_preview("plain", 100, 10) is None
    assert json_preview(12, 100, 10) is None


def test_json_preview_huge_string_is_lexical_and_bounded(monkeypatch) -> None:
    import types

    import annotator.text

    huge = json.dumps({"messages": [{"role": "user", "content": "x" * 100} for _ in range(60_000)]})
    assert len(huge) > 5_000_000

    def loads(text: str) -> object:
        raise AssertionError(f"parsed {len(text):,} characters")

    monkeypatch.setattr(annotator.text, "json", types.SimpleNamespace(loads=loads))
    result = json_preview(huge, 4000, 60)  # re-indented from its start, never parsed
    assert result is not None
    assert result.text.startswith('{\n  "messages": [\n    {\n      "role": "user",')
    assert len(result.text) <= 4000 and result.text.count("\n") < 60
    assert result.cut_chars > 5_000_000 - 4000


def test_json_preview_deep_nesting() -> None:
    for deep in ("[" * 100_000 + "]" * 100_000, "[" * 1_000_000, '{"a":' * 50_000):
        result = json_preview(deep, 500, 20)
        assert result is not None and result.clipped
        assert len(result.text) <= 500


def test_dump_json_budget_and_cycles() -> None:
    big = {f"k{i}": "v" * 100 for i in range(100_000)}
    result = dump_json(big, 2, 5000)
    assert not result.exact and result.text.endswith("…")
    assert len(result.text) <= 5001
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert dump_json(cyclic, None, 1000).text == "[[…]]"
    small = dump_json({"a": [1, 2]}, None, 1000)
    assert small == Clip('{"a": [1, 2]}')
    giant_string = dump_json({"s": "x" * 5_000_000, "t": 1}, None, 100, exact_limit=1000)
    assert not giant_string.exact and len(giant_string.text) <= 101
