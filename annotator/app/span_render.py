"""What the centre pane shows for one span: pure functions from a :class:`Span` to Rich renderables.

The Textual widgets (written elsewhere) only display what these functions build. Nothing here
imports Textual.

Safety (trace content is hostile):

* No markup is ever parsed. Every renderable is built from ``Text(...)`` / ``Text.append(value,
  style)``; panel and rule titles are ``Text``; styles are module constants, never derived from
  data, so no ``@click`` action or ``link`` can come from a trace.
* Every string from the span is clipped first (bounded work), then passed through
  :func:`annotator.text.sanitize` (terminal escapes, C1 controls, bidi overrides become visible
  ``\\x1b`` / ``\\u202e`` escapes) before it reaches Rich.
* Bounded cost: each value is clipped (characters and lines), long lists show a head and a tail
  with a "… N more" line, JSON larger than a parse limit gets a lexical preview, and the whole
  pane has a character budget. Clipped values end with a visible marker naming the key that shows
  everything (``RenderOptions.more_hint``).
* Values of unexpected types never raise: they are shown as text.

The same section builders produce :func:`span_full_text` (plain, sanitised, unclipped text for a
read-only "show whole" view), so the two views never disagree about what a span contains.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.style import Style
from rich.text import Span as TextSpan
from rich.text import Text

from annotator import semconv
from annotator.app import readable
from annotator.model import Span, StatusCode
from annotator.semconv import Message, Part, ToolCall
from annotator.text import (
    DEFAULT_PARSE_LIMIT,
    Clip,
    clip_lines,
    dump_json,
    first_line,
    format_number,
    json_preview,
    looks_like_json,
    sanitize,
    to_display,
)

__all__ = [
    "RenderOptions",
    "render_span",
    "selected_document",
    "span_full_text",
    "span_sections",
    "span_summary",
]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How much of a span the centre pane shows.

    ``clip_chars`` / ``clip_lines`` bound each value; ``total_chars`` is a soft budget for the
    whole pane (long conversations and document lists clip each item harder instead of dropping
    any); ``max_items`` caps messages, documents, tools, embeddings and events per list (a head
    and a tail are shown around a "… N more" line); ``max_attributes`` caps "other attributes".
    ``selected_document`` highlights that document position (it also gets the full per-value
    limits). ``more_hint`` ends every clip marker (``… [+12,345 chars — press o to see all]``).
    ``width`` is accepted as a hint but unused today: Rich wraps at render time.
    """

    clip_chars: int = 4000
    clip_lines: int = 60
    show_raw: bool = False
    selected_document: int | None = None
    width: int | None = None
    more_hint: str = "press o to see all"
    max_items: int = 200
    max_attributes: int = 500
    trace_lines: int = 30
    total_chars: int = 120_000
    raw_chars: int = 20_000
    raw_lines: int = 400


_DEFAULT_OPTIONS = RenderOptions()
#: span_full_text stops (with a visible note) past this many characters.
FULL_TEXT_CAP = 20_000_000

# ------------------------------------------------------------------------------------ styles
# Constants only: no style is ever built from trace data.
S_TITLE = "bold"
S_DIM = "dim"
S_LABEL = "dim"
S_KEY = "bold cyan"
S_MARKER = "italic yellow"
S_NAME = "bold"
S_ERROR = "bold red"
S_ERROR_TEXT = "red"
S_TRACE = ""
S_RULE = "dim"
S_RULE_TITLE = "bold"
S_SELECTED = "bold black on yellow"
S_SELECTED_BORDER = "yellow"
S_DOC_NUMBER = "bold"
S_CALL = "bold yellow"
S_EMPTY = "dim italic"
S_MEDIA = "italic magenta"

STATUS_STYLE = {
    StatusCode.OK.value: "bold green",
    StatusCode.ERROR.value: "bold red",
    StatusCode.UNSET.value: "dim",
}
STATUS_ICON = {
    StatusCode.OK.value: "● ",
    StatusCode.ERROR.value: "✖ ",
    StatusCode.UNSET.value: "○ ",
}

KIND_STYLE = {
    "LLM": "bold white on blue",
    "CHAIN": "bold white on grey37",
    "RETRIEVER": "bold black on green",
    "RERANKER": "bold black on green",
    "EMBEDDING": "bold black on cyan",
    "TOOL": "bold black on yellow",
    "AGENT": "bold white on magenta",
    "GUARDRAIL": "bold white on red",
    "EVALUATOR": "bold black on bright_cyan",
    "PROMPT": "bold black on bright_magenta",
}
S_KIND_OTHER = "bold reverse"

ROLE_STYLE = {
    "system": "bold magenta",
    "developer": "bold magenta",
    "user": "bold green",
    "human": "bold green",
    "assistant": "bold cyan",
    "ai": "bold cyan",
    "model": "bold cyan",
    "tool": "bold yellow",
    "function": "bold yellow",
    "ipython": "bold yellow",
}
S_ROLE_OTHER = "bold"

# JSON highlighting with explicit styles (Rich's JSONHighlighter emits theme names like
# "json.key"; resolving them depends on the console's theme, so map them to constants).
_JSON_STYLES = {
    "json.brace": Style(bold=True),
    "json.bool_true": Style(color="bright_green", italic=True),
    "json.bool_false": Style(color="bright_red", italic=True),
    "json.null": Style(color="magenta", italic=True),
    "json.number": Style(color="cyan"),
    "json.str": Style(color="green"),
    "json.key": Style(color="blue", bold=True),
}
_JSON_HIGHLIGHTER = JSONHighlighter()
_PLAIN_STYLE = Style()

_MISSING: Any = semconv.MISSING
_JSON_MIME = "application/json"
_TRACEBACK_HEAD = "Traceback (most recent call last):"

# Section titles, in display order (the app may map jump keys to them).
SECTION_TITLES = (
    "header",
    "error",
    "messages",
    "prompt template",
    "tools available",
    "input",
    "output",
    "documents",
    "tool",
    "embedding",
    "invocation parameters",
    "metadata",
    "gen_ai",
    "events",
    "other attributes",
    "raw",
)


# ------------------------------------------------------------------------------ internals


@dataclass(slots=True)
class _Block:
    """One piece of a section body: a Text (or nested blocks) at an indent, maybe framed."""

    text: Text | None = None
    indent: int = 0
    children: list[_Block] | None = None
    frame: bool = False


_as_list = semconv.as_list
_fields = semconv.fields


