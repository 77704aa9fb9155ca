"""The whole span, unclipped, in a read-only, non-wrapping text area (fast on megabyte values;
a wrapping view of a 2 MB line takes seconds to lay out)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from annotator.app.screens.dialog import Dialog


class FullViewScreen(Dialog[None]):
    DEFAULT_CSS = """
    FullViewScreen { align: center middle; }
    FullViewScreen > Vertical {
        width: 95%;
        height: 95%;
        border: thick $accent;
        background: $surface;
    }
    FullViewScreen #full-title { text-style: bold; padding: 0 1; }
    FullViewScreen TextArea { height: 1fr; }
    FullViewScreen #full-hint { color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q,o", "close", "Close", priority=True),
        Binding("w", "wrap", "Wrap lines"),
    ]

    def __init__(self, title: Text, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="full-title", markup=False)
            yield TextArea(self._text, read_only=True, soft_wrap=False, id="full-text")
            yield Static(
                Text("arrows, pgup/pgdn scroll · w wrap lines · escape close"),
                id="full-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_wrap(self) -> None:
        area = self.query_one(TextArea)
        area.soft_wrap = not area.soft_wrap

    def action_close(self) -> None:
        self.dismiss(None)
