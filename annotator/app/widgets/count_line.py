"""The live count line of the search box and the filter dialog, updated only when what it says
changes.

Each key typed in either dialog shows "counting…" again, then the count, and a Static's update
lays the whole screen out: a line that already says it is left alone.
"""

from __future__ import annotations

from rich.text import Text

from annotator.app.widgets.steady import Static


class CountLine(Static):
    def __init__(self, *, id: str) -> None:
        super().__init__(Text(""), id=id, markup=False)
        self._said: tuple[object, ...] = ()

    def say(self, text: Text, *, error: bool = False) -> None:
        """Show `text` (as an error: the `-error` class). Its characters and styles are compared,
        since Text's `==` leaves its own style out."""
        said = (error, text.plain, str(text.style), tuple(text.spans))
        if said == self._said:
            return
        self._said = said
        self.set_class(error, "-error")
        self.update(text)
