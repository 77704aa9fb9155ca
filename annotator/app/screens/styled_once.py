"""Screens not restyled whole at their first resume.

Textual restyles a screen whole (every widget in it) each time it resumes, in case the styles
changed while it was covered. A screen's first resume comes right after its widgets were
mounted, each styled as it mounted (and again at each change of its classes): nothing can have
changed in between, and restyling them all then cost ~4 ms of the app's start (the annotate
screen) and ~12 ms of each opening of the filter dialog. The first resume is told not to
restyle (`ScreenResume.refresh_styles`, public); later ones (a dialog above it closed) are
Textual's to decide.
"""

from __future__ import annotations

from textual import events


class StyledOnce:
    """Mixed in before Textual's Screen class, so that its handler runs before Screen's own,
    which reads `refresh_styles`."""

    _resumed_before = False

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._resumed_before:
            self._resumed_before = True
            event.refresh_styles = False
