"""The annotate screen: tree | span | annotations, a status line and the footer.

A key is decided when it is read: the item it acts on is the one under the cursor at that
moment, the cursor moves (auto-advance) before the next key is handled, and the change goes to
the session as pending and on to the one writer thread - the screen never waits for the disk.
"✓ saved" appears when the writer reports the commit; a slow or refused write is shown as
unsaved, with the reason, until it lands.

Bindings are declared once (`BINDINGS`, each with a stable id) and remapped from the config with
`App.set_keymap` (`keymap_for`); label keys are a fixed pool of slots, each remapped to one
label key of the config.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Concatenate, ParamSpec, TypeVar

from rich.text import Text
from textual import work
from textual.actions import parse as parse_action
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer

from annotator.app.live_refresh import POLL_SECONDS as LIVE_POLL_SECONDS
from annotator.app.live_refresh import LiveRefresh
from annotator.app.screens.filter import TRACE_WHERE, WHERE, FilterScreen
from annotator.app.screens.full_view import FullViewScreen
from annotator.app.screens.guidelines import GuidelinesScreen
from annotator.app.screens.help import HelpScreen
from annotator.app.screens.search import RankedWalk, SearchOrigin, SearchScreen
from annotator.app.screens.styled_once import StyledOnce
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.search_highlight import search_words
from annotator.app.session import (
    NO_MARK,
    AnnotationSession,
    Item,
    Mark,
    NotAccepted,
    who,
)
from annotator.app.span_render import RenderOptions, span_full_text
from annotator.app.tree_model import DOCUMENT, TRACE, Row, TreeModel
from annotator.app.widgets.annotation_panel import AnnotationPanel, ConfigCard, value_text
from annotator.app.widgets.footer import AppFooter
from annotator.app.widgets.span_view import SpanView
from annotator.app.widgets.status_line import StatusLine
from annotator.app.widgets.trace_tree import TraceTree, kind_badge
from annotator.app.writer import Committed, Failed, Waiting, WriteOp, WriterEvent, trouble
from annotator.config import AnnotationConfig, AnnotationType, ConfigSet
from annotator.keymap import ACTIONS, display_key
from annotator.model import Annotation, Span, Target
from annotator.query import SpanFilter, TraceFilter
from annotator.store import (
    RANKED_LIMIT,
    Change,
    QueueFilter,
    RankedMatch,
    Store,
    StoreError,
    TraceRow,
)
from annotator.text import clip, sanitize

# Actions shown in the footer (the help screen and the palette list them all): what fits in 80
# columns with `? help` still on screen.
FOOTER_ACTIONS = {"next_todo", "edit_text", "note", "clear", "undo", "filter", "help", "quit"}
PROGRESS_DELAY = 0.25  # coalesce recounts while keys are held down
UNSAVED_AFTER = 0.3  # a change not committed by then is shown as unsaved
CLIP_HINT = "press {key} to see all"
LABEL_SLOTS = 48  # distinct label keys a config set can use
_PLACEHOLDER_KEY = "f24"  # the default key of a label slot the config does not use


def binding_id(action_id: str) -> str:
    return f"annotator.{action_id}"


# Textual's own `toggle(attribute_name)` action (DOMNode.action_toggle) is not replaced: the
# keymap's `toggle` (expand / collapse) runs the screen's `toggle_row`.
_ACTION_NAMES = {"toggle": "toggle_row"}


def action_name(action_id: str) -> str:
    """The screen's Textual action for a keymap action id (what bindings and the palette run)."""
    return _ACTION_NAMES.get(action_id, action_id)


def slot_id(slot: int) -> str:
    return f"annotator.label.{slot}"


def label_keys(config_set: ConfigSet) -> list[str]:
    """Every distinct label key of the config set, in slot order: digits in their own slot
    (slot 0 is key 1), other keys after them in config order."""
    keys: list[str] = []
    for config in config_set.annotations:
        for value in config.values:
            if value.key and value.key not in keys:
                keys.append(value.key)
    slots: list[str | None] = [None] * 9
    others = []
    for key in keys:
        if key in "123456789" and len(key) == 1:
            slots[int(key) - 1] = key
        else:
            others.append(key)
    result = [key or "" for key in slots] + others
    while result and not result[-1]:
        result.pop()
    return result[:LABEL_SLOTS]


def keymap_for(config_set: ConfigSet) -> dict[str, str]:
    """The `App.set_keymap` map: the actions the config's `keys:` moves off their default keys
    and each used label slot's key. An action remapped to no key gets none.

    Actions on their default keys are left out: their bindings already have those keys, and
    Textual applies the keymap to the screen's bindings on every key press, at a cost that grows
    with the map (~7 ms a key with every action listed)."""
    defaults = {action.id: tuple(action.default_keys) for action in ACTIONS}
    keymap: dict[str, str] = {}
    for action_id, keys in config_set.keymap().items():
        if tuple(keys) == defaults.get(action_id):
            continue
        keymap[binding_id(action_id)] = ",".join(keys) if keys else _PLACEHOLDER_KEY
    for slot, key in enumerate(label_keys(config_set)):
        if key:
            keymap[slot_id(slot)] = key
    return keymap


def _short(action_id: str) -> str:
    return {
        "next_todo": "next to do",
        "edit_text": "write",
        "note": "note",
        "clear": "clear",
        "undo": "undo",
        "filter": "filter",
        "help": "help",
        "quit": "quit",
    }.get(action_id, action_id)


def _bindings() -> list[BindingType]:
    bindings: list[BindingType] = [
        Binding(
            ",".join(action.default_keys),
            action_name(action.id),
            _short(action.id) if action.id in FOOTER_ACTIONS else action.description,
            show=action.id in FOOTER_ACTIONS,
            id=binding_id(action.id),
        )
        for action in ACTIONS
    ]
    bindings += [
        Binding(
            str(slot + 1) if slot < 9 else _PLACEHOLDER_KEY,
            f"pick_slot({slot})",
            "label",
            show=False,
            id=slot_id(slot),
        )
        for slot in range(LABEL_SLOTS)
    ]
    # escape is the app's own key (keymap.RESERVED_KEYS): it ends a search started with `/`.
    bindings.append(Binding("escape", "leave_search", "End the search", show=False))
    return bindings


