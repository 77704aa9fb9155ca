"""The centre pane: the selected span, readable, clipped, scrollable.

A line-API `ScrollView`: the span's Rich renderable is laid out once per span (and again only
when the width changes) into strips, and scrolling just picks strips. A `Static` inside a scroll
container would lay the whole span out at least twice per move (measure, then paint) and make
the screen re-run its layout: the difference between ~10 ms and ~100 ms per keystroke.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip

from annotator.app.search_highlight import is_match, mark_matches
from annotator.app.span_render import RenderOptions, render_span
from annotator.app.widgets.line_view import LineView
from annotator.model import Span


class SpanView(LineView, can_focus=False):
    DEFAULT_CSS = """
    SpanView { padding: 0 1; overflow-x: hidden; }
    """

    def __init__(self, search_words: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.span: Span | None = None
        self._document: RenderableType = Text("Loading…", style="dim")
        self._strips: list[Strip] | None = None
        self._laid_out_width = -1
        self._search_words = search_words

    def show_span(
        self, span: Span | None, options: RenderOptions, *, keep_scroll: bool = False
    ) -> None:
        self.span = span
        if span is None:
            self._set(Text("No span selected.", style="dim"), keep_scroll)
        else:
            self._set(render_span(span, options), keep_scroll)

    def mark_search(self, words: tuple[str, ...]) -> None:
        """Mark these searched words wherever they are shown (none: no marks)."""
        if words != self._search_words:
            self._search_words = words
            self._strips = None
            self._layout()
            self.refresh()

    def show_message(self, text: Text) -> None:
        self.span = None
        self._set(text, keep_scroll=False)

    def _set(self, renderable: RenderableType, keep_scroll: bool) -> None:
        self._document = renderable
        self._strips = None
        self._layout()
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    @property
    def plain_lines(self) -> list[str]:
        """The laid-out text (for tests and screen readers of the future)."""
        self._layout()
        return ["".join(segment.text for segment in strip) for strip in self._strips or []]

    @property
    def marked_text(self) -> list[str]:
        """The pieces of text marked as search matches, in order (for tests)."""
        self._layout()
        return [
            segment.text
            for strip in self._strips or []
            for segment in strip
            if segment.style is not None and is_match(segment.style)
        ]

    def _layout(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0:
            return  # not sized yet: on_resize lays it out
        if self._strips is not None and width == self._laid_out_width:
            return
        console = self.app.console
        options = console.options.update_width(width)
        lines = console.render_lines(self._document, options, style=self.rich_style, pad=False)
        strips = [Strip(Segment.simplify(line)) for line in lines]
        self._strips = mark_matches(strips, self._search_words)
        self._laid_out_width = width
        # Textual's public way to a new content size (a layout, ~20 ms a span of a new length);
        # updating only the scrollbars would need Textual's private `_scroll_update`.
        self.virtual_size = Size(width, len(self._strips))

    def on_resize(self) -> None:
        self._layout()
        self.refresh()

    def notify_style_update(self) -> None:
        # New styles (a theme change): the laid-out lines carry the old colours.
        super().notify_style_update()
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        self._layout()
        width = self.scrollable_content_region.width
        index = y + round(self.scroll_offset.y)
        style = self.base_style
        if self._strips is None or index >= len(self._strips):
            return Strip.blank(width, style)
        return self._strips[index].crop_extend(0, width, style)
