"""The status line: who is annotating, what the database is doing (when it is not keeping up),
progress through the queue, the queue's filter, and what the last keystroke did ("✓ saved" only
once the row is committed).

Messages expire: a report of what a key did stays `MESSAGE_SECONDS`; a "working…" message
stays until its work ends (`done`); the database alert stays while the database refuses writes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from annotator.text import clip, sanitize


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """
    MESSAGE_SECONDS = 6.0

    def __init__(self, annotator: str, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.annotator = annotator
        self.progress: tuple[int, int] | None = None
        self.skipped = 0
        self.queue = "all spans"
        self.message = Text("")
        self.alert: Text | None = None
        self._expiry: Timer | None = None
        self._working: object | None = None
        self._shown: Text | None = None

    def set_progress(self, progress: tuple[int, int] | None, skipped: int = 0) -> None:
        """(done, total) spans of the queue (skipped ones count as done), and how many spans
        the annotator skipped in the whole database."""
        self.progress = progress
        self.skipped = skipped
        self._redraw()

    def set_queue(self, description: str) -> None:
        self.queue = description
        self._redraw()

    def say(self, message: Text) -> None:
        """Show what just happened; it goes away after MESSAGE_SECONDS."""
        self._show(message)
        self._expiry = self.set_timer(self.MESSAGE_SECONDS, self._expire)

    def working(self, message: Text) -> object:
        """Show that something is under way until `done(token)` (or another message)."""
        self._show(message)
        token = object()
        self._working = token
        return token

    def done(self, token: object) -> None:
        if self._working is token:
            self._working = None
            self.message = Text("")
            self._redraw()

    def set_alert(self, alert: Text | None) -> None:
        """A standing warning (the database is not taking writes), shown until cleared."""
        self.alert = alert
        self._redraw()

    def _show(self, message: Text) -> None:
        if self._expiry is not None:
            self._expiry.stop()
            self._expiry = None
        self._working = None
        self.message = message
        self._redraw()

    def _expire(self) -> None:
        self._expiry = None
        self.message = Text("")
        self._redraw()

    def _redraw(self) -> None:
        text = Text()
        text.append("● ", style="bold green")
        text.append(sanitize(clip(self.annotator, 40)[0]), style="bold")
        if self.alert:
            text.append("  │  ", style="dim")
            text.append_text(self.alert)
        text.append("  │  ", style="dim")
        if self.progress is None:
            text.append("counting…", style="dim")
        else:
            done, total = self.progress
            percent = f" ({done * 100 // total}%)" if total else ""
            # Spans: a trace row counts as its root span, a span with documents counts once.
            text.append(f"{done:,}/{total:,} spans done{percent}")
            if self.skipped:
                text.append(f", {self.skipped:,} skipped", style="dim")
        text.append("  │  queue: ", style="dim")
        text.append(sanitize(clip(self.queue, 60)[0]))
        if self.message:
            text.append("  │  ", style="dim")
            text.append_text(self.message)
        if text != self._shown:
            self._shown = text
            # One line high by CSS, as wide as the screen: a new text never changes its size,
            # and a layout of the whole screen on each "✓ saved" costs ~20 ms.
            self.update(text, layout=False)
