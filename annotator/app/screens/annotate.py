"""The annotate screen: tree | span | annotations, a status line and the footer.

Keys become calls on `AnnotationSession`; what it returns (already committed) is what the screen
shows. Bindings are built per screen from the config's keymap, each with a stable id equal to
the action id, plus one binding per categorical label key.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer

from annotator.app.screens.filter import FilterScreen
from annotator.app.screens.full_view import FullViewScreen
from annotator.app.screens.help import HelpScreen
from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.session import AnnotationSession, Item
from annotator.app.span_render import RenderOptions, span_full_text
from annotator.app.tree_model import DOCUMENT, TRACE, Row, TreeModel
from annotator.app.widgets.annotation_panel import AnnotationPanel, ConfigCard, value_text
from annotator.app.widgets.span_view import SpanView
from annotator.app.widgets.status_line import StatusLine
from annotator.app.widgets.trace_tree import TraceTree, kind_badge
from annotator.config import AnnotationConfig, AnnotationType
from annotator.keymap import ACTIONS, display_key
from annotator.model import Annotation
from annotator.store import QueueFilter, Store, TraceRow
from annotator.text import clip, sanitize

# Actions shown in the footer (the help screen lists them all).
FOOTER_ACTIONS = {"next_todo", "edit_text", "note", "clear", "undo", "filter", "help", "quit"}
PROGRESS_DELAY = 0.25  # coalesce recounts while keys are held down
CLIP_HINT = "press {key} to see all"


class LatencyLog:
    """Milliseconds from a key press to a committed row / an updated screen, for bench/."""

    def __init__(self) -> None:
        self.commit: list[float] = []  # key -> row committed
        self.navigate: list[float] = []  # key -> span view laid out for the new row
        self.painted: list[float] = []  # key -> the screen repainted with it
        self.key_time: float | None = None

    def key_pressed(self) -> None:
        self.key_time = time.perf_counter()

    def record(self, kind: str) -> None:
        if self.key_time is not None:
            getattr(self, kind).append((time.perf_counter() - self.key_time) * 1000)


class AnnotateScreen(Screen[None]):
    # Below 110 columns the side panes give the span view room (they still fit their content).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    DEFAULT_CSS = """
    AnnotateScreen #main { height: 1fr; }
    AnnotateScreen TraceTree { width: 34%; min-width: 28; border-right: tall $panel; }
    AnnotateScreen SpanView { width: 1fr; }
    AnnotateScreen AnnotationPanel { width: 32%; min-width: 30; max-width: 60; border-left: tall $panel; }
    AnnotateScreen.-narrow TraceTree { width: 30%; min-width: 20; }
    AnnotateScreen.-narrow AnnotationPanel { width: 30%; min-width: 22; }
    """

    def __init__(self, session: AnnotationSession, *, latency: LatencyLog | None = None) -> None:
        super().__init__()
        self.session = session
        self.keymap = session.config_set.keymap()
        self.latency = latency or LatencyLog()
        self._bindings = self._build_bindings()
        self.model = TreeModel(session.trace_ids(), session.store.span_rows, session.document_rows)
        self.trace_tree = TraceTree(self.model, _TreeSource(session, self.model), id="tree")
        self.span_view = SpanView(id="view")
        self.panel = AnnotationPanel(session.configs, id="panel")
        self.status_line = StatusLine(session.annotator, id="status")
        self.item: Item | None = None
        self.applicable: list[int] = []
        self.focused_config: int | None = None
        self.show_raw = False
        self._auto_expanded: set[str] = set()
        self._view_scheduled = False
        self._progress_timer = None
        self._background_store: Store | None = None
        self._background_lock = threading.Lock()
        self._bindings_signature: object = ()

    # --- bindings ---------------------------------------------------------------------------------

    def _build_bindings(self) -> BindingsMap:
        bindings: list[Binding] = []
        for action in ACTIONS:
            keys = self.keymap.get(action.id, ())
            if not keys:
                continue
            if action.id == "toggle":
                # Enter on a freeform config opens its text box; elsewhere it expands/collapses.
                bindings.append(Binding("enter", "edit_on_enter", show=False))
            bindings.append(
                Binding(
                    ",".join(keys),
                    action.id,
                    action.description if action.id not in FOOTER_ACTIONS else _short(action.id),
                    show=action.id in FOOTER_ACTIONS,
                    id=action.id,
                )
            )
        label_keys: list[str] = []
        for config in self.session.configs:
            for value in config.values:
                if value.key not in label_keys:
                    label_keys.append(value.key)
        for key in label_keys:
            bindings.append(Binding(key, f"pick_key('{key}')", "label", show=False))
        return BindingsMap(bindings)

    def _refresh_bindings(self) -> None:
        # The footer rebuilds itself on every refresh: only when what is enabled has changed.
        config = self._focused()
        signature = None if config is None else (config.type, self.focused_config)
        if signature != self._bindings_signature:
            self._bindings_signature = signature
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        config = self._focused()
        if action == "pick_key":
            return bool(
                config is not None
                and config.type == AnnotationType.CATEGORICAL
                and config.value_for_key(str(parameters[0])) is not None
            )
        if action.startswith("score_"):
            return config is not None and config.type == AnnotationType.CONTINUOUS
        if action == "edit_on_enter":
            return config is not None and config.type == AnnotationType.FREEFORM
        if action in ("clear", "edit_text"):
            return True if config is not None else None
        return True

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.trace_tree
            yield self.span_view
            yield self.panel
        yield self.status_line
        yield Footer()

    def on_mount(self) -> None:
        self.trace_tree.rows_changed()
        self.trace_tree.focus()
        self.status_line.set_queue(self.session.queue.describe())
        self._start_position()
        self._schedule_progress(immediately=True)
        self.call_after_refresh(gc.freeze)  # the app's own long-lived objects, once they exist

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
        self.trace_tree.move_cursor(target if target is not None else index)
        self.trace_tree.scroll_cursor_visible(center=True)

    # --- the cursor -----------------------------------------------------------------------------

    def on_trace_tree_highlighted(self, message: TraceTree.Highlighted) -> None:
        self._select(message.row)

    def on_trace_tree_toggle_requested(self, message: TraceTree.ToggleRequested) -> None:
        self._toggle(message.index)

    def _select(self, row: Row) -> None:
        item = self.session.item_for(row, self.model)
        self.item = item
        self.session.arrived(item)
        self.applicable = self.session.applicable(item) if item else []
        states = self.session.states(item, self.applicable) if item else {}
        # Focus what this item still needs first; else keep the focus where it still applies.
        missing = [
            i for i in self.applicable
            if self.session.configs[i].name in self.session.required and states[i].mine is None
        ]
        if missing:
            self.focused_config = missing[0]
        elif self.focused_config not in self.applicable:
            self.focused_config = self.applicable[0] if self.applicable else None
        self._show_panel(states)
        self._schedule_view()
        self._refresh_bindings()

    def _schedule_view(self) -> None:
        # Held-down keys queue many moves: draw the span once, for wherever the cursor ends up.
        if not self._view_scheduled:
            self._view_scheduled = True
            self.call_later(self._update_view)

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

    def _show_panel(self, states: dict | None = None) -> None:
        item = self.item
        if item is None:
            self.panel.show(Text("Nothing selected", style="dim"), [], {}, None, None, self._key("note"))
            return
        if states is None:
            states = self.session.states(item, self.applicable)
        notes = self.session.notes(item) if item.kind != DOCUMENT else None
        extra = self.session.extra_annotations(item)
        self.panel.show(
            self._panel_title(item), self.applicable, states, self.focused_config, notes, self._key("note"), extra
        )

    def _panel_title(self, item: Item) -> Text:
        title = Text()
        if item.kind == TRACE:
            title.append("trace ", style="dim")
            summary = self.session.trace_summary(item.trace_id)
            title.append_text(kind_badge(item.span_kind))
            title.append(" " + sanitize(clip((summary.root_name if summary else "") or "", 60)[0]))
        elif item.kind == DOCUMENT:
            title.append(f"document #{item.position} of ", style="dim")
            title.append_text(kind_badge(item.span_kind))
            span = self.model.span_of(self.trace_tree.cursor_row) if self.trace_tree.cursor_row else None
            if span is not None:
                title.append(" " + sanitize(clip(span.name, 50)[0]))
        else:
            title.append("span ", style="dim")
            title.append_text(kind_badge(item.span_kind))
            span = self.model.span_of(self.trace_tree.cursor_row) if self.trace_tree.cursor_row else None
            if span is not None:
                title.append(" " + sanitize(clip(span.name, 60)[0]))
        return title

    def _focused(self) -> AnnotationConfig | None:
        if self.focused_config is None:
            return None
        return self.session.configs[self.focused_config]

    def _key(self, action_id: str) -> str:
        keys = self.keymap.get(action_id, ())
        return display_key(keys[0]) if keys else action_id

    # --- navigation actions ---------------------------------------------------------------------

    def action_next_span(self) -> None:
        self.trace_tree.move_cursor(self.trace_tree.cursor + 1)

    def action_prev_span(self) -> None:
        self.trace_tree.move_cursor(self.trace_tree.cursor - 1)

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

    def _go_to_trace(self, trace_id: str, *, leaving: str | None, row_index: Callable[[], int | None] | None = None) -> None:
        if leaving and leaving != trace_id and leaving in self._auto_expanded:
            self._collapse(leaving)
        if not self.model.is_expanded(trace_id):
            self._expand(trace_id, auto=True)
        index = row_index() if row_index else None
        if index is None:
            index = self.model.index_of_trace(trace_id) or 0
        self.trace_tree.move_cursor(index)

    def action_toggle(self) -> None:
        self._toggle(self.trace_tree.cursor)

    def _toggle(self, index: int) -> None:
        row = self.model.row_at(index)
        if row.kind == TRACE:
            if self.model.is_expanded(row.trace_id):
                self._collapse(row.trace_id)
            else:
                self._expand(row.trace_id, auto=False)
        elif row.kind != DOCUMENT and row.has_children and row.span_id:
            self.model.toggle_span(row.trace_id, row.span_id)
            self.trace_tree.rows_changed()
        index = self._index_of(row)
        if index is not None:
            self.trace_tree.move_cursor(index, announce=False)

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
            self.trace_tree.move_cursor(self.model.index_of_trace(trace_id) or 0, announce=False)
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
        """Move to the next row still needing work (for `config` only, if given)."""
        row = self.trace_tree.cursor_row
        if row is None:
            return False
        if self.model.is_expanded(row.trace_id):
            found = self._todo_in_trace(row.trace_id, self.trace_tree.cursor, forward=forward, config=config)
            if found is not None:
                self.trace_tree.move_cursor(found)
                return True
        trace_id = self.session.next_trace_with_work(row.trace_id, backwards=not forward, config=config)
        if trace_id is None:
            if row.kind == TRACE and not self.model.is_expanded(row.trace_id):
                self._expand(row.trace_id, auto=True)
                found = self._todo_in_trace(row.trace_id, self.trace_tree.cursor - 1, forward=True, config=config)
                if found is not None:
                    self.trace_tree.move_cursor(found)
                    return True
            what = f"{sanitize(config.name)} " if config else ""
            self._say(Text(f"Nothing left to do {what}in this queue {'after' if forward else 'before'} this point. ✓", style="green"))
            return False
        if self.model.trace_ordinal(trace_id) is None:  # outside the listed traces: relist
            self._reload_traces(keep=trace_id)

        def entry_row() -> int | None:
            """The first row needing work from the top (forward) or the bottom (backwards)."""
            top = self.model.index_of_trace(trace_id) or 0
            start = top - 1 if forward else top + self.model.block_size(trace_id) + 1
            return self._todo_in_trace(trace_id, start, forward=forward, config=config)

        self._go_to_trace(trace_id, leaving=row.trace_id, row_index=entry_row)
        return True

    def _first_todo_in_trace(self, trace_id: str, after: int) -> int | None:
        return self._todo_in_trace(trace_id, after, forward=True)

    def _todo_in_trace(self, trace_id: str, start: int, *, forward: bool, config: AnnotationConfig | None = None) -> int | None:
        first = self.model.index_of_trace(trace_id)
        if first is None:
            return None
        last = first + self.model.block_size(trace_id)
        indexes = range(max(first, start + 1), last + 1) if forward else range(min(last, start - 1), first - 1, -1)
        for index in indexes:
            row = self.model.row_at(index)
            todo, _ = self.session.row_marks(row, self.model)
            if not todo:
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
        position = self.applicable.index(self.focused_config) if self.focused_config in self.applicable else -1
        self.focused_config = self.applicable[(position + direction) % len(self.applicable)]
        self._show_panel()
        self._refresh_bindings()

    def action_pick_key(self, key: str) -> None:
        config = self._focused()
        if config is None or self.item is None:
            return
        value = config.value_for_key(key)
        if value is None:
            return
        self._pick(config, config.values.index(value))

    def _pick(self, config: AnnotationConfig, value_index: int) -> None:
        item = self.item
        assert item is not None
        stored = self.session.pick(item, config, value_index)
        self.latency.record("commit")
        self._after_write(stored, config)
        if config.auto_advance:
            self._advance_after(config)

    def _advance_after(self, config: AnnotationConfig) -> None:
        """Focus the next config this item still needs; with none left, move to the next item
        that needs `config`."""
        item = self.item
        if item is None:
            return
        missing = self.session.missing_on(item, self.applicable)
        if missing:
            position = self.applicable.index(self.focused_config) if self.focused_config in self.applicable else 0
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
        config = self._focused()
        if config is None or self.item is None or config.type != AnnotationType.CONTINUOUS:
            return
        stored = self.session.step(self.item, config, steps)
        self.latency.record("commit")
        self._after_write(stored, config)

    def on_config_card_clicked(self, message: ConfigCard.Clicked) -> None:
        self.focused_config = message.card.index
        config = message.card.config
        if self.item is None:
            return
        if message.value_index is not None and config.type == AnnotationType.CATEGORICAL:
            self._pick(config, message.value_index)
        elif message.score is not None and config.type == AnnotationType.CONTINUOUS:
            self._after_write(self.session.set_score(self.item, config, message.score), config)
        elif config.type == AnnotationType.FREEFORM:
            self.action_edit_text()
        else:
            self._show_panel()
        self._refresh_bindings()

    def action_edit_on_enter(self) -> None:
        self.action_edit_text()

    def action_edit_text(self) -> None:
        config = self._focused()
        if config is None or self.item is None:
            return
        what = "text" if config.type == AnnotationType.FREEFORM else "explanation"
        self._open_text(config, Text.assemble((sanitize(config.name), "bold"), f" — {what} for ", self._panel_title(self.item)))

    def action_note(self) -> None:
        if self.item is None or self.item.span_id is None:
            return
        item = self.item
        if item.kind == DOCUMENT:  # a note is about the span the document belongs to
            item = Item("span", item.trace_id, item.span_id, item.span_kind, item.session_id)
        self._open_text(None, Text.assemble(("note", "bold"), " on ", self._panel_title(item)), item)

    def _open_text(self, config: AnnotationConfig | None, title: Text, item: Item | None = None) -> None:
        item = item or self.item
        assert item is not None
        current = self.session.current_text(item, config)

        def done(text: str | None) -> None:
            if text is None:
                self._say(Text("Cancelled: nothing changed.", style="dim"))
                return
            stored = self.session.set_text(item, config, text)
            self._after_write(stored, config, removed=stored is None)

        self.app.push_screen(TextEntryScreen(title, current), done)

    def action_clear(self) -> None:
        config = self._focused()
        if config is None or self.item is None:
            return
        removed = self.session.clear(self.item, config)
        if removed is None:
            self._say(Text(f"Nothing to remove on {sanitize(config.name)}.", style="dim"))
            return
        self._after_write(removed, config, removed=True)

    def action_undo(self) -> None:
        change = self.session.undo()
        self._after_history(change, "Undid")

    def action_redo(self) -> None:
        change = self.session.redo()
        self._after_history(change, "Redid")

    def _after_history(self, change, verb: str) -> None:  # noqa: ANN001
        if change is None:
            self._say(Text("Nothing to undo." if verb == "Undid" else "Nothing to redo.", style="dim"))
            return
        annotation = change.annotation
        self._reveal(annotation)
        message = Text(f"{verb}: ", style="bold")
        message.append(sanitize(clip(annotation.name, 40)[0]))
        message.append(" is now ")
        message.append_text(value_text(change.after) if change.after else Text("unset", style="dim"))
        self._refresh_after_change(message)

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
            index = self.model.index_of_span(trace_id, annotation.span_id or "", annotation.document_position)
        if index is not None and index != self.trace_tree.cursor:
            self.trace_tree.move_cursor(index)
        # Focus the config that changed; `_select` keeps it when it applies to the new row.
        for i, config in enumerate(self.session.configs):
            if config.name == annotation.name:
                self.focused_config = i

    def _after_write(self, stored: Annotation | None, config: AnnotationConfig | None, *, removed: bool = False) -> None:
        name = config.name if config else "note"
        message = Text("✓ saved ", style="bold green") if not removed else Text("✓ removed ", style="bold yellow")
        message.append(sanitize(clip(name, 40)[0]))
        if stored is not None and not removed:
            message.append(" = ")
            message.append_text(value_text(stored))
        self._refresh_after_change(message)

    def _refresh_after_change(self, message: Text) -> None:
        self._show_panel()
        self.trace_tree.marks_changed()
        self._say(message)
        self._schedule_progress()
        self._refresh_bindings()

    def _say(self, message: Text) -> None:
        self.status_line.say(message)

    # --- view actions -------------------------------------------------------------------------------

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
        self._say(Text("Opening the whole span…", style="dim"))
        self._open_full_view(span)

    @work(thread=True, exclusive=True, group="full-view")
    def _open_full_view(self, span) -> None:  # noqa: ANN001
        # Formatting megabytes of JSON takes a fraction of a second: not on the UI thread.
        title = Text.assemble(("whole span ", "bold"), sanitize(clip(span.name, 80)[0]))
        text = span_full_text(span)
        self.app.call_from_thread(self.app.push_screen, FullViewScreen(title, text))

    def action_filter(self) -> None:
        self._open_filter(focus_text=False)

    def action_search(self) -> None:
        self._open_filter(focus_text=True)

    def _open_filter(self, *, focus_text: bool) -> None:
        kinds = [row[0] for row in self.session.store.connection.execute("SELECT DISTINCT span_kind FROM spans ORDER BY 1")]

        def done(queue: QueueFilter | None) -> None:
            if queue is None or queue == self.session.queue:
                return
            self.session.queue = queue
            self.session.forget_all()
            self.status_line.set_queue(queue.describe())
            self._reload_traces()
            self._schedule_progress(immediately=True)

        self.app.push_screen(FilterScreen(self.session.queue, kinds, focus_text=focus_text), done)

    def _reload_traces(self, keep: str | None = None) -> None:
        current = self.trace_tree.cursor_row
        self.model.reset(self.session.trace_ids())
        self._auto_expanded.clear()
        self.trace_tree.cursor = 0
        self.trace_tree.rows_changed()
        if keep is not None:
            return
        wanted = current.trace_id if current and self.model.trace_ordinal(current.trace_id) is not None else None
        if wanted is None:
            self._start_position()
        else:
            self._expand(wanted, auto=True)
            index = self.model.index_of_trace(wanted) or 0
            found = self._first_todo_in_trace(wanted, index - 1)
            self.trace_tree.move_cursor(found if found is not None else index)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.keymap, self.session.configs))

    def action_quit(self) -> None:
        self.app.exit()

    # --- progress, counted off the UI thread ----------------------------------------------------

    def _schedule_progress(self, *, immediately: bool = False) -> None:
        if self._progress_timer is not None:
            self._progress_timer.stop()
            self._progress_timer = None
        if immediately:
            self._count_progress()
        else:
            self._progress_timer = self.set_timer(PROGRESS_DELAY, self._count_progress)

    @work(thread=True, exclusive=True, group="progress")
    def _count_progress(self) -> None:
        with self._background_lock:
            if self._background_store is None:
                self._background_store = Store.open(self.session.store.path)
            progress = self.session.progress(self._background_store)
        self.app.call_from_thread(self.status_line.set_progress, progress)

    def on_unmount(self) -> None:
        with self._background_lock:
            if self._background_store is not None:
                self._background_store.close()
                self._background_store = None


class _TreeSource:
    """Adapts the session to what the tree asks while drawing."""

    def __init__(self, session: AnnotationSession, model: TreeModel) -> None:
        self.session = session
        self.model = model

    def trace_summary(self, trace_id: str) -> TraceRow | None:
        return self.session.trace_summary(trace_id)

    def trace_progress(self, trace_id: str) -> tuple[int, int] | None:
        return self.session.trace_progress(trace_id)

    def row_marks(self, row: Row) -> tuple[bool, bool]:
        return self.session.row_marks(row, self.model)

    def prefetch(self, trace_ids: list[str]) -> None:
        self.session.prefetch(trace_ids)


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
