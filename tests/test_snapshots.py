"""Screen snapshots of the main views (pytest-textual-snapshot). After an intended change to the
look of the app, review the diff report and refresh with `pytest tests/test_snapshots.py
--snapshot-update`."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from annotator.app.app import AnnotatorApp
from annotator.app.span_render import RenderOptions
from annotator.app.widgets.span_view import SpanView
from annotator.model import Span
from annotator.readers import read_spans
from tests.app_data import CONFIG_YAML, build_db, config_set
from tests.llamaindex_trace import llamaindex_spans

REPO = Path(__file__).resolve().parents[1]

SIZE = (150, 40)


@pytest.fixture
def app(tmp_path: Path) -> AnnotatorApp:
    return AnnotatorApp(build_db(tmp_path / "snap.db"), config_set(), "alice")


def settled(*keys: str):
    """Press keys, then wait until every worker (progress counting) is done."""

    async def run_before(pilot) -> None:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


def test_llm_span_with_messages(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("j", "j", "j", "j", "j"))


def test_retriever_document(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("j", "j", "j"))


def test_error_span_with_exception(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(
        app, terminal_size=SIZE, run_before=settled("right_square_bracket", "j", "j")
    )


def test_help_screen(snap_compare, app: AnnotatorApp) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=settled("question_mark"))


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_filter_dialog(snap_compare, app: AnnotatorApp, size: tuple[int, int]) -> None:
    # Every control and the keys that apply/cancel are drawn; a choice and a tick show in text.
    keys = ("f", "down", "space", "tab", "tab", "space")
    assert snap_compare(app, terminal_size=size, run_before=settled(*keys))


def test_search_dialog_80x24(snap_compare, app: AnnotatorApp) -> None:
    """The search box over the tree, with the live count of what is typed."""

    async def run_before(pilot) -> None:
        await settled("slash", "t", "u")(pilot)
        pilot.app.screen.query_one("#search-text").cursor_blink = False  # a still picture
        while pilot.app.screen.shown_for != "tu":  # the count comes after a pause in typing
            await pilot.pause(0.05)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# --- the span view alone, on the bundled samples and a LlamaIndex-style trace -----------------


class SpanViewApp(App[None]):
    """Just the span view, showing one span (no tree or panel around it)."""

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._span = span

    def compose(self) -> ComposeResult:
        yield SpanView()

    def on_mount(self) -> None:
        self.query_one(SpanView).show_span(self._span, RenderOptions())


def sample_span(file: str, kind: str, nth: int = 0) -> Span:
    found = [
        span for span in read_spans(REPO / "sample_traces" / file)
        if isinstance(span, Span) and span.span_kind == kind
    ]  # fmt: skip
    return found[nth]


SAMPLE_SPANS = {
    "chat-llm": lambda: sample_span("chat.otlp.jsonl", "LLM"),
    "rag-retriever": lambda: sample_span("rag.otlp.jsonl", "RETRIEVER"),
    "agent-llm-tool-calls": lambda: sample_span("agent.otlp.jsonl", "LLM"),
    "llamaindex-chat": lambda: next(s for s in llamaindex_spans() if s.span_id == "li-chat"),
    "llamaindex-embedding": lambda: next(s for s in llamaindex_spans() if s.span_id == "li-embed"),
}


@pytest.mark.parametrize("name", list(SAMPLE_SPANS))
def test_span_view(snap_compare, name: str) -> None:
    assert snap_compare(SpanViewApp(SAMPLE_SPANS[name]()), terminal_size=(100, 60))


def test_guidelines_screen_80x24(snap_compare, tmp_path: Path) -> None:
    guidelines = (
        "guidelines: |\n"
        "  # Judging answers\n"
        "  Mark **correct** only when every claim is supported by a retrieved document.\n"
        "  - [the wiki](https://example.com/wiki) has worked examples\n"
        "  - [bold]not markup[/bold] \\x1b]0;title\\x07 stays literal\n"
    )
    app = AnnotatorApp(
        build_db(tmp_path / "snap.db"), config_set(guidelines + CONFIG_YAML), "alice"
    )
    assert snap_compare(app, terminal_size=(80, 24), run_before=settled("g"))
