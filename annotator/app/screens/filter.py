"""Choose the queue: which spans `next` walks and the tree lists (state, kinds, status, name).

Layout: a bordered dialog holding a scrolling body of sections and, below it, a line with the
keys that apply and cancel (always on screen, whatever the body's height). Each section is a
small compose helper; a new one (an expression field, say) is one more helper and one more line
in `compose`. At 80x24 everything fits without scrolling on the bundled samples; with many span
kinds, or a shorter terminal, the body scrolls and focus (tab) brings each control into view.

Every choice shows its state in text, not only in colour: `(•)`/`( )` for the radio choices,
`[x]`/`[ ]` for the span kinds. Terminals without colour (or `NO_COLOR=1`) read the same.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.style import Style
from textual.widgets import Button, Input, OptionList, RadioButton, RadioSet, SelectionList, Static
from textual.widgets.option_list import OptionDoesNotExist

from annotator.store import QueueFilter, QueueState

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
    both states and tells them apart by colour alone)."""

    def render_line(self, y: int) -> Strip:
        line = OptionList.render_line(self, y)
        index = round(self.scroll_offset.y) + y
        try:
            selection = self.get_option_at_index(index)
        except OptionDoesNotExist:
            return line
        ticked = selection.value in self.selected
        base = next(iter(line)).style if line.cell_length else self.rich_style
        button = self.get_component_rich_style(
            "selection-list--button-selected" if ticked else "selection-list--button"
        )
        mark_style = base + RichStyle(
            color=button.color if ticked else None, bold=ticked, meta={"option": index}
        )
        return Strip(
            [Segment(TICKED if ticked else NOT_TICKED, mark_style), Segment(" ", base), *line]
        )


class FilterScreen(ModalScreen[QueueFilter | None]):
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
    FilterScreen #filter-buttons { height: auto; padding-top: 1; }
    FilterScreen #filter-buttons Button { margin-right: 1; }
    FilterScreen #filter-keys { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", priority=True),
        Binding("escape", "cancel", "Cancel", priority=True),
    ]

    def __init__(self, current: QueueFilter, kinds: list[str], *, focus_text: bool = False) -> None:
        super().__init__()
        self._current = current
        self._kinds = kinds
        self._focus_text = focus_text

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
                    yield from self._name_section()
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
        with Vertical(classes="filter-column filter-grow"):
            yield Static(Text("Span name contains"), classes="filter-title", markup=False)
            yield Input(
                self._current.text, placeholder="text in the span name (enter applies)",
                id="filter-text",
            )  # fmt: skip
            with Horizontal(id="filter-buttons"):
                yield Button("Apply ctrl+s", variant="primary", id="filter-apply", compact=True)
                yield Button("Clear all", id="filter-clear", compact=True)
                yield Button("Cancel esc", id="filter-cancel", compact=True)

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
        state_set = self.query_one("#filter-state", RadioSet)
        status_set = self.query_one("#filter-status", RadioSet)
        state = state_set.pressed_button.name if state_set.pressed_button else QueueState.ALL
        status = status_set.pressed_button.name if status_set.pressed_button else "any"
        kinds = self.query_one("#filter-kinds", SelectionList).selected
        return QueueFilter(
            span_kinds=frozenset(kinds),
            status=None if status == "any" else status,
            text=self.query_one("#filter-text", Input).value.strip(),
            state=state or QueueState.ALL,
            project=self._current.project,
        )

    def action_apply(self) -> None:
        self.dismiss(self.chosen())

    def action_cancel(self) -> None:
        self.dismiss(None)
