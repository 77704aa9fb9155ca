"""The Textual application: owns the store connections, the writer thread and the screens.

Quitting never loses a change silently: with changes not yet committed (the database is locked
by another process, the disk is full) the app asks, keeps waiting if told to, and quits by
itself once they are written. Giving up exits with `EXIT_UNSAVED`; `exit_report` then lists
what was not saved and where those changes were written to be imported later.
"""

from __future__ import annotations

import gc
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from annotator.app.recovery import RecoveryError, write_recovery
from annotator.app.screens.annotate import AnnotateScreen, LatencyLog, action_name, keymap_for
from annotator.app.screens.dialog import Dialog
from annotator.app.screens.help import keys_text
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.session import AnnotationSession
from annotator.app.writer import MARK_OPS, Waiting, WriteOp, Writer, WriterEvent
from annotator.config import ConfigSet
from annotator.keymap import ACTIONS
from annotator.store import QueueFilter, Store, StoreError
from annotator.text import clip, sanitize

EXIT_UNSAVED = 3  # quit with changes the database never took
DRAIN_SECONDS = 5.0
SWITCH_INTERVAL = 0.001  # on an unexpected exit, how long the writer may finish what is queued


class WriterReport(Message):
    """Something the writer thread has to say (posted from that thread)."""

    def __init__(self, event: WriterEvent) -> None:
        super().__init__()
        self.event = event