def _pop(fields: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in fields:
            return fields.pop(name)
    return None


def _pop_path(fields: dict[str, Any], path: str) -> Any:
    """Pop ``a.b`` given as ``{"a.b": …}`` or ``{"a": {"b": …}}`` (events come both ways)."""
    if path in fields:
        return fields.pop(path)
    head, _, rest = path.partition(".")
    sub = fields.get(head)
    if rest and isinstance(sub, dict) and rest in sub:
        remaining = dict(sub)
        value = remaining.pop(rest)
        if remaining:
            fields[head] = remaining
        else:
            del fields[head]
        return value
    return None


class _Ctx:
    """Per-render state: options, limits, budget, and which attribute paths were shown."""

    def __init__(self, span: Span, options: RenderOptions, *, full: bool = False) -> None:
        self.span = span
        self.options = options
        self.full = full
        attributes = span.attributes
        self.attrs: dict[str, Any] = attributes if isinstance(attributes, dict) else {}
        self.bad_attrs = None if isinstance(attributes, dict) else attributes
        self.budget = FULL_TEXT_CAP if full else max(1000, options.total_chars)
        self.consumed: set[str] = set()
        self.consumed_depth = 1
        self.hint = sanitize(str(options.more_hint))[:120]
        self.parse_limit = 8_000_000 if full else DEFAULT_PARSE_LIMIT
        # Embedding-sized number lists are summarised in the pane, written out in full text.
        self.vector_limit = None if full else 32
        big = 1 << 62
        self.max_items = big if full else max(2, options.max_items)
        self.max_attributes = big if full else max(1, options.max_attributes)
        self.clip_chars = FULL_TEXT_CAP if full else max(1, options.clip_chars)
        self.clip_lines: int | None = None if full else max(1, options.clip_lines)
        # Messages the pane has shown: ((list title, index), role, normalised text) for each
        # text, and how many messages each list has; input/output values repeating them are
        # collapsed to one line (never in full text, which shows everything).
        self.shown_texts: list[tuple[tuple[str, int], str, str]] = []
        self.shown_counts: dict[str, int] = {}

    # -- attribute access
    def get(self, path: str) -> Any:
        return semconv.lookup(self.attrs, path)

    def use(self, path: str) -> None:
        self.consumed.add(path)
        self.consumed_depth = max(self.consumed_depth, path.count(".") + 1)

    def take(self, path: str) -> Any:
        """Look up ``path`` and, when present, mark it as shown."""
        value = self.get(path)
        if value is not _MISSING:
            self.use(path)
        return value

    # -- limits
    @property
    def exhausted(self) -> bool:
        """Full-text mode only: the cap is reached, loops stop adding items."""
        return self.full and self.budget <= 0

    def limits(self, chars: int | None = None, lines: int | None = None) -> tuple[int, int | None]:
        if self.full:
            return max(0, self.budget), None
        max_chars = min(chars or self.clip_chars, self.clip_chars)
        max_lines = lines if lines is not None else self.clip_lines
        if self.budget < max_chars:
            # Over budget: still show the start of every value, never nothing.
            max_chars = max(200, self.budget)
            max_lines = min(max_lines or 6, max(6, max_chars // 80))
        return max_chars, max_lines

    def charge(self, n: int) -> None:
        self.budget -= n

    def item_limits(self, count: int, share: float = 0.5) -> tuple[int, int | None]:
        """Per-item limits for a list of ``count`` items sharing part of the pane budget."""
        if self.full:
            return self.limits()
        per = int(self.options.total_chars * share) // max(1, count)
        chars = max(300, min(self.clip_chars, per))
        lines = max(6, min(self.clip_lines or 60, chars // 40))
        return chars, lines


# --------------------------------------------------------------------------- text helpers


def _marker(ctx: _Ctx, clip: Clip, *, earlier: bool = False) -> Text:
    if not clip.exact:
        what = f"+more than {clip.cut_chars:,} chars" if clip.cut_chars > 1 else "more"
    elif clip.cut_lines:
        noun = "line" if clip.cut_lines == 1 else "lines"
        more = "earlier " if earlier else "more "
        what = f"+{clip.cut_lines:,} {more}{noun}, {clip.cut_chars:,} chars"
    else:
        what = f"+{clip.cut_chars:,} chars"
    return Text(f"… [{what} — {ctx.hint}]", style=S_MARKER)


def _highlight_json(text: Text) -> None:
    plain = text.plain
    if plain.count("[") + plain.count("{") > 400:
        return  # degenerate nesting: thousands of spans cost more than they help
    _JSON_HIGHLIGHTER.highlight(text)
    text.spans[:] = [
        TextSpan(s.start, s.end, _JSON_STYLES.get(s.style, _PLAIN_STYLE))
        if isinstance(s.style, str)
        else s
        for s in text.spans
    ]


def _clip_text(ctx: _Ctx, clip: Clip, style: str = "", *, as_json: bool = False) -> Text:
    """A Text for a clipped (raw) value: sanitise, style, add the marker when clipped."""
    shown = sanitize(clip.text)
    ctx.charge(len(shown))
    text = Text(shown, style=style)
    if as_json and not ctx.full:
        _highlight_json(text)
    if clip.clipped:
        if shown and not shown.endswith("\n"):
            text.append("\n")
        text.append_text(_marker(ctx, clip))
    return text


def _value_text(
    ctx: _Ctx,
    value: object,
    *,
    style: str = "",
    as_json: bool = True,
    mime: object = None,
    chars: int | None = None,
    lines: int | None = None,
    limits: tuple[int, int | None] | None = None,
    collapse: Collapse | None = None,
) -> Text:
    """Any value as a block Text: JSON laid out for reading (strings with their line breaks
    and quotes, vectors summarised) when it is JSON, a Python repr with its escapes read,
    clipped, sanitised. ``collapse`` may replace parts already shown by a one-line note.

    ``as_json=False`` always shows strings as they are (templates, descriptions, errors).
    """
    max_chars, max_lines = limits if limits is not None else ctx.limits(chars, lines)
    json_text = (
        isinstance(value, str)
        and as_json
        and (looks_like_json(value) or (isinstance(mime, str) and _JSON_MIME in mime))
    )
    if json_text or isinstance(value, dict | list | tuple):
        parsed = _parse_for_layout(ctx, value)
        if parsed is not None:
            laid = readable.layout(
                parsed,
                max_chars=max_chars,
                max_lines=max_lines,
                measure=max_chars if ctx.full else max(4 * max_chars, 65_536),
                vector_limit=ctx.vector_limit,
                collapse=None if ctx.full else collapse,
            )
            return _laid_text(ctx, laid)
        preview = json_preview(
            value,
            max_chars,
            max_lines,
            parse_limit=ctx.parse_limit,
            vector_limit=ctx.vector_limit,
        )
        if preview is not None:
            return _clip_text(ctx, preview, as_json=True)
    text = value if isinstance(value, str) else to_display(value)
    if isinstance(value, str) and as_json:
        text = readable.unescape_repr(text)
    return _clip_text(ctx, clip_lines(text, max_lines, max_chars), style)


Collapse = Callable[[tuple[Any, ...], Any], "str | None"]


def _parse_for_layout(ctx: _Ctx, value: object) -> Any:
    """The structure to lay out: a dict/list as it is, JSON text parsed; None when the text is
    not JSON, too large to parse or nested too deep (a lexical preview shows those)."""
    if not isinstance(value, str):
        return value
    if len(value) > ctx.parse_limit:
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict | list) else None


_LAID_STYLES = {
    readable.KEY: _JSON_STYLES["json.key"],
    readable.STRING: _JSON_STYLES["json.str"],
    readable.NUMBER: _JSON_STYLES["json.number"],
    readable.LITERAL: _JSON_STYLES["json.null"],
    readable.PUNCT: _PLAIN_STYLE,
    readable.NOTE: Style.parse(S_MARKER),
    readable.SUMMARY: Style.parse(S_DIM),
}


def _laid_text(ctx: _Ctx, laid: readable.Laid) -> Text:
    """A laid-out value as a Text: each piece sanitised and styled by its kind (never parsed),
    with the clip marker."""
    text = Text()
    if ctx.full:
        text.append(sanitize(laid.text))
    else:
        run: list[str] = []
        kind = -1
        for piece, piece_kind in laid.pieces:
            if piece_kind != kind and run:
                text.append(sanitize("".join(run)), _LAID_STYLES[kind])
                run = []
            kind = piece_kind
            run.append(piece)
        if run:
            text.append(sanitize("".join(run)), _LAID_STYLES[kind])
    ctx.charge(len(text))
    if laid.clipped:
        if len(text) and not text.plain.endswith("\n"):
            text.append("\n")
        clip = Clip("", max(laid.cut_chars, 0 if laid.exact else 1), laid.cut_lines, laid.exact)
        text.append_text(_marker(ctx, clip))
    return text


def _inline(ctx: _Ctx, value: object, chars: int = 300, style: str = "") -> Text:
    """A short one-line rendering (ids, names, scores, compact JSON) with an inline marker."""
    max_chars = ctx.limits()[0] if ctx.full else min(chars, ctx.clip_chars)
    if isinstance(value, dict | list | tuple):
        clip = json_preview(
            value,
            max_chars,
            None,
            compact=True,
            parse_limit=ctx.parse_limit,
            vector_limit=ctx.vector_limit,
        )
        if clip is None:  # pragma: no cover - dicts/lists always preview
            clip = clip_lines(to_display(value), None, max_chars)
    elif isinstance(value, float | int) and not isinstance(value, bool):
        clip = Clip(_number(value))
    else:
        clip = clip_lines(value if isinstance(value, str) else to_display(value), None, max_chars)
    shown = sanitize(clip.text)
    ctx.charge(len(shown))
    text = Text(shown, style=style)
    if clip.clipped:
        text.append(" ")
        text.append_text(_marker(ctx, clip))
    return text


def _number(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return f"{int(value):,}"
        return format_number(value)
    return ""


def _num_or_text(ctx: _Ctx, value: object) -> Text:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Text(_number(value))
    return _inline(ctx, value, 60)


def _short_id(ctx: _Ctx, value: object) -> Text:
    if ctx.full:
        return _inline(ctx, value, 200)
    text = _as_text(value, 200)
    if len(text) > 12:
        return Text(sanitize(text[:8]) + "…")
    return Text(sanitize(text))


def _label(text: Text, label: str, value: Text, sep: str = "  ") -> None:
    if len(text):
        text.append(sep)
    text.append(label + " ", style=S_LABEL)
    text.append_text(value)


def _labelled_line(ctx: _Ctx, fields: tuple[tuple[str, str], ...], chars: int) -> Text:
    """`label value` for each (label, path) present, taken, on one line (empty: none)."""
    line = Text()
    for label, path in fields:
        value = ctx.take(path)
        if value is not _MISSING:
            _label(line, label, _inline(ctx, value, chars))
    return line


def _kv_line(ctx: _Ctx, key: str, value: object, chars: int = 300) -> Text:
    line = Text()
    line.append(sanitize(key[:200]) + ("…" if len(key) > 200 else ""), style=S_KEY)
    line.append(": ")
    line.append_text(_inline(ctx, value, chars))
    return line


def _as_text(value: object, limit: int = 100_000) -> str:
    """A value of unexpected type as text, bounded (a dict where a string belongs)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return dump_json(value, None, limit).text
    return to_display(value)


def _present(value: object) -> bool:
    return value is not _MISSING and value is not None and value not in ("", [], {})


def _path_hit(base: str, key: str, consumed: set[str], depth: int) -> bool:
    """Is ``base.key`` (or one of its dotted prefixes introduced by ``key``) already shown?"""
    if "." not in key:
        return (f"{base}.{key}" if base else key) in consumed
    acc = base
    for index, part in enumerate(key.split(".", depth)):
        if index >= depth:
            break
        acc = f"{acc}.{part}" if acc else part
        if acc in consumed:
            return True
    return (f"{base}.{key}" if base else key) in consumed


def _iter_leaves(
    ctx: _Ctx, root: dict[str, Any], base: str = "", max_depth: int = 24
) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf not already shown; dicts are descended, lists are
    leaves. Iterative, so hostile depth cannot overflow the stack."""
    stack: list[tuple[str, Iterator[tuple[Any, Any]], int]] = [(base, iter(root.items()), 0)]
    consumed = ctx.consumed
    depth_limit = ctx.consumed_depth
    while stack:
        path, items, depth = stack[-1]
        for key, value in items:
            key_text = key if isinstance(key, str) else to_display(key)
            if len(key_text) > 10_000:
                key_text = key_text[:10_000] + "…"
            if _path_hit(path, key_text, consumed, depth_limit):
                continue
            full = f"{path}.{key_text}" if path else key_text
            if isinstance(value, dict) and value and depth < max_depth:
                stack.append((full, iter(value.items()), depth + 1))
                break
            yield full, value
        else:
            stack.pop()


# ------------------------------------------------------------------------------- sections


def _sec_header(ctx: _Ctx) -> list[_Block]:
    span = ctx.span
    line1 = Text()
    kind = _as_text(span.span_kind, 200)
    kind_attr = ctx.get("openinference.span.kind")
    same_kind = (
        isinstance(kind_attr, str) and kind_attr[:64].strip().upper() == kind[:64].strip().upper()
    )
    if same_kind:
        ctx.use("openinference.span.kind")
    if (not kind or kind[:16].upper() == "UNKNOWN") and isinstance(kind_attr, str) and kind_attr:
        kind = kind_attr
        ctx.use("openinference.span.kind")
    kind_key = kind[:64].strip().upper()
    badge_style = KIND_STYLE.get(kind_key, S_KIND_OTHER)
    line1.append(" " + sanitize(kind_key[:24]) + " ", style=badge_style)
    line1.append(" ")
    name = _as_text(span.name)
    line1.append_text(_inline(ctx, name, 300, S_NAME))
    status = _as_text(span.status_code, 200)
    status_key = status[:64].strip().upper()
    line1.append("  ")
    line1.append(
        STATUS_ICON.get(status_key, "? ") + sanitize(status_key[:24]),
        style=STATUS_STYLE.get(status_key, S_DIM),
    )
    duration = _duration(span)
    if duration:
        line1.append("  " + duration)
    if span.start_time:
        line1.append("  ")
        line1.append_text(_inline(ctx, _pretty_time(span.start_time), 64, S_DIM))
    blocks = [_Block(line1)]

    ids = Text()
    _label(ids, "span", _short_id(ctx, span.span_id))
    _label(ids, "trace", _short_id(ctx, span.trace_id))
    if span.parent_id:
        _label(ids, "parent", _short_id(ctx, span.parent_id))
    else:
        ids.append("  root", style=S_DIM)
    if span.project and span.project != "default":
        _label(ids, "project", _inline(ctx, span.project, 80))
    blocks.append(_Block(ids))

    who = Text()
    session = span.session_id
    attr_session = ctx.get("session.id")
    if attr_session is not _MISSING and (not session or attr_session == session):
        ctx.use("session.id")
        session = session or attr_session
    if _present(session):
        _label(who, "session", _inline(ctx, session, 120))
    user = ctx.take("user.id")
    if _present(user):
        _label(who, "user", _inline(ctx, user, 120))
    if len(who):
        blocks.append(_Block(who))

    model_line = Text()
    for label, path in (
        ("model", "llm.model_name"),
        ("requested", "llm.request.model_name"),
        ("responded", "llm.response.model_name"),
        ("provider", "llm.provider"),
        ("system", "llm.system"),
        ("finish", "llm.finish_reason"),
    ):
        value = ctx.take(path)
        if _present(value):
            _label(model_line, label, _inline(ctx, value, 120))
    if not len(model_line):
        for label, path in (
            ("model", "gen_ai.response.model"),
            ("requested", "gen_ai.request.model"),
            ("provider", "gen_ai.provider.name"),
            ("system", "gen_ai.system"),
        ):
            value = ctx.get(path)  # shown again, in full, by the gen_ai section
            if _present(value):
                _label(model_line, label, _inline(ctx, value, 120))
    if len(model_line):
        blocks.append(_Block(model_line))

    tokens = _token_line(ctx)
    if tokens is not None:
        blocks.append(_Block(tokens))
    cost = _cost_line(ctx)
    if cost is not None:
        blocks.append(_Block(cost))
    return blocks


def _duration(span: Span) -> str:
    try:
        ms = span.latency_ms
    except Exception:
        return ""
    if ms is None or not isinstance(ms, float) or not math.isfinite(ms):
        return ""
    if abs(ms) < 1:
        return f"{ms:.2f} ms"
    if abs(ms) < 1000:
        return f"{ms:.1f} ms"
    if abs(ms) < 60_000:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(ms / 1000, 60)
    return f"{int(minutes)} min {seconds:.1f} s"


def _pretty_time(value: object) -> str:
    if not isinstance(value, str):
        return _as_text(value, 200)
    if len(value) >= 19 and value[10:11] == "T" and value.endswith("+00:00"):
        return value[:10] + " " + value[11:23] + " UTC"
    return value


_TOKEN_ORDER = ("prompt", "completion", "total")
_GENAI_TOKENS = (
    ("prompt", "gen_ai.usage.input_tokens"),
    ("completion", "gen_ai.usage.output_tokens"),
    ("total", "gen_ai.usage.total_tokens"),
)


def _token_line(ctx: _Ctx) -> Text | None:
    counts = ctx.get("llm.token_count")
    line = Text()
    if counts is _MISSING:
        parts = []
        for label, path in _GENAI_TOKENS:
            value = ctx.get(path)  # shown again, in full, by the gen_ai section
            if value is not _MISSING:
                parts.append(_num_or_text(ctx, value) + Text(" " + label, style=S_LABEL))
        if parts:
            return Text("tokens ", style=S_LABEL) + Text(" · ").join(parts)
        return None
    ctx.use("llm.token_count")
    if not isinstance(counts, dict):
        return Text("tokens ", style=S_LABEL) + _inline(ctx, counts, 120)
    rest = dict(counts)
    for key in _TOKEN_ORDER:
        if key in rest:
            sep = " · " if len(line) else ""
            line.append(sep)
            line.append_text(_num_or_text(ctx, rest.pop(key)))
            line.append(" " + key, style=S_LABEL)
    details: list[Text] = []
    for key, value in list(rest.items())[:50]:
        label = _detail_label(key)
        if isinstance(value, dict):
            for sub, subvalue in list(value.items())[:50]:
                details.append(
                    Text(f"{label} {_detail_label(sub)} ", style=S_LABEL)
                    + _num_or_text(ctx, subvalue)
                )
        else:
            details.append(Text(label + " ", style=S_LABEL) + _num_or_text(ctx, value))
    if details:
        line.append("  (")
        line.append_text(Text(" · ").join(details))
        line.append(")")
    return Text("tokens ", style=S_LABEL) + line


def _cost_line(ctx: _Ctx) -> Text | None:
    cost = ctx.take("llm.cost")
    if cost is _MISSING:
        return None
    line = Text("cost ", style=S_LABEL)
    if not isinstance(cost, dict):
        line.append_text(_money(ctx, cost))
        return line
    rest = dict(cost)
    parts: list[Text] = []
    if "total" in rest:
        parts.append(_money(ctx, rest.pop("total")))
    for key, value in list(rest.items())[:50]:
        label = _detail_label(key)
        if isinstance(value, dict):
            for sub, subvalue in list(value.items())[:50]:
                parts.append(
                    Text(f"{label} {_detail_label(sub)} ", style=S_LABEL) + _money(ctx, subvalue)
                )
        else:
            parts.append(Text(label + " ", style=S_LABEL) + _money(ctx, value))
    line.append_text(Text(" · ").join(parts))
    return line


def _detail_label(key: object) -> str:
    """``prompt_details`` → ``prompt``, ``cache_read`` → ``cache read`` (sanitised, short)."""
    text = key if isinstance(key, str) else to_display(key)
    return sanitize(text[:60]).replace("_details", "").replace("_", " ")


def _money(ctx: _Ctx, value: object) -> Text:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return Text("$" + (f"{value:.6f}".rstrip("0").rstrip(".") or "0"))
    return _inline(ctx, value, 60)


# ---- error


def _sec_error(ctx: _Ctx) -> list[_Block]:
    span = ctx.span
    blocks: list[_Block] = []
    message = span.status_message
    status = span.status_code if isinstance(span.status_code, str) else ""
    if _present(message):
        text = _as_text(message)
        # LangChain glues the exception repr and the traceback on one line.
        at = text.find(_TRACEBACK_HEAD, 0, 10_000)
        if at > 0 and text[at - 1] != "\n":
            text = text[:at] + "\n" + text[at:]
        head, _, trace = text.partition("\n")
        blocks.append(_Block(_value_text(ctx, head, style=S_ERROR, as_json=False, lines=4)))
        if trace[:100_000].strip():
            blocks.append(_Block(_trace_text(ctx, trace), indent=2))
    elif status[:16].upper() == StatusCode.ERROR:
        blocks.append(_Block(Text("status ERROR (no status message)", style=S_ERROR)))
    events = _as_list(span.events) or []
    for event in events:
        if not _is_exception(event):
            continue
        blocks.extend(_exception_blocks(ctx, event))
    return blocks


def _is_exception(event: object) -> bool:
    return isinstance(event, dict) and event.get("name") == "exception"


def _exception_blocks(ctx: _Ctx, event: dict[str, Any]) -> list[_Block]:
    attributes = event.get("attributes")
    fields = dict(attributes) if isinstance(attributes, dict) else {}
    extype = _pop_path(fields, "exception.type")
    message = _pop_path(fields, "exception.message")
    stack = _pop_path(fields, "exception.stacktrace")
    escaped = _pop_path(fields, "exception.escaped")
    head = Text("exception", style=S_ERROR)
    if _present(extype):
        head.append(" ")
        head.append_text(_inline(ctx, extype, 200, S_ERROR))
    if event.get("timestamp"):
        head.append("  ")
        head.append_text(_inline(ctx, _pretty_time(event.get("timestamp")), 64, S_DIM))
    if escaped is not None:
        head.append("  escaped ", style=S_LABEL)
        head.append_text(_inline(ctx, escaped, 20))
    blocks = [_Block(head)]
    if _present(message):
        body = _value_text(ctx, message, style=S_ERROR_TEXT, as_json=False, lines=8)
        blocks.append(_Block(body, indent=2))
    if _present(stack):
        stack_text = _as_text(stack)
        blocks.append(_Block(_trace_text(ctx, stack_text), indent=2))
    if attributes is not None and not isinstance(attributes, dict):
        blocks.append(_Block(_kv_line(ctx, "attributes", attributes), indent=2))
    for key, value in list(fields.items())[:50]:
        blocks.append(_Block(_kv_line(ctx, str(key), value), indent=2))
    return blocks


def _trace_text(ctx: _Ctx, trace: str) -> Text:
    """A stack trace, its last lines kept (the bottom matters), runs of blank lines collapsed."""
    max_chars, _ = ctx.limits()
    lines = None if ctx.full else max(3, ctx.options.trace_lines)
    hidden_before = 0 if ctx.full else max(0, len(trace) - max_chars * 2)
    window = trace[hidden_before:]
    if not ctx.full:
        while "\n\n\n" in window:
            window = window.replace("\n\n\n", "\n\n")
        window = window.strip("\n")
    clip = clip_lines(window, lines, max_chars, tail=True)
    if hidden_before:
        clip = Clip(
            clip.text,
            clip.cut_chars + hidden_before,
            clip.cut_lines + trace.count("\n", 0, hidden_before),
        )
    shown = sanitize(clip.text)
    ctx.charge(len(shown))
    text = Text()
    if clip.clipped:
        text.append_text(_marker(ctx, clip, earlier=True))
        text.append("\n")
    text.append(shown, style=S_TRACE)
    return text


# ---- messages


def _message_blocks(
    ctx: _Ctx, msg: Message, number: int, limits: tuple[int, int | None]
) -> list[_Block]:
    head = Text(f"#{number} ", style=S_DIM)
    role = msg.role
    if _present(role):
        role_text = _as_text(role, 200)
        head.append(
            sanitize(role_text[:64]) + ("…" if len(role_text) > 64 else ""),
            style=ROLE_STYLE.get(role_text[:32].strip().lower(), S_ROLE_OTHER),
        )
    else:
        head.append("(no role)", style=S_EMPTY)
    if _present(msg.name):
        _label(head, " · name", _inline(ctx, msg.name, 120), "")
    if _present(msg.tool_call_id):
        _label(head, " · tool_call_id", _inline(ctx, msg.tool_call_id, 120), "")
    blocks = [_Block(head)]
    for part in msg.parts:
        blocks.extend(_part_blocks(ctx, part, limits))
    for call in msg.calls:
        blocks.extend(_call_blocks(ctx, call, limits))
    for key, value in msg.extra[:50]:
        blocks.append(_Block(_kv_line(ctx, key, value), indent=2))
    if len(blocks) == 1:
        blocks.append(_Block(Text("(empty)", style=S_EMPTY), indent=2))
    return blocks


def _part_blocks(ctx: _Ctx, part: Part, limits: tuple[int, int | None]) -> list[_Block]:
    kind = part.kind
    if kind == "text":
        if part.value == "":
            return []
        return [_Block(_value_text(ctx, part.value, limits=_item_limits(ctx, limits)), indent=2)]
    if kind == "labelled":
        label = Text(f"[{sanitize(_as_text(part.label, 40)[:40])}]", style=S_MEDIA)
        body = _value_text(ctx, part.value, limits=_item_limits(ctx, limits))
        return [_Block(label, indent=2), _Block(body, indent=2)]
    if kind == "media":
        text = Text(f"[{sanitize(_as_text(part.label, 40)[:40])}: ", style=S_MEDIA)
        text.append_text(_inline(ctx, part.value, 200))
        text.append("]", style=S_MEDIA)
        return [_Block(text, indent=2)]
    if kind == "result":
        head = Text("← result", style=S_CALL)
        if _present(part.label):
            _label(head, "  id", _inline(ctx, part.label, 120), "")
        body = _value_text(ctx, part.value, limits=_item_limits(ctx, limits))
        return [_Block(head, indent=2), _Block(body, indent=4)]
    return [_Block(_kv_line(ctx, _as_text(part.label, 200), part.value), indent=2)]


def _item_limits(ctx: _Ctx, limits: tuple[int, int | None]) -> tuple[int, int | None]:
    return ctx.limits() if ctx.full else ctx.limits(limits[0], limits[1])


def _call_blocks(ctx: _Ctx, call: ToolCall, limits: tuple[int, int | None]) -> list[_Block]:
    head = Text("→ ", style=S_CALL)
    if _present(call.name):
        head.append_text(_inline(ctx, call.name, 200, S_CALL))
    else:
        head.append("(unnamed call)", style=S_EMPTY)
    if _present(call.id):
        _label(head, "  id", _inline(ctx, call.id, 120), "")
    blocks = [_Block(head, indent=2)]
    if call.arguments is not None and call.arguments != "":
        args = _value_text(ctx, call.arguments, limits=_item_limits(ctx, limits))
        blocks.append(_Block(args, indent=4))
    for key, value in call.extra[:20]:
        blocks.append(_Block(_kv_line(ctx, key, value), indent=4))
    return blocks


def _message_list_blocks(
    ctx: _Ctx,
    title: str,
    items: list[Any],
    normalise: Callable[[Any], Message],
    share: float,
) -> list[_Block]:
    total = len(items)
    shown_indices = _head_tail(total, ctx.max_items)
    limits = ctx.item_limits(len(shown_indices) or 1, share)
    count = f"{total:,} message" + ("" if total == 1 else "s")
    blocks = [_Block(Text.assemble((title, S_TITLE), (f"  ({count})", S_DIM)))]
    if not ctx.full:
        ctx.shown_counts[title] = total
    for index in _walk(ctx, shown_indices, "messages", blocks):
        msg = normalise(items[index])
        blocks.extend(_message_blocks(ctx, msg, index, limits))
        if not ctx.full:
            _remember_texts(ctx, title, index, msg)
    return blocks


# ---- what the messages already showed (a raw request repeats them)

_NORM_LIMIT = 200_000
_SCAN_NODES = 5_000


def _norm(text: str) -> str:
    return " ".join(readable.unescape_repr(text[:_NORM_LIMIT]).split())


def _remember_texts(ctx: _Ctx, title: str, index: int, msg: Message) -> None:
    role = _as_text(msg.role, 64) if _present(msg.role) else ""
    texts = msg.texts()
    for call in msg.calls:  # a raw response repeats calls by id, their arguments as text
        texts.extend(x for x in (call.id, call.arguments) if isinstance(x, str) and len(x) >= 8)
    for text in texts:
        norm = _norm(text)
        if norm:
            ctx.shown_texts.append(((title, index), role, norm))


def _shown_as(ctx: _Ctx, text: str) -> list[tuple[str, int]]:
    """The shown messages this text is (or holds: a repr wrapping one), by list and index."""
    norm = _norm(text)
    hits = []
    for key, role, shown in ctx.shown_texts:
        if (
            norm == shown
            or (role and norm == f"{role}: {shown}")
            or (len(shown) >= 20 and len(norm) > len(shown) and shown in norm)
        ):
            hits.append(key)
    return hits


def _repeats(ctx: _Ctx, value: object) -> set[tuple[str, int]] | None:
    """The shown messages ``value`` repeats, when it holds nothing else worth reading (no other
    prose: ids, types and counts do not count); None when it does, or when it is too big to
    check."""
    found: set[tuple[str, int]] = set()
    stack = [value]
    nodes = 0
    while stack:
        item = stack.pop()
        nodes += 1
        if nodes > _SCAN_NODES:
            return None
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            if len(item) > _NORM_LIMIT:
                return None
            hits = _shown_as(ctx, item)
            if hits:
                found.update(hits)
            elif len(item) >= 16 and " " in item.strip():
                return None
    return found or None


def _repeat_note(ctx: _Ctx, hits: set[tuple[str, int]]) -> str:
    by_title: dict[str, list[int]] = {}
    for title, index in sorted(hits):
        by_title.setdefault(title, []).append(index)
    parts = []
    for title, indexes in by_title.items():
        total = ctx.shown_counts.get(title, 0)
        one = title[:-1] if title.endswith("s") else title
        if len(indexes) == total:
            parts.append(f"the {total:,} {title}" if total > 1 else f"the {one}")
        else:
            numbers = ", ".join(f"#{i}" for i in indexes[:10])
            more = ", …" if len(indexes) > 10 else ""
            parts.append(f"{one}{'s' if len(indexes) > 1 else ''} {numbers}{more}")
    return "… " + " and ".join(parts) + " shown above"


def _repeat_collapser(ctx: _Ctx) -> Collapse | None:
    """For a raw request or response: each top-level part that only repeats shown messages
    becomes one line saying so."""
    if ctx.full or not ctx.shown_texts:
        return None

    def collapse(path: tuple[Any, ...], value: Any) -> str | None:
        if len(path) > 1 or (not path and not isinstance(value, list)):
            return None
        hits = _repeats(ctx, value)
        return None if hits is None else _repeat_note(ctx, hits)

    return collapse


def _repeated_text(ctx: _Ctx, value: object) -> str | None:
    """A plain-text value that is a shown message (``"assistant: …"`` counts): its note."""
    if ctx.full or not ctx.shown_texts or not isinstance(value, str) or looks_like_json(value):
        return None
    if len(value) > _NORM_LIMIT:
        return None
    norm = _norm(value)
    hits = {
        key
        for key, role, shown in ctx.shown_texts
        if norm == shown or (role and norm == f"{role}: {shown}")
    }
    return _repeat_note(ctx, hits) if hits else None


def _head_tail(total: int, cap: int) -> list[int]:
    if total <= cap:
        return list(range(total))
    head = max(1, cap // 4)
    tail = cap - head
    return list(range(head)) + list(range(total - tail, total))


def _walk(ctx: _Ctx, shown: list[int], noun: str, blocks: list[_Block]) -> Iterator[int]:
    """The indexes in ``shown`` (from `_head_tail`), adding a "… N more" line to ``blocks``
    wherever a run of items is skipped; stops early once the pane's budget is spent."""
    previous = -1
    for index in shown:
        if ctx.exhausted:
            return
        if index != previous + 1:
            blocks.append(_Block(_gap_text(ctx, index - previous - 1, noun, previous + 1)))
        previous = index
        yield index


def _gap_text(ctx: _Ctx, hidden: int, noun: str, first: int) -> Text:
    return Text(
        f"… {hidden:,} more {noun} (#{first:,}–#{first + hidden - 1:,}) — {ctx.hint}",
        style=S_MARKER,
    )


def _sec_messages(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    lists: list[tuple[str, list[Any], Callable[[Any], Message]]] = []
    for title, path, normalise in (
        ("input messages", "llm.input_messages", semconv.message),
        ("output messages", "llm.output_messages", semconv.message),
        ("prompts", "llm.prompts", _completion_normaliser("prompt")),
        ("choices", "llm.choices", _completion_normaliser("completion")),
    ):
        listed = _take_list(ctx, path, title, blocks)
        if listed is not None:
            lists.append((title, listed, normalise))
    total = sum(len(x[1]) for x in lists) or 1
    for title, listed, normalise in lists:
        share = 0.5 * max(0.1, len(listed) / total)
        blocks.extend(_message_list_blocks(ctx, title, listed, normalise, share))
    return blocks


def _take_list(ctx: _Ctx, path: str, title: str, blocks: list[_Block]) -> list[Any] | None:
    """The list at `path`, taken; None when it is absent, or when it is not a list: then it is
    shown as it is, under `title`."""
    value = ctx.take(path)
    if value is _MISSING:
        return None
    listed = _as_list(value)
    if listed is None:
        blocks.append(_Block(Text(title, style=S_TITLE)))
        blocks.append(_Block(_value_text(ctx, value), indent=2))
    return listed


def _completion_normaliser(prefix: str) -> Callable[[object], Message]:
    role = "user" if prefix == "prompt" else "assistant"

    def normalise(item: object) -> Message:
        if isinstance(item, dict):
            fields = _fields(item, prefix)
            text = _pop(fields, "text")
            msg = Message(role=role, parts=[Part("text", text)] if text is not None else [])
            msg.extra = [(str(k), v) for k, v in fields.items()]
            return msg
        return Message(role=role, parts=[Part("text", item)])

    return normalise


# ---- prompt template


def _sec_prompt_template(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    template = ctx.take("llm.prompt_template.template")
    if template is not _MISSING:
        blocks.append(_Block(Text("template", style=S_TITLE)))
        blocks.append(_Block(_value_text(ctx, template, as_json=False), indent=2))
    variables = ctx.take("llm.prompt_template.variables")
    if variables is not _MISSING:
        blocks.append(_Block(Text("variables", style=S_TITLE)))
        parsed = _maybe_json(ctx, variables)
        if isinstance(parsed, dict):
            items = list(parsed.items())
            shown = _head_tail(len(items), ctx.max_items)
            limits = ctx.item_limits(len(shown) or 1, 0.4)
            for index in _walk(ctx, shown, "variables", blocks):
                key, value = items[index]
                name = key if isinstance(key, str) else to_display(key)
                blocks.append(_Block(Text(sanitize(name[:200]), style=S_KEY), indent=2))
                body = _value_text(ctx, value, limits=_item_limits(ctx, limits))
                blocks.append(_Block(body, indent=4))
        else:
            blocks.append(_Block(_value_text(ctx, variables), indent=2))
    line = _labelled_line(
        ctx,
        (
            ("version", "llm.prompt_template.version"),
            ("vendor", "prompt.vendor"),
            ("id", "prompt.id"),
            ("url", "prompt.url"),
        ),
        300,
    )
    if len(line):
        blocks.append(_Block(line))
    return blocks


# ---- tools available


def _sec_tools(ctx: _Ctx) -> list[_Block]:
    value = ctx.take("llm.tools")
    if value is _MISSING:
        return []
    listed = _as_list(value)
    if listed is None:
        return [_Block(_value_text(ctx, value))]
    shown = _head_tail(len(listed), ctx.max_items)
    limits = ctx.item_limits(len(shown) or 1, 0.2)
    count = f"{len(listed):,} tool" + ("" if len(listed) == 1 else "s")
    blocks = [_Block(Text(count, style=S_DIM))]
    for index in _walk(ctx, shown, "tools", blocks):
        blocks.extend(_tool_blocks(ctx, listed[index], index, limits))
    return blocks


def _tool_blocks(
    ctx: _Ctx, item: object, index: int, limits: tuple[int, int | None]
) -> list[_Block]:
    fields = _fields(item, "tool") if isinstance(item, dict) else {}
    schema_raw = _pop(fields, "json_schema") if fields else item
    name = _pop(fields, "name")
    description = _pop(fields, "description")
    schema: Any = schema_raw
    if isinstance(schema_raw, str):
        schema = _maybe_json(ctx, schema_raw)
    if isinstance(schema, dict):
        function = schema.get("function")
        inner = function if isinstance(function, dict) else schema
        if name is None:
            name = inner.get("name")
        if description is None:
            description = inner.get("description")
    head = Text(f"#{index} ", style=S_DIM)
    if _present(name):
        head.append_text(_inline(ctx, name, 200, S_CALL))
    else:
        head.append("(unnamed tool)", style=S_EMPTY)
    blocks = [_Block(head)]
    if _present(description):
        chars, lines = limits
        desc_limits = ctx.limits(min(chars, 1000), min(lines or 6, 6))
        body = _value_text(ctx, description, as_json=False, limits=desc_limits)
        blocks.append(_Block(body, indent=2))
    if (ctx.options.show_raw or ctx.full) and schema_raw is not None:
        body = _value_text(ctx, schema_raw, limits=_item_limits(ctx, limits))
        blocks.append(_Block(body, indent=2))
    for key, value in list(fields.items())[:20]:
        blocks.append(_Block(_kv_line(ctx, str(key), value), indent=2))
    return blocks


# ---- input / output


def _sec_io(ctx: _Ctx, which: str) -> list[_Block]:
    node = ctx.get(which)
    if node is _MISSING:
        return []
    if not isinstance(node, dict):
        ctx.use(which)
        return [_Block(_value_text(ctx, node))]
    value = ctx.take(f"{which}.value")
    mime = ctx.take(f"{which}.mime_type")
    blocks: list[_Block] = []
    if isinstance(mime, str) and mime not in (_JSON_MIME, "text/plain"):
        blocks.append(_Block(_inline(ctx, mime, 100, S_DIM)))
    if value is not _MISSING:
        note = _repeated_text(ctx, value)
        if note is not None:
            blocks.append(_Block(Text(note, style=S_MARKER)))
        else:
            body = _value_text(ctx, value, mime=mime, collapse=_repeat_collapser(ctx))
            blocks.append(_Block(body))
    return blocks


# ---- documents


def _sec_documents(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    reranker_line = _labelled_line(
        ctx,
        (
            ("query", "reranker.query"),
            ("model", "reranker.model_name"),
            ("top_k", "reranker.top_k"),
        ),
        500,
    )
    if len(reranker_line):
        blocks.append(_Block(Text("reranker", style=S_TITLE)))
        blocks.append(_Block(reranker_line, indent=2))
    annotatable = semconv.annotatable_document_path(ctx.attrs)
    selected = ctx.options.selected_document if not ctx.full else None
    for path, label in semconv.DOCUMENT_LISTS:
        listed = _take_list(ctx, path, label, blocks)
        if listed is None:
            continue
        here = selected if path == annotatable else None
        count = f"{len(listed):,} document" + ("" if len(listed) == 1 else "s")
        blocks.append(_Block(Text.assemble((label, S_TITLE), (f"  ({count})", S_DIM))))
        shown = _head_tail(len(listed), ctx.max_items)
        if here is not None and 0 <= here < len(listed) and here not in shown:
            shown = sorted({*shown, here})
        limits = ctx.item_limits(len(shown) or 1, 0.4)
        for index in _walk(ctx, shown, "documents", blocks):
            doc_limits = ctx.limits() if index == here else limits
            doc_blocks = _document_blocks(ctx, listed[index], index, doc_limits, index == here)
            if index == here:
                blocks.append(_Block(children=doc_blocks, frame=True))
            else:
                blocks.extend(doc_blocks)
    return blocks


def _document_blocks(
    ctx: _Ctx, item: object, index: int, limits: tuple[int, int | None], selected: bool
) -> list[_Block]:
    doc = semconv.document(item)
    head = Text()
    if selected:
        head.append(f" ▶ #{index} ", style=S_SELECTED)
    else:
        head.append(f"#{index}", style=S_DOC_NUMBER)
    if doc.id is not None:
        _label(head, "id", _inline(ctx, doc.id, 200))
    if doc.score is not None:
        _label(head, "score", _num_or_text(ctx, doc.score))
    blocks = [_Block(head)]
    if doc.content is not None:
        body = _value_text(ctx, doc.content, limits=_item_limits(ctx, limits))
        blocks.append(_Block(body, indent=2))
    if doc.metadata is not None:
        line = Text("metadata ", style=S_LABEL)
        line.append_text(_inline(ctx, _maybe_json(ctx, doc.metadata), 500))
        blocks.append(_Block(line, indent=2))
    for key, value in list(doc.extra.items())[:20]:
        blocks.append(_Block(_kv_line(ctx, str(key), value), indent=2))
    return blocks


def _maybe_json(ctx: _Ctx, value: object) -> object:
    """A JSON-object string parsed (for compact display), anything else unchanged."""
    if isinstance(value, str) and looks_like_json(value) and len(value) <= ctx.parse_limit:
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(parsed, dict | list):
            return parsed
    return value


# ---- tool (the span is a tool call)


def _sec_tool(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    line = Text()
    for label, path in (("name", "tool.name"), ("id", "tool.id"), ("call id", "tool_call.id")):
        value = ctx.take(path)
        if value is not _MISSING:
            _label(line, label, _inline(ctx, value, 300, S_CALL if label == "name" else ""))
    fn_name = ctx.take("tool_call.function.name")
    if fn_name is not _MISSING:
        _label(line, "function", _inline(ctx, fn_name, 300))
    if len(line):
        blocks.append(_Block(line))
    description = ctx.take("tool.description")
    if description is not _MISSING:
        blocks.append(_Block(_value_text(ctx, description, as_json=False, lines=12), indent=2))
    for label, path in (
        ("parameters", "tool.parameters"),
        ("json schema", "tool.json_schema"),
        ("arguments", "tool_call.function.arguments"),
    ):
        value = ctx.take(path)
        if value is not _MISSING:
            blocks.append(_Block(Text(label, style=S_LABEL)))
            blocks.append(_Block(_value_text(ctx, value), indent=2))
    return blocks


# ---- embedding


def _sec_embedding(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    model = ctx.take("embedding.model_name")
    if model is not _MISSING:
        blocks.append(_Block(Text("model ", style=S_LABEL) + _inline(ctx, model, 200)))
    for path in ("embedding.text", "embedding.vector"):
        value = ctx.take(path)
        if value is not _MISSING:
            item = {path.split(".")[1]: value}
            blocks.extend(_embedding_blocks(ctx, item, None, ctx.limits()))
    value = ctx.take("embedding.embeddings")
    if value is not _MISSING:
        listed = _as_list(value)
        if listed is None:
            blocks.append(_Block(_value_text(ctx, value)))
        else:
            count = f"{len(listed):,} embedding" + ("" if len(listed) == 1 else "s")
            blocks.append(_Block(Text(count, style=S_DIM)))
            shown = _head_tail(len(listed), ctx.max_items)
            limits = ctx.item_limits(len(shown) or 1, 0.3)
            for index in _walk(ctx, shown, "embeddings", blocks):
                blocks.extend(_embedding_blocks(ctx, listed[index], index, limits))
    params = ctx.take("embedding.invocation_parameters")
    if params is not _MISSING:
        blocks.append(_Block(Text("invocation parameters", style=S_LABEL)))
        blocks.append(_Block(_value_text(ctx, params), indent=2))
    return blocks


def _vector_summary(vector: object) -> str | None:
    if isinstance(vector, list | tuple):
        sample = vector[:16]
        if sample and all(isinstance(v, int | float) and not isinstance(v, bool) for v in sample):
            return readable.vector_summary(vector)
        return f"[{len(vector):,} values]"
    if isinstance(vector, str) and len(vector) > 64:
        return f"[vector: {len(vector):,} chars]"
    return None


def _embedding_blocks(
    ctx: _Ctx, item: object, index: int | None, limits: tuple[int, int | None]
) -> list[_Block]:
    fields = _fields(item, "embedding") if isinstance(item, dict) else {"text": item}
    head = Text(f"#{index}" if index is not None else "", style=S_DOC_NUMBER)
    vector = _pop(fields, "vector")
    if vector is not None:
        summary = _vector_summary(vector)
        if len(head):
            head.append(" ")
        head.append_text(Text(summary, style=S_DIM) if summary else _inline(ctx, vector, 200))
    blocks = [_Block(head)] if len(head) else []
    text = _pop(fields, "text")
    if text is not None:
        blocks.append(
            _Block(
                _value_text(ctx, text, as_json=False, limits=_item_limits(ctx, limits)),
                indent=2,
            )
        )
    for key, value in list(fields.items())[:20]:
        blocks.append(_Block(_kv_line(ctx, str(key), value), indent=2))
    return blocks


# ---- invocation parameters, metadata


def _sec_invocation(ctx: _Ctx) -> list[_Block]:
    value = ctx.take("llm.invocation_parameters")
    if value is _MISSING:
        return []
    return [_Block(_value_text(ctx, value, collapse=_repeat_collapser(ctx)))]


def _sec_metadata(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    tags = ctx.take("tag.tags")
    if tags is not _MISSING:
        listed = _as_list(tags)
        line = Text("tags ", style=S_LABEL)
        if listed is None:
            line.append_text(_inline(ctx, tags, 500))
        else:
            for position, tag in enumerate(listed[:100]):
                if position:
                    line.append(" · ", style=S_DIM)
                line.append_text(_inline(ctx, tag, 100, S_KEY))
            if len(listed) > 100:
                line.append(f" … +{len(listed) - 100:,} more tags", style=S_MARKER)
        blocks.append(_Block(line))
    metadata = ctx.take("metadata")
    if metadata is not _MISSING:
        parsed = _maybe_json(ctx, metadata)
        if isinstance(parsed, dict) and parsed:
            # One line per key reads better than pretty JSON for the usual flat metadata.
            items = list(parsed.items())
            lines = Text()
            for key, value in items[: ctx.max_attributes]:
                if ctx.exhausted:
                    break
                if len(lines):
                    lines.append("\n")
                lines.append_text(
                    _kv_line(ctx, key if isinstance(key, str) else to_display(key), value, 1000)
                )
            if len(items) > ctx.max_attributes:
                lines.append("\n")
                lines.append_text(
                    _gap_text(ctx, len(items) - ctx.max_attributes, "keys", ctx.max_attributes)
                )
            blocks.append(_Block(lines))
        else:
            blocks.append(_Block(_value_text(ctx, metadata)))
    return blocks


# ---- gen_ai


_GENAI_MESSAGE_KEYS = (
    ("system instructions", "gen_ai.system_instructions"),
    ("input messages", "gen_ai.input.messages"),
    ("output messages", "gen_ai.output.messages"),
    ("prompt", "gen_ai.prompt"),
    ("completion", "gen_ai.completion"),
)


def _sec_genai(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    for title, path in _GENAI_MESSAGE_KEYS:
        value = ctx.get(path)
        if value is _MISSING:
            continue
        ctx.use(path)
        parsed = _maybe_json(ctx, value)
        listed = _as_list(parsed)
        if listed is None or not all(isinstance(m, dict) for m in listed[:50]):
            blocks.append(_Block(Text(title, style=S_TITLE)))
            blocks.append(_Block(_value_text(ctx, value), indent=2))
            continue
        if path == "gen_ai.system_instructions" and listed and "role" not in listed[0]:
            listed = [{"role": "system", "parts": listed}]
        blocks.extend(_message_list_blocks(ctx, title, listed, semconv.message, 0.3))
    root = ctx.attrs.get("gen_ai", _MISSING)
    if root is _MISSING:
        return blocks
    ctx.use("gen_ai")
    if not isinstance(root, dict):
        blocks.append(_Block(_kv_line(ctx, "gen_ai", root, 1000)))
        return blocks
    # Everything else under gen_ai.* (flat top-level "gen_ai.x" keys land in other attributes).
    rest = Text()
    saved = ctx.consumed
    ctx.consumed = saved - {"gen_ai"}
    try:
        for count, (key, value) in enumerate(_iter_leaves(ctx, root, "gen_ai")):
            if ctx.exhausted:
                break
            if count >= ctx.max_attributes:
                rest.append("\n")
                rest.append(f"… more gen_ai attributes — {ctx.hint}", style=S_MARKER)
                break
            if len(rest):
                rest.append("\n")
            rest.append_text(_kv_line(ctx, key, value, 500))
    finally:
        ctx.consumed = saved
    if len(rest):
        blocks.append(_Block(rest))
    return blocks


# ---- events, other attributes, raw


def _sec_events(ctx: _Ctx) -> list[_Block]:
    events = ctx.span.events
    listed = _as_list(events)
    if listed is None:
        return [_Block(_value_text(ctx, events))] if _present(events) else []
    others = [(i, e) for i, e in enumerate(listed) if not _is_exception(e)]
    blocks: list[_Block] = []
    shown = _head_tail(len(others), ctx.max_items)
    for position in _walk(ctx, shown, "events", blocks):
        index, event = others[position]
        if not isinstance(event, dict):
            blocks.append(_Block(_kv_line(ctx, f"#{index}", event)))
            continue
        fields = dict(event)
        head = Text(f"#{index} ", style=S_DIM)
        head.append_text(_inline(ctx, fields.pop("name", ""), 200, S_NAME))
        timestamp = fields.pop("timestamp", None)
        if timestamp is not None:
            head.append("  ")
            head.append_text(_inline(ctx, _pretty_time(timestamp), 64, S_DIM))
        blocks.append(_Block(head))
        attributes = fields.pop("attributes", None)
        if isinstance(attributes, dict):
            fields = {**attributes, **fields}
        elif attributes is not None:
            fields["attributes"] = attributes
        for key, value in list(fields.items())[:50]:
            blocks.append(_Block(_kv_line(ctx, str(key), value, 1000), indent=2))
    return blocks


def _sec_other(ctx: _Ctx) -> list[_Block]:
    blocks: list[_Block] = []
    if ctx.bad_attrs is not None:
        blocks.append(_Block(_kv_line(ctx, "attributes", ctx.bad_attrs, 2000)))
    if ctx.full:
        # Plain text only (span_full_text): skip Rich per line, it is ~10x slower at 100k keys.
        plain: list[str] = []
        for path, value in _iter_leaves(ctx, ctx.attrs):
            if ctx.exhausted:
                break
            shown_value = value if isinstance(value, str) else to_display(value)
            line = f"{sanitize(path)}: {sanitize(shown_value[: max(0, ctx.budget)])}"
            ctx.charge(len(line))
            plain.append(line)
        if plain:
            blocks.append(_Block(Text("\n".join(plain))))
        return blocks
    lines = Text()
    shown = 0
    hidden = 0
    count_cap = 10_000
    for path, value in _iter_leaves(ctx, ctx.attrs):
        if ctx.exhausted:
            break
        if shown >= ctx.max_attributes:
            hidden += 1
            if hidden >= count_cap:
                break
            continue
        if isinstance(value, str) and "\n" in value[:2000]:
            if len(lines):
                blocks.append(_Block(lines))
                lines = Text()
            key = Text(sanitize(path[:200]), style=S_KEY)
            key.append(":")
            blocks.append(_Block(key))
            blocks.append(_Block(_value_text(ctx, value, lines=10, chars=1000), indent=2))
        else:
            if len(lines):
                lines.append("\n")
            lines.append_text(_kv_line(ctx, path, value, 1000))
        shown += 1
    if len(lines):
        blocks.append(_Block(lines))
    if hidden:
        more = f"more than {hidden:,}" if hidden >= count_cap else f"{hidden:,}"
        blocks.append(_Block(Text(f"… {more} more attributes — {ctx.hint}", style=S_MARKER)))
    return blocks


def _sec_raw(ctx: _Ctx) -> list[_Block]:
    source: Any = ctx.attrs if ctx.bad_attrs is None else ctx.bad_attrs
    options = ctx.options
    budget = max(1000, options.raw_chars)
    dumped = dump_json(source, 2, budget * 2, exact_limit=budget * 4, vector_limit=32)
    clip = clip_lines(dumped.text, max(1, options.raw_lines), max(1000, options.raw_chars))
    if not dumped.exact:
        clip = Clip(clip.text, max(1, clip.cut_chars), clip.cut_lines, exact=False)
    return [_Block(_clip_text(ctx, clip, as_json=True))]


_SECTIONS: tuple[tuple[str, Callable[[_Ctx], list[_Block]]], ...] = (
    ("header", _sec_header),
    ("error", _sec_error),
    ("messages", _sec_messages),
    ("prompt template", _sec_prompt_template),
    ("tools available", _sec_tools),
    ("input", lambda ctx: _sec_io(ctx, "input")),
    ("output", lambda ctx: _sec_io(ctx, "output")),
    ("documents", _sec_documents),
    ("tool", _sec_tool),
    ("embedding", _sec_embedding),
    ("invocation parameters", _sec_invocation),
    ("metadata", _sec_metadata),
    ("gen_ai", _sec_genai),
    ("events", _sec_events),
    ("other attributes", _sec_other),
)


def _build(ctx: _Ctx, with_raw: bool) -> list[tuple[str, list[_Block]]]:
    sections: list[tuple[str, list[_Block]]] = []
    builders = (*_SECTIONS, ("raw", _sec_raw)) if with_raw else _SECTIONS
    for title, build in builders:
        if ctx.exhausted:
            break
        try:
            blocks = build(ctx)
        except Exception as error:
            message = Text("could not render this section: ", style=S_ERROR)
            message.append(sanitize(f"{type(error).__name__}: {error}"[:300]))
            blocks = [_Block(message)]
        if blocks:
            sections.append((title, blocks))
    return sections


# --------------------------------------------------------------------------------- output


def _to_renderable(blocks: list[_Block]) -> RenderableType:
    items: list[RenderableType] = []
    run: list[Text] = []
    run_indent = 0

    def flush() -> None:
        # Adjacent texts at one indent become one Text: far fewer renderables for Rich to lay out.
        if run:
            joined = run[0] if len(run) == 1 else Text("\n").join(run)
            items.append(Padding(joined, (0, 0, 0, run_indent)) if run_indent else joined)
            run.clear()

    for block in blocks:
        if block.children is None:
            if run and block.indent != run_indent:
                flush()
            run_indent = block.indent
            run.append(block.text if block.text is not None else Text())
            continue
        flush()
        renderable: RenderableType = _to_renderable(block.children)
        if block.frame:
            renderable = Panel(
                renderable,
                title=Text("selected document", style=S_SELECTED),
                title_align="left",
                border_style=S_SELECTED_BORDER,
                padding=(0, 1),
            )
        if block.indent:
            renderable = Padding(renderable, (0, 0, 0, block.indent))
        items.append(renderable)
    flush()
    return Group(*items)


def _to_plain(blocks: list[_Block], out: list[str], indent: int = 0) -> None:
    for block in blocks:
        pad = " " * (indent + block.indent)
        if block.children is not None:
            _to_plain(block.children, out, indent + block.indent)
            continue
        plain = block.text.plain if block.text is not None else ""
        out.append("\n".join(pad + line if line else line for line in plain.split("\n")))


def span_sections(
    span: Span, options: RenderOptions = _DEFAULT_OPTIONS
) -> list[tuple[str, RenderableType]]:
    """The centre pane as ``(section title, body)`` pairs, only the sections that apply.

    Titles come from :data:`SECTION_TITLES` (stable: the app may bind jump keys to them).
    """
    ctx = _Ctx(span, options)
    return [(title, _to_renderable(blocks)) for title, blocks in _build(ctx, options.show_raw)]


def render_span(span: Span, options: RenderOptions = _DEFAULT_OPTIONS) -> Group:
    """The whole centre pane: the header, then each section under a titled rule.

    With a ``selected_document``, the pane opens on what that judgement needs: the header, the
    input (the query), then the selected document framed, then the rest of the span; the
    document is never below the fold of a long list."""
    sections = span_sections(span, options)
    selected = selected_document(span, options)
    if selected is not None:
        first = [s for s in sections if s[0] in ("header", "input")]
        rest = [s for s in sections if s[0] not in ("header", "input")]
        sections = [*first, (f"document #{options.selected_document}", selected), *rest]
    parts: list[RenderableType] = []
    for title, body in sections:
        if title != "header":
            parts.append(Rule(Text(title, style=S_RULE_TITLE), align="left", style=S_RULE))
        parts.append(body)
    return Group(*parts)


def selected_document(
    span: Span, options: RenderOptions = _DEFAULT_OPTIONS
) -> RenderableType | None:
    """Only the document at ``options.selected_document`` (framed), or None when the span has
    no document at that position."""
    here = options.selected_document
    if here is None:
        return None
    ctx = _Ctx(span, options)
    listed = semconv.annotatable_documents(ctx.attrs)
    if not 0 <= here < len(listed):
        return None
    blocks = _document_blocks(ctx, listed[here], here, ctx.limits(), True)
    return _to_renderable([_Block(children=blocks, frame=True)])


def span_full_text(span: Span) -> str:
    """Everything about the span as plain text: sanitised, not clipped, not highlighted.

    For a read-only "show whole" view. Bounded only by :data:`FULL_TEXT_CAP` characters.
    """
    ctx = _Ctx(span, _DEFAULT_OPTIONS, full=True)
    out: list[str] = []
    for title, blocks in _build(ctx, with_raw=False):
        if title != "header":
            out.append(f"── {title} " + "─" * max(0, 60 - len(title)))
        _to_plain(blocks, out)
    if ctx.exhausted:
        out.append(f"… [truncated: the full text is capped at {FULL_TEXT_CAP:,} characters]")
    text = "\n".join(out)
    if len(text) > FULL_TEXT_CAP + 10_000:
        text = text[:FULL_TEXT_CAP] + "\n… [truncated]"
    return text


def span_summary(span: Span) -> dict[str, Any]:
    """Small facts for the tree and the status bar (all text sanitised and short).

    Keys: ``kind``, ``model``, ``provider``, ``prompt_tokens``, ``completion_tokens``,
    ``total_tokens`` (ints or None), ``cost`` (float or None), ``latency_ms``, ``error`` (first
    line of the status message or of the first exception, or None), ``documents`` (int).
    """
    attrs = span.attributes if isinstance(span.attributes, dict) else {}

    def get(path: str) -> Any:
        value = semconv.lookup(attrs, path)
        return None if value is _MISSING else value

    def short(value: object, limit: int = 120) -> str | None:
        if value is None or value == "":
            return None
        text = value if isinstance(value, str) else dump_json(value, None, limit).text
        return sanitize(text[:limit])

    model = (
        get("llm.model_name")
        or get("llm.response.model_name")
        or get("llm.request.model_name")
        or get("gen_ai.response.model")
        or get("gen_ai.request.model")
        or get("embedding.model_name")
        or get("reranker.model_name")
    )
    provider = (
        get("llm.provider")
        or get("gen_ai.provider.name")
        or get("llm.system")
        or get("gen_ai.system")
    )
    tokens = semconv.token_counts(attrs)
    cost = get("llm.cost.total")
    cost_value = (
        float(cost)
        if isinstance(cost, int | float) and not isinstance(cost, bool) and math.isfinite(cost)
        else None
    )
    error = None
    message = span.status_message
    if isinstance(message, str) and message[:100_000].strip():
        at = message.find(_TRACEBACK_HEAD, 0, 10_000)
        error = first_line(message[:at] if at > 0 else message[:10_000])
    if not error:
        for event in _as_list(span.events) or []:
            if _is_exception(event):
                attributes = event.get("attributes")
                for path in ("exception.message", "exception.type"):
                    found = semconv.lookup(attributes, path)
                    if found is not _MISSING and found not in (None, ""):
                        error = first_line(
                            found if isinstance(found, str) else dump_json(found, None, 400).text
                        )
                        break
            if error:
                break
    try:
        latency = span.latency_ms
    except Exception:
        latency = None
    kind = _as_text(span.span_kind, 200)
    return {
        "kind": sanitize(kind[:24]),
        "model": short(model),
        "provider": short(provider, 60),
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.total,
        "cost": cost_value,
        "latency_ms": latency,
        "error": sanitize(error[:200]) if error else None,
        "documents": semconv.document_count(attrs),
    }
