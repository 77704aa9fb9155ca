"""Choose the queue: which spans `next` walks and the tree lists (state, kinds, status, name,
and filter expressions: a span filter and a trace filter, in Phoenix's language).

Layout: a bordered dialog holding a scrolling body of sections and, below it, a line with the
keys that apply and cancel (always on screen, whatever the body's height). Each section is a
small compose helper; a new one (an expression field, say) is one more helper and one more line
in `compose`. At 80x24 everything fits without scrolling on the bundled samples; with many span
kinds, or a shorter terminal, the body scrolls and focus (tab) brings each control into view.

The expression fields count the spans they select as you type: 0.3 s after the last key, in a
thread (counting reads every span's attributes: ~0.1 s on 100k spans), the newest answer
shown, older ones dropped. An invalid expression shows its error (sanitised `Text`) in place of
the count, and apply refuses it. Up / down in a field recall the expressions applied before in
this database (newest first; `Store.recent_filters`).

Every choice shows its state in text, not only in colour: `(•)`/`( )` for the radio choices,
`[x]`/`[ ]` for the span kinds. Terminals without colour (or `NO_COLOR=1`) read the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.reactive import Reactive
from textual.strip import Strip
from textual.style import Style
from textual.timer import Timer
from textual.widgets import Input, OptionList, SelectionList
from textual.widgets.option_list import OptionDoesNotExist

from annotator.app.screens.dialog import Dialog
from annotator.app.widgets.count_line import CountLine
from annotator.app.widgets.line_input import LineInput
from annotator.app.widgets.steady import (
    Button,
    Horizontal,
    RadioButton,
    RadioSet,
    Static,
    Vertical,
    VerticalScroll,
)
from annotator.query import FilterError, SpanFilter, TraceFilter
from annotator.store import QueueFilter, QueueState
from annotator.text import sanitize

STATE_LABELS = {
    QueueState.ALL: "every span a config applies to",
    QueueState.TODO: "to do: still needs my annotation",
    QueueState.MINE: "annotated by me",
    QueueState.OTHERS: "annotated by others (people, LLM or code)",
    QueueState.DISAGREE: "disagreements: values differ",
    QueueState.SKIPPED: "skipped by me",
    QueueState.FLAGGED: "flagged for the reviewer",
}
STATUSES = ("any", "ERROR", "OK", "UNSET")
KEYS_HINT = (
    ("ctrl+s", "apply"),
    ("esc", "cancel"),
    ("tab", "next control"),
    ("space", "choose"),
)
CHOSEN, NOT_CHOSEN = "(•)", "( )"
COUNT_DELAY = 0.3  # seconds after the last key before the expressions are counted
MESSAGE_LIMIT = 300  # characters of an error shown under the fields
WHERE, TRACE_WHERE = "where", "trace_where"  # the kinds of recent expressions

# Counts the spans a span filter and a trace filter select (None: no filter); called in a
# thread, so it must open its own connection or hold a lock.
Counter = Callable[[SpanFilter | None, TraceFilter | None], int]
TICKED, NOT_TICKED = "[x]", "[ ]"


class Choice(RadioButton):
    """A radio button that says whether it is chosen: ``(•) label`` / ``( ) label``."""

    def render(self) -> Content:
        mark = CHOSEN if self.value else NOT_CHOSEN
        mark_style = Style(bold=True, foreground=self.get_visual_style("toggle--button").foreground)
        label = self.label.pad(1, 1).stylize_before(self.get_visual_style("toggle--label"))
        return Content.assemble((mark, mark_style if self.value else Style()), label)


class KindList(SelectionList[str]):
    """Span kinds with ``[x]`` / ``[ ]`` in front of each (the stock list draws the same box for
    both states and tells them apart by colour alone).

    The list sets its virtual size (its lines) as it first draws, after the layout placed it by
    its content height; that asked for a layout of the dialog again. Nothing is placed by it:
    the scrollbar it may need (more kinds than its 10 lines) is a reactive that asks for one."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0))

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)
        index = round(self.scroll_offset.y) + y
        try:
            selection = self.get_option_at_index(index)
        except OptionDoesNotExist:
            return line
        ticked = selection.value in self.selected
        # The option's own style (every segment of an option line carries one; the widget's
        # style stands in otherwise, as in SelectionList.render_line).
        first = next(iter(line)).style if line.cell_length else None
        base = first if first is not None else self.rich_style
        button = self.get_component_rich_style(
            "selection-list--button-selected" if ticked else "selection-list--button"
        )
        mark_style = base + RichStyle(
            color=button.color if ticked else None, bold=ticked, meta={"option": index}
        )
        return Strip(
            [Segment(TICKED if ticked else NOT_TICKED, mark_style), Segment(" ", base), *line]
        )


