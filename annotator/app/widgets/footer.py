"""The footer: Textual's `Footer`, rebuilt only when what it shows has changed.

Textual's footer recomposes (removes and mounts every key) once per `refresh_bindings` of its
screen, and a start asks for that four times before the first key (the screen pushed, the focus
set, the keymap set, the first row selected): ~15 ms of CPU each, three of them rebuilding the
same keys. Here a rebuild whose keys would be the very ones shown is skipped (what the footer
shows is noted when it composes); the keys themselves are Textual's.

A key is also styled once as it mounts, not three times: Textual's keys start compact (their
`compact` defaults to True, their watcher adds the `-compact` class and restyles the key) and are
then bound to the footer's `compact` (False: the class removed, the key restyled again). Each
key is given the value it ends with before it mounts, and the class that goes with it, so
neither watcher call changes a class (~0.4 ms a key, 17 restyles per start).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Footer

PALETTE_KEY_CLASS = "-command-palette"  # Textual's class of the palette's key, not bound: compact


def settle_compact(key: Widget, footer_compact: bool) -> None:
    """Give a footer key, before it mounts, the `compact` value and class it would end with."""
    compact = getattr(type(key), "compact", None)
    if not isinstance(compact, Reactive):
        return
    value = True if key.has_class(PALETTE_KEY_CLASS) else footer_compact
    key.set_reactive(compact, value)
    key.set_class(value, "-compact", update=False)


class AppFooter(Footer):
    _keys_shown: object = None  # what the last rebuild showed (None: not built yet)

    def _what_it_shows(self) -> object:
        """Everything `Footer.compose` reads to make its keys, for the current bindings."""
        app = self.app
        active = self.screen.active_bindings
        keys = tuple(
            (binding, app.get_key_display(binding), enabled, tooltip)
            for (_, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            found = active.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _, binding, enabled, tooltip = found
                palette = (binding, app.get_key_display(binding), enabled, tooltip)
        return keys, palette, self.combine_groups

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        # Nothing made (the screen's bindings not ready yet) is no footer built: the next
        # rebuild makes it.
        self._keys_shown = self._what_it_shows() if keys else None
        for key in keys:  # keys of a group (none here) are inside it, left as Textual makes them
            settle_compact(key, self.compact)
        yield from keys

    async def recompose(self) -> None:
        shown = self._what_it_shows()
        if shown == self._keys_shown:
            return
        self._keys_shown = shown  # now: a second call while this one awaits does nothing
        await super().recompose()
