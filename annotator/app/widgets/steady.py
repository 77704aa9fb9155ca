"""Textual's widgets and containers, under their own names, whose virtual size lays nothing out.

Textual's layout sets each widget's `virtual_size`, a reactive that asks for another layout of
the screen when it changes. A widget the layout has just placed gets a new virtual size (from
none to its size), so a dialog that opened was laid out twice, and the second time from scratch
(each request empties the arrangement caches of the widget's containers): that second layout
was ~33 ms CPU of each opening of the filter dialog (of ~165), ~14 ms now (Textual still asks
for one as a pushed screen's widgets have mounted, with the arrangements kept). The size came
from the layout, which already placed everything by it; what can change with it, the scrollbars
of a scrolling container, are reactives of their own that still ask for a layout. These
classes declare the same reactive without the layout (the repaint stays), as `LineInput` does
for a field's text width.

Each keeps its Textual name, so CSS type selectors (theirs and ours) and queries by type match
them as before. Only widgets whose virtual size is what the layout gives belong here: a line-API
scroll view sets its own (the trace tree, the span view) and is judged on its own (the filter
dialog's KindList, placed by its content height, declares the same).
"""

from __future__ import annotations

from textual import containers, widgets
from textual.geometry import Size
from textual.reactive import Reactive


class Static(widgets.Static):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class Button(widgets.Button):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class RadioSet(widgets.RadioSet):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class RadioButton(widgets.RadioButton):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class Vertical(containers.Vertical):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class Horizontal(containers.Horizontal):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))


class VerticalScroll(containers.VerticalScroll):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0))
