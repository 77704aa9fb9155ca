"""The Textual application: owns the store connection and the annotate screen."""

from __future__ import annotations

import gc
from collections.abc import Iterable
from pathlib import Path

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen

from annotator.app.screens.annotate import AnnotateScreen, LatencyLog
from annotator.app.screens.help import keys_text
from annotator.app.session import AnnotationSession
from annotator.config import ConfigSet
from annotator.keymap import ACTIONS
from annotator.store import QueueFilter, Store


class AnnotatorApp(App[None]):
    TITLE = "annotator"
    # Data never reaches the terminal title; only our own constant does.
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        db_path: str | Path,
        config_set: ConfigSet,
        annotator: str,
        *,
        queue: QueueFilter | None = None,
    ) -> None:
        super().__init__()
        self.store = Store.open(db_path)
        self.session = AnnotationSession(self.store, config_set, annotator)
        if queue is not None:
            self.session.queue = queue
        self.latency = LatencyLog()

    def on_mount(self) -> None:
        # Fewer, later cycle collections: the default (700 allocations) runs the GC dozens of
        # times a second while a key is held, and its pauses are what the annotator feels.
        gc.set_threshold(20_000, 20, 100)
        self.push_screen(AnnotateScreen(self.session, latency=self.latency))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.latency.key_pressed()
        await super().on_event(event)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, AnnotateScreen):
            for action in ACTIONS:
                keys = keys_text(screen.keymap.get(action.id, ()))
                yield SystemCommand(
                    action.description,
                    f"{action.group} · key: {keys}",
                    lambda action_id=action.id: self.call_later(screen.run_action, action_id),
                )

    def on_unmount(self) -> None:
        self.store.close()
