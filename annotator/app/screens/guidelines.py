"""`g`: the config file's `guidelines:` (Markdown) and what each config asks, with the config
focused in the panel first.

Guidelines come from a file someone else wrote (a lead's config, copied into every batch): they
are sanitised (escape sequences and bidi controls shown, not sent), bounded, and rendered by
Rich's Markdown with hyperlinks off, so nothing on this screen opens a link or runs an action.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from annotator.app.screens.help import ReadingScreen
from annotator.config import AnnotationConfig, AnnotationType
from annotator.keymap import display_key
from annotator.text import format_number, sanitize

# What is shown of the guidelines (the config check allows 100,000 characters; a stored document
# from elsewhere may hold more).
SHOWN_CHARACTERS = 100_000


def guidelines_markdown(text: str) -> Markdown:
    """The guidelines as Rich Markdown: sanitised and bounded, links shown as text."""
    shown = sanitize(text[:SHOWN_CHARACTERS])
    if len(text) > SHOWN_CHARACTERS:
        shown += f"\n\n… ({len(text) - SHOWN_CHARACTERS:,} more characters not shown)"
    return Markdown(shown, hyperlinks=False)


def config_summary(config: AnnotationConfig, focused: bool) -> Text:
    """Name, type, what can be chosen, and the description, as plain Text."""
    title = Text(("▶ " if focused else "  ") + sanitize(config.name), style="bold")
    title.append(f"  {config.type.value.lower()}", style="dim")
    if config.target.value != "span":
        title.append(f" · on each {config.target.value}", style="dim")
    if config.scope == "outermost":
        title.append(" · outermost span of nested ones of a kind", style="dim")
    lines = [title]
    if config.type == AnnotationType.CATEGORICAL:
        choices = Text("    ")
        for value in config.values:
            choices.append(display_key(value.key), style="bold cyan")
            choices.append(f" {sanitize(value.label)}")
            if value.score is not None:
                choices.append(f" ({format_number(value.score)})", style="dim")
            choices.append("   ")
        lines.append(choices)
    elif config.type == AnnotationType.CONTINUOUS:
        low, high = config.lower_bound, config.upper_bound
        bounds = (
            f"{format_number(low)} to {format_number(high)}"
            if low is not None and high is not None
            else "no bounds"
        )
        lines.append(Text(f"    a score, {bounds}, step {format_number(config.step or 1)}"))
    else:
        lines.append(Text("    free text"))
    if config.description:
        lines.append(Text("    " + sanitize(config.description).replace("\n", "\n    ")))
    return Text("\n").join(lines)


class GuidelinesScreen(ReadingScreen):
    # The id is the annotate screen's binding id of `guidelines`: the app's keymap (a config's
    # `keys:` remap) moves both, so the key that opens the screen also closes it.
    BINDINGS = [
        Binding("escape,q", "close", "Close", priority=True),
        Binding("g", "close", "Close", priority=True, id="annotator.guidelines"),
    ]

    def __init__(
        self,
        guidelines: str | None,
        configs: list[AnnotationConfig],
        focused: str | None = None,
    ) -> None:
        super().__init__()
        self._guidelines = guidelines
        # The focused config first: it is what the annotator is deciding on.
        self._configs = sorted(configs, key=lambda config: config.name != focused)
        self._focused_name = focused

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="guidelines-scroll"):
            yield Static(
                Text.assemble(
                    ("Guidelines\n", "bold"),
                    ("↑/↓ and page up/down scroll; escape closes.", "dim"),
                ),
                markup=False,
            )
            body: RenderableType
            if self._guidelines:
                body = guidelines_markdown(self._guidelines)
            else:
                body = Text(
                    "This config has no guidelines. A lead adds them as a top-level "
                    "`guidelines:` text (Markdown) in the config file.",
                    style="dim italic",
                )
            yield Static(body, markup=False, id="guidelines-text")
            yield Static(Text("What each config asks", style="bold"), markup=False)
            yield Static(
                Group(*(config_summary(c, c.name == self._focused_name) for c in self._configs)),
                markup=False,
                id="guidelines-configs",
            )

    def on_mount(self) -> None:
        self.query_one("#guidelines-scroll", VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
