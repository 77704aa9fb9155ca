"""What a key typed in a dialog redraws: the field and its count line, never a layout of the
whole dialog while the count line says the same thing. Each test also checks what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input, Static

from annotator.app.app import AnnotatorApp
from annotator.app.screens.annotate import AnnotateScreen
from annotator.app.screens.filter import FilterScreen
from annotator.app.screens.help import HelpScreen
from annotator.app.screens.search import SearchScreen
from annotator.app.screens.text_entry import TextEntryScreen
from tests.app_data import CONFIG_YAML, build_db, config_set, settled, wait_for
from tests.screen_text import screen_text

SIZE = (150, 40)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "app.db")


def record_layouts(monkeypatch: pytest.MonkeyPatch, count_line: Static) -> list[str]:
    """The widgets asking for a layout, each count-line request with the text it shows then."""
    layouts: list[str] = []
    refresh = Widget.refresh

    def recording(self, *regions, repaint=True, layout=False, recompose=False):
        if layout:
            shown = f"count line:{count_line.render()}" if self is count_line else None
            layouts.append(shown or type(self).__name__)
        return refresh(self, *regions, repaint=repaint, layout=layout, recompose=recompose)

    monkeypatch.setattr(Widget, "refresh", recording)
    return layouts


def changes_of_count_line(layouts: list[str]) -> list[str]:
    return [entry for entry in layouts if entry.startswith("count line:")]


async def test_typing_in_the_search_box_lays_out_only_when_the_count_line_changes(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = AnnotatorApp(db, config_set(CONFIG_YAML), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("slash")
        await pilot.pause()
        box = app.screen
        assert isinstance(box, SearchScreen)
        count_line = box.query_one("#search-count", Static)
        layouts = record_layouts(monkeypatch, count_line)
        await pilot.press(*"weather")
        await pilot.pause()
        monkeypatch.undo()
        assert box.query_one("#search-text", Input).value == "weather"
        # No layout for the field's text; the count line's only when it says something new
        # ("counting…" once, perhaps a count if the typing outlasted the count's delay).
        shown = changes_of_count_line(layouts)
        assert layouts == shown
        assert shown[0] == "count line:counting…" and len(shown) == len(set(shown))
        while box.count_shown == "counting…":
            await pilot.pause(0.05)
        assert "match" in box.count_shown


async def test_typing_an_expression_lays_out_only_when_the_count_line_changes(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = AnnotatorApp(db, config_set(CONFIG_YAML), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        await pilot.press("f")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FilterScreen)
        dialog.query_one("#filter-where", Input).focus()
        await pilot.pause()
        count_line = dialog.query_one("#filter-matches", Static)
        layouts = record_layouts(monkeypatch, count_line)
        await pilot.press(*"latency_ms", "greater_than_sign", "0")
        await pilot.pause()
        monkeypatch.undo()
        assert dialog.query_one("#filter-where", Input).value == "latency_ms>0"
        # The count waits for a pause in the typing: its line changes at most once or twice.
        shown = changes_of_count_line(layouts)
        assert layouts == shown and len(shown) == len(set(shown))
        # The count of the whole expression (on a loaded machine a pause in the typing may have
        # counted a part of it first: "latency_ms>" shows an error until the next count).
        await wait_for(pilot, lambda: "match" in str(count_line.render()))


async def test_a_dialog_opens_styled_once_and_arranged_from_scratch_once(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cases along one app run (each assertion names its case): a dialog's widgets are
    styled as they mount and its first resume (at once after) does not style them all again;
    no widget of the filter dialog asks for another layout once the layout has placed it (its
    new virtual size is the layout's own; such a request emptied its containers' arrangements
    and the dialog was arranged again from scratch). What each dialog shows is checked too; the
    scrolling body still gets its scrollbar when the kinds overflow it
    (tests/test_filter_dialog.py)."""
    restyled: list[DOMNode] = []
    asked: list[str] = []  # widgets of the filter dialog asking for a layout once placed
    update_node_styles = DOMNode.update_node_styles
    refresh = Widget.refresh

    def recording_styles(self: DOMNode, animate: bool = True) -> None:
        restyled.append(self)
        update_node_styles(self, animate)

    def recording_layouts(self, *regions, repaint=True, layout=False, recompose=False):
        if layout and self.size and any(isinstance(node, FilterScreen) for node in self.ancestors):
            asked.append(f"{type(self).__name__}#{self.id}")
        return refresh(self, *regions, repaint=repaint, layout=layout, recompose=recompose)

    app = AnnotatorApp(db, config_set(CONFIG_YAML), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        await settled(pilot, app)
        monkeypatch.setattr(DOMNode, "update_node_styles", recording_styles)
        monkeypatch.setattr(Widget, "refresh", recording_layouts)
        for key, kind, texts in (
            ("f", FilterScreen, ["ctrl+s apply · esc cancel", "No expression: every span."]),
            ("slash", SearchScreen, ["Search span content"]),
        ):
            restyled.clear()
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, kind), key
            case = f"{kind.__name__} not restyled whole as it opens"
            assert [type(node).__name__ for node in restyled if node is dialog] == [], case
            shown = screen_text(app)
            assert all(text in shown for text in texts), (case, shown)
            if isinstance(dialog, FilterScreen):
                case = "the filter dialog arranged from scratch once"
                assert asked == [], case
                assert "Apply ctrl+s" in shown and "(•) every span a config applies to" in shown
                assert dialog.focused is dialog.query_one("#filter-state"), case
                await pilot.press("escape")
                await pilot.pause()
        monkeypatch.undo()


