"""The left pane: traces expanding into their span trees, drawn line by line.

A line-API `ScrollView` over `TreeModel`: only the lines on screen are ever rendered, so the
widget costs the same for a hundred traces as for a million, and a 10,000-span trace scrolls as
fast as a small one. Rendered lines are cached until something they show changes.

When the marks change (a label saved, a change pending, another annotator's work) only the lines
on screen whose look changed are drawn again: each cached line keeps what it showed (`_look`:
the row's mark, and a trace row's summary, progress and preview), and a line that would show the
same is left as it is. A label key redrew every row of the tree twice (the change shown pending,
then committed); now the span's row and its trace's row.

Every string from trace data is sanitised and goes into `Text` with `append` (never parsed as
markup); the only styles and meta are the widget's own.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Protocol

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip

from annotator.app.session import Mark
from annotator.app.tree_model import DOCUMENT, TRACE, Row, TreeModel
from annotator.app.widgets.line_view import LineView
from annotator.store import SpanRow, TraceRow
from annotator.text import sanitize

KIND_BADGES = {
    "AGENT": ("AGT", "bold magenta"),
    "CHAIN": ("CHN", "blue"),
    "LLM": ("LLM", "bold green"),
    "RETRIEVER": ("RTR", "bold yellow"),
    "RERANKER": ("RRK", "yellow"),
    "EMBEDDING": ("EMB", "cyan"),
    "TOOL": ("TOL", "bold cyan"),
    "PROMPT": ("PRM", "bright_blue"),
    "GUARDRAIL": ("GRD", "red"),
    "EVALUATOR": ("EVL", "bright_magenta"),
    "UNKNOWN": ("···", "dim"),
}
NAME_LIMIT = 200  # a span name longer than this is clipped in the tree (the span view shows it)
PREVIEW_MIN = 20  # the start time is left out of a trace row before the preview gets shorter
_CACHE_LINES = 2000


class TreeSource(Protocol):
    """What the tree asks of its screen, for the rows it is about to draw."""

    def trace_summary(self, trace_id: str) -> TraceRow | None: ...

    def trace_progress(self, trace_id: str) -> tuple[int, int] | None: ...

    def trace_preview(self, trace_id: str) -> str:
        """The first line of the trace's root input ("" when none)."""
        ...

    def row_marks(self, row: Row) -> Mark:
        """The row's standing in the queue for this annotator."""
        ...

    def prefetch(self, trace_ids: list[str]) -> None: ...


class Look(NamedTuple):
    """What a row's line shows (besides its width, the cursor and the focus): two rows of equal
    looks are drawn alike. Span and document rows have no summary, progress or preview."""

    row: Row
    marks: Mark
    expanded: bool  # the trace (trace rows) or the span (span rows) shows its children
    span: SpanRow | None = None
    summary: TraceRow | None = None
    progress: tuple[int, int] | None = None
    preview: str = ""


def kind_badge(kind: str | None) -> Text:
    label, style = KIND_BADGES.get(kind or "UNKNOWN", KIND_BADGES["UNKNOWN"])
    return Text(label, style=style)


