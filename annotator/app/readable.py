"""Structured values laid out for reading, not for parsing.

JSON pretty-printed by ``json.dumps`` keeps every string escaped: a chat history shows ``\\n``
instead of line breaks, and a Python ``repr`` stored as text (LlamaIndex writes them into
``input.value`` / ``output.value``) shows ``\\'handbook/remote.md\\'``. :func:`layout` writes
a parsed value the way JSON looks (braces, quoted keys, commas) but with each string as it
reads: real line breaks (continued at the indent of its key), real quotes and backslashes. Lists
of numbers stay on one line; long ones (embeddings) are summarised by their size and a few
values. :func:`unescape_repr` reads the escapes of the string literals in a Python repr.

The result is a list of pieces with a kind (key, string, number, …) so the caller styles them
without parsing anything back. Nothing is sanitised here (callers sanitise each piece). Work is
bounded: the walk stops after ``measure`` characters, strings are cut before they are read, and
nesting deeper than ``max_depth`` is shown as ``…``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from annotator.text import format_number

__all__ = ["Laid", "layout", "looks_like_repr", "unescape_repr", "vector_summary"]

KEY, STRING, NUMBER, LITERAL, PUNCT, NOTE, SUMMARY = range(7)

# A Python repr as text: ``Name(field=…``, ``Name('…``, ``{'…``, ``['…``, ``('…``, ``("…``
# (``{"`` and ``["`` start JSON, which is read as JSON).
_REPR_START = re.compile(
    r"\s*(?:[A-Za-z_][\w.]*\((?:[A-Za-z_]\w*=|['\"<\[{])|[\[{(]\s*'|\(\s*\"|<[A-Za-z_][\w.]*: )"
)
# Literals (an unterminated one runs to the end of the text) and the text between them: each
# character is read once, whatever the input (no backtracking over runs of quotes).
_TOKEN = re.compile(r"""'(?:[^'\\]|\\.)*+'?|"(?:[^"\\]|\\.)*+"?|[^'"]++""", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)
_READ_ESCAPE = {"n": "\n", "t": "\t", "'": "'", '"': '"', "\\": "\\"}
#: Texts longer than this are not searched for repr literals (they are clipped anyway).
REPR_SCAN_LIMIT = 1_000_000


def looks_like_repr(text: str) -> bool:
    """A one-line Python repr (``ChatMessage(role=…, text='…\\n…')``) whose literals hold
    escapes: what :func:`unescape_repr` reads."""
    return (
        "\\" in text and _REPR_START.match(text) is not None and "\n" not in text[:REPR_SCAN_LIMIT]
    )


def unescape_repr(text: str) -> str:
    """``text`` with the escapes inside its string literals read (``\\n`` → a line break,
    ``\\'`` → ``'``, ``\\\\`` → ``\\``), when it looks like a Python repr; else unchanged.

    Other escapes (``\\x1b``, ``\\u202e``) stay as they are: they stand for characters that
    must not reach a terminal anyway. Only the first :data:`REPR_SCAN_LIMIT` characters are
    read; the rest is kept as it is."""
    if not looks_like_repr(text):
        return text
    head, rest = text[:REPR_SCAN_LIMIT], text[REPR_SCAN_LIMIT:]
    return "".join(_read_token(token) for token in _TOKEN.findall(head)) + rest


def _read_token(token: str) -> str:
    quote = token[0]
    if quote not in "'\"" or len(token) < 2 or token[-1] != quote or "\\" not in token:
        return token  # text between literals, an unterminated literal, or nothing to read
    body = _ESCAPE.sub(lambda m: _READ_ESCAPE.get(m.group(1), m.group()), token[1:-1])
    return quote + body + quote


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def vector_summary(vector: list[Any] | tuple[Any, ...], shown: int = 4) -> str:
    """``[1,536 floats: 0.0123, -0.0456, 0.0789, 0.1011 … -0.0012]``: the size and a few values
    (the first ``shown`` and the last)."""
    count = len(vector)
    floats = all(isinstance(v, float) for v in vector[:64])
    noun = "floats" if floats else "numbers"
    head = ", ".join(_short_number(v) for v in vector[:shown])
    tail = f" … {_short_number(vector[-1])}" if count > shown else ""
    return f"[{count:,} {noun}: {head}{tail}]"