async def test_closing_a_dialog_neither_lays_out_nor_composes_twice_the_screen_beneath(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing each dialog: the annotate screen beneath is composed whole once (it resumes
    and repaints where the dialog was) and not laid out (Textual asked the app for a layout and
    a full repaint of it, twice, once the dialog was removed: 2-3 frames of the whole screen a
    close). The span view, which nothing else redraws then, is drawn once per frame that
    composes the whole screen. What the screen shows after is checked (the status line's last word
    aside: a note box closed says so); a request after a resume from ctrl+z (a suspension)
    still lays the screen out. No widget is restyled as a dialog closes (its focused widget was
    blurred on its way out, restyled with its descendants: the filter dialog's radio set and its
    seven buttons, the search box's input twice)."""
    app = AnnotatorApp(db, config_set(CONFIG_YAML), "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, app)
        screen = app.screen
        assert isinstance(screen, AnnotateScreen)
        laid_out: list[object] = []
        screen.screen_layout_refresh_signal.subscribe(screen, laid_out.append, immediate=True)
        span_view = screen.span_view
        drawn: list[Widget] = []
        render_lines = Widget.render_lines
        restyled: list[str] = []
        update_node_styles = DOMNode.update_node_styles

        def recording_styles(self: DOMNode, animate: bool = True) -> None:
            restyled.append(f"{type(self).__name__}#{self.id}")
            update_node_styles(self, animate)

        def recording(self: Widget, crop):
            if self is span_view:
                drawn.append(self)
            return render_lines(self, crop)

        for key, kind in (
            ("f", FilterScreen),
            ("slash", SearchScreen),
            ("question_mark", HelpScreen),
            ("n", TextEntryScreen),
        ):
            before = screen_text(app).splitlines()
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, kind), key
            laid_out.clear()
            monkeypatch.setattr(Widget, "render_lines", recording)
            monkeypatch.setattr(DOMNode, "update_node_styles", recording_styles)
            drawn.clear()
            restyled.clear()
            await pilot.press("escape")
            for _ in range(4):
                await pilot.pause()
            monkeypatch.undo()
            case = f"closing {kind.__name__}"
            assert app.screen is screen, case
            assert (laid_out, len(drawn)) == ([], 1), case
            assert restyled == [], case
            after = screen_text(app).splitlines()
            changed = [line for line, was in zip(after, before, strict=True) if line != was]
            said = ["No note added."] if kind is TextEntryScreen else []
            assert [text for text in said if any(text in line for line in changed)] == said, case
            assert len(changed) == len(said), (case, changed)

        case = "after a resume from a suspension"
        app.app_resume_signal.publish(app)
        app.refresh(layout=True)
        await pilot.pause()
        await pilot.pause()
        assert laid_out == [screen], case
