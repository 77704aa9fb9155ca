"""The right pane: every annotation config that applies to the current item, with its keys, this
annotator's value, and everyone else's values beside it (read-only).

One `ConfigCard` per config is made once and then shown, hidden and redrawn; nothing is mounted
while the annotator moves from span to span. Labels come from the config file and values from
the database, both untrusted for rendering purposes: every string goes into `Text` via
`append`. Clickable parts carry this widget's own meta (`value`, `score`), never data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message

from annotator.app.session import CardState, Note, who
from annotator.app.widgets.steady import Static
from annotator.config import AnnotationConfig, AnnotationType
from annotator.keymap import display_key
from annotator.model import Annotation
from annotator.text import clip, sanitize

TEXT_PREVIEW = 300
BAR_CELLS = 20


def format_score(score: float | None) -> str:
    if score is None:
        return ""
    return f"{score:g}" if abs(score) >= 1e-4 or score == 0 else f"{score:.2e}"


def value_text(annotation: Annotation) -> Text:
    """The value of an annotation in a few words: label, score, first words of the text."""
    text = Text()
    if annotation.label is not None:
        text.append(sanitize(clip(annotation.label, 80)[0]), style="bold")
    if annotation.score is not None:
        text.append((" " if text else "") + format_score(annotation.score))
    if annotation.explanation:
        first = (
            annotation.explanation.strip().splitlines()[0] if annotation.explanation.strip() else ""
        )
        snippet, cut = clip(first, 60)
        more = "…" if cut or "\n" in annotation.explanation.strip() else ""
        text.append((" “" if text else "“") + sanitize(snippet) + more + "”", style="italic")
    return text or Text("(empty)", style="dim")


class TextBlock(Static):
    """A Static that redraws only when its text changed, and lays the screen out again only
    when its height changes (Textual measures the new text at its width).

    A `Static`'s update lays the whole screen out (~20 ms on this app's screen), and most moves
    from span to span change a card's words but not its height. Its virtual size is the
    layout's own (steady.Static): a card shown again is not laid out a second time for it."""

    _shown_text: Text | None = None

    def show_text(self, text: Text) -> None:
        previous = self._shown_text
        if previous is not None and previous == text:
            return
        self._shown_text = text
        region = self.content_region
        if previous is None or not self.display or region.width <= 0:
            self.update(text)
            return
        self.update(text, layout=False)
        height = self.get_content_height(self.container_size, self.app.size, region.width)
        if height != region.height:
            self.refresh(layout=True)


CHOSEN, NOT_CHOSEN = "●", "○"  # the choice in text too: readable without colour (NO_COLOR)
UNSAVED = " (unsaved)"


