"""What the app's line-API scroll views share: their own style looked up once per repaint.

`rich_style` walks every ancestor's styles and Textual does not cache it; a view that asked for
it for each line drawn (most of them blank lines under the content) paid that walk ~40-60 times
a repaint.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from textual.geometry import Region
from textual.scroll_view import ScrollView
from textual.strip import Strip


class LineView(ScrollView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._repaint_style: Style | None = None  # `rich_style` during a repaint

    def render_lines(self, crop: Region) -> list[Strip]:
        self._repaint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._repaint_style = None

    @property
    def base_style(self) -> Style:
        """The view's own style: the one of this repaint while it draws."""
        style = self._repaint_style
        return style if style is not None else self.rich_style
