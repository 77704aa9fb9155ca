"""What a key press redraws: the footer only when a key it shows changes state, the panel's
texts only when they change, and no layout of the screen when their sizes stay the same. Each
test also checks that what is shown after such a skipped redraw is the right thing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Footer

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.widgets.trace_tree import TraceTree
from annotator.store import Store
from tests.app_data import build_db, config_set, settled
from tests.screen_text import screen_text

SIZE = (150, 40)

# Nothing applies to the CHAIN and RETRIEVER spans; two configs of different types on the LLM.
LLM_ONLY = """
annotations:
  - name: correctness
    type: CATEGORICAL
    values: [{label: correct, score: 1}, {label: incorrect, score: 0}]
    span_kinds: [LLM]
  - name: quality
    type: CONTINUOUS
    lower_bound: 0
    upper_bound: 10
    step: 1
    span_kinds: [LLM]
keys:
  clear: x
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def footer_keys(screen: AnnotateScreen) -> dict[str, tuple[str, bool]]:
    """action -> (key shown, dimmed) of the footer's keys."""
    return {
        key.action: (key.key_display, key.has_class("-disabled"))
        for key in screen.query_one(Footer).query("FooterKey")  # Textual exports no FooterKey
    }


def stored(span_id: str, db: Path) -> list[tuple]:
    """(name, label, score) of the span's committed annotations, read through a store of its own."""
    with Store.open(db) as store:
        return [(a.name, a.label, a.score) for a in store.annotations_on_span(span_id)]


async def walk_to(pilot, screen: AnnotateScreen, span_id: str, position: int | None = None):
    for _ in range(30):
        row = screen.trace_tree.cursor_row
        if row is not None and row.span_id == span_id and row.position == position:
            return
        await pilot.press("j")
        await settled(pilot, pilot.app)
    raise AssertionError(f"never reached {span_id}")


