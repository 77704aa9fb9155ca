"""`/` in the app (issue 10): the search box with the live count, with real keys; `enter` goes
to the best match and `>` / `<` walk the matches in bm25 order (computed in plain Python by
tests/test_search_rank.py); an annotation made on a walked-to span lands on that span; `escape`
ends the search and puts the cursor back where it was; hostile text is counted right and shown
literally."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import Input

from annotator.app.app import AnnotatorApp
from annotator.app.screens.search import SearchScreen, count_text
from annotator.app.tree_model import TRACE
from annotator.store import SEARCH_COUNT_LIMIT, QueueFilter, Store, has_words
from tests.app_data import build_db, config_set, settled, wait_for
from tests.test_search_rank import IN_SCOPE_KINDS, _words, bm25_order, columns, ranked_spans


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return build_db(tmp_path / "ranked.db", ranked_spans())


def test_the_count_says_when_it_stopped() -> None:
    assert str(count_text(SEARCH_COUNT_LIMIT)) == f"{SEARCH_COUNT_LIMIT:,}+ spans match"
    assert str(count_text(SEARCH_COUNT_LIMIT - 1)) == f"{SEARCH_COUNT_LIMIT - 1:,} spans match"
    assert str(count_text(1)) == "1 span matches"
    assert str(count_text(0)) == "no span in this queue matches"


async def _search(pilot, app, text: str, *, key_by_key: bool = True) -> SearchScreen:
    """Press `/`, type `text` key by key (or, where the typing is not the point, put it in at
    once: one count, not one per key), wait for its count; the box stays open."""
    await pilot.press("slash")
    await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
    box = app.screen
    field = box.query_one("#search-text", Input)
    if key_by_key:
        await pilot.press("end", *["backspace"] * len(field.value))  # the search before, if any
        await pilot.press(*text)
    else:
        field.clear()
        field.insert_text_at_cursor(text)
    await wait_for(pilot, lambda: box.shown_for == field.value)
    return box


def _current(app) -> str | None:
    item = app.screen.item
    return item.span_id if item is not None else None


async def test_slash_counts_enter_goes_to_the_best_and_the_walk_follows_bm25(db: Path) -> None:
    expected = bm25_order(db, "refund")
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(150, 40)) as pilot:
        await settled(pilot, app)
        screen = app.screen
        box = await _search(pilot, app, "refu")
        assert box.count_shown == "5 spans match"
        await pilot.press("n", "d")
        await wait_for(pilot, lambda: box.shown_for == "refund")
        assert box.count_shown == "5 spans match"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.queue.text == "refund")
        await wait_for(pilot, lambda: _current(app) == expected[0])
        assert screen.session.trace_ids() == ["t-a", "t-b", "t-c"]  # trace order, kept
        walked = [_current(app)]
        for _ in expected[1:]:
            await pilot.press("greater_than_sign")
            walked.append(_current(app))
        assert walked == expected
        assert "match 5/5 best first" in str(screen.status_line.render())
        await pilot.press("greater_than_sign")  # past the end: stays
        assert _current(app) == expected[-1]
        assert "That was the last of the 5 best matches." in str(screen.status_line.render())
        await pilot.press("less_than_sign", "less_than_sign")
        assert _current(app) == expected[-3]
        # the tree is coherent: the row under the cursor is the span walked to
        row = screen.trace_tree.cursor_row
        if row.kind == TRACE:
            assert screen.model.loaded[row.trace_id].root_id == expected[-3]
        else:
            assert row.span_id == expected[-3]


async def test_a_search_set_with_f_is_walked_too(db: Path) -> None:
    """A search that came from the filter dialog (or --search) has no ranking yet: `>` ranks
    it and goes to the best match."""
    app = AnnotatorApp(db, config_set(), "alice", queue=QueueFilter(text="refund"))
    async with app.run_test(size=(150, 40)) as pilot:
        await settled(pilot, app)
        await pilot.press("greater_than_sign")
        await wait_for(pilot, lambda: _current(app) == bm25_order(db, "refund")[0])
        await pilot.press("escape")  # no `/` to go back to: the search just ends
        await wait_for(pilot, lambda: app.screen.session.queue.text == "")


HOSTILE = [
    'refund"',
    "NEAR( refund",
    "refund*",
    "-refund",
    "'refund'",
    "[bold] refund [/bold]",
    "refund OR zzyzx",
    '"',
    "(*)",
]


def expected_count(path: Path, typed: str) -> int:
    """The in-scope spans holding every word typed (the last as a prefix), in plain Python."""
    words = _words(typed)
    if not words:
        return 0
    *whole, last = words
    count = 0
    for _, kind, name, content in columns(path).values():
        tokens = name + content
        if (
            kind in IN_SCOPE_KINDS
            and all(w in tokens for w in whole)
            and any(t.startswith(last) for t in tokens)
        ):
            count += 1
    return count


# The cases below share one app run (an app start costs more CPU than most of them; each
# assertion names its case), in this order: each starts from the default queue the one before
# leaves, and the label, the only change saved, comes last. Their searches are put into the box
# at once: typing key by key is the bm25 test's.


async def test_escape_twice_hostile_counts_then_a_label_on_a_walked_to_span(db: Path) -> None:
    expected = bm25_order(db, "refund")
    llm = [s for s in expected if s in {"a2", "a4", "b2", "c2"}]
    app = AnnotatorApp(db, config_set(), "alice")
    async with app.run_test(size=(150, 40)) as pilot:
        await settled(pilot, app)
        screen = app.screen

        case = "escape ends the search and puts the cursor back"
        for _ in range(6):  # to a span that does not say "refund": polish, under draft
            if _current(app) == "a5":
                break
            await pilot.press("down")
        before, row_before = _current(app), screen.trace_tree.cursor_row
        assert before == "a5" and before not in expected, case
        await _search(pilot, app, "refund", key_by_key=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: _current(app) == expected[0])
        await pilot.press("greater_than_sign", "greater_than_sign")
        # a second search from within the first: escape still goes back to the very start
        await _search(pilot, app, "weather", key_by_key=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.queue.text == "weather")
        await pilot.press("escape")
        assert screen.session.queue == QueueFilter(), case
        assert _current(app) == before, case
        assert screen.trace_tree.cursor_row == row_before, case
        assert screen.span_view.marked_text == [], case
        assert len(screen.session.trace_ids()) == 4, case

        case = "escape in the box changes nothing"
        await pilot.press("down", "down")
        before = _current(app)
        await _search(pilot, app, "refund", key_by_key=False)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.session.queue == QueueFilter() and _current(app) == before, case
        await pilot.press("greater_than_sign")  # no search: `>` says so and moves nothing
        assert _current(app) == before, case
        assert "No search" in str(screen.status_line.render()), case

        # The live count stays right with hostile text: each hostile text put into the field of
        # one search box at once, the field cleared between them (typing key by key is what the
        # bm25 test above does): the count is right for it and the text is kept as given.
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, SearchScreen))
        box = app.screen
        assert isinstance(box, SearchScreen)
        field = box.query_one("#search-text", Input)
        for typed in HOSTILE:
            field.clear()
            field.insert_text_at_cursor(typed)
            await wait_for(pilot, lambda typed=typed: box.shown_for == typed)
            count = expected_count(db, typed)
            if not has_words(typed):
                assert box.count_shown == "no word to search for yet", typed
            else:
                assert box.count_shown == str(count_text(count)), typed
            assert field.value == typed, typed  # kept as typed: quotes and markup are text
        case = "hostile text"
        assert expected_count(db, "NEAR( refund") == 1, case  # not an operator: the word "near"
        assert expected_count(db, "[bold] refund [/bold]") == 2, case
        # applied, a markup-like search is shown literally in the status line
        field.clear()
        field.insert_text_at_cursor("[bold] refund [/bold]")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.session.queue.text == "[bold] refund [/bold]")
        assert "search [bold] refund [/bold]" in str(screen.status_line.render()), case
        assert replace(screen.session.queue, text="") == QueueFilter(), case

        case = "a label on a walked-to span lands on that span"
        await _search(pilot, app, "refund", key_by_key=False)
        await pilot.press("enter")
        await wait_for(pilot, lambda: _current(app) == expected[0])
        position = expected.index(llm[1])
        await pilot.press(*["greater_than_sign"] * position)
        assert _current(app) == llm[1], case
        assert app.screen.current_config.name == "correctness", case
        await pilot.press("2")  # incorrect
        await settled(pilot, app)
    with Store.open(db, readonly=True) as store:
        mine = [
            (a.span_id, a.name, a.label)
            for span_id in expected
            for a in store.annotations_on_span(span_id)
            if a.identifier == "alice"
        ]
    assert mine == [(llm[1], "correctness", "incorrect")], case
