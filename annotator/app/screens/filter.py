"""Choose the queue: which spans `next` walks and the tree lists (state, kinds, status, name)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, RadioButton, RadioSet, SelectionList, Static

from annotator.store import QueueFilter, QueueState

STATE_LABELS = {
    QueueState.ALL: "every span a config applies to",
    QueueState.TODO: "to do: still needs my annotation",
    QueueState.MINE: "annotated by me",
    QueueState.OTHERS: "annotated by others (people, LLM or code)",
    QueueState.DISAGREE: "disagreements: values differ",
}
STATUSES = ("any", "ERROR", "OK", "UNSET")


class FilterScreen(ModalScreen[QueueFilter | None]):
    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical {
        width: 90;
        max-width: 95%;
        height: auto;
        max-height: 95%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    FilterScreen .filter-title { text-style: bold; padding-top: 1; }
    FilterScreen Horizontal { height: auto; }
    FilterScreen RadioSet { width: 1fr; }
    FilterScreen SelectionList { height: auto; max-height: 12; width: 1fr; }
    FilterScreen #filter-buttons { padding-top: 1; height: auto; }
    FilterScreen Button { margin-right: 2; }
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

    def compose(self) -> ComposeResult:
        current = self._current
        with Vertical():
            yield Static(Text("Queue"), classes="filter-title", markup=False)
            with RadioSet(id="filter-state"):
                for state, label in STATE_LABELS.items():
                    yield RadioButton(Text(label), value=current.state == state, name=state)
            with Horizontal():
                with Vertical():
                    yield Static(Text("Span kinds (none ticked: all)"), classes="filter-title", markup=False)
                    yield SelectionList[str](
                        *[(Text(kind), kind, kind in current.span_kinds) for kind in self._kinds],
                        id="filter-kinds",
                    )
                with Vertical():
                    yield Static(Text("Status"), classes="filter-title", markup=False)
                    with RadioSet(id="filter-status"):
                        for status in STATUSES:
                            chosen = (current.status or "any") == status
                            yield RadioButton(Text(status), value=chosen, name=status)
            yield Static(Text("Span name contains"), classes="filter-title", markup=False)
            yield Input(current.text, placeholder="text in the span name", id="filter-text")
            with Horizontal(id="filter-buttons"):
                yield Button("Apply (ctrl+s)", variant="primary", id="filter-apply")
                yield Button("Clear all", id="filter-clear")
                yield Button("Cancel (esc)", id="filter-cancel")

    def on_mount(self) -> None:
        if self._focus_text:
            self.query_one("#filter-text", Input).focus()
        else:
            self.query_one("#filter-state", RadioSet).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "filter-apply":
            self.action_apply()
        elif event.button.id == "filter-clear":
            self.dismiss(QueueFilter())
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
