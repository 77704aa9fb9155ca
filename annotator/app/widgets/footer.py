"""The footer: Textual's `Footer`, rebuilt only when what it shows has changed.

Textual's footer recomposes (removes and mounts every key, each restyled twice) once per
`refresh_bindings` of its screen, and a start asks for that four times before the first key
(the screen pushed, the focus set, the keymap set, the first row selected): ~15 ms of CPU each,
three of them rebuilding the same keys. Here a rebuild whose keys would be the very ones shown is
skipped (what the footer shows is noted when it composes); the keys themselves are Textual's.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer


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
        yield from keys

    async def recompose(self) -> None:
        shown = self._what_it_shows()
        if shown == self._keys_shown:
            return
        self._keys_shown = shown  # now: a second call while this one awaits does nothing
        await super().recompose()