class UnsavedScreen(Dialog[bool]):
    """Quitting with changes not written yet: wait (and quit when they are), or give up."""

    DEFAULT_CSS = """
    UnsavedScreen { align: center middle; }
    UnsavedScreen > Vertical {
        width: 80; max-width: 95%; height: auto;
        border: thick $warning; background: $surface; padding: 1 2;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Keep waiting", priority=True),
        Binding("ctrl+q,Q", "give_up", "Quit without them", priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="unsaved-text", markup=False)

    def on_mount(self) -> None:
        self.update_text()

    def update_text(self) -> None:
        app = self.app
        assert isinstance(app, AnnotatorApp)
        count = len(app.session.unsettled)
        why = app.session.waiting or "the database has not confirmed them yet"
        text = Text()
        text.append(f"{count} change{'s' if count != 1 else ''} not saved yet", style="bold")
        text.append(f" — {why}.\n\n")
        text.append("annotator quits by itself as soon as they are saved.\n\n")
        text.append("escape", style="bold cyan")
        text.append("  back to annotating (they stay queued)\n")
        text.append("Q", style="bold cyan")
        text.append("  quit now WITHOUT them: the app exits with code 3 and lists them")
        self.query_one("#unsaved-text", Static).update(text)

    def action_back(self) -> None:
        self.dismiss(False)

    def action_give_up(self) -> None:
        self.dismiss(True)


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
        clock: Callable[[], float] = time.monotonic,
        open_writer_store: Callable[[Path], Store] = Store.open,
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.store = Store.open(db_path)
        # The writer's own connection; `open_writer_store` is the seam tests use to inject
        # faults (a full disk).
        self.writer = Writer(open_writer_store(self.db_path), annotator, self._from_writer)
        self.session = AnnotationSession(
            self.store, config_set, annotator, clock=clock, submit=self.writer.submit
        )
        if queue is not None:
            self.session.queue = queue
        self.latency = LatencyLog()
        self.exit_report: list[str] = []
        self._quitting = False
        self._gave_up = False
        self._switch_interval = sys.getswitchinterval()
        self._annotate: AnnotateScreen | None = None
        self._resizes = 0
        self._screens = 0  # screens on the stack, at the last change of screen
        self._popped = False  # that change was a screen leaving (none pushed, no ctrl+z since)

    def on_resize(self, event: events.Resize) -> None:
        """The terminal driver announces the terminal's size once more as it starts, after the
        app was given that size and drew its first frame at it: Textual then lays the screen out
        and paints all of it again (~35 ms of a ~200 ms start) to the same picture. That second
        size, when it is the one the app already has, goes no further. Any later one does, even
        unchanged: a terminal back from ctrl+z or a reattached tmux asks for a repaint that way."""
        self._resizes += 1
        if self._resizes == 2 and event.size == self.size:
            event.prevent_default()  # App's own handler would pass it on to the screens

    def refresh(self, *, repaint: bool = True, layout: bool = False, recompose: bool = False):
        """Textual asks the app to lay out and repaint the current screen whole once a screen
        above it was removed (twice: the removal is awaited twice), after that screen had been
        resumed: the resume already repainted it whole, and laid it out if the terminal's size
        changed while it was covered; what changed in it meanwhile (a filter applied) asked for
        its own layout, done as it resumes. Each of those requests cost a layout of the annotate
        screen and a full repaint in a frame of its own (~25 ms each, 2-3 frames a close of any
        dialog). They go no further; the same request after ctrl+z (a resume from suspension) or
        with the screen not at the terminal's size does."""
        if (
            layout
            and not recompose
            and self._popped
            and self.screen.is_attached
            and self.screen.size == self.size
        ):
            return self
        return super().refresh(repaint=repaint, layout=layout, recompose=recompose)

    def _screen_changed(self, screen: Screen) -> None:
        screens = len(self.screen_stack)
        self._popped = screens < self._screens
        self._screens = screens

    def _resumed_from_suspension(self, app: App) -> None:
        self._popped = False

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)
        self.app_resume_signal.subscribe(self, self._resumed_from_suspension, immediate=True)
        # Fewer, later cycle collections: the default (700 allocations) runs the GC dozens of
        # times a second while a key is held, and its pauses are what the annotator feels.
        gc.set_threshold(20_000, 20, 100)
        # The writer thread commits while the UI thread draws: hand it the interpreter within a
        # millisecond instead of the default five, or every commit waits for a redraw to end.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        self.set_keymap(keymap_for(self.session.config_set))
        try:
            self._annotate = AnnotateScreen(self.session, latency=self.latency)
        except (sqlite3.Error, StoreError) as error:
            self.exit(return_code=1, message=f"{self.db_path}: cannot be read ({error})")
            return
        self.push_screen(self._annotate)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.latency.key_pressed()
        await super().on_event(event)

    def on_key(self, event: events.Key) -> None:
        """A text key that reaches the app while a text box is open was read before the box
        opened (typed ahead of it, by a fast typist or a paste) and bubbled up from the screen
        below: it belongs in the box, in the order typed - here, before any later ctrl+s."""
        if isinstance(self.screen, TextEntryScreen) and self.screen.type_ahead(event):
            event.stop()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, AnnotateScreen):
            for action in ACTIONS:
                keys = keys_text(screen.keymap.get(action.id, ()))
                yield SystemCommand(
                    action.description,
                    f"{action.group} · key: {keys}",
                    lambda action_id=action.id: self.call_later(
                        screen.run_action, action_name(action_id)
                    ),
                )

    # --- the writer -------------------------------------------------------------------------

    def _from_writer(self, event: WriterEvent) -> None:
        self.post_message(WriterReport(event))  # thread-safe; handled on the UI thread

    def on_writer_report(self, message: WriterReport) -> None:
        if self._annotate is not None:
            self._annotate.writer_event(message.event)
        elif not isinstance(message.event, Waiting):
            self.session.settle(message.event)
        if isinstance(self.screen, UnsavedScreen):
            self.screen.update_text()
        if self._quitting and not self.session.unsettled:
            self.exit(return_code=self._exit_code())

    # --- quitting -----------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """Quit now if everything is saved; else ask (and quit once it is saved)."""
        if not self.session.unsettled:
            self.exit(return_code=self._exit_code())
            return
        if isinstance(self.screen, UnsavedScreen):
            return
        self._quitting = True

        def answered(give_up: bool | None) -> None:
            if give_up:
                self.give_up()
            elif self.session.unsettled:
                self._quitting = False
            else:
                self.exit(return_code=self._exit_code())

        self.push_screen(UnsavedScreen(), answered)

    def give_up(self) -> None:
        """Stop writing; exit with EXIT_UNSAVED and the list of what was not saved."""
        self._gave_up = True
        self._report_unsaved(self.writer.stop(timeout=1.0))
        self.exit(return_code=EXIT_UNSAVED)

    def _exit_code(self) -> int:
        if self.session.failed:
            self._report_unsaved([])
            return EXIT_UNSAVED
        return 0

    def _report_unsaved(self, left: list[WriteOp]) -> None:
        """One line per change the database does not have (the net change per annotation: three
        score presses are one unsaved score), and the values in a file `annotator import` reads."""
        lines = [f"not saved ({reason}): {_describe(op)}" for op, reason in self.session.failed]
        why = self.session.waiting or "never written"
        net: dict[object, WriteOp] = {}
        for op in left:
            key = op.key if op.key is not None else op  # undo / redo: each its own
            net.pop(key, None)  # keep the order of the last change
            net[key] = op
        lines += [f"not saved ({why}): {_describe(op)}" for op in net.values()]
        ops = [op for op, _ in self.session.failed] + list(net.values())
        kept = [op.annotation for op in ops if op.kind == "set" and op.annotation is not None]
        if kept:
            values = f"{len(kept)} unsaved value{'s' if len(kept) != 1 else ''}"
            try:
                path = write_recovery(self.db_path, kept)
            except RecoveryError as error:
                lines.append(f"{values} could not be kept in a file: {error}")
            else:
                lines.append(
                    f"{values} kept in {path}: "
                    f"`annotator import {path} --db {self.db_path}` stores them"
                )
        self.exit_report = lines

    def on_unmount(self) -> None:
        # However the app ends (a signal, a closed terminal), give queued changes a chance.
        drained = not self.session.unsettled or self.writer.wait_idle(DRAIN_SECONDS)
        if not self._gave_up and not drained:
            self._report_unsaved(self.writer.stop(timeout=1.0))
            self.exit(return_code=EXIT_UNSAVED)
        self.writer.stop(timeout=1.0)
        self.store.close()
        sys.setswitchinterval(self._switch_interval)


def _describe(op: WriteOp) -> str:
    annotation = op.annotation
    where = ""
    if op.key is not None:
        where = f" on {op.key.target} {op.key.target_id}"
        if op.key.document_position is not None:
            where += f" document {op.key.document_position}"
    if op.kind == "delete":
        return f"remove {op.what}{where}"
    if op.kind in ("undo", "redo"):
        return op.kind
    if op.kind in MARK_OPS:
        return sanitize(f"{op.kind} span {op.span_id}" + (f" “{op.reason}”" if op.reason else ""))
    value = ""
    if annotation is not None:
        parts = []
        if annotation.label is not None:
            parts.append(annotation.label)
        if annotation.score is not None:
            parts.append(f"(score {annotation.score:g})" if parts else f"{annotation.score:g}")
        if annotation.explanation:
            parts.append(f"“{clip(annotation.explanation, 60)[0]}”")
        value = " = " + " ".join(parts) if parts else ""
    return sanitize(f"{op.what}{value}{where}")
