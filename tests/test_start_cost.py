"""What starting the app does, counted (never timed): the annotate screen's widgets are styled
as they mount and not all again as it resumes, each footer key is styled once, and the first
frame already shows the first row's span. Each test also checks what is shown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from rich.style import Style
from textual.app import App
from textual.dom import DOMNode
from textual.strip import Strip
from textual.widget import Widget

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.session import AnnotationSession
from annotator.app.widgets.span_view import SpanView
from annotator.app.widgets.trace_tree import TraceTree
from tests.app_data import build_db, config_set, settled

SIZE = (150, 40)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


async def test_start_styles_and_draws_once(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    restyled: list[tuple[DOMNode, int]] = []  # (node, its children then)
    update_node_styles = DOMNode.update_node_styles

    def recording_styles(self: DOMNode, animate: bool = True) -> None:
        restyled.append((self, len(self.children)))
        update_node_styles(self, animate)

    span_view_draws: list[str | None] = []  # the span shown at each draw of the span view
    tree_draws: list[Widget] = []
    render_lines = Widget.render_lines

    def recording_draws(self: Widget, crop) -> list[Strip]:
        if isinstance(self, SpanView):
            span_view_draws.append(self.span.span_id if self.span is not None else None)
        if isinstance(self, TraceTree):
            tree_draws.append(self)
        return render_lines(self, crop)

    looked_up: list[DOMNode] = []  # each node whose rich_style was computed
    rich_style = DOMNode.rich_style

    def recording_style_look_up(self: DOMNode) -> Style:
        looked_up.append(self)
        return rich_style.fget(self)

    monkeypatch.setattr(DOMNode, "update_node_styles", recording_styles)
    monkeypatch.setattr(Widget, "render_lines", recording_draws)
    monkeypatch.setattr(DOMNode, "rich_style", property(recording_style_look_up))
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        monkeypatch.undo()
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        # Never restyled whole: the screen only while it had no widgets (its width class).
        assert [children for node, children in restyled if node is screen and children] == []
        # No footer key restyled after it was made: each has its final class before it mounts.
        keys = list(screen.footer.query("FooterKey"))  # Textual exports no FooterKey
        assert len(keys) == 9
        assert [key for key in keys if any(node is key for node, _ in restyled)] == []
        # Textual's look: keys bound to the (not compact) footer, the palette's key compact.
        compact = {key.action: key.has_class("-compact") for key in keys}
        assert compact.pop("command_palette") is True
        assert set(compact.values()) == {False} and "help" in compact
        # Hidden by their display, not restyled: the cards of configs that do not apply to the
        # RAG trace's row (quality: LLM spans; relevance: documents), the empty-panel line and
        # the list of other annotations (there are none).
        hidden = [card for card in screen.panel.children if not card.display]
        assert len(hidden) == 4
        assert [card for card in hidden if any(node is card for node, _ in restyled)] == []
        shown = [card.config.name for card in screen.panel.cards if card.display]
        assert shown == ["correctness", "task_success", "comment"]
        # The first frame shows the first row's span, not the placeholder drawn over later.
        assert screen.item is not None and screen.item.span_id == "r1"  # the RAG trace's root
        assert span_view_draws and set(span_view_draws) == {"r1"}
        assert "rag_pipeline" in screen.span_view.plain_lines[0]
        # The tree's and span view's own style looked up once per repaint, not once per line
        # (the span view's once more to lay its span out).
        tree = screen.trace_tree
        assert len([n for n in looked_up if n is tree]) == len(tree_draws) > 0
        view = screen.span_view
        assert len([n for n in looked_up if n is view]) <= len(span_view_draws) + 1
        assert len(tree.model) < tree.size.height - 20  # most of the tree's lines are blank


async def test_a_database_that_cannot_be_read_at_start_exits_with_its_error(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(self: AnnotationSession) -> list[str]:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(AnnotationSession, "trace_ids", unreadable)
    messages: list[object] = []
    exit_app = App.exit

    def recording_exit(self: App, *args, **kwargs) -> None:
        messages.append(kwargs.get("message"))
        exit_app(self, *args, **kwargs)

    monkeypatch.setattr(App, "exit", recording_exit)
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
    assert app.return_code == 1
    assert messages[0] == f"{db}: cannot be read (database disk image is malformed)"
    assert not any(isinstance(screen, AnnotateScreen) for screen in app.screen_stack)