_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


def _survives_store_errors(
    method: Callable[Concatenate[AnnotateScreen, _P], _R],
) -> Callable[Concatenate[AnnotateScreen, _P], _R | None]:
    """A database that cannot be read for a moment (locked during recovery, an I/O error) is
    reported in the status line; the app goes on instead of dying with a traceback."""

    @functools.wraps(method)
    def wrapper(self: AnnotateScreen, /, *args: _P.args, **kwargs: _P.kwargs) -> _R | None:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, StoreError) as error:
            self.store_trouble(error)
            return None

    return wrapper


def _guard_handlers(cls: type) -> type:
    for name in list(vars(cls)):
        if name.startswith(("action_", "on_trace_tree", "on_config_card")):
            setattr(cls, name, _survives_store_errors(getattr(cls, name)))
    return cls


class LatencyLog:
    """Milliseconds from a key press to a committed row / an updated screen, for bench/."""

    def __init__(self) -> None:
        self.commit: list[float] = []  # key -> row committed (by the writer thread)
        self.shown: list[float] = []  # key -> the change shown in the panel (before the commit)
        self.navigate: list[float] = []  # key -> span view laid out for the new row
        self.painted: list[float] = []  # key -> the screen repainted with it
        self.key_time: float | None = None

    def key_pressed(self) -> None:
        self.key_time = time.perf_counter()

    def record(self, kind: str) -> None:
        if self.key_time is not None:
            getattr(self, kind).append((time.perf_counter() - self.key_time) * 1000)


