"""Every key of the active keymap (after the config's remaps) and every label key, grouped."""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from annotator.app.screens.dialog import Dialog
from annotator.config import AnnotationConfig, AnnotationType
from annotator.keymap import ACTIONS, ActionSpec, display_key
from annotator.text import sanitize


def keys_text(keys: tuple[str, ...]) -> str:
    return " / ".join(display_key(key) for key in keys) or "(unbound)"


def _table(title: str) -> Table:
    table = Table(
        title=Text(title, style="bold"),
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 2, 0, 0),
    )
    table.add_column(style="bold cyan", min_width=20, no_wrap=True)
    table.add_column()
    return table


def help_tables(keymap: dict[str, tuple[str, ...]], configs: list[AnnotationConfig]) -> list[Table]:
    tables: list[Table] = []
    groups: dict[str, list[ActionSpec]] = {}
    for action in ACTIONS:
        groups.setdefault(action.group, []).append(action)
    for group, actions in groups.items():
        table = _table(group)
        for action in actions:
            table.add_row(Text(keys_text(keymap.get(action.id, ()))), Text(action.description))
        tables.append(table)
    table = _table("Annotation configs")
    for config in configs:
        name = Text(sanitize(config.name), style="bold")
        if config.type == AnnotationType.CATEGORICAL:
            choices = Text("  ").join(
                Text.assemble((display_key(v.key), "cyan"), " ", sanitize(v.label))
                for v in config.values
            )
            table.add_row(name, choices)
        elif config.type == AnnotationType.CONTINUOUS:
            bounds = (
                f"{config.lower_bound:g}..{config.upper_bound:g}"
                if config.lower_bound is not None and config.upper_bound is not None
                else "unbounded"
            )
            table.add_row(
                name,
                Text(
                    f"{keys_text(keymap['score_down'])} / {keys_text(keymap['score_up'])} step "
                    f"{config.step:g}"
                    f" ({bounds}); {keys_text(keymap['score_down_big'])} / "
                    f"{keys_text(keymap['score_up_big'])} ten steps"
                ),
            )
        else:
            write = f"{keys_text(keymap['edit_text'])}: write; ctrl+s save, escape cancel"
            table.add_row(name, Text(write))
    tables.append(table)
    mouse = _table("Mouse")
    mouse.add_row(Text("click a row"), Text("select it; click ▸ or double-click to expand"))
    mouse.add_row(Text("click a label"), Text("pick it; click on a score bar sets the score"))
    mouse.add_row(Text("ctrl+p"), Text("command palette: every action by name"))
    tables.append(mouse)
    return tables


class RenderedOnce:
    """A Rich renderable whose lines are rendered once for each width (and other options) and
    given again after: Textual renders a Static's Rich renderable whole at every layout to
    measure its height, and again to draw it; the help page is laid out three times as it
    opens, so its seven tables were rendered ~27 times (a quarter of the opening's CPU)."""

    def __init__(self, renderable: RenderableType) -> None:
        self._inner = renderable
        self._rendered: dict[tuple[object, ...], list[Segment]] = {}

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        key = (
            id(console),
            options.size,
            options.min_width,
            options.max_width,
            options.height,
            options.max_height,
            options.justify,
            options.overflow,
            options.no_wrap,
            options.highlight,
            options.markup,
            options.is_terminal,
            options.encoding,
            options.legacy_windows,
        )
        segments = self._rendered.get(key)
        if segments is None:
            segments = self._rendered[key] = list(console.render(self._inner, options))
        return segments

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._inner)


class ReadingScreen(Dialog[None]):
    """A framed, scrollable page of text over the app (help, guidelines): Textual's type
    selectors match subclasses, so each gets this look."""

    DEFAULT_CSS = """
    ReadingScreen { align: center middle; }
    ReadingScreen > VerticalScroll {
        width: 90%;
        max-width: 110;
        height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 0 2;
    }
    ReadingScreen Static { margin-bottom: 1; }
    """


class HelpScreen(ReadingScreen):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", priority=True)]

    def __init__(self, keymap: dict[str, tuple[str, ...]], configs: list[AnnotationConfig]) -> None:
        super().__init__()
        self._keymap = keymap
        self._configs = configs

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(
                Text.assemble(
                    ("annotator — keys\n", "bold"),
                    (
                        "Every change is saved as you make it (the status line says ✓ saved)."
                        " Escape closes this.",
                        "dim",
                    ),
                ),
                markup=False,
            )
            for table in help_tables(self._keymap, self._configs):
                yield Static(RenderedOnce(table), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
