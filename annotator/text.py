"""Plain-text helpers for showing untrusted trace content: sanitise, clip, format values.

Nothing here imports Textual or Rich: these functions run on every string the app shows, in the
core and in the UI alike, and are tested on their own.

Trace content is hostile by assumption. A model output or a tool result can carry terminal
escape sequences (OSC 52 clipboard writes, OSC 8 links, window-title changes, screen clears),
8-bit C1 controls, bidi overrides that reorder what the annotator reads, or invisible characters
that hide text. :func:`sanitize` turns every one of them into a visible escape such as ``\\x1b``
or ``\\u202e``. Markup safety is a separate concern, handled by never parsing markup from data:
``[`` and ``]`` are left alone.

Every function here is bounded: callers clip before they sanitise or format, and the JSON helpers
refuse (or preview lexically) inputs above a size limit instead of parsing 50 MB.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

__all__ = [
    "Clip",
    "clip",
    "clip_lines",
    "dump_json",
    "escape_json_text",
    "first_line",
    "format_number",
    "json_preview",
    "looks_like_json",
    "pretty_json",
    "sanitize",
    "to_display",
]

# --------------------------------------------------------------------------------------------
# sanitize
# --------------------------------------------------------------------------------------------

# Characters shown as escapes:
#   Cc  C0 controls except TAB and LF, DEL, C1 controls (U+0080-U+009F: 8-bit CSI/OSC/ST...)
#   Cs  surrogates (in a Python str they are always lone; they cannot even be encoded to UTF-8)
#   Zl/Zp U+2028 / U+2029 line and paragraph separators
#   Cf  format characters: bidi embeddings/overrides/isolates/marks, zero-width space, word
#       joiner and invisible operators, BOM, soft hyphen, interlinear annotation, Unicode "tag"
#       characters (U+E0000 block, used for ASCII smuggling). ZWNJ (U+200C) and ZWJ (U+200D) are
#       kept: scripts (Persian, Indic) and emoji sequences need them and they cannot reorder text.
# Every one of these is non-printable for str.isprintable(), which gives the fast path.
_ESCAPED_CLASS = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f"
)
_ESCAPED_RE = re.compile(f"[{_ESCAPED_CLASS}]")
# Printable ASCII plus TAB/LF: deleting these from an ASCII string leaves only what must be escaped.
_ASCII_OK = bytes(range(0x20, 0x7F)) + b"\t\n"


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def sanitize(text: str) -> str:
    """Make untrusted text safe to hand to a terminal renderer.

    Every C0 control except ``\\n`` and ``\\t``, DEL, every C1 control, lone surrogates, U+2028/9
    and the invisible/bidi format characters become visible Python-style escapes (ESC becomes the
    four characters ``\\x1b``, RIGHT-TO-LEFT OVERRIDE becomes ``\\u202e``). ``\\r\\n`` line ends are
    read as ``\\n``; a lone ``\\r`` is escaped. Square brackets are not touched.

    The result contains only printable characters, tab and newline, so ``sanitize`` is idempotent.
    Clean text (the common case) is returned as is, without copying.
    """
    if not isinstance(text, str):
        text = str(text)
    if text.isprintable():
        return text
    if text.isascii():
        # str.isascii() is O(1); bytes.translate runs at memory speed.
        if not text.encode("ascii").translate(None, _ASCII_OK):
            return text
    elif _ESCAPED_RE.search(text) is None:
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _ESCAPED_RE.sub(_escape_char, text)


def _json_escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair: how JSON spells a character beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json_text(text: str) -> str:
    """JSON text (as a JSON encoder wrote it) with every character `sanitize` escapes written as
    a ``\\uXXXX`` escape: the same strings to a JSON reader, nothing a terminal acts on. (TAB and
    LF are not touched: an encoder escapes them inside strings, and outside they are layout.)"""
    return _ESCAPED_RE.sub(_json_escape_char, text)


# --------------------------------------------------------------------------------------------
# clipping
# --------------------------------------------------------------------------------------------


class Clip(NamedTuple):
    """A clipped value: the part shown and what was left out.

    ``cut_chars`` counts characters of the original not shown (0 when complete); ``cut_lines``
    counts the line breaks among them (0 when that rest is over ``LINE_COUNT_LIMIT`` characters:
    not worth a pass over megabytes). ``exact`` is False when ``cut_chars`` is only a lower bound
    (a structure too large to measure cheaply).
    """

    text: str
    cut_chars: int = 0
    cut_lines: int = 0
    exact: bool = True

    @property
    def clipped(self) -> bool:
        return self.cut_chars > 0 or not self.exact


#: Line breaks in a clipped-off rest are counted only up to this size (one memchr-speed pass).
LINE_COUNT_LIMIT = 1_000_000


def _count_lines(text: str, start: int, end: int) -> int:
    return text.count("\n", start, end) if end - start <= LINE_COUNT_LIMIT else 0


def clip(text: str, limit: int) -> tuple[str, int]:
    """The first ``limit`` characters of ``text`` and how many were cut."""
    limit = max(0, limit)
    n = len(text)
    if n <= limit:
        return text, 0
    return text[:limit], n - limit


def clip_lines(text: str, max_lines: int | None, max_chars: int, *, tail: bool = False) -> Clip:
    """At most ``max_lines`` lines and ``max_chars`` characters of ``text``.

    ``tail=True`` keeps the end instead (stack traces: the bottom matters). Work is bounded by
    ``max_chars`` plus one counting pass over the rest (``str.count``, memory speed).
    """
    max_chars = max(0, max_chars)
    n = len(text)
    if max_lines is not None:
        max_lines = max(1, max_lines)
    if tail:
        return _clip_tail(text, max_lines, max_chars)
    head = text[:max_chars]
    if max_lines is not None:
        pos = -1
        for _ in range(max_lines):
            pos = head.find("\n", pos + 1)
            if pos < 0:
                break
        if pos >= 0:
            head = head[:pos]
    shown = len(head)
    if shown >= n:
        return Clip(text)
    return Clip(head, n - shown, _count_lines(text, shown, n))


def _clip_tail(text: str, max_lines: int | None, max_chars: int) -> Clip:
    n = len(text)
    start = max(0, n - max_chars)
    part = text[start:]
    if max_lines is not None:
        pos = len(part)
        for _ in range(max_lines):
            pos = part.rfind("\n", 0, pos)
            if pos < 0:
                break
        if pos >= 0:
            part = part[pos + 1 :]
    shown = len(part)
    if shown >= n:
        return Clip(text)
    return Clip(part, n - shown, _count_lines(text, 0, n - shown))


def first_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, clipped to ``limit`` characters (not sanitised)."""
    for line in text[: limit * 4 + 1024].splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