class ConfigCard(TextBlock):
    """One config: title, keys and values. Clicks report which value or score was hit."""

    DEFAULT_CSS = """
    ConfigCard {
        padding: 0 1;
        margin-bottom: 1;
        border-left: blank;
    }
    ConfigCard.-focused {
        border-left: thick $accent;
        background: $boost;
    }
    """

    class Clicked(Message):
        def __init__(self, card: ConfigCard, value_index: int | None, score: float | None) -> None:
            super().__init__()
            self.card = card
            self.value_index = value_index
            self.score = score

    def __init__(
        self, config: AnnotationConfig, index: int, edit_key: str = "e", accept_key: str = "a"
    ) -> None:
        super().__init__("", markup=False)
        self.config = config
        self.index = index
        self.edit_key = edit_key
        self.accept_key = accept_key
        self.state = CardState()

    def show_state(self, state: CardState, focused: bool) -> None:
        self.state = state
        self.set_class(focused, "-focused")
        self.show_text(self._render_card(focused))

    def on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        event.stop()
        self.post_message(self.Clicked(self, meta.get("value"), meta.get("score")))

    # --- drawing --------------------------------------------------------------------------------

    def _render_card(self, focused: bool) -> Text:
        config = self.config
        text = Text()
        text.append("▶ " if focused else "  ", style="bold")
        text.append(sanitize(config.name), style="bold")
        kind = {AnnotationType.CATEGORICAL: "pick", AnnotationType.CONTINUOUS: "score"}.get(
            config.type, "text"
        )
        text.append(f"  {kind}", style="dim")
        if config.target.value != "span":
            text.append(f" · {config.target.value}", style="dim")
        if config.optimization_direction and config.optimization_direction.value != "NONE":
            arrow = "↑" if config.optimization_direction.value == "MAXIMIZE" else "↓"
            text.append(f" {arrow}", style="dim")
        text.append("\n")
        if config.description and focused:
            text.append(sanitize(clip(config.description, 200)[0]) + "\n", style="dim italic")
        mine = self.state.mine
        if config.type == AnnotationType.CATEGORICAL:
            self._categorical(text, mine)
        elif config.type == AnnotationType.CONTINUOUS:
            self._continuous(text, mine, focused)
        else:
            self._freeform(text, mine, focused)
        for other in self.state.others:  # in the session's order: judges first, then people
            text.append("\n")
            text.append(f"  {sanitize(who(other))}: ", style="dim")
            text.append_text(value_text(other))
        source = self.state.source
        if focused and source is not None:
            text.append(f"\n  {self.accept_key}", style=Style(bold=True, color="cyan"))
            text.append(f": accept {sanitize(clip(who(source), 40)[0])}'s value", style="dim")
        return text

    def _categorical(self, text: Text, mine: Annotation | None) -> None:
        for i, value in enumerate(self.config.values):
            chosen = mine is not None and mine.label == value.label
            chip = Style(meta={"value": i})
            text.append(" ")
            text.append(f"{display_key(value.key)}", style=Style(bold=True, color="cyan") + chip)
            label_style = Style(reverse=True, bold=True) if chosen else Style()
            text.append(" " + (CHOSEN if chosen else NOT_CHOSEN), style=chip)
            text.append(" " + sanitize(value.label) + " ", style=label_style + chip)
        if self.state.unsaved and mine is not None and mine.label is not None:
            text.append("\n  … ")
            text.append(sanitize(clip(mine.label, 80)[0]), style="bold")
            text.append(UNSAVED, style="bold yellow")
        if (
            mine is not None
            and mine.label is not None
            and self.config.value_for_label(mine.label) is None
        ):
            text.append("\n  mine: ", style="dim")
            text.append_text(value_text(mine))
        if mine is not None and mine.explanation:
            text.append("\n  ")
            text.append_text(value_text(Annotation(name="", explanation=mine.explanation)))

    def _continuous(self, text: Text, mine: Annotation | None, focused: bool) -> None:
        config = self.config
        low, high = config.lower_bound, config.upper_bound
        score = mine.score if mine is not None else None
        if low is not None and high is not None and high > low:
            text.append(f" {format_score(low)} ", style="dim")
            filled = -1 if score is None else round((score - low) / (high - low) * (BAR_CELLS - 1))
            for cell in range(BAR_CELLS):
                cell_score = config.clamp(low + (high - low) * cell / (BAR_CELLS - 1))
                if config.step:
                    cell_score = config.step_score(cell_score, 0)
                hit = Style(meta={"score": cell_score})
                if cell == filled:
                    text.append("●", style=Style(bold=True, color="cyan") + hit)
                elif cell < filled:
                    text.append("━", style=Style(color="cyan") + hit)
                else:
                    text.append("─", style=Style(dim=True) + hit)
            text.append(f" {format_score(high)}", style="dim")
        text.append("  ")
        if score is None:
            text.append("unscored", style="dim")
        else:
            text.append(format_score(score), style="bold reverse")
            if self.state.unsaved:
                text.append(UNSAVED, style="bold yellow")
        if focused:
            step = format_score(config.step)
            text.append(
                f"\n  ←/→ ±{step}  shift ±{format_score((config.step or 1) * 10)}", style="dim"
            )

    def _freeform(self, text: Text, mine: Annotation | None, focused: bool) -> None:
        if mine is None or not mine.explanation:
            text.append("  (empty)", style="dim")
        else:
            body, cut = clip(mine.explanation, TEXT_PREVIEW)
            text.append("  " + sanitize(body).replace("\n", "\n  "))
            if cut:
                text.append(f"… (+{cut:,} chars)", style="dim")
        if self.state.unsaved:
            text.append(UNSAVED, style="bold yellow")
        if focused:
            text.append(f"\n  {self.edit_key}: write", style="dim")