def _short_number(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return f"{value:.4g}"
    return format_number(value) if _is_number(value) else str(value)


@dataclass
class Laid:
    """A laid-out value: ``pieces`` (text, kind) up to the clip, and what was left out.

    ``cut_chars`` / ``cut_lines`` count what is not shown; ``exact`` is False when the walk
    stopped before the end (then ``cut_chars`` is only a lower bound)."""

    pieces: list[tuple[str, int]] = field(default_factory=list)
    cut_chars: int = 0
    cut_lines: int = 0
    exact: bool = True

    @property
    def clipped(self) -> bool:
        return self.cut_chars > 0 or not self.exact

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)


class _Stop(Exception):
    pass


class _Writer:
    """Collects pieces up to the display clip, then only counts, up to ``measure``."""

    def __init__(self, max_chars: int, max_lines: int | None, measure: int) -> None:
        self.pieces: list[tuple[str, int]] = []
        self.max_chars = max_chars
        self.max_lines = max_lines
        self.measure = max(measure, max_chars)
        self.chars = 0  # characters written so far (shown or counted)
        self.lines = 0  # line breaks written so far
        self.shown = True
        self.cut_chars = 0
        self.cut_lines = 0

    def room(self) -> int:
        """How many characters of a string are worth reading now."""
        return max(0, self.measure - self.chars) + 1

    def write(self, text: str, kind: int) -> None:
        if not text:
            return
        if self.shown:
            text = self._show(text, kind)
            if not text:
                return
        # Past the clip: count only.
        self.cut_chars += len(text)
        self.cut_lines += text.count("\n")
        self.chars += len(text)
        if self.chars > self.measure:
            raise _Stop

    def _show(self, text: str, kind: int) -> str:
        """Append what fits of ``text``; return the rest (empty when all of it fits)."""
        keep = len(text)
        if self.chars + keep > self.max_chars:
            keep = max(0, self.max_chars - self.chars)
        if self.max_lines is not None:
            newlines = text.count("\n", 0, keep)
            if self.lines + newlines >= self.max_lines:
                allowed = self.max_lines - self.lines - 1  # line breaks still allowed
                at = -1
                for _ in range(max(0, allowed) + 1):
                    at = text.find("\n", at + 1, keep)
                keep = at if at >= 0 else keep
        if keep:
            self.pieces.append((text[:keep], kind))
            self.chars += keep
            self.lines += text.count("\n", 0, keep)
        if keep < len(text):
            self.shown = False
            return text[keep:]
        return ""


def layout(
    value: Any,
    *,
    max_chars: int,
    max_lines: int | None,
    measure: int = 65_536,
    vector_limit: int | None = 32,
    max_depth: int = 64,
    collapse: Callable[[tuple[Any, ...], Any], str | None] | None = None,
) -> Laid:
    """``value`` (parsed JSON: dicts, lists, scalars) laid out for reading.

    At most ``max_chars`` characters and ``max_lines`` lines are kept; what follows is counted
    up to ``measure`` characters (past that the counts are lower bounds). Lists of more than
    ``vector_limit`` numbers are summarised (None: written out, on one line). ``collapse(path,
    value)`` may return a one-line note to show instead of the value at ``path`` (a tuple of
    keys and positions)."""
    writer = _Writer(max(0, max_chars), max_lines, measure)
    finished = True
    try:
        _write(writer, value, 0, (), vector_limit, max_depth, collapse)
    except _Stop:
        finished = False
    except RecursionError:  # pragma: no cover - max_depth keeps far below the limit
        finished = False
    return Laid(writer.pieces, writer.cut_chars, writer.cut_lines, finished)