@_guard_handlers
class AnnotateScreen(StyledOnce, Screen[None]):
    # Below 110 columns the side panes give the span view room (they still fit their content).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    DEFAULT_CSS = """
    AnnotateScreen #main { height: 1fr; }
    AnnotateScreen TraceTree { width: 34%; min-width: 28; border-right: tall $panel; }
    AnnotateScreen SpanView { width: 1fr; }
    AnnotateScreen AnnotationPanel {
        width: 32%; min-width: 30; max-width: 60; border-left: tall $panel;
    }
    AnnotateScreen.-narrow TraceTree { width: 30%; min-width: 20; }
    AnnotateScreen.-narrow AnnotationPanel { width: 30%; min-width: 22; }
    """
    BINDINGS = _bindings()

    def __init__(self, session: AnnotationSession, *, latency: LatencyLog | None = None) -> None:
        super().__init__()
        self.session = session
        self.keymap = session.config_set.keymap()
        self.slot_keys = label_keys(session.config_set)
        self.latency = latency or LatencyLog()
        self.model = TreeModel(session.trace_ids(), session.load_trace, session.document_rows)
        self.trace_tree = TraceTree(self.model, _TreeSource(self), id="tree")
        self.span_view = SpanView(search_words(session.queue.text), id="view")
        self.panel = AnnotationPanel(
            session.configs, self._key("edit_text"), self._key("accept"), id="panel"
        )
        self.status_line = StatusLine(session.annotator, id="status")
        self.footer = AppFooter()
        self.item: Item | None = None
        self.row: Row | None = None
        self.applicable: list[int] = []
        self.focused_config: int | None = None
        self.show_raw = False
        self._auto_expanded: set[str] = set()
        self._view_scheduled = False
        self._panel_due = False  # the panel shows another item than the selected one, until drawn
        self._progress_timer: Timer | None = None
        self._late_timer: Timer | None = None
        self._background_store: Store | None = None
        self._background_lock = threading.Lock()
        self._bindings_signature: object = ()
        self._binding_actions = [
            parse_action(binding.action)[1:]
            for binding in self.BINDINGS
            if isinstance(binding, Binding) and binding.show
        ]
        self._source: Annotation | None = None  # what `accept` takes (shown in the panel)
        self._walk: RankedWalk | None = None  # the best matches of the search, for `>` / `<`
        self._search_origin: SearchOrigin | None = None  # where `/` was pressed (for escape)

    @property
    def current_config(self) -> AnnotationConfig | None:
        """The config the focus is on (label keys, arrows and `e` act on it)."""
        if self.focused_config is None:
            return None
        return self.session.configs[self.focused_config]

    # --- bindings ---------------------------------------------------------------------------------

    def _refresh_bindings(self) -> None:
        # The footer rebuilds itself (it remounts every key) on every refresh: only when what
        # `check_action` says of a binding it shows has changed (hidden, dimmed or enabled).
        # The bindings it does not show (label slots, scores) are checked at each key press
        # anyway; moving between configs that differ only in those leaves the footer alone.
        signature = tuple(
            self.check_action(name, parameters) for name, parameters in self._binding_actions
        )
        if signature != self._bindings_signature:
            self._bindings_signature = signature
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        config = self.current_config
        if action == "pick_slot":
            key = self._slot_key(parameters[0])
            return bool(
                key
                and config is not None
                and config.type == AnnotationType.CATEGORICAL
                and config.value_for_key(key) is not None
            )
        if action.startswith("score_"):
            return config is not None and config.type == AnnotationType.CONTINUOUS
        if action in ("clear", "edit_text", "accept"):
            return True if config is not None else None
        return True

    def _slot_key(self, slot: object) -> str:
        index = int(slot) if isinstance(slot, int | str) and str(slot).isdigit() else -1
        return self.slot_keys[index] if 0 <= index < len(self.slot_keys) else ""

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # The breakpoint class Textual gives the screen when it gets its size, given now: added
        # then, it restyles every widget of the screen (~5 ms) before the first frame.
        width = self.app.size.width
        for least, name in sorted(self.HORIZONTAL_BREAKPOINTS or (), reverse=True):
            if width >= least:
                self.add_class(name)
                break
        with Horizontal(id="main"):
            yield self.trace_tree
            yield self.span_view
            yield self.panel
        yield self.status_line

    async def on_mount(self) -> None:
        self.trace_tree.rows_changed()
        self.trace_tree.focus()
        self.status_line.set_queue(self.session.queue.describe())
        try:
            self._start_position()
        except (sqlite3.Error, StoreError) as error:
            self.store_trouble(error)
        self._schedule_progress(immediately=True)
        # Changes other processes commit (a pull, colleagues, an import): see live_refresh.
        self.live = LiveRefresh(self)
        self.set_interval(LIVE_POLL_SECONDS, self.live.poll)
        self.call_after_refresh(gc.freeze)  # the app's own long-lived objects, once they exist
        # The footer is mounted once the first row is selected, told that the screen's bindings
        # are ready: it makes its keys as it mounts, the right ones, in the first frame. Mounted
        # with the screen, Textual's footer makes them only after that frame, and the whole
        # screen is laid out and painted again (~30 ms).
        self.footer.bindings_changed(self)
        await self.mount(self.footer)

    def _start_position(self) -> None:
        if not self.model.trace_ids:
            self.span_view.show_message(
                Text(
                    "No traces in this queue. Press f to change the filter, or import traces: "
                    "annotator import FILE --db " + str(self.session.store.path)
                )
            )
            self._show_panel()
            return
        first = self.session.next_trace_with_work(None) or self.model.trace_ids[0]
        self._expand(first, auto=True)
        index = self.model.index_of_trace(first) or 0
        target = self._first_todo_in_trace(first, after=index - 1)
        self._move(target if target is not None else index)
        self.trace_tree.scroll_cursor_visible(center=True)

    # --- the cursor -----------------------------------------------------------------------------

    def _move(self, index: int) -> None:
        """Move the cursor and select its row now: the next key acts on the new row."""
        self.trace_tree.move_cursor(index, announce=False)
        row = self.trace_tree.cursor_row
        if row is not None:
            self._select(row)

    def on_trace_tree_highlighted(self, message: TraceTree.Highlighted) -> None:
        # Only clicks announce; the screen's own moves select at once (`_move`).
        if message.index == self.trace_tree.cursor:
            self._select(message.row)

    def on_trace_tree_toggle_requested(self, message: TraceTree.ToggleRequested) -> None:
        self._toggle(message.index)

    def _select(self, row: Row) -> None:
        item = self.session.item_for(row, self.model)
        self.row = row
        self.item = item
        self.session.arrived(item)
        self.applicable = self.session.applicable(item) if item else []
        # Focus what this item still needs first; else keep the focus where it still applies.
        missing = self.session.missing_on(item, self.applicable) if item else []
        if missing:
            self.focused_config = missing[0]
        elif self.focused_config not in self.applicable:
            self.focused_config = self.applicable[0] if self.applicable else None
        self._panel_due = True
        self._schedule_view()
        self._refresh_bindings()

    def _schedule_view(self) -> None:
        # Held-down keys queue many moves: draw the span once, for wherever the cursor ends up.
        # The panel is drawn in the same call: the cards and the span view each ask for a
        # layout of the screen, and asked from one call they get one (the panel drawn as the
        # key came and the span a moment later, each got its own: two layouts a move).
        if not self._view_scheduled:
            self._view_scheduled = True
            self.call_later(self._update_selected)

    @_survives_store_errors
    def _update_selected(self) -> None:
        if self._panel_due:
            self._show_panel()
        self._update_view()

    @_survives_store_errors
    def _update_view(self, *, keep_scroll: bool = False) -> None:
        self._view_scheduled = False
        item = self.item
        if item is None or item.span_id is None:
            self.span_view.show_span(None, RenderOptions())
        else:
            span = self.session.store.get_span(item.span_id)
            options = RenderOptions(
                show_raw=self.show_raw,
                selected_document=item.position,
                more_hint=CLIP_HINT.format(key=self._key("full_view")),
            )
            self.span_view.show_span(span, options, keep_scroll=keep_scroll)
        self.latency.record("navigate")
        self.call_after_refresh(self.latency.record, "painted")

    def _show_panel(self) -> None:
        self._panel_due = False
        item = self.item
        note_key = self._key("note")
        self._source = None
        if item is None:
            self.panel.show(Text("Nothing selected", style="dim"), [], {}, None, None, note_key)
            return
        states = self.session.states(item, self.applicable)
        shown = states.get(self.focused_config) if self.focused_config is not None else None
        self._source = shown.source if shown is not None else None
        notes = self.session.notes(item)
        extra = self.session.extra_annotations(item)
        title = self._panel_title(item)
        if self.session.has_mark(item, "skip"):
            title.append("\n↷ you skipped this", style="dim")
        for flagger, reason in self.session.flags_on(item):
            title.append("\n⚑ flagged by ", style="bold red")
            title.append(sanitize(clip(flagger, 40)[0]), style="bold")
            if reason:
                title.append(": ")
                title.append(sanitize(clip(reason.replace("\n", " "), 200)[0]))
        focused = self.focused_config
        self.panel.show(title, self.applicable, states, focused, notes, note_key, extra)

    def _panel_title(self, item: Item) -> Text:
        title = Text()
        if item.kind == TRACE:
            title.append("trace ", style="dim")
            summary = self.session.trace_summary(item.trace_id)
            title.append_text(kind_badge(item.span_kind))
            title.append(" " + sanitize(clip((summary.root_name if summary else "") or "", 60)[0]))
            return title
        span = self.model.span_of(self.row) if self.row is not None else None
        if item.kind == DOCUMENT:
            title.append(f"document #{item.position} of ", style="dim")
        else:
            title.append("span ", style="dim")
        title.append_text(kind_badge(item.span_kind))
        if span is not None:
            title.append(" " + sanitize(clip(span.name, 50 if item.kind == DOCUMENT else 60)[0]))
        return title

    def _key(self, action_id: str) -> str:
        keys = self.keymap.get(action_id, ())
        return display_key(keys[0]) if keys else action_id

    # --- navigation actions ---------------------------------------------------------------------

    def action_next_span(self) -> None:
        self._move(self.trace_tree.cursor + 1)

    def action_prev_span(self) -> None:
        self._move(self.trace_tree.cursor - 1)

    def action_next_trace(self) -> None:
        self._jump_trace(+1)

    def action_prev_trace(self) -> None:
        self._jump_trace(-1)

    def _jump_trace(self, direction: int) -> None:
        row = self.trace_tree.cursor_row
        if row is None:
            return
        ordinal = self.model.trace_ordinal(row.trace_id) or 0
        if direction < 0 and row.kind != TRACE:
            target = ordinal  # first go to the top of this trace
        else:
            target = ordinal + direction
        if not 0 <= target < len(self.model.trace_ids):
            self._say(Text("No more traces this way.", style="dim"))
            return
        self._go_to_trace(self.model.trace_ids[target], leaving=row.trace_id)

    def _go_to_trace(
        self,
        trace_id: str,
        *,
        leaving: str | None,
        row_index: Callable[[], int | None] | None = None,
    ) -> None:
        if leaving and leaving != trace_id and leaving in self._auto_expanded:
            self._collapse(leaving)
        if not self.model.is_expanded(trace_id):
            self._expand(trace_id, auto=True)
        index = row_index() if row_index else None
        if index is None:
            index = self.model.index_of_trace(trace_id) or 0
        self._move(index)

    def action_toggle_row(self) -> None:
        """Expand or collapse, always (text boxes open with `e` only)."""
        self._toggle(self.trace_tree.cursor)

    def _toggle(self, index: int) -> None:
        if not len(self.model):
            return
        row = self.model.row_at(index)
        if row.kind == TRACE:
            if self.model.is_expanded(row.trace_id):
                self._collapse(row.trace_id)
            else:
                self._expand(row.trace_id, auto=False)
        elif row.kind != DOCUMENT and row.has_children and row.span_id:
            self.model.toggle_span(row.trace_id, row.span_id)
            self.trace_tree.rows_changed()
        at = self._index_of(row)
        if at is not None:
            self._move(at)

    def _expand(self, trace_id: str, *, auto: bool) -> None:
        self.model.expand(trace_id)
        # A big trace is tens of thousands of long-lived objects; left in the young generations
        # they make the cyclic GC pause the UI for 50-100 ms every few dozen keystrokes. Freezing
        # them only exempts them from cycle scans: reference counting still frees them later.
        gc.freeze()
        if auto:
            self._auto_expanded.add(trace_id)
        else:
            self._auto_expanded.discard(trace_id)
        self.trace_tree.rows_changed()

    def _collapse(self, trace_id: str) -> None:
        current = self.trace_tree.cursor_row
        self.model.collapse(trace_id)
        self._auto_expanded.discard(trace_id)
        self.session.forget(trace_id)
        self.trace_tree.rows_changed()
        if current is not None and current.trace_id == trace_id:
            self._move(self.model.index_of_trace(trace_id) or 0)
        elif current is not None:
            index = self._index_of(current)
            if index is not None:
                self.trace_tree.move_cursor(index, announce=False)

    def _index_of(self, row: Row) -> int | None:
        if row.kind == TRACE:
            return self.model.index_of_trace(row.trace_id)
        return self.model.index_of_span(row.trace_id, row.span_id or "", row.position)

    def action_next_todo(self) -> None:
        self._next_todo(forward=True)

    def action_prev_todo(self) -> None:
        self._next_todo(forward=False)

    def _next_todo(self, *, forward: bool, config: AnnotationConfig | None = None) -> bool:
        """Move to the next row still needing work (for `config` only, if given). Unsaved
        changes count as done: the store is asked for the next trace with work, and a trace
        whose only work left is waiting to be written is passed over."""
        row = self.trace_tree.cursor_row
        if row is None:
            return False
        if self.model.is_expanded(row.trace_id):
            found = self._todo_in_trace(
                row.trace_id, self.trace_tree.cursor, forward=forward, config=config
            )
            if found is not None:
                self._move(found)
                return True
        after = row.trace_id
        for _ in range(len(self.session.unsettled) + 1):
            trace_id = self.session.next_trace_with_work(
                after, backwards=not forward, config=config
            )
            if trace_id is None:
                break
            if self._has_todo(trace_id, forward=forward, config=config):
                if self.model.trace_ordinal(trace_id) is None:  # outside the listed traces: relist
                    self._reload_traces(keep=trace_id)

                def entry_row(trace_id: str = trace_id) -> int | None:
                    """The first row needing work from the top (forward) or the bottom."""
                    top = self.model.index_of_trace(trace_id) or 0
                    start = top - 1 if forward else top + self.model.block_size(trace_id) + 1
                    return self._todo_in_trace(trace_id, start, forward=forward, config=config)

                self._go_to_trace(trace_id, leaving=row.trace_id, row_index=entry_row)
                return True
            after = trace_id
        if row.kind == TRACE and not self.model.is_expanded(row.trace_id):
            self._expand(row.trace_id, auto=True)
            start = self.trace_tree.cursor - 1
            found = self._todo_in_trace(row.trace_id, start, forward=True, config=config)
            if found is not None:
                self._move(found)
                return True
        what = f"{sanitize(config.name)} " if config else ""
        where = "after" if forward else "before"
        done = f"Nothing left to do {what}in this queue {where} this point. ✓"
        self._say(Text(done, style="green"))
        return False

    def _has_todo(self, trace_id: str, *, forward: bool, config: AnnotationConfig | None) -> bool:
        """Whether a trace the store says has work still has some once unsaved changes count."""
        if not self.session.unsettled or self.model.trace_ordinal(trace_id) is None:
            return True
        expanded = self.model.is_expanded(trace_id)
        if not expanded:
            self.model.expand(trace_id)
        try:
            top = self.model.index_of_trace(trace_id) or 0
            return self._todo_in_trace(trace_id, top - 1, forward=True, config=config) is not None
        finally:
            if not expanded:
                self.model.collapse(trace_id)

    def _first_todo_in_trace(self, trace_id: str, after: int) -> int | None:
        return self._todo_in_trace(trace_id, after, forward=True)

    def _todo_in_trace(
        self, trace_id: str, start: int, *, forward: bool, config: AnnotationConfig | None = None
    ) -> int | None:
        first = self.model.index_of_trace(trace_id)
        if first is None:
            return None
        last = first + self.model.block_size(trace_id)
        indexes = (
            range(max(first, start + 1), last + 1)
            if forward
            else range(min(last, start - 1), first - 1, -1)
        )
        for index in indexes:
            row = self.model.row_at(index)
            if self.session.row_mark(row, self.model).state != Mark.TODO:
                continue
            if config is None:
                return index
            item = self.session.item_for(row, self.model)
            if item is not None and self.session.needs_config(item, config):
                return index
        return None

    def action_scroll_down(self) -> None:
        self.span_view.scroll_relative(y=max(1, self.span_view.size.height - 2), animate=False)

    def action_scroll_up(self) -> None:
        self.span_view.scroll_relative(y=-max(1, self.span_view.size.height - 2), animate=False)

    # --- annotation actions ---------------------------------------------------------------------

    def action_next_config(self) -> None:
        self._cycle_config(+1)

    def action_prev_config(self) -> None:
        self._cycle_config(-1)

    def _cycle_config(self, direction: int) -> None:
        if not self.applicable:
            return
        position = (
            self.applicable.index(self.focused_config)
            if self.focused_config in self.applicable
            else -1
        )
        self.focused_config = self.applicable[(position + direction) % len(self.applicable)]
        self._show_panel()
        self._refresh_bindings()

    def action_pick_slot(self, slot: int) -> None:
        config = self.current_config
        key = self._slot_key(slot)
        if config is None or self.item is None or not key:
            return
        value = config.value_for_key(key)
        if value is None:
            return
        self._pick(config, config.values.index(value))

    def _pick(self, config: AnnotationConfig, value_index: int) -> None:
        item = self.item
        assert item is not None
        self._submitted(self.session.pick(item, config, value_index))
        if config.auto_advance:
            self._advance_after(config)

    def _advance_after(self, config: AnnotationConfig) -> None:
        """Focus the next config this item still needs; with none left, move to the next item
        that needs `config`. Decided now, from what is already chosen (saved or not)."""
        item = self.item
        if item is None:
            return
        missing = self.session.missing_on(item, self.applicable)
        if missing:
            position = (
                self.applicable.index(self.focused_config)
                if self.focused_config in self.applicable
                else 0
            )
            ordered = self.applicable[position + 1 :] + self.applicable[: position + 1]
            self.focused_config = next(i for i in ordered if i in missing)
            self._show_panel()
            self._refresh_bindings()
            return
        self._next_todo(forward=True, config=config)

    def action_score_down(self) -> None:
        self._step(-1)

    def action_score_up(self) -> None:
        self._step(+1)

    def action_score_down_big(self) -> None:
        self._step(-10)

    def action_score_up_big(self) -> None:
        self._step(+10)

    def _step(self, steps: int) -> None:
        config = self.current_config
        if config is None or self.item is None or config.type != AnnotationType.CONTINUOUS:
            return
        self._submitted(self.session.step(self.item, config, steps))

    def on_config_card_clicked(self, message: ConfigCard.Clicked) -> None:
        self.focused_config = message.card.index
        config = message.card.config
        if self.item is None:
            return
        if message.value_index is not None and config.type == AnnotationType.CATEGORICAL:
            self._pick(config, message.value_index)
        elif message.score is not None and config.type == AnnotationType.CONTINUOUS:
            self._submitted(self.session.set_score(self.item, config, message.score))
        elif config.type == AnnotationType.FREEFORM:
            self.action_edit_text()
        else:
            self._show_panel()
        self._refresh_bindings()

    def action_edit_text(self) -> None:
        config = self.current_config
        item = self.item
        if config is None or item is None:
            return
        what = "text" if config.type == AnnotationType.FREEFORM else "explanation"
        title = Text.assemble(
            (sanitize(config.name), "bold"), f" — {what} for ", self._panel_title(item)
        )

        def done(text: str | None) -> None:
            if text is None:
                self._say(Text("Cancelled: nothing changed.", style="dim"))
                return
            op = self.session.set_text(item, config, text)
            if op is None:
                self._say(Text("Nothing to change.", style="dim"))
            else:
                self._submitted(op)

        text = self.session.current_text(item, config)
        self.app.push_screen(TextEntryScreen(title, text), _guarded(self, done))

    def action_note(self) -> None:
        """A new note each time: on the trace (trace row) or the span (span or document row)."""
        item = self.item
        if item is None:
            return
        on_trace = "the trace " if item.kind == TRACE else ""
        about = Text.assemble(("note", "bold"), " on ", on_trace, self._panel_title(item))

        def done(text: str | None) -> None:
            if text is None or not text.strip():
                self._say(Text("No note added.", style="dim"))
                return
            op = self.session.add_note(item, text)
            if op is not None:
                self._submitted(op)

        self.app.push_screen(TextEntryScreen(about, ""), _guarded(self, done))

    def action_accept(self) -> None:
        """The focused annotation takes the value of the first other source listed under it."""
        config = self.current_config
        item = self.item
        if config is None or item is None:
            return
        if self._panel_due:  # a move just before, its panel not drawn yet
            self._show_panel()
        source = self._source  # what the panel shows under the focused card
        name = sanitize(clip(config.name, 40)[0])
        if source is None:
            self._say(Text(f"No other value on {name} to accept.", style="dim"))
            return
        try:
            op = self.session.accept(item, config, source)
        except NotAccepted as refused:
            self._say(Text(f"✗ not accepted: {sanitize(clip(str(refused), 160)[0])}"))
            return
        if op is None:
            self._say(
                Text(
                    f"{name} is already {sanitize(clip(who(source), 40)[0])}'s value.", style="dim"
                )
            )
            return
        self._submitted(op)
        if config.auto_advance:
            self._advance_after(config)

    def action_skip(self) -> None:
        """Skip the item (it leaves my queue, counted as skipped) and go on; on an item I
        skipped, take the skip back."""
        item = self.item
        op = self.session.toggle_skip(item) if item is not None else None
        if op is None:
            return
        self._submitted(op)
        if op.kind == "skip":
            self._next_todo(forward=True)
            self._say(Text.assemble(("↷ skipped", "bold"), f" ({self._key('undo')}: undo)"))
        else:
            self._say(Text("Skip taken back: it is in your queue again.", style="bold"))

    def action_flag(self) -> None:
        """Flag the item for the reviewer with an optional reason; on an item I flagged,
        remove my flag."""
        item = self.item
        if item is None or item.span_id is None:
            return
        if self.session.has_mark(item, "flag"):
            op = self.session.unflag(item)
            if op is not None:
                self._submitted(op)
                self._say(Text("Flag removed.", style="bold"))
            return
        title = Text.assemble(
            ("⚑ flag for the reviewer", "bold"),
            " — reason (optional; ctrl+s flags, escape cancels) — ",
            self._panel_title(item),
        )

        def done(text: str | None) -> None:
            if text is None:
                self._say(Text("Cancelled: not flagged.", style="dim"))
                return
            op = self.session.flag(item, text)
            if op is not None:
                self._submitted(op)
                self._say(Text("⚑ flagged for the reviewer", style="bold"))

        self.app.push_screen(TextEntryScreen(title, ""), _guarded(self, done))

    def action_clear(self) -> None:
        config = self.current_config
        if config is None or self.item is None:
            return
        op = self.session.clear(self.item, config)
        if op is None:
            self._say(Text(f"Nothing to remove on {sanitize(config.name)}.", style="dim"))
            return
        self._submitted(op)

    def action_undo(self) -> None:
        self._submitted(self.session.undo())

    def action_redo(self) -> None:
        self._submitted(self.session.redo())

    # --- changes and what the writer says about them ------------------------------------------

    def _submitted(self, op: WriteOp) -> None:
        """A change is decided (and pending in the session): show it, and say "unsaved" if the
        writer has not committed it a moment from now."""
        op.key_time = self.latency.key_time
        if self.session.waiting is not None:
            self._show_waiting()
        self._show_panel()
        self.latency.record("shown")
        self.trace_tree.marks_changed()
        self._refresh_bindings()
        if self._late_timer is None and self.session.unsettled:
            self._late_timer = self.set_timer(UNSAVED_AFTER, self._check_late)

    def _check_late(self) -> None:
        self._late_timer = None
        if not self.session.unsettled:
            return
        if self.session.mark_late(UNSAVED_AFTER):
            self._show_waiting()
            self._show_panel()
            self.trace_tree.marks_changed()
        self._late_timer = self.set_timer(UNSAVED_AFTER, self._check_late)

    def _show_waiting(self) -> None:
        count = len(self.session.unsettled)
        if not count:
            self.status_line.set_alert(None)
            return
        changes = f"{count} unsaved change{'s' if count != 1 else ''} kept"
        if self.session.waiting is not None:
            why = f"⚠ waiting for the database: {self.session.waiting} — {changes}"
            alert = Text(why, style="bold yellow")
        else:
            alert = Text(f"saving… {changes}", style="yellow")
        self.status_line.set_alert(alert)

    @_survives_store_errors
    def writer_event(self, event: WriterEvent) -> None:
        """What the writer thread reported (on the UI thread)."""
        if isinstance(event, Waiting):
            self.session.writer_waiting(event.reason)
            self._show_waiting()
            self._show_panel()
            self.trace_tree.marks_changed()
            return
        op = event.op
        self.session.settle(event)
        if isinstance(event, Committed) and op.key_time is not None:
            self.latency.commit.append((event.committed_at - op.key_time) * 1000)
        if isinstance(event, Failed):
            message = Text(f"✗ not saved: {sanitize(clip(op.what, 40)[0])}: ", style="bold red")
            message.append(sanitize(clip(event.reason, 120)[0]))
            self.status_line.say(message)
        elif op.kind in ("undo", "redo"):
            self._after_history(event.result, "Undid" if op.kind == "undo" else "Redid")
        else:
            self._say(self._saved_message(op, event.result))
        self._show_waiting()
        self._show_panel()
        self.trace_tree.marks_changed()
        self._schedule_progress()
        self._refresh_bindings()

    def _saved_message(self, op: WriteOp, result: object) -> Text:
        name = sanitize(clip(op.what, 40)[0])
        marked = {
            "skip": "✓ skipped",
            "unskip": "✓ skip taken back",
            "flag": "✓ flagged for the reviewer",
            "unflag": "✓ flag removed",
        }
        if op.kind in marked:
            return Text(marked[op.kind], style="bold green")
        if op.kind == "delete":
            return Text.assemble(("✓ removed ", "bold yellow"), name)
        message = Text.assemble(("✓ saved ", "bold green"), name)
        if op.what == "note":
            on_trace = op.key is not None and op.key.target == Target.TRACE
            message.append(" on the trace" if on_trace else " on the span")
        elif isinstance(result, Annotation):
            message.append(" = ")
            message.append_text(value_text(result))
        return message

    def _after_history(self, change: object, verb: str) -> None:
        if not isinstance(change, Change):
            self._say(
                Text("Nothing to undo." if verb == "Undid" else "Nothing to redo.", style="dim")
            )
            return
        if change.is_mark:
            mark = change.mark
            what = {"skip": "skip", "flag": "flag"}.get(mark.kind, mark.kind)
            now = "set" if change.mark_after is not None else "removed"
            self._say(
                Text(
                    f"{verb}: the {what} of span {sanitize(clip(mark.span_id, 40)[0])} is {now}",
                    style="bold",
                )
            )
            return
        annotation = change.annotation
        self._reveal(annotation)
        message = Text(f"{verb}: ", style="bold")
        message.append(sanitize(clip(annotation.name, 40)[0]))
        message.append(" is now ")
        message.append_text(
            value_text(change.after) if change.after else Text("unset", style="dim")
        )
        self._say(message)

    def _reveal(self, annotation: Annotation) -> None:
        """Move the cursor to what an undo/redo changed, when it is in the listed traces."""
        trace_id = annotation.trace_id
        if not trace_id or self.model.trace_ordinal(trace_id) is None:
            return
        if not self.model.is_expanded(trace_id):
            self._expand(trace_id, auto=True)
        if annotation.target in ("trace", "session"):
            index = self.model.index_of_trace(trace_id)
        else:
            index = self.model.index_of_span(
                trace_id, annotation.span_id or "", annotation.document_position
            )
        # Focus the config that changed; `_select` keeps it when it applies to the new row.
        for i, config in enumerate(self.session.configs):
            if config.name == annotation.name:
                self.focused_config = i
        if index is not None and index != self.trace_tree.cursor:
            self._move(index)

    def _say(self, message: Text) -> None:
        self.status_line.say(message)

    def store_trouble(self, error: BaseException) -> None:
        """A read failed: say so and go on (the next key tries again)."""
        message = Text("✗ the database could not be read: ", style="bold red")
        message.append(sanitize(clip(trouble(error), 120)[0]))
        self.status_line.say(message)

    # --- view actions

    def action_raw(self) -> None:
        self.show_raw = not self.show_raw
        self._update_view(keep_scroll=True)
        self._say(Text("Raw attributes " + ("shown" if self.show_raw else "hidden"), style="dim"))

    def action_full_view(self) -> None:
        if self.item is None or self.item.span_id is None:
            return
        span = self.session.store.get_span(self.item.span_id)
        if span is None:
            return
        token = self.status_line.working(Text("Opening the whole span…", style="dim"))
        self._open_full_view(span, token)

    @work(thread=True, exclusive=True, group="full-view")
    def _open_full_view(self, span: Span, token: object) -> None:
        # Formatting megabytes of JSON takes a fraction of a second: not on the UI thread.
        title = Text.assemble(("whole span ", "bold"), sanitize(clip(span.name, 80)[0]))
        text = span_full_text(span)
        self.app.call_from_thread(self._show_full_view, title, text, token)

    def _show_full_view(self, title: Text, text: str, token: object) -> None:
        self.status_line.done(token)
        self.app.push_screen(FullViewScreen(title, text))

    def action_filter(self) -> None:
        self._open_filter(focus_text=False)

    def _open_filter(self, *, focus_text: bool) -> None:
        kinds = self.session.store.span_kinds()
        recent = {kind: self.session.store.recent_filters(kind) for kind in (WHERE, TRACE_WHERE)}

        def done(queue: QueueFilter | None) -> None:
            if queue is None or queue == self.session.queue:
                return
            # A queue chosen here is the user's own: escape no longer puts back the one `/` left.
            self._search_origin = None
            self._set_queue(queue)
            self._remember_expressions(queue)

        dialog = FilterScreen(
            self.session.queue,
            kinds,
            focus_text=focus_text,
            recent=recent,
            count=self._count_selected,
        )
        self.app.push_screen(dialog, _guarded(self, done))

    def _set_queue(self, queue: QueueFilter, *, keep: str | None = None) -> None:
        self.session.set_queue(queue)
        self.status_line.set_queue(queue.describe())
        self.span_view.mark_search(search_words(queue.text))
        self._reload_traces(keep=keep)
        self._schedule_progress(immediately=True)

    # --- full-text search: `/`, the ranked walk (`>` / `<`), escape ------------------------------

    def action_search(self) -> None:
        walk_keys = (self._key("next_match"), self._key("prev_match"))

        def done(text: str | None) -> None:
            if text is None:  # escape: nothing changed, the cursor is where it was
                return
            if not text:
                self.action_leave_search()
                return
            if self._search_origin is None:
                self._search_origin = self._origin()
            queue = replace(self.session.queue, text=text)
            if queue != self.session.queue:
                self._walk = None
                self._set_queue(queue)
            self._rank(queue, step=+1)

        dialog = SearchScreen(self.session.queue.text, self._count_search, walk_keys)
        self.app.push_screen(dialog, _guarded(self, done))

    def _count_search(self, text: str) -> int:
        """The search box's live count (called in its worker thread)."""
        return self._with_background_store(lambda store: self.session.count_matches(text, store))

    def _origin(self) -> SearchOrigin:
        row = self.row
        return SearchOrigin(
            self.session.queue,
            row.trace_id if row else None,
            row.span_id if row else None,
            row.position if row else None,
            row is None or row.kind == TRACE,
        )

    @work(thread=True, exclusive=True, group="search-rank", exit_on_error=False)
    def _rank(self, queue: QueueFilter, step: int) -> None:
        """Rank the matches of `queue`'s search off the UI thread, then take `step` (the cursor
        goes to the best match when a search is applied)."""
        try:
            matches = self._with_background_store(
                lambda store: self.session.ranked_matches(queue, store)
            )
        except (sqlite3.Error, StoreError) as error:
            self.app.call_from_thread(self.store_trouble, error)
            return
        self.app.call_from_thread(self._ranked, queue, matches, step)

    @_survives_store_errors
    def _ranked(self, queue: QueueFilter, matches: list[RankedMatch], step: int) -> None:
        if queue != self.session.queue:
            return  # the queue changed meanwhile: this ranking is for another search
        self._walk = RankedWalk(queue, matches)
        if not matches:
            self._say(Text("No span in this queue matches the search.", style="dim"))
            return
        self._step_match(step)

    def action_next_match(self) -> None:
        self._step_match(+1)

    def action_prev_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, direction: int) -> None:
        queue = self.session.queue
        if not queue.text:
            self._say(Text(f"No search: press {self._key('search')} to search.", style="dim"))
            return
        walk = self._walk
        if walk is None or walk.queue != queue:  # searched with f or --search: rank it now
            self._walk = None
            self._say(Text("Ranking the matches…", style="dim"))
            self._rank(queue, step=direction if direction > 0 else +1)
            return
        position = walk.step(direction)
        while position is not None and not self._go_to_match(walk.matches[position]):
            walk.position = position  # its trace left the tree (live changes): pass it
            position = walk.step(direction)
        if position is None:
            if direction < 0:
                said = "That was the best match."
            else:
                said = f"That was the last of the {len(walk.matches):,} best matches."
                said += " The tree lists every match." if len(walk.matches) >= RANKED_LIMIT else ""
            self._say(Text(said, style="dim"))
            return
        walk.position = position
        self._say(self._match_message(walk))

    def _go_to_match(self, match: RankedMatch) -> bool:
        """Put the cursor on a match's row (its trace expanded, collapsed spans above it
        opened); False when its trace is no longer listed."""
        if self.model.trace_ordinal(match.trace_id) is None:
            return False
        leaving = self.row.trace_id if self.row is not None else None

        def row_index() -> int | None:
            if self.model.reveal(match.trace_id, match.span_id):
                self.trace_tree.rows_changed()
            return self.model.index_of_span(match.trace_id, match.span_id)

        self._go_to_trace(match.trace_id, leaving=leaving, row_index=row_index)
        self.trace_tree.scroll_cursor_visible(center=True)
        return True

    def _match_message(self, walk: RankedWalk) -> Text:
        match = walk.matches[walk.position]
        return Text.assemble(
            (f"match {walk.position + 1:,}/{len(walk.matches):,}", "bold"),
            (" best first", "dim"),
            " · ",
            sanitize(clip(match.name, 40)[0]),
            (
                f" · {self._key('next_match')} next · {self._key('prev_match')} previous · "
                "escape ends the search",
                "dim",
            ),
        )

    def action_leave_search(self) -> None:
        """escape: end the search; the queue and the cursor go back to where `/` was pressed
        (a search that came another way is just ended, the cursor kept)."""
        origin = self._search_origin
        if origin is None and not self.session.queue.text:
            return
        self._search_origin = None
        self._walk = None
        if origin is None:
            self._set_queue(replace(self.session.queue, text=""))
            return
        self._set_queue(origin.queue, keep=origin.trace_id or "")
        if origin.trace_id is None or self.model.trace_ordinal(origin.trace_id) is None:
            self._start_position()
        elif origin.is_trace_row:
            self._go_to_trace(origin.trace_id, leaving=None)
        else:
            self._go_to_trace(
                origin.trace_id,
                leaving=None,
                row_index=lambda: self.model.index_of_span(
                    origin.trace_id or "", origin.span_id or "", origin.position
                ),
            )
        self.trace_tree.scroll_cursor_visible(center=True)
        self._say(Text("Search ended: back where it began.", style="dim"))

    def _with_background_store(self, use: Callable[[Store], _T]) -> _T:
        """Runs `use` on the screen's second connection (for worker threads: the UI thread's
        store stays free), opening it the first time."""
        with self._background_lock:
            if self._background_store is None:
                self._background_store = Store.open(self.session.store.path)
            return use(self._background_store)

    def _count_selected(self, where: SpanFilter | None, trace_where: TraceFilter | None) -> int:
        """The filter dialog's live count (called in its worker thread)."""
        return self._with_background_store(lambda store: store.count_selected(where, trace_where))

    @work(thread=True, group="remember-filters", exit_on_error=False)
    def _remember_expressions(self, queue: QueueFilter) -> None:
        """The applied expressions go first in this database's recent ones (a write: not on
        the UI thread; a failure to remember is not worth an error on screen)."""

        def remember(store: Store) -> None:
            for kind, expression in ((WHERE, queue.where), (TRACE_WHERE, queue.trace_where)):
                if expression:
                    store.remember_filter(kind, expression.text)

        with contextlib.suppress(sqlite3.Error, StoreError):
            self._with_background_store(remember)

    def _reload_traces(self, keep: str | None = None) -> None:
        current = self.trace_tree.cursor_row
        self.model.reset(self.session.trace_ids())
        self._auto_expanded.clear()
        self.trace_tree.cursor = 0
        self.trace_tree.rows_changed()
        if keep is not None:
            return
        wanted = (
            current.trace_id
            if current and self.model.trace_ordinal(current.trace_id) is not None
            else None
        )
        if wanted is None:
            self._start_position()
        else:
            self._expand(wanted, auto=True)
            index = self.model.index_of_trace(wanted) or 0
            found = self._first_todo_in_trace(wanted, index - 1)
            self._move(found if found is not None else index)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.keymap, self.session.configs))

    def action_guidelines(self) -> None:
        focused = self.current_config
        self.app.push_screen(
            GuidelinesScreen(
                self.session.config_set.guidelines,
                self.session.configs,
                focused.name if focused is not None else None,
            )
        )

    def action_quit(self) -> None:
        from annotator.app.app import AnnotatorApp  # imported here: that module imports this one

        app = self.app
        assert isinstance(app, AnnotatorApp)  # the one app this screen is made for
        app.request_quit()

    # --- progress, counted off the UI thread ----------------------------------------------------

    def _schedule_progress(self, *, immediately: bool = False) -> None:
        if self._progress_timer is not None:
            self._progress_timer.stop()
            self._progress_timer = None
        if immediately:
            self._count_progress()
        else:
            self._progress_timer = self.set_timer(PROGRESS_DELAY, self._count_progress)

    @work(thread=True, exclusive=True, group="progress", exit_on_error=False)
    def _count_progress(self) -> None:
        progress: tuple[int, int] | None
        try:
            progress, skipped = self._with_background_store(
                lambda store: (
                    self.session.progress(store),
                    store.mark_counts(self.session.annotator)["skip"],
                )
            )
        except (sqlite3.Error, StoreError):
            progress, skipped = None, 0  # "counting…" until the next count succeeds
        self.app.call_from_thread(self.status_line.set_progress, progress, skipped)

    def on_unmount(self) -> None:
        with self._background_lock:
            if self._background_store is not None:
                self._background_store.close()
                self._background_store = None


