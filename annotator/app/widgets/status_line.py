"""The status line: who is annotating, progress through the queue, the queue's filter, and what
the last keystroke did (so "saved" is visible the moment the row is committed)."""

from __future__ import annotations

from rich.text import Text
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

    def __init__(self, annotator: str, **kwargs) -> None:
        super().__init__("", markup=False, **kwargs)
        self.annotator = annotator
        self.progress: tuple[int, int] | None = None
        self.queue = "all spans"
        self.message = Text("")

    def set_progress(self, progress: tuple[int, int] | None) -> None:
        self.progress = progress
        self._redraw()

    def set_queue(self, description: str) -> None:
        self.queue = description
        self._redraw()

    def say(self, message: Text) -> None:
        self.message = message
        self._redraw()

    def _redraw(self) -> None:
        text = Text()
        text.append("● ", style="bold green")
        text.append(sanitize(clip(self.annotator, 40)[0]), style="bold")
        text.append("  │  ", style="dim")
        if self.progress is None:
            text.append("counting…", style="dim")
        else:
            done, total = self.progress
            percent = f" ({done * 100 // total}%)" if total else ""
            text.append(f"{done:,}/{total:,} done{percent}")
        text.append("  │  queue: ", style="dim")
        text.append(sanitize(clip(self.queue, 60)[0]))
        if self.message:
            text.append("  │  ", style="dim")
            text.append_text(self.message)
        self.update(text)