class ListCard(TextBlock):
    """A read-only list under a title: the notes on the item, and annotations whose names no
    config of this session covers (e.g. imported LLM evaluations)."""

    DEFAULT_CSS = """
    ListCard { padding: 0 1; margin-bottom: 1; color: $text-muted; }
    """

    def show_annotations(self, title: str, hint: str, annotations: list[Annotation]) -> None:
        text = self._title(title, hint)
        for annotation in annotations:
            text.append("\n  ")
            text.append(sanitize(clip(annotation.name, 40)[0]), style="bold")
            text.append(" · ", style="dim")
            text.append(f"{sanitize(who(annotation))}: ", style="dim")
            text.append_text(value_text(annotation))
        self.show_text(text)

    def show_notes(self, hint: str, notes: list[Note], more: int) -> None:
        """Newest first: author, time (UTC, as stored) and the text."""
        text = self._title("notes", hint)
        if not notes:
            text.append("\n  none yet", style="dim")
        for note in notes:
            annotation = note.annotation
            text.append("\n  ")
            text.append(sanitize(clip(note.author, 40)[0]), style="bold")
            when = annotation.created_at or ""
            stamp = f"{when[:10]} {when[11:16]}" if len(when) >= 16 else ""
            text.append(f" · {stamp}" if stamp else "", style="dim")
            if note.target == "trace":
                text.append(" · trace", style="dim")
            if note.unsaved:
                text.append(UNSAVED, style="bold yellow")
            body, cut = clip((annotation.explanation or "").strip(), TEXT_PREVIEW)
            text.append("\n    " + sanitize(body).replace("\n", "\n    "))
            if cut:
                text.append(f"… (+{cut:,} chars)", style="dim")
        if more:
            text.append(f"\n  … {more:,} older", style="dim")
        self.show_text(text)

    @staticmethod
    def _title(title: str, hint: str) -> Text:
        text = Text()
        text.append(f"  {title}", style="bold")
        if hint:
            text.append(f"  {hint}", style="dim")
        return text


class AnnotationPanel(VerticalScroll, can_focus=False):
    DEFAULT_CSS = """
    AnnotationPanel {
        background: $surface;
        padding: 0 0 0 1;
    }
    AnnotationPanel > #panel-title { padding: 0 1; margin-bottom: 1; text-style: bold; }
    AnnotationPanel > #panel-empty { padding: 0 1; color: $text-muted; }
    """

    def __init__(
        self,
        configs: list[AnnotationConfig],
        edit_key: str = "e",
        accept_key: str = "a",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cards = [
            ConfigCard(config, i, edit_key, accept_key) for i, config in enumerate(configs)
        ]
        self.title = TextBlock("", id="panel-title", markup=False)
        self.empty = TextBlock("", id="panel-empty", markup=False)
        self.notes = ListCard("", markup=False, id="panel-notes")
        self.extra = ListCard("", markup=False, id="panel-extra")

    def compose(self) -> ComposeResult:
        yield self.title
        yield from self.cards
        yield self.empty
        yield self.extra
        yield self.notes

    def show(
        self,
        title: Text,
        applicable: list[int],
        states: dict[int, CardState],
        focused: int | None,
        notes: tuple[list[Note], int] | None,
        note_key: str,
        extra: Sequence[Annotation] = (),
    ) -> None:
        """Show the cards at `applicable` (indexes into the config list), in that order.

        Cards are shown and hidden with their `display`, not a class: a class change restyles
        the card (~0.4 ms each, four or five at start and at each move to a span of another
        kind); `display` only asks for the layout the change needs anyway."""
        self.title.show_text(title)
        visible = set(applicable)
        for card in self.cards:
            if card.index in visible:
                card.display = True
                card.show_state(states.get(card.index, CardState()), card.index == focused)
            else:
                card.display = False
        self.empty.show_text(
            Text("No annotation config applies here. Move on with ↓ or . (next to annotate).")
            if not applicable
            else Text(),
        )
        self.empty.display = not applicable
        extra = list(extra)
        if notes is None:
            self.notes.display = False
        else:
            self.notes.display = True
            self.notes.show_notes(f"{note_key}: add a note", *notes)
        self.extra.display = bool(extra)
        if extra:
            self.extra.show_annotations("other annotations", "(no config here)", extra)
        if focused is not None:
            self.cards[focused].scroll_visible(animate=False)
