"""A modal text box for freeform annotations and notes: ctrl+s saves, escape cancels.

While it is open the annotate screen's bindings are out of reach (a modal screen has its own
binding chain), and the focused TextArea consumes every printable key: typing "1" types "1".
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from annotator.app.screens.dialog import Dialog

MAX_TEXT = 1_000_000  # a freeform value is a judgement, not a document dump


class TextEntryScreen(Dialog[str | None]):
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
    # Not priority bindings: a priority binding runs the moment its key arrives, before the
    # characters typed just ahead of it have reached the text area, and the end of a fast-typed
    # (or pasted) text was lost. Checked after the text area, ctrl+s sees every character.
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
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

    def on_key(self, event: events.Key) -> None:
        """Keys typed right after the key that opened the box (a paste, a fast typist) arrive
        before the text area has the focus: they reach the screen itself, in order, and go into
        the text instead of being dropped. (The text area stops the keys it takes.)"""
        if self.type_ahead(event):
            event.stop()
            event.prevent_default()

    def type_ahead(self, event: events.Key) -> bool:
        """Put a key read before the box could take it into the text; False if it is not text."""
        if not (event.is_printable or event.key == "enter"):
            return False
        self.query_one(TextArea).insert("\n" if event.key == "enter" else event.character or "")
        return True

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text[:MAX_TEXT])

    def action_cancel(self) -> None:
        self.dismiss(None)