# --------------------------------------------------------------------------------------------
# values to text
# --------------------------------------------------------------------------------------------


def format_number(value: float) -> str:
    """A float without representation noise: ``420.0`` → ``420``, ``0.1 + 0.2`` → ``0.3``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(f"{value:.12g}"))


def to_display(value: object) -> str:
    """Any attribute value as one piece of text (not sanitised, not clipped).

    Strings as they are; ``None`` → ``null``; booleans → ``true``/``false``; floats without
    noise; dicts and lists as compact JSON (non-JSON leaves via ``str``). Never raises, even on
    self-referencing or absurdly deep structures.
    """
    if isinstance(value, str):
        return value
    scalar = _scalar_text(value)
    if scalar is not None:
        return scalar
    if isinstance(value, dict | list | tuple):
        try:
            return json.dumps(
                value, ensure_ascii=False, separators=(", ", ": "), default=_json_default
            )
        except (ValueError, TypeError, RecursionError):
            return dump_json(value, None, 1 << 62).text
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _json_default(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    if isinstance(value, set | frozenset):
        return list(value)
    return to_display(value)


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

_JSON_START_RE = re.compile(r"\s*[\[{]")
#: Strings longer than this are never parsed by :func:`json_preview` (they get a lexical preview).
DEFAULT_PARSE_LIMIT = 262_144


def looks_like_json(text: str) -> bool:
    """Cheap check: the first non-blank character opens an object or an array."""
    return _JSON_START_RE.match(text) is not None


def pretty_json(value: object, limit: int = 1_000_000) -> str | None:
    """``value`` pretty-printed as JSON (indent 2, non-ASCII kept), or None when it is not JSON.

    JSON means a dict or list, or a string that parses as a JSON object or array. Strings longer
    than ``limit`` characters are refused (None) rather than parsed; structures too large to
    serialise within ``4 * limit`` characters come back truncated (ending in ``…``). The result
    is not sanitised.
    """
    if isinstance(value, str):
        if len(value) > limit or not looks_like_json(value):
            return None
        parsed = _parse(value)
        if parsed is None:
            return None
        value = parsed
    if not isinstance(value, dict | list | tuple):
        return None
    return dump_json(value, 2, 4 * limit, exact_limit=limit).text


def _parse(text: str) -> dict[str, Any] | list[Any] | None:
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


def json_preview(
    value: object,
    max_chars: int,
    max_lines: int | None,
    *,
    parse_limit: int = DEFAULT_PARSE_LIMIT,
    compact: bool = False,
    vector_limit: int | None = None,
) -> Clip | None:
    """Pretty (or compact) JSON of ``value``, clipped to ``max_chars`` / ``max_lines``.

    None when ``value`` is not JSON.

    Bounded work whatever the size: strings up to ``parse_limit`` are parsed; longer strings that
    start like JSON are re-indented lexically from their beginning only (the count of characters
    not shown then refers to the raw text). Dicts and lists are serialised with a budget.
    ``vector_limit``: lists of more numbers than this are summarised (``[… 1,536 numbers]``).
    """
    if isinstance(value, str):
        if not looks_like_json(value):
            return None
        if len(value) > parse_limit:
            return _lexical_preview(value, max_chars, max_lines, compact=compact)
        try:
            parsed = json.loads(value)
        except RecursionError:  # nested deeper than the decoder allows: still show its shape
            return _lexical_preview(value, max_chars, max_lines, compact=compact)
        except ValueError:
            return None
        if not isinstance(parsed, dict | list):
            return None
        value = parsed
    elif not isinstance(value, dict | list | tuple):
        return None
    indent = None if compact else 2
    dumped = dump_json(
        value,
        indent,
        max(max_chars * 2, 4096),
        exact_limit=parse_limit,
        vector_limit=vector_limit,
    )
    result = clip_lines(dumped.text, max_lines, max_chars)
    if dumped.exact:
        return result
    return Clip(result.text, max(result.cut_chars, 1), result.cut_lines, exact=False)


class _Budget(Exception):
    pass


def dump_json(
    value: object,
    indent: int | None,
    budget: int,
    *,
    max_depth: int = 64,
    exact_limit: int = DEFAULT_PARSE_LIMIT,
    vector_limit: int | None = None,
) -> Clip:
    """Serialise ``value`` as JSON, stopping after about ``budget`` characters.

    Fast path: a structure small enough (at most ``exact_limit`` characters of strings and
    ``exact_limit // 8`` nodes, measured by a bounded walk) goes through the C encoder and the
    result is complete and exact, even beyond ``budget`` (the caller clips). Otherwise a Python
    encoder writes at most ``budget`` characters and returns ``Clip(text, 1, 0, exact=False)`` if
    it had to stop. Deeper than ``max_depth`` levels is shown as ``…``. With ``vector_limit``, a
    list of more numbers than that (an embedding) is written as ``[… 1,536 numbers]``. Never
    raises on cycles or depth.
    """
    separators = (",", ": ") if indent is not None else (", ", ": ")
    if _is_small(
        value, max(64, exact_limit // 8), max(budget, exact_limit), max_depth, vector_limit
    ):
        try:
            text = json.dumps(
                value,
                indent=indent,
                ensure_ascii=False,
                separators=separators,
                default=_json_default,
            )
        except (ValueError, TypeError, RecursionError):
            pass
        else:
            return Clip(text)
    out: list[str] = []
    state = [budget]
    try:
        _dump(value, indent, 0, max_depth, out, state, set(), vector_limit)
    except _Budget:
        return Clip("".join(out) + "…", 1, 0, exact=False)
    return Clip("".join(out))


def _is_vector(value: list[Any] | tuple[Any, ...], vector_limit: int | None) -> bool:
    if vector_limit is None or len(value) <= vector_limit:
        return False
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:32])


def _is_small(
    value: object,
    node_limit: int,
    char_limit: int,
    max_depth: int,
    vector_limit: int | None = None,
) -> bool:
    """True when ``value`` has at most ``node_limit`` nodes, ``char_limit`` string characters and
    ``max_depth`` levels (a bounded walk; cycles make it False)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    nodes = 0
    chars = 0
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > node_limit or depth > max_depth:
            return False
        if isinstance(item, str):
            chars += len(item)
            if chars > char_limit:
                return False
        elif isinstance(item, dict):
            if id(item) in seen or nodes + len(stack) + len(item) > node_limit:
                return False
            seen.add(id(item))
            for key, sub in item.items():
                chars += len(key) if isinstance(key, str) else 8
                stack.append((sub, depth + 1))
        elif isinstance(item, list | tuple):
            if id(item) in seen or nodes + len(stack) + len(item) > node_limit:
                return False
            if _is_vector(item, vector_limit):
                return False
            seen.add(id(item))
            stack.extend((sub, depth + 1) for sub in item)
        elif not isinstance(item, int | float | bool) and item is not None:
            chars += 32
    return chars <= char_limit


def _emit(out: list[str], state: list[int], text: str) -> None:
    remaining = state[0]
    if len(text) > remaining:
        out.append(text[: max(0, remaining)])
        raise _Budget
    state[0] = remaining - len(text)
    out.append(text)


def _scalar_text(value: object) -> str | None:
    """null, a boolean or a number as JSON writes it (floats without noise); None for
    anything else."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    return None


def _scalar_json(value: object, room: int) -> str:
    if isinstance(value, str):
        if len(value) > room:
            # Encode only what can be shown: never json.dumps a 50 MB string to keep 4 KB of it.
            return json.dumps(value[: room + 1], ensure_ascii=False)[:-1]
        return json.dumps(value, ensure_ascii=False)
    scalar = _scalar_text(value)
    if scalar is not None:
        return scalar
    return json.dumps(to_display(value)[: room + 1], ensure_ascii=False)


def _dump(
    value: object,
    indent: int | None,
    depth: int,
    max_depth: int,
    out: list[str],
    state: list[int],
    active: set[int],
    vector_limit: int | None = None,
) -> None:
    if not isinstance(value, dict | list | tuple):
        _emit(out, state, _scalar_json(value, state[0]))
        return
    is_dict = isinstance(value, dict)
    open_, close = ("{", "}") if is_dict else ("[", "]")
    if not value:
        _emit(out, state, open_ + close)
        return
    if depth >= max_depth or id(value) in active:
        _emit(out, state, open_ + "…" + close)
        return
    if not isinstance(value, dict) and _is_vector(value, vector_limit):
        _emit(out, state, f"[… {len(value):,} numbers]")
        return
    active.add(id(value))
    if indent is None:
        inner = sep = ""
        item_sep = ", "
    else:
        inner = "\n" + " " * (indent * (depth + 1))
        sep = "\n" + " " * (indent * depth)
        item_sep = ","
    _emit(out, state, open_)
    items = value.items() if isinstance(value, dict) else enumerate(value)
    first = True
    for key, sub in items:
        if not first:
            _emit(out, state, item_sep)
        first = False
        _emit(out, state, inner)
        if is_dict:
            key_text = key if isinstance(key, str) else to_display(key)
            _emit(out, state, _scalar_json(key_text, state[0]) + ": ")
        _dump(sub, indent, depth + 1, max_depth, out, state, active, vector_limit)
    _emit(out, state, sep + close)
    active.discard(id(value))


# A lexical tokenizer for JSON-like text: strings (possibly unterminated), punctuation, the rest.
_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"?|[{}\[\],:]|\s+|[^\s{}\[\],:"]+', re.DOTALL)
_MAX_INDENT_LEVEL = 40


def _lexical_preview(text: str, max_chars: int, max_lines: int | None, *, compact: bool) -> Clip:
    """Re-indent the beginning of a JSON text too large to parse. Bounded by ``max_chars``."""
    window = text[: max_chars * 2 + 64]
    out: list[str] = []
    size = 0
    lines = 0
    depth = 0
    consumed = 0
    limit_lines = max_lines if max_lines is not None else 1 << 62

    def newline() -> str:
        return "\n" + "  " * min(depth, _MAX_INDENT_LEVEL)

    for match in _TOKEN_RE.finditer(window):
        token = match.group()
        if token.isspace():
            consumed = match.end()
            continue
        if compact:
            piece = token + (" " if token in (",", ":") else "")
        elif token in ("{", "["):
            depth += 1
            piece = token + newline()
        elif token in ("}", "]"):
            depth = max(0, depth - 1)
            piece = newline() + token
        elif token == ",":
            piece = "," + newline()
        elif token == ":":
            piece = ": "
        else:
            piece = token
        newlines = piece.count("\n")
        if size + len(piece) > max_chars or lines + newlines >= limit_lines:
            room = max_chars - size
            if not compact and newlines == 0 and room > 0:
                out.append(piece[:room])
                consumed = match.start() + room
            break
        out.append(piece)
        size += len(piece)
        lines += newlines
        consumed = match.end()
    shown = "".join(out).rstrip(" ")
    cut = len(text) - consumed
    return Clip(shown, cut, _count_lines(text, consumed, len(text))) if cut else Clip(shown)