def format_duration(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms < 1:
        return "<1ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    return f"{ms / 60_000:.1f}m"


def short_time(iso: str | None) -> str:
    """`2026-11-26T19:56:47.742336+00:00` -> `11-26 19:56:47` (UTC, as stored)."""
    if not iso or len(iso) < 19:
        return ""
    return f"{iso[5:10]} {iso[11:19]}"


class TraceTree(LineView, can_focus=True):
    """Keys are the screen's; this widget draws, scrolls, and reports clicks and the cursor."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trace-tree--cursor",
        "trace-tree--trace",
        "trace-tree--dim",
        "trace-tree--error",
        "trace-tree--done",
        "trace-tree--todo",
    }
    DEFAULT_CSS = """
    TraceTree {
        background: $surface;
        overflow-x: hidden;
    }
    TraceTree > .trace-tree--cursor { background: $accent 40%; }
    TraceTree:focus > .trace-tree--cursor { background: $accent; color: $text; }
    TraceTree > .trace-tree--trace { text-style: bold; }
    TraceTree > .trace-tree--dim { color: $text-muted; }
    TraceTree > .trace-tree--error { color: $error; text-style: bold; }
    TraceTree > .trace-tree--done { color: $success; }
    TraceTree > .trace-tree--todo { color: $warning; }
    """

    class Highlighted(Message):
        """The cursor moved to `row` (also sent for clicks)."""

        def __init__(self, row: Row, index: int) -> None:
            super().__init__()
            self.row = row
            self.index = index

    class ToggleRequested(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, model: TreeModel, source: TreeSource, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.source = source
        self.cursor = 0
        # (row index, width, selected, selected and focused) -> (the row's look then, its line)
        self._cache: LRUCache[tuple[int, int, bool, bool], tuple[Look, Strip]] = LRUCache(
            _CACHE_LINES
        )

    # --- state changes --------------------------------------------------------------------------

    def rows_changed(self) -> None:
        """The model's rows changed (expand, collapse, new list): resize and redraw."""
        # No width: the tree never scrolls sideways (overflow-x: hidden), and a width that
        # followed the widget's would make its first size (after the first frame) lay the
        # screen out and paint it all again.
        self.virtual_size = Size(0, len(self.model))
        self.cursor = max(0, min(self.cursor, len(self.model) - 1))
        self._cache.clear()
        self.refresh()

    def marks_changed(self) -> None:
        """Something drawn on the rows may have changed (annotations, summaries): redraw the
        lines on screen that now look different; the cached lines off screen are dropped."""
        width = self.scrollable_content_region.width or self.size.width
        top = round(self.scroll_offset.y)
        bottom = min(len(self.model), top + self.scrollable_content_region.height)
        kept: list[tuple[tuple[int, int, bool, bool], tuple[Look, Strip]]] = []
        for index in range(top, bottom):
            selected = index == self.cursor
            key = (index, width, selected, selected and self.has_focus)
            cached = self._cache.get(key)
            if cached is not None and cached[0] == self._look(self.model.row_at(index)):
                kept.append((key, cached))
            else:
                self.refresh_line(index)
        self._cache.clear()
        for key, cached in kept:
            self._cache[key] = cached

    def move_cursor(self, index: int, *, announce: bool = True) -> None:
        if not len(self.model):
            return
        index = max(0, min(index, len(self.model) - 1))
        previous, self.cursor = self.cursor, index
        self.refresh_line(previous)
        self.refresh_line(index)
        self.scroll_cursor_visible()
        if announce:
            self.post_message(self.Highlighted(self.model.row_at(index), index))

    def scroll_cursor_visible(self, *, center: bool = False) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if center:
            self.scroll_to(y=max(0, self.cursor - height // 3), animate=False, immediate=True)
        elif self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    @property
    def cursor_row(self) -> Row | None:
        return self.model.row_at(self.cursor) if len(self.model) else None

    # --- events ---------------------------------------------------------------------------------

    # No cache clearing on a resize: the width is in the lines' key (the old width's lines age
    # out), and the Resize arrives after the first frame was drawn at that size.

    def notify_style_update(self) -> None:
        # New styles (a theme change): the cached lines are in the old colours.
        super().notify_style_update()
        self._cache.clear()
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("line")
        if index is None:
            return
        event.stop()
        if event.style.meta.get("toggle") or event.chain == 2:
            self.move_cursor(index)
            self.post_message(self.ToggleRequested(index))
        else:
            self.move_cursor(index)

    # --- drawing --------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        index = y + round(self.scroll_offset.y)
        width = self.scrollable_content_region.width or self.size.width
        if index >= len(self.model) or width <= 0:
            return Strip.blank(width, self.base_style)
        if y == 0:  # once per repaint: summaries for every trace row about to be drawn
            self._prefetch(index, self.scrollable_content_region.height)
        selected = index == self.cursor
        key = (index, width, selected, selected and self.has_focus)  # focus: the cursor's colour
        cached = self._cache.get(key)
        if cached is None:
            look = self._look(self.model.row_at(index))
            cached = (look, self._render_row(index, width, selected, look))
            self._cache[key] = cached
        return cached[1]

    def _look(self, row: Row) -> Look:
        """What the row's line shows, besides its width, the cursor and the focus."""
        marks = self.source.row_marks(row)
        if row.kind == TRACE:
            trace_id = row.trace_id
            return Look(
                row,
                marks,
                self.model.is_expanded(trace_id),
                summary=self.source.trace_summary(trace_id),
                progress=self.source.trace_progress(trace_id),
                preview=self.source.trace_preview(trace_id),
            )
        collapsed = self.model.span_is_collapsed(row.trace_id, row.span_id or "")
        return Look(row, marks, not collapsed, self.model.span_of(row))

    def _prefetch(self, first: int, height: int) -> None:
        ids = []
        for index in range(first, min(len(self.model), first + height + 1)):
            row = self.model.row_at(index)
            if row.kind == TRACE:
                ids.append(row.trace_id)
        if ids:
            self.source.prefetch(ids)

    def _render_row(self, index: int, width: int, selected: bool, look: Look) -> Strip:
        base = self.base_style
        meta = Style(meta={"line": index})
        if look.row.kind == TRACE:
            left, right = self._trace_line(look)
        else:
            left, right = self._span_line(look)
        space = width - left.cell_len - right.cell_len
        if space < 1:
            left.truncate(max(0, width - right.cell_len - 1), overflow="ellipsis")
            space = width - left.cell_len - right.cell_len
        line = Text.assemble(left, " " * max(0, space), right, style=base)
        line.stylize(meta)
        if selected:
            line.stylize(self.get_component_rich_style("trace-tree--cursor"))
        return Strip(line.render(self.app.console)).crop_extend(0, width, base)

    def _arrow(self, row: Row, expanded: bool) -> Text:
        if not row.has_children:
            return Text("  ")
        return Text("▾ " if expanded else "▸ ", style=Style(meta={"toggle": True}))

    def _trace_line(self, look: Look) -> tuple[Text, Text]:
        row, summary, expanded = look.row, look.summary, look.expanded
        left = Text.assemble(self._arrow(row, expanded))
        dim = self.get_component_rich_style("trace-tree--dim")
        if summary is None:
            left.append(sanitize(row.trace_id[:NAME_LIMIT]), style=dim)
            return left, Text("")
        name = sanitize((summary.root_name or "(no root)")[:NAME_LIMIT])
        preview = sanitize(look.preview)
        right = Text()
        marks = look.marks
        right.append(f" {summary.span_count}", style=dim)
        if summary.error_count:
            right.append(
                f" ✗{summary.error_count}", style=self.get_component_rich_style("trace-tree--error")
            )
        progress = look.progress
        if progress is not None and progress[1]:
            done, total = progress
            style = "trace-tree--done" if done == total else "trace-tree--todo"
            right.append(f" {done}/{total}", style=self.get_component_rich_style(style))
        right.append(self._mark(marks))
        # What was asked tells traces of one name apart better than when: the start time is
        # shown only where it leaves the preview PREVIEW_MIN cells (and the name some room).
        width = self.scrollable_content_region.width
        started = short_time(summary.start_time)
        used = left.cell_len + 4 + cell_len(name) + right.cell_len
        wanted = (PREVIEW_MIN + 2) if preview else 0
        if started and width >= 44 and width - used - len(started) - 1 >= wanted:
            left.append(started + " ", style=dim)
        left.append_text(kind_badge(summary.root_kind))
        left.append(" ")
        left.append(name, style=self.get_component_rich_style("trace-tree--trace"))
        if preview:
            left.append("  " + preview, style=dim)
        return left, right

    def _span_line(self, look: Look) -> tuple[Text, Text]:
        row, span, marks = look.row, look.span, look.marks
        step = 2 if self.scrollable_content_region.width >= 36 else 1  # narrow: keep the names
        indent = Text(" " * step * row.depth)
        dim = self.get_component_rich_style("trace-tree--dim")
        if row.kind == DOCUMENT:
            style = "yellow" if marks.state != Mark.NONE else dim
            document = Text(f"▤ document #{row.position}", style=style)
            left = Text.assemble(indent, Text("  "), document)
            return left, self._mark(marks)
        left = Text.assemble(indent, self._arrow(row, look.expanded))
        if span is None:
            left.append(sanitize((row.span_id or "?")[:NAME_LIMIT]), style=dim)
            return left, Text("")
        left.append_text(kind_badge(span.span_kind))
        left.append(" ")
        # Spans outside the queue (nothing to judge, or filtered out) are drawn dim.
        left.append(sanitize(span.name[:NAME_LIMIT]), style=dim if marks.state == Mark.NONE else "")
        if row.orphan:
            left.append(" (orphan)", style=dim)
        right = Text(format_duration(span.latency_ms), style=dim)
        if span.status_code == "ERROR":
            right.append(" ✗", style=self.get_component_rich_style("trace-tree--error"))
        right.append(self._mark(marks))
        return left, right

    def _mark(self, mark: Mark) -> Text:
        """● needs you, ◐ its documents still need you, ✓ done, ↷ skipped, … a change not saved
        yet; ⚑ before it: flagged for the reviewer."""
        state = self._state_mark(mark)
        if mark.flagged:
            flag = Text(" ⚑", style=self.get_component_rich_style("trace-tree--error"))
            return Text.assemble(flag, state[1:] if state.plain.strip() else "")
        return state

    def _state_mark(self, mark: Mark) -> Text:
        if mark.state == Mark.SKIPPED and not mark.unsaved:
            return Text(" ↷", style=self.get_component_rich_style("trace-tree--dim"))
        if mark.unsaved:
            return Text(" …", style=self.get_component_rich_style("trace-tree--todo"))
        if mark.state == Mark.DONE:
            return Text(" ✓", style=self.get_component_rich_style("trace-tree--done"))
        if mark.state == Mark.TODO:
            return Text(" ●", style=self.get_component_rich_style("trace-tree--todo"))
        if mark.state == Mark.PARTIAL:
            return Text(" ◐", style=self.get_component_rich_style("trace-tree--todo"))
        return Text("  ")
