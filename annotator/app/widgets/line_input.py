"""A one-line text field whose typing repaints the field alone.

Textual's Input sets its virtual size (the width of its text) at every change of its value, and
`Widget.virtual_size` is a reactive that lays the whole screen out again when it changes: each
key typed in the search box or the filter dialog re-arranged every widget of the dialog (about
half of the CPU of a key there). An Input's virtual size lays nothing out: the field has no
scrollbar and its size comes from the CSS; it only bounds how far the text scrolls sideways
(`max_scroll_x`), and that reads the value, which is set at once as before. LineInput declares
the same reactive without the layout (its repaint stays).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class LineInput(Input):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))
