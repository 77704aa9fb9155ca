"""Other processes change the database while the app is open (a running `annotator pull`,
colleagues writing to a shared file, an import): the screen notices within a poll period and
shows what changed, without moving the cursor or touching a dialog being typed in.

How it stays cheap: every `POLL_SECONDS` the UI connection reads SQLite's ``PRAGMA
data_version`` (no I/O when nothing changed). The value also changes when the app's own writer
thread commits (another connection), so a change is then looked up in the annotation log and
the spans table (`Store.changes_since`): entries logged by this app's own actor (the writer
already refreshed what they changed) are ignored, so the app's own saves never cause a redraw.
What remains is applied once per poll, however many commits it covers (coalesced):

* annotations by others: the cached marks and progress of the traces they are about are
  dropped (everything for session annotations or big batches), then the tree's marks, the panel
  (your value and the others' beside it) and the progress count are redrawn;
* new spans: the trace list is read again, expanded traces are reloaded with the spans they
  gained (collapsed subtrees stay collapsed), and the cursor is put back on the same row.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from annotator.app.tree_model import TRACE
from annotator.store import StoreError

if TYPE_CHECKING:
    from annotator.app.screens.annotate import AnnotateScreen
    from annotator.app.tree_model import Row

POLL_SECONDS = 0.5
# More changed annotations than this in one poll: drop every cached mark (cheaper than sorting
# them out one by one).
MANY_CHANGES = 1000


class LiveRefresh:
    def __init__(self, screen: AnnotateScreen) -> None:
        self.screen = screen
        store = screen.session.store
        self._version = store.data_version()
        self._marks = store.change_marks()
        self.refreshes = 0  # how many times something from outside was shown (tests, debugging)

    def poll(self) -> None:
        """The timer's callback: look, and show what others changed."""
        session = self.screen.session
        try:
            version = session.store.data_version()
            if version == self._version:
                return
            self._version = version
            self._marks, changed, spans_added = session.store.changes_since(
                self._marks, not_by=session.annotator, limit=MANY_CHANGES
            )
            if not changed and not spans_added:
                return  # only the app's own saves
            self._apply(changed, spans_added)
        except (sqlite3.Error, StoreError):
            return  # busy or briefly unreadable: the next poll looks again
        self.refreshes += 1

    def _apply(self, changed: list[tuple[str, str | None, str | None]], spans_added: bool) -> None:
        screen = self.screen
        session = screen.session
        if (
            spans_added
            or len(changed) > MANY_CHANGES
            # a session annotation, or a change the log knows no trace of
            or any(target == "session" or trace_id is None for target, trace_id, _ in changed)
        ):
            session.forget_all()
        else:
            for trace_id in {trace_id for _, trace_id, _ in changed if trace_id is not None}:
                session.forget(trace_id)
        if spans_added:
            self._reload_rows()
        screen._show_panel()
        screen.trace_tree.marks_changed()
        screen._schedule_progress(immediately=True)

    def _reload_rows(self) -> None:
        """The trace list and the expanded traces again, the cursor on the same row."""
        screen = self.screen
        model, tree = screen.model, screen.trace_tree
        was_empty = not model.trace_ids
        current = tree.cursor_row
        collapsed = {t: set(loaded.collapsed) for t, loaded in model.loaded.items()}
        screen.session.forget_summaries()
        model.reset(screen.session.trace_ids())
        for trace_id, spans in collapsed.items():
            if model.trace_ordinal(trace_id) is None:
                continue
            model.expand(trace_id).collapsed.update(spans)
            model.expand(trace_id)  # again: its rows without the collapsed subtrees
        tree.rows_changed()
        if was_empty:
            screen._start_position()
            return
        index = _index_of(screen, current) if current is not None else None
        if index is not None and index == tree.cursor and current == tree.cursor_row:
            return
        if index is not None:
            tree.move_cursor(index, announce=False)  # the same row: nothing else to redo
        elif len(model):
            screen._move(min(tree.cursor, len(model) - 1))  # the row left the queue


def _index_of(screen: AnnotateScreen, row: Row) -> int | None:
    model = screen.model
    if row.kind == TRACE:
        return model.index_of_trace(row.trace_id)
    return model.index_of_span(row.trace_id, row.span_id or "", row.position)
