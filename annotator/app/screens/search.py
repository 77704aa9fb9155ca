"""`/`: the search box, with the live number of matching spans; and the ranked walk it starts.

The box counts the spans of the queue that hold what is typed, as it is typed: COUNT_DELAY
after the last key, in a thread (the screen's second connection), the newest answer shown and
older ones dropped. The count is bounded work (`Store.count_matches` stops at
SEARCH_COUNT_LIMIT: "1,000+ spans match"). `enter` applies the search (an empty one leaves it),
`escape` closes the box and changes nothing.

Once applied, the tree keeps its trace order (it lists the traces holding a match) and the
cursor goes to the best match; `>` / `<` walk the best RANKED_LIMIT matches in rank order
(`Store.ranked_matches`: FTS5's bm25), and `escape` on the annotate screen ends the search and
puts the cursor back where it was when `/` was pressed. `RankedWalk` is that walk's state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from annotator.app.screens.dialog import Dialog
from annotator.app.widgets.count_line import CountLine
from annotator.app.widgets.line_input import LineInput
from annotator.store import SEARCH_COUNT_LIMIT, QueueFilter, RankedMatch, has_words
from annotator.text import clip, sanitize

COUNT_DELAY = 0.25  # seconds after the last key before the search is counted
MAX_SEARCH = 1_000  # characters a search can hold

# Counts the spans of the queue that match a search (at most SEARCH_COUNT_LIMIT); called in a
# thread, so it must use its own connection or hold a lock.
Counter = Callable[[str], int]


def count_text(found: int) -> Text:
    """What the box says about `found` matches (SEARCH_COUNT_LIMIT: that many or more)."""
    if found == 0:
        return Text("no span in this queue matches", style="bold")
    more = "+" if found >= SEARCH_COUNT_LIMIT else ""
    noun = "span matches" if found == 1 and not more else "spans match"
    return Text(f"{found:,}{more} {noun}", style="bold")


class SearchScreen(Dialog[str | None]):
    DEFAULT_CSS = """
    SearchScreen { align: center top; }
    SearchScreen #search-dialog {
        width: 80;
        max-width: 100%;
        height: auto;
        margin-top: 2;
        border: round $accent;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    SearchScreen #search-text { width: 1fr; }
    SearchScreen #search-count { height: 1; }
    SearchScreen #search-keys { height: auto; color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", priority=True)]

    def __init__(self, text: str, count: Counter, walk_keys: tuple[str, str]) -> None:
        super().__init__()
        self._text = text
        self._count = count
        self._walk_keys = walk_keys
        self._timer: Timer | None = None
        self._generation = 0  # the newest count asked for; older answers are dropped
        self.shown_for: str | None = None  # the search whose count is on screen

    def compose(self) -> ComposeResult:
        with Vertical(id="search-dialog") as dialog:
            dialog.border_title = "Search span content"
            yield LineInput(
                self._text,
                placeholder="words in name, input, output, messages, documents, errors",
                max_length=MAX_SEARCH,
                id="search-text",
                compact=True,
            )
            yield CountLine(id="search-count")
            following, preceding = self._walk_keys
            yield Static(
                Text.assemble(
                    ("enter", "bold"), " search, best match first · ",
                    (following, "bold"), " / ", (preceding, "bold"),
                    " next / previous match · ", ("escape", "bold"), " cancel",
                ),
                id="search-keys",
                markup=False,
            )  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#search-text", Input).focus()  # the old search selected: typing replaces it
        self._schedule(immediately=True)

    def on_key(self, event: events.Key) -> None:
        """Keys typed right after `/` (a fast typist, a paste) can arrive before the field has
        the focus: they go into it, in order, instead of being lost."""
        field = self.query_one("#search-text", Input)
        if field.has_focus:
            return
        if event.key == "enter":
            event.stop()
            self._submit(field.value)
        elif event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            field.insert_text_at_cursor(event.character)

    # -- the live count

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._schedule()

    def _schedule(self, *, immediately: bool = False) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._generation += 1
        if immediately:
            self._start_count()
        else:  # the count on screen was for what was typed before: not shown as this one's
            self._show(self._generation, Text("counting…", style="dim"), None)
            self._timer = self.set_timer(COUNT_DELAY, self._start_count)

    def _start_count(self) -> None:
        text = self.query_one("#search-text", Input).value
        if not text.strip():
            hint = Text("type words: every one must match", style="dim")
            self._show(self._generation, hint, text)
            return
        if not has_words(text):
            self._show(self._generation, Text("no word to search for yet", style="dim"), text)
            return
        self._show(self._generation, Text("counting…", style="dim"), None)
        self._count_in_thread(self._generation, text)

    @work(thread=True, exclusive=True, group="search-count", exit_on_error=False)
    def _count_in_thread(self, generation: int, text: str) -> None:
        try:
            result = count_text(self._count(text))
        except Exception as problem:  # the database went away: say so, never crash
            result = Text(sanitize(clip(f"cannot count: {problem}", 200)[0]), style="red")
        self.app.call_from_thread(self._show, generation, result, text)

    def _show(self, generation: int, shown: Text, text: str | None) -> None:
        if generation != self._generation or not self.is_attached:
            return  # an older count than what is typed now
        self.shown_for = text
        self.query_one("#search-count", CountLine).say(shown)

    @property
    def count_shown(self) -> str:
        """The count line as shown (for tests)."""
        return str(self.query_one("#search-count", Static).render())

    # -- what the box does

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit(event.value)

    def _submit(self, text: str) -> None:
        self.dismiss(" ".join(text.split()))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass
class RankedWalk:
    """The best matches of one applied search (its queue), best first, and where `>` / `<` are
    in them (-1: before the best)."""

    queue: QueueFilter
    matches: list[RankedMatch]
    position: int = -1

    def step(self, direction: int) -> int | None:
        """The position one step on, or None past either end."""
        position = self.position + direction
        return position if 0 <= position < len(self.matches) else None


@dataclass(frozen=True)
class SearchOrigin:
    """Where `/` was pressed: the queue and the row (trace, span, document position) the
    cursor was on, which `escape` goes back to."""

    queue: QueueFilter
    trace_id: str | None
    span_id: str | None
    position: int | None
    is_trace_row: bool
