"""Review mode (``annotator annotate --review``): the reviewer walks the items raters disagree on
and one key records the final value (Store.set_final: identifier `final`, decided_by reviewer,
the reviewer's name in its metadata). Raters' votes are only read, never written.

The reviewer's writes are few and small, so they are made on the UI thread, each its own
transaction; a write the database refuses (locked by another process) is reported on the status
line and nothing is lost but that keystroke.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from annotator.app.screens.text_entry import TextEntryScreen
from annotator.app.widgets.review_panel import ReviewPanel, plain
from annotator.config import AnnotationConfig, AnnotationType, ConfigSet
from annotator.keymap import normalise_key
from annotator.model import Annotation
from annotator.store import AnnotationError, AnnotationKey, Store, StoreError
from annotator.team.review import ReviewItem, config_value, review_items, vote_text

# What a write the database refuses raises (locked past the busy timeout, disk full, ...).
WRITE_ERRORS = (StoreError, AnnotationError, sqlite3.Error)


class ReviewStatus(Static):
    DEFAULT_CSS = """
    ReviewStatus { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)


class ReviewApp(App[None]):
    """One item at a time; j/k (or n/p, down/up) move; the config's keys decide."""

    BINDINGS = [
        Binding("j,n,down", "move(1)", "next", show=False),
        Binding("k,p,up", "move(-1)", "previous", show=False),
        Binding("a", "accept_majority", "majority", show=False),
        Binding("x,delete", "clear_final", "clear", show=False),
        Binding("e", "enter_score", "score", show=False),
        Binding("u", "undo", "undo", show=False),
        Binding("q", "quit", "quit", show=False),
    ]

    def __init__(
        self,
        db_path: str | Path,
        config_set: ConfigSet,
        reviewer: str,
        *,
        per_item: int | None = None,
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.reviewer = reviewer
        self.per_item = per_item
        self.configs = {c.name: c for c in config_set.annotations}
        self.store = Store.open(self.db_path)
        self.items: list[ReviewItem] = review_items(
            self.store, list(config_set.annotations), per_item=per_item
        )
        self.finals: dict[int, Annotation | None] = {
            i: self.store.final_value(item.key) for i, item in enumerate(self.items)
        }
        self.index = 0
        self.message = ""
        # How many of this session's decisions `u` may take back: never further (the reviewer's
        # name may have earlier changes here, as a rater, that review mode must not touch).
        self.undoable = 0

    def compose(self) -> ComposeResult:
        yield ReviewPanel(id="review")
        yield ReviewStatus()

    def on_mount(self) -> None:
        self.title = "annotator review"
        self.refresh_view()

    def on_unmount(self) -> None:
        self.store.close()

    # --- what is shown -----------------------------------------------------------------------

    @property
    def item(self) -> ReviewItem | None:
        return self.items[self.index] if self.items else None

    def config_of(self, item: ReviewItem | None) -> AnnotationConfig | None:
        return self.configs.get(item.name) if item is not None else None

    def decided(self) -> int:
        return sum(1 for final in self.finals.values() if final is not None)

    def status_text(self) -> Text:
        text = Text()
        text.append(" review mode ", style="reverse")
        text.append(f" {plain(self.reviewer, 24)}  ")
        if self.items:
            text.append(f"item {self.index + 1} of {len(self.items)}  ")
            text.append(f"{self.decided()} of {len(self.items)} decided")
        else:
            text.append("no disagreements")
        if self.message:
            text.append(f"  {self.message}", style="bold")
        return text

    def refresh_view(self) -> None:
        item = self.item
        final = self.finals.get(self.index) if item is not None else None
        self.query_one(ReviewPanel).show(item, self.config_of(item), final)
        self.query_one(ReviewStatus).update(self.status_text())

    def say(self, message: str) -> None:
        self.message = message
        self.refresh_view()

    # --- keys --------------------------------------------------------------------------------

    def on_key(self, event) -> None:
        """A value key of the item's categorical config records that value as final. With the
        score box open, a text key that reached the app was typed ahead of the box: it goes
        into the box (as in the annotate screen), never decides anything."""
        if isinstance(self.screen, TextEntryScreen):
            if self.screen.type_ahead(event):
                event.stop()
            return
        item = self.item
        config = self.config_of(item)
        if item is None or config is None or config.type != AnnotationType.CATEGORICAL:
            return
        pressed = event.key
        for value in config.values:
            if value.key and normalise_key(value.key) == pressed:
                event.stop()
                event.prevent_default()
                self.decide(*config_value(config, value.label))
                return

    def action_move(self, steps: int) -> None:
        if self.items:
            self.index = max(0, min(len(self.items) - 1, self.index + steps))
        self.say("")

    def action_accept_majority(self) -> None:
        item = self.item
        if item is None:
            return
        majority = item.majority()
        if majority is None:
            self.say("no majority: press a value key")
            return
        if isinstance(majority, str):
            config = self.config_of(item)
            label, score = config_value(config, majority) if config else (majority, None)
            self.decide(label, score)
        else:
            self.decide(None, float(majority))

    def action_enter_score(self) -> None:
        item = self.item
        config = self.config_of(item)
        if item is None or config is None or config.type != AnnotationType.CONTINUOUS:
            return
        final = self.finals.get(self.index)
        current = "" if final is None or final.score is None else f"{final.score:g}"

        def entered(text: str | None) -> None:
            if text is None or not text.strip():
                return
            try:
                score = float(text)
            except ValueError:
                self.say(f"not a number: {plain(text, 20)}")
                return
            low, high = config.lower_bound, config.upper_bound
            if (low is not None and score < low) or (high is not None and score > high):
                self.say(f"{score:g} is outside {low:g}..{high:g}" if low is not None
                         and high is not None else f"{score:g} is out of bounds")  # fmt: skip
                return
            self.decide(None, score)

        title = Text(f"Final score for {plain(item.name)}")
        self.push_screen(TextEntryScreen(title, current), entered)

    def action_clear_final(self) -> None:
        item = self.item
        if item is None or self.finals.get(self.index) is None:
            return
        try:
            self.store.clear_final(item.key, reviewer=self.reviewer)
        except WRITE_ERRORS as error:
            self.say(f"not cleared: {plain(str(error), 80)}")
            return
        self.undoable += 1
        self.finals[self.index] = None
        self.say("final cleared")

    def action_undo(self) -> None:
        if not self.undoable:
            self.say("nothing to undo in this review")
            return
        try:
            change = self.store.undo(self.reviewer)
        except WRITE_ERRORS as error:
            self.say(f"not undone: {plain(str(error), 80)}")
            return
        if change is None:
            self.undoable = 0
            self.say("nothing to undo")
            return
        self.undoable -= 1
        if change.is_mark:  # a skip or flag of the reviewer's (from the annotate screen)
            self.say("undid a skip/flag")
            return
        key = AnnotationKey.of(change.annotation)
        for i, item in enumerate(self.items):
            if item.key == key:
                self.finals[i] = self.store.final_value(key)
                self.index = i
                break
        self.say("undone")

    def decide(self, label: str | None, score: float | None) -> None:
        item = self.item
        if item is None:
            return
        try:
            final = self.store.set_final(item.annotation(label, score), reviewer=self.reviewer)
        except WRITE_ERRORS as error:
            self.say(f"not saved: {plain(str(error), 80)}")
            return
        self.undoable += 1
        self.finals[self.index] = final
        shown = plain(vote_text(label if label is not None else score))
        if self.index < len(self.items) - 1:
            self.index += 1
        self.say(f"✓ final {shown}")
