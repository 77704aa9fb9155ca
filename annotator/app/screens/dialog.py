"""The base of the app's modal screens (dialogs, reading pages): a ModalScreen laid out once
when it opens rather than twice.

Textual lays a pushed screen out, then sends the screen a Resize of the size it was just laid
out at (the screen is one of the widgets the layout "showed"); the stock handler lays the whole
screen out again, and the screens beneath it too. A Resize to the size the screen already has
changes nothing: it is acknowledged here and the stock handler skipped (`prevent_default`).
A real resize of the terminal arrives with a new size and is handled as before. On the filter
dialog that layout was ~10 ms CPU of each opening, on the help page ~30 ms.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.screen import ModalScreen

_R = TypeVar("_R")


class Dialog(ModalScreen[_R]):
    def on_resize(self, event: events.Resize) -> None:
        if event.size != self.size or self._has_breakpoints():
            return  # a new size (or classes that depend on it): the stock handler lays out
        event.stop()
        event.prevent_default()

    def _has_breakpoints(self) -> bool:
        app = self.app
        horizontal = (
            app.HORIZONTAL_BREAKPOINTS
            if self.HORIZONTAL_BREAKPOINTS is None
            else self.HORIZONTAL_BREAKPOINTS
        )
        vertical = (
            app.VERTICAL_BREAKPOINTS
            if self.VERTICAL_BREAKPOINTS is None
            else self.VERTICAL_BREAKPOINTS
        )
        return bool(horizontal or vertical)