async def test_footer_rebuilt_only_when_a_key_it_shows_changes_state(db: Path) -> None:
    app = AnnotatorApp(db, config_set(LLM_ONLY), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        # Asked to refresh with nothing it shows changed, the footer keeps the keys it has.
        keys = list(screen.query_one(Footer).query("FooterKey"))
        screen.refresh_bindings()
        await pilot.pause()
        assert list(screen.query_one(Footer).query("FooterKey")) == keys
        rebuilt: list[int] = []
        refresh_bindings = screen.refresh_bindings

        def counting() -> None:
            rebuilt.append(1)
            refresh_bindings()

        screen.refresh_bindings = counting  # type: ignore[method-assign]
        await walk_to(pilot, screen, "r3")  # the LLM span: the label config first
        await pilot.pause()
        assert screen.current_config is not None
        assert screen.current_config.name == "correctness"
        assert footer_keys(screen)["clear"] == ("x", False)  # the keymap's key, enabled
        before = len(rebuilt)
        await pilot.press("tab")  # to the score config: the label keys (not in the footer) go
        await pilot.press("right")
        await settled(pilot, app)
        assert screen.current_config.name == "quality"
        assert len(rebuilt) == before  # nothing the footer shows changed: no rebuild
        assert footer_keys(screen)["clear"] == ("x", False)
        assert stored("r3", db) == [("quality", None, 1.0)]  # right scored it: one step up

        await pilot.press("k")  # the RETRIEVER's last document: no config applies
        await settled(pilot, app)
        await walk_to_kind(pilot, screen)
        await pilot.pause()
        assert screen.current_config is None
        assert len(rebuilt) > before
        assert footer_keys(screen)["clear"] == ("x", True)  # dimmed
        await walk_to(pilot, screen, "r3")
        await pilot.pause()
        assert footer_keys(screen)["clear"] == ("x", False)

        # The app drops the driver's second announcement of the size as it starts (its first
        # frame is at that size already); a later one, the size unchanged, still reaches the
        # screen: a terminal back from ctrl+z or a reattached tmux asks for a repaint that way.
        case = "an unchanged size after the start still lays the screen out"
        laid_out: list[object] = []
        screen.screen_layout_refresh_signal.subscribe(screen, laid_out.append)
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert laid_out == [screen], case
        assert footer_keys(screen)["quit"] == ("q", False), case


async def walk_to_kind(pilot, screen: AnnotateScreen) -> None:
    """Up until no config applies."""
    for _ in range(10):
        if screen.current_config is None:
            return
        await pilot.press("k")
        await settled(pilot, pilot.app)
    raise AssertionError("every row has a config")


async def test_labels_and_moves_redraw_without_a_layout_and_the_span_view_fits_each_span(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three cases along one walk of one app run (each assertion names its case): a label
    redraws the status line without a layout; moving between documents redraws the panel
    without one, moving to a span with other cards lays the screen out right; at every row on
    the way, the span view's virtual height is the span's line count and the scrollbar shows
    exactly when the lines overflow."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        status = screen.status_line
        view = screen.span_view
        lengths = set()

        def span_view_fits() -> None:
            case = "the span view's size and scrollbar follow each span's length"
            lines = len(view.plain_lines)
            lengths.add(lines)
            row = screen.trace_tree.cursor_row
            assert view.virtual_size.height == lines, (case, row)
            assert view.show_vertical_scrollbar == (
                lines > view.scrollable_content_region.height
            ), (case, row)

        async def move(*keys: str) -> None:
            for key in keys:
                await pilot.press(key)
                await settled(pilot, app)
                await pilot.pause()
                span_view_fits()

        span_view_fits()
        await move("j", "j")  # r2, its document 0
        assert (screen.trace_tree.cursor_row.span_id, screen.trace_tree.cursor_row.position) == (
            "r2",
            0,
        )
        assert "document #0 of" in str(screen.panel.title.render())
        layouts: list[str] = []
        status_layouts: list[str] = []
        refresh = Widget.refresh

        def recording(self, *regions, repaint=True, layout=False, recompose=False):
            if layout:
                layouts.append(f"{type(self).__name__}#{self.id}")
                if self is status:
                    status_layouts.append(str(status.render()))
            return refresh(self, *regions, repaint=repaint, layout=layout, recompose=recompose)

        monkeypatch.setattr(Widget, "refresh", recording)

        case = "the status line is redrawn without a layout"
        await pilot.press("1")
        await settled(pilot, app)
        await pilot.pause()
        assert stored("r2", db) == [("relevance", "relevant", 1.0)], case
        assert "✓ saved" in str(status.render()), case
        assert status_layouts == [], case
        assert status.region.height == 1, case

        case = "moving between documents redraws the panel without a layout"
        layouts.clear()
        await move("j")  # document 1: the title's words change, not its height
        assert screen.trace_tree.cursor_row.position == 1, case
        assert "document #1 of" in str(screen.panel.title.render()), case
        assert layouts == [], case
        await pilot.press("1")  # a label: the card's words change
        await settled(pilot, app)
        await pilot.pause()
        assert stored("r2", db) == [("relevance", "relevant", 1.0)] * 2, case
        assert "● relevant" in str(screen.panel.cards[2].render()), case
        await move("j", "j")  # the LLM span: other cards, other heights
        assert screen.trace_tree.cursor_row.span_id == "r3", case
        assert layouts, case  # the panel's cards changed height: the screen is laid out again
        # ... and every panel part is where a full layout puts it
        shown = [(c.region, c.display) for c in screen.panel.children]
        screen.refresh(layout=True)
        await pilot.pause()
        assert [(c.region, c.display) for c in screen.panel.children] == shown, case

        await move("j", "j", "j")  # the next three traces' rows (their root spans)
        assert screen.trace_tree.cursor_row.trace_id == "trace-chat-2"
        assert len(lengths) > 2  # spans of several lengths were shown


def test_the_keymap_lists_only_what_the_config_moves() -> None:
    """Textual applies the keymap to the bindings on every key press: actions on their default
    keys are not in it; a remapped action and the used label slots are."""
    from annotator.app.screens.annotate import binding_id, keymap_for, slot_id
    from annotator.config import parse_config

    assert keymap_for(config_set()) == {slot_id(0): "1", slot_id(1): "2", slot_id(2): "3"}
    keymap = keymap_for(parse_config(LLM_ONLY.replace("clear: x", "clear: [y, delete]"), "k.yaml"))
    assert keymap == {binding_id("clear"): "y,delete", slot_id(0): "1", slot_id(1): "2"}
    assert keymap_for(parse_config(LLM_ONLY, "k.yaml")) == {slot_id(0): "1", slot_id(1): "2"}


async def test_a_label_redraws_only_the_tree_lines_whose_look_changed(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label (shown pending, then committed) redraws the tree's lines that now look different,
    not every row twice; what the tree shows then is what a full redraw shows."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        tree = screen.trace_tree
        await walk_to(pilot, screen, "r2", 0)  # a document row: the relevance label
        rows_on_screen = len(tree.model)
        assert rows_on_screen > 5
        drawn: list[int] = []
        render_line = TraceTree.render_line

        def recording(self: TraceTree, y: int) -> Strip:
            drawn.append(y + round(self.scroll_offset.y))
            return render_line(self, y)

        monkeypatch.setattr(TraceTree, "render_line", recording)
        before = screen_text(app)
        await pilot.press("1")
        await settled(pilot, app)
        await pilot.pause()
        monkeypatch.undo()
        assert stored("r2", db) == [("relevance", "relevant", 1.0)]
        after = screen_text(app)
        assert before != after  # the mark on the row at least
        # The document's line (its mark) and the cursor's, never every row.
        assert tree.cursor in drawn
        assert len(set(drawn)) <= 3, drawn
        assert len(drawn) < rows_on_screen, drawn
        tree.rows_changed()  # every line drawn again: the same screen
        await pilot.pause()
        assert screen_text(app) == after


async def test_a_move_lays_the_screen_out_at_most_once(db: Path) -> None:
    """Each `j` along the demo traces lays the screen out at most once: the panel's cards and
    the span view ask for a layout from the same call (the panel was drawn as the key came and
    the span a moment later, each asking in its own frame), and a card shown again does not ask
    for another once the layout gave it its size. After each move every part of the screen is
    where a full layout of it puts it."""
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        laid_out: list[object] = []
        screen.screen_layout_refresh_signal.subscribe(screen, laid_out.append, immediate=True)
        per_move: list[tuple[str | None, int]] = []
        for _ in range(12):
            laid_out.clear()
            await pilot.press("j")
            await settled(pilot, app)
            await pilot.pause()
            row = screen.trace_tree.cursor_row
            per_move.append((row.span_id if row else None, len(laid_out)))
            shown = [(w.region, w.display) for w in screen.query("*")]
            screen.refresh(layout=True)
            await pilot.pause()
            assert [(w.region, w.display) for w in screen.query("*")] == shown, per_move
        assert all(count <= 1 for _, count in per_move), per_move
        assert any(count == 1 for _, count in per_move), per_move  # some moves change heights