def _guarded(screen: AnnotateScreen, callback: Callable[[_T], None]) -> Callable[[_T], None]:
    """A dialog's result callback that survives store errors like the actions do."""

    def run(result: _T) -> None:
        try:
            callback(result)
        except (sqlite3.Error, StoreError) as error:
            screen.store_trouble(error)

    return run


class _TreeSource:
    """Adapts the session to what the tree asks while drawing; a store error draws a row
    without its marks instead of killing the app."""

    def __init__(self, screen: AnnotateScreen) -> None:
        self.screen = screen

    def trace_summary(self, trace_id: str) -> TraceRow | None:
        try:
            return self.screen.session.trace_summary(trace_id)
        except (sqlite3.Error, StoreError):
            return None

    def trace_progress(self, trace_id: str) -> tuple[int, int] | None:
        try:
            return self.screen.session.trace_progress(trace_id)
        except (sqlite3.Error, StoreError):
            return None

    def trace_preview(self, trace_id: str) -> str:
        try:
            return self.screen.session.trace_preview(trace_id)
        except (sqlite3.Error, StoreError):
            return ""

    def row_marks(self, row: Row) -> Mark:
        try:
            return self.screen.session.row_mark(row, self.screen.model)
        except (sqlite3.Error, StoreError):
            return NO_MARK

    def prefetch(self, trace_ids: list[str]) -> None:
        with contextlib.suppress(sqlite3.Error, StoreError):
            self.screen.session.prefetch(trace_ids)
