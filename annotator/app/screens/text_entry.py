"""A modal text box for freeform annotations and notes: ctrl+s saves, escape cancels.

While it is open the annotate screen's bindings are out of reach (a modal screen has its own
binding chain), and the focused TextArea consumes every printable key: typing "1" types "1".
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static, TextArea

MAX_TEXT = 1_000_000  # a freeform value is a judgement, not a document dump


class TextEntryScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    TextEntryScreen { align: center middle; }
    TextEntryScreen > Vertical {
        width: 80%;
        max-width: 120;
        height: 60%;
        min-height: 12;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    TextEntryScreen #entry-title { text-style: bold; padding-bottom: 1; }
    TextEntryScreen TextArea { height: 1fr; }
    TextEntryScreen #entry-hint { color: $text-muted; padding-top: 1; }
    """
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, title: Text, text: str) -> None:
        super().__init__()
        self._title = title
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="entry-title", markup=False)
            yield TextArea(self._text, id="entry-text", soft_wrap=True, show_line_numbers=False)
            yield Static(
                Text("ctrl+s save · escape cancel · an empty text removes it"),
                id="entry-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text[:MAX_TEXT])

    def action_cancel(self) -> None:
        self.dismiss(None)