def _write(
    out: _Writer,
    value: Any,
    depth: int,
    path: tuple[Any, ...],
    vector_limit: int | None,
    max_depth: int,
    collapse: Callable[[tuple[Any, ...], Any], str | None] | None,
) -> None:
    if collapse is not None:
        note = collapse(path, value)
        if note is not None:
            out.write(note, NOTE)
            return
    if isinstance(value, str):
        _write_string(out, value, depth)
    elif value is None:
        out.write("null", LITERAL)
    elif isinstance(value, bool):
        out.write("true" if value else "false", LITERAL)
    elif _is_number(value):
        out.write(format_number(value), NUMBER)
    elif isinstance(value, dict):
        if not value:
            out.write("{}", PUNCT)
            return
        if depth >= max_depth:
            out.write("{…}", PUNCT)
            return
        inner = "\n" + "  " * (depth + 1)
        out.write("{", PUNCT)
        for index, (key, item) in enumerate(value.items()):
            out.write(("," if index else "") + inner, PUNCT)
            out.write(f'"{key}"' if isinstance(key, str) else f'"{_scalar_text(key)}"', KEY)
            out.write(": ", PUNCT)
            _write(out, item, depth + 1, (*path, key), vector_limit, max_depth, collapse)
        out.write("\n" + "  " * depth + "}", PUNCT)
    elif isinstance(value, list | tuple):
        _write_list(out, value, depth, path, vector_limit, max_depth, collapse)
    else:
        _write_string(out, _scalar_text(value), depth)


def _write_list(
    out: _Writer,
    value: list[Any] | tuple[Any, ...],
    depth: int,
    path: tuple[Any, ...],
    vector_limit: int | None,
    max_depth: int,
    collapse: Callable[[tuple[Any, ...], Any], str | None] | None,
) -> None:
    if not value:
        out.write("[]", PUNCT)
        return
    if depth >= max_depth:
        out.write("[…]", PUNCT)
        return
    if (
        vector_limit is not None
        and len(value) > vector_limit
        and all(_is_number(v) for v in value[:64])
    ):
        out.write(vector_summary(value), SUMMARY)
        return
    if all(_is_number(v) for v in value[:64]) and all(_is_number(v) for v in value):
        # Numbers side by side: a vector is one line, not one line per number.
        out.write("[", PUNCT)
        for index, number in enumerate(value):
            if index:
                out.write(", ", PUNCT)
            out.write(format_number(number), NUMBER)
        out.write("]", PUNCT)
        return
    if len(value) <= 16 and _short_scalars(value):
        out.write("[", PUNCT)
        for index, item in enumerate(value):
            if index:
                out.write(", ", PUNCT)
            _write(out, item, depth + 1, (*path, index), vector_limit, max_depth, collapse)
        out.write("]", PUNCT)
        return
    inner = "\n" + "  " * (depth + 1)
    out.write("[", PUNCT)
    for index, item in enumerate(value):
        out.write(("," if index else "") + inner, PUNCT)
        _write(out, item, depth + 1, (*path, index), vector_limit, max_depth, collapse)
    out.write("\n" + "  " * depth + "]", PUNCT)


def _short_scalars(items: list[Any] | tuple[Any, ...]) -> bool:
    """Short one-line scalars (``["langchain", "schema", "messages"]``): kept on one line."""
    size = 0
    for item in items:
        if isinstance(item, str):
            if "\n" in item or "\\" in item:
                return False
            size += len(item) + 4
        elif item is None or isinstance(item, bool) or _is_number(item):
            size += 8
        else:
            return False
        if size > 60:
            return False
    return True


def _write_string(out: _Writer, value: str, depth: int) -> None:
    room = out.room()
    rest = len(value) - room
    text = unescape_repr(value[:room])
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    if "\n" in text:
        text = text.replace("\n", "\n" + "  " * (depth + 1))
    out.write('"' + text, STRING)
    if rest > 0:  # more than can be measured: the walk stops here
        raise _Stop
    out.write('"', STRING)


def _scalar_text(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"
