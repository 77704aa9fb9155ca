"""The base of the app's modal screens (dialogs, reading pages): a ModalScreen laid out once
when it opens rather than twice, and not repainted whole when the focus moves inside it.

Textual lays a pushed screen out, then sends the screen a Resize of the size it was just laid
out at (the screen is one of the widgets the layout "showed"); the stock handler lays the whole
screen out again, and the screens beneath it too. A Resize to the size the screen already has
changes nothing: it is acknowledged here and the stock handler skipped (`prevent_default`).
A real resize of the terminal arrives with a new size and is handled as before. On the filter
dialog that layout was ~10 ms CPU of each opening, on the help page ~30 ms.

`Screen.focused` is a reactive that repaints the whole screen when it changes: for a modal
screen that is its translucent background (the screen beneath rendered again and tinted, every
cell) and every widget of the dialog composited again, ~17 ms CPU of each tab in the filter
dialog (40 -> 23 ms). What the focus changes on screen is drawn by the widgets that gain and
lose it (Textual restyles and repaints them: `:focus` and `:focus-within` rules apply to them
and their descendants); the screen's own background does not depend on the focus. Dialogs
declare the same reactive without the repaint; its watcher (the bindings refresh) still runs.

A dialog is not restyled whole at its first resume, right after its widgets were mounted and
styled (`StyledOnce`).

A dialog that closes is removed with its widgets, and Textual first moves the focus off its
focused widget (to another of the dialog's widgets or to none): that widget is blurred, and
restyled with its descendants for the `:focus` rules that no longer apply, just before it goes
(an input's blur also validates it and restyles it once more). On the filter dialog the radio
set and its seven buttons, ~10 ms CPU of each close. A dismissed dialog lets go of its focus
first, without a blur; the focus moves on the screen beneath as its resume decides.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.await_complete import AwaitComplete
from textual.reactive import Reactive
from textual.screen import ModalScreen
from textual.widget import Widget

from annotator.app.screens.styled_once import StyledOnce

_R = TypeVar("_R")


class Dialog(StyledOnce, ModalScreen[_R]):
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def dismiss(self, result: _R | None = None) -> AwaitComplete:
        self.focused = None  # the reactive itself: no blur of the widget about to be removed
        return super().dismiss(result)

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