class ExpressionInput(LineInput):
    """An expression field: up / down walk through the recent expressions of its kind."""

    BINDINGS = [
        Binding("up", "recall(1)", "Older", show=False),
        Binding("down", "recall(-1)", "Newer", show=False),
    ]

    def __init__(self, value: str, recent: list[str], **kwargs: Any) -> None:
        super().__init__(value, **kwargs)
        self.recent = recent
        self._position = -1  # -1: what was typed; 0: the newest recent expression
        self._typed = value

    def action_recall(self, step: int) -> None:
        if not self.recent:
            return
        if self._position == -1:
            self._typed = self.value
        self._position = max(-1, min(len(self.recent) - 1, self._position + step))
        self.value = self._typed if self._position == -1 else self.recent[self._position]
        self.cursor_position = len(self.value)


class FilterScreen(Dialog[QueueFilter | None]):
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen #filter-dialog {
        width: 96;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    FilterScreen #filter-body { height: auto; max-height: 1fr; }
    FilterScreen .filter-row { height: auto; }
    FilterScreen .filter-column { height: auto; width: auto; margin-right: 2; }
    FilterScreen .filter-grow { width: 1fr; margin-right: 0; }
    FilterScreen .filter-title { text-style: bold; }
    FilterScreen RadioSet { width: auto; }
    FilterScreen RadioSet > RadioButton { width: auto; }
    FilterScreen RadioSet:focus > RadioButton.-selected > .toggle--label {
        text-style: bold reverse;
    }
    FilterScreen KindList { width: 24; height: auto; max-height: 10; }
    FilterScreen KindList:focus > .option-list--option-highlighted { text-style: bold reverse; }
    FilterScreen #filter-text { width: 1fr; }
    FilterScreen #filter-expressions { height: auto; width: 1fr; padding-top: 1; }
    FilterScreen #filter-text { margin-bottom: 0; }
    FilterScreen .filter-expression { height: 1; }
    FilterScreen .filter-expression-label { width: 7; text-style: bold; }
    FilterScreen ExpressionInput { width: 1fr; }
    FilterScreen #filter-matches { height: auto; max-height: 4; }
    FilterScreen #filter-matches.-error { color: $error; }
    FilterScreen #filter-buttons { height: auto; padding-top: 1; }
    FilterScreen #filter-buttons Button { margin-right: 1; }
    FilterScreen #filter-keys { height: 1; color: $text-muted; dock: bottom; }
    """
    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]
    # No automatic focus as the dialog mounts: `on_mount` focuses the control it opens on.
    # Textual's default focuses the first focusable widget, the scrolling body, and restyles it
    # with every control inside it, then again when on_mount takes the focus (~35 ms CPU).
    AUTO_FOCUS = ""

    def __init__(
        self,
        current: QueueFilter,
        kinds: list[str],
        *,
        focus_text: bool = False,
        recent: dict[str, list[str]] | None = None,
        count: Counter | None = None,
    ) -> None:
        super().__init__()
        self._current = current
        self._kinds = kinds
        self._focus_text = focus_text
        self._recent = recent or {}
        self._count = count
        self._count_timer: Timer | None = None
        self._generation = 0  # the newest count asked for; older answers are dropped

    # -- layout: one helper per section

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-dialog") as dialog:
            dialog.border_title = "Filter the queue"
            with VerticalScroll(id="filter-body"):
                with Horizontal(classes="filter-row"):
                    yield from self._state_section()
                    yield from self._status_section()
                with Horizontal(classes="filter-row"):
                    yield from self._kinds_section()
                    with Vertical(classes="filter-column filter-grow"):
                        yield from self._name_section()
                        yield from self._expression_section()
                        with Horizontal(id="filter-buttons"):
                            yield Button(
                                "Apply ctrl+s", variant="primary", id="filter-apply", compact=True
                            )
                            yield Button("Clear all", id="filter-clear", compact=True)
                            yield Button("Cancel esc", id="filter-cancel", compact=True)
            yield Static(self._keys_hint(), id="filter-keys", markup=False)

    def _state_section(self) -> ComposeResult:
        with Vertical(classes="filter-column"):
            yield Static(Text("Queue"), classes="filter-title", markup=False)
            with RadioSet(id="filter-state"):
                for state, label in STATE_LABELS.items():
                    chosen = self._current.state == state
                    yield Choice(Text(label), value=chosen, name=state)

    def _status_section(self) -> ComposeResult:
        with Vertical(classes="filter-column"):
            yield Static(Text("Status"), classes="filter-title", markup=False)
            with RadioSet(id="filter-status"):
                for status in STATUSES:
                    chosen = (self._current.status or "any") == status
                    yield Choice(Text(status), value=chosen, name=status)

    def _kinds_section(self) -> ComposeResult:
        with Vertical(classes="filter-column"):
            yield Static(Text("Span kinds (none: all)"), classes="filter-title", markup=False)
            yield KindList(
                *[(Text(kind), kind, kind in self._current.span_kinds) for kind in self._kinds],
                id="filter-kinds",
            )

    def _name_section(self) -> ComposeResult:
        yield Static(Text("Search span content (/)"), classes="filter-title", markup=False)
        yield LineInput(
            self._current.text, placeholder="words in name, input, output, documents, errors",
            id="filter-text", compact=True,
        )  # fmt: skip

    def _expression_section(self) -> ComposeResult:
        with Vertical(id="filter-expressions"):
            yield Static(
                Text.assemble(
                    ("Filter expressions", "bold"),
                    (" (Phoenix's syntax; ↑/↓ recent)", "dim"),
                ),
                markup=False,
            )
            where, trace_where = self._current.where, self._current.trace_where
            with Horizontal(classes="filter-expression"):
                yield Static(Text("spans "), classes="filter-expression-label", markup=False)
                yield ExpressionInput(
                    where.text if where else "",
                    self._recent.get(WHERE, []),
                    placeholder="e.g. span_kind == 'LLM' and latency_ms > 2000",
                    id="filter-where",
                    compact=True,
                )
            with Horizontal(classes="filter-expression"):
                yield Static(Text("traces"), classes="filter-expression-label", markup=False)
                yield ExpressionInput(
                    trace_where.text if trace_where else "",
                    self._recent.get(TRACE_WHERE, []),
                    placeholder="e.g. any(span.status_code == 'ERROR' for span in spans)",
                    id="filter-trace-where",
                    compact=True,
                )
            yield CountLine(id="filter-matches")

    @staticmethod
    def _keys_hint() -> Text:
        hint = Text()
        for key, what in KEYS_HINT:
            if hint:
                hint.append(" · ")
            hint.append(key, style="bold")
            hint.append(" " + what)
        return hint

    def on_mount(self) -> None:
        if self._focus_text:
            self.query_one("#filter-text", Input).focus()
        else:
            self.query_one("#filter-state", RadioSet).focus()
        self._schedule_count(immediately=True)

    # -- the live count of what the expressions select

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, ExpressionInput):
            event.stop()
            self._schedule_count()

    def _schedule_count(self, *, immediately: bool = False) -> None:
        if self._count_timer is not None:
            self._count_timer.stop()
            self._count_timer = None
        self._generation += 1
        if immediately:
            self._start_count()
        else:
            self._count_timer = self.set_timer(COUNT_DELAY, self._start_count)

    def _start_count(self) -> None:
        where = self.query_one("#filter-where", Input).value
        trace_where = self.query_one("#filter-trace-where", Input).value
        if not where.strip() and not trace_where.strip():
            self._show_matches(self._generation, Text("No expression: every span.", style="dim"))
            return
        self._show_matches(self._generation, Text("counting…", style="dim"), final=False)
        self._count_in_thread(self._generation, where, trace_where)

    @work(thread=True, exclusive=True, group="filter-count", exit_on_error=False)
    def _count_in_thread(self, generation: int, where: str, trace_where: str) -> None:
        try:
            span_filter, trace_filter = _compiled(where, trace_where)
        except _Invalid as invalid:
            result, error = invalid.text(), True
        else:
            if self._count is None:
                result, error = Text("valid", style="dim"), False
            else:
                try:
                    found = self._count(span_filter, trace_filter)
                except Exception as problem:  # the database went away: say so, never crash
                    result = Text(sanitize(f"cannot count: {problem}")[:MESSAGE_LIMIT])
                    error = True
                else:
                    noun = "span matches" if found == 1 else "spans match"
                    result, error = Text(f"{found:,} {noun}"), False
        self.app.call_from_thread(self._show_matches, generation, result, error=error)

    def _show_matches(
        self, generation: int, text: Text, *, error: bool = False, final: bool = True
    ) -> None:
        if generation != self._generation or not self.is_attached:
            return  # an older count than what is typed now
        self.query_one("#filter-matches", CountLine).say(text, error=error)

    # -- what the dialog does

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "filter-apply":
            self.action_apply()
        elif event.button.id == "filter-clear":
            # The project is not in this dialog: clearing keeps it.
            self.dismiss(QueueFilter(project=self._current.project))
        else:
            self.action_cancel()

    def chosen(self) -> QueueFilter:
        """The queue the dialog shows; raises _Invalid for an invalid expression."""
        state_set = self.query_one("#filter-state", RadioSet)
        status_set = self.query_one("#filter-status", RadioSet)
        state = state_set.pressed_button.name if state_set.pressed_button else QueueState.ALL
        status = status_set.pressed_button.name if status_set.pressed_button else "any"
        kinds = self.query_one("#filter-kinds", KindList).selected
        span_filter, trace_filter = _compiled(
            self.query_one("#filter-where", Input).value,
            self.query_one("#filter-trace-where", Input).value,
        )
        return QueueFilter(
            span_kinds=frozenset(kinds),
            status=None if status == "any" else status,
            text=self.query_one("#filter-text", Input).value.strip(),
            state=state or QueueState.ALL,
            project=self._current.project,
            where=span_filter,
            trace_where=trace_filter,
        )

    def action_apply(self) -> None:
        try:
            chosen = self.chosen()
        except _Invalid as invalid:  # refused: the error stays on screen, in its field
            self._generation += 1
            self._show_matches(self._generation, invalid.text(), error=True)
            self.query_one(f"#filter-{invalid.field.replace('_', '-')}", Input).focus()
            self.app.bell()
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)


class _Invalid(Exception):
    """An expression field holds an invalid filter: which field, and the FilterError."""

    def __init__(self, field: str, error: FilterError) -> None:
        super().__init__(str(error))
        self.field = field
        self.error = error

    def text(self) -> Text:
        label = "span filter" if self.field == WHERE else "trace filter"
        message = sanitize(str(self.error))
        if len(message) > MESSAGE_LIMIT:
            message = message[: MESSAGE_LIMIT - 1] + "…"
        return Text.assemble((f"✗ {label}: ", "bold"), message)


def _compiled(where: str, trace_where: str) -> tuple[SpanFilter | None, TraceFilter | None]:
    """The two fields as filters (None when blank); _Invalid names the first invalid one."""
    try:
        span_filter = SpanFilter(where) if where.strip() else None
    except FilterError as error:
        raise _Invalid(WHERE, error) from None
    try:
        trace_filter = TraceFilter(trace_where) if trace_where.strip() else None
    except FilterError as error:
        raise _Invalid(TRACE_WHERE, error) from None
    return span_filter, trace_filter
