"""annotator.app.tree_model without a terminal: which rows are visible, in what order, at what
depth, and which traces were ever loaded. Rows are pinned one by one."""

from __future__ import annotations

import pytest

from annotator.app.tree_model import DOCUMENT, SPAN, TRACE, LoadedTrace, Row, TreeModel
from annotator.store import SpanRow


def _span(span_id: str, parent: str | None, start: int, *, orphan: int = 0, docs: int = 0):
    kind = "RETRIEVER" if docs else "CHAIN"
    return SpanRow(span_id, "t2", parent, span_id, kind, f"{start}", 1.0, "OK", orphan, docs)


# Trace t2: root p with children a (its child a1) and b (two documents); o's parent is not in
# the trace (an orphan); r2 is a second root. Rows come in start order, as the store gives them.
T2 = [
    _span("p", None, 0),
    _span("a", "p", 1),
    _span("a1", "a", 2),
    _span("b", "p", 3, docs=2),
    _span("o", "gone", 4, orphan=1),
    _span("r2", None, 5),
]
T1 = [
    SpanRow("x", "t1", None, "x", "CHAIN", "0", 1.0, "OK", 0, 0),
    SpanRow("y", "t1", "x", "y", "LLM", "1", 1.0, "OK", 0, 0),
]
T2_BLOCK = [
    Row(SPAN, "t2", "a", 1, None, True, False),
    Row(SPAN, "t2", "a1", 2, None, False, False),
    Row(SPAN, "t2", "b", 1, None, True, False),
    Row(DOCUMENT, "t2", "b", 2, 0),
    Row(DOCUMENT, "t2", "b", 2, 1),
    Row(SPAN, "t2", "o", 1, None, False, True),
    Row(SPAN, "t2", "r2", 1, None, False, False),
]


class Loader:
    """The store's part: a trace's span rows and its root; counts every load."""

    def __init__(self) -> None:
        self.loads: list[str] = []

    def __call__(self, trace_id: str) -> tuple[list[SpanRow], str | None]:
        self.loads.append(trace_id)
        return {"t1": (T1, "x"), "t2": (T2, "p"), "t3": ([], None)}[trace_id]


def documents(span: SpanRow) -> int:
    return span.document_count


@pytest.fixture
def loader() -> Loader:
    return Loader()


@pytest.fixture
def model(loader: Loader) -> TreeModel:
    return TreeModel(["t1", "t2", "t3"], loader, documents)


def rows(model: TreeModel) -> list[Row]:
    return [model.row_at(i) for i in range(len(model))]


def test_collapsed_traces_are_one_row_each_and_nothing_is_loaded(
    model: TreeModel, loader: Loader
) -> None:
    assert len(model) == 3
    assert rows(model) == [Row(TRACE, t, has_children=True) for t in ("t1", "t2", "t3")]
    assert [model.index_of_trace(t) for t in ("t1", "t2", "t3", "nope")] == [0, 1, 2, None]
    assert model.index_of_span("t2", "a") is None
    assert (model.block_size("t2"), model.is_expanded("t2")) == (0, False)
    assert loader.loads == []
    for index in (-1, 3):
        with pytest.raises(IndexError):
            model.row_at(index)


def test_an_expanded_trace_shows_its_tree_depth_first_in_start_order(
    model: TreeModel, loader: Loader
) -> None:
    loaded = model.expand("t2")
    assert (loaded.root_id, loaded.top) == ("p", ["a", "b", "o", "r2"])
    assert loaded.children == {"p": ["a", "b"], "a": ["a1"]}
    assert len(model) == 10
    assert rows(model) == [
        Row(TRACE, "t1", has_children=True),
        Row(TRACE, "t2", has_children=True),
        *T2_BLOCK,
        Row(TRACE, "t3", has_children=True),
    ]
    assert model.block_size("t2") == 7
    assert [model.index_of_trace(t) for t in ("t1", "t2", "t3")] == [0, 1, 9]
    # the root is the trace row itself; documents are found by position
    assert model.index_of_span("t2", "p") == 1
    assert model.index_of_span("t2", "b") == 4
    assert model.index_of_span("t2", "b", 1) == 6
    assert model.index_of_span("t2", "r2") == 8
    assert model.index_of_span("t2", "b", 2) is None
    assert model.span_of(model.row_at(1)) == T2[0]  # a trace row stands for its root
    assert model.span_of(model.row_at(6)) == T2[3]
    assert model.span_of(model.row_at(0)) is None  # t1 is not loaded
    assert loader.loads == ["t2"]


def test_two_expanded_traces_shift_the_rows_after_them(model: TreeModel, loader: Loader) -> None:
    model.expand("t2")
    model.expand("t1")
    assert len(model) == 11
    assert [model.index_of_trace(t) for t in ("t1", "t2", "t3")] == [0, 2, 10]
    assert model.row_at(1) == Row(SPAN, "t1", "y", 1, None, False, False)
    assert model.row_at(2) == Row(TRACE, "t2", has_children=True)
    assert [model.row_at(i) for i in range(3, 10)] == T2_BLOCK
    assert model.index_of_span("t1", "y") == 1
    assert model.index_of_span("t2", "b", 0) == 6
    assert model.trace_ordinal("t3") == 2
    assert loader.loads == ["t2", "t1"]


def test_folding_a_span_hides_its_subtree_and_keeps_its_row(model: TreeModel) -> None:
    model.expand("t2")
    model.toggle_span("t2", "a")
    assert model.span_is_collapsed("t2", "a")
    assert len(model) == 9
    assert model.row_at(2) == Row(SPAN, "t2", "a", 1, None, True, False)  # still has children
    assert model.row_at(3) == Row(SPAN, "t2", "b", 1, None, True, False)
    assert model.index_of_span("t2", "a1") is None
    model.toggle_span("t2", "b")  # a span's documents fold with it
    assert len(model) == 7
    assert model.index_of_span("t2", "b", 0) is None
    model.toggle_span("t2", "a")
    model.toggle_span("t2", "b")
    assert not model.span_is_collapsed("t2", "a")
    assert rows(model)[2:9] == T2_BLOCK
    model.toggle_span("t1", "x")  # a trace that is not loaded: nothing happens
    assert len(model) == 10


def test_collapsing_drops_the_spans_and_expanding_loads_them_again(
    model: TreeModel, loader: Loader
) -> None:
    model.expand("t2")
    model.toggle_span("t2", "a")
    model.expand("t2")  # already expanded: the rows are rebuilt, nothing is loaded again
    assert loader.loads == ["t2"]
    model.collapse("t2")
    assert (len(model), model.loaded, model.is_expanded("t2")) == (3, {}, False)
    model.collapse("t2")  # twice is harmless
    model.expand("t2")
    assert loader.loads == ["t2", "t2"]
    assert not model.span_is_collapsed("t2", "a")  # a fresh load: nothing is folded
    assert len(model) == 10


def test_documents_of_the_root_come_first_under_the_trace_row(loader: Loader) -> None:
    model = TreeModel(["t2"], loader, lambda span: 2 if span.span_id == "p" else 0)
    model.expand("t2")
    assert rows(model)[:4] == [
        Row(TRACE, "t2", has_children=True),
        Row(DOCUMENT, "t2", "p", 1, 0),
        Row(DOCUMENT, "t2", "p", 1, 1),
        Row(SPAN, "t2", "a", 1, None, True, False),
    ]
    # b has two documents, but the callback offers none there: no rows, and no children mark
    assert Row(SPAN, "t2", "b", 1, None, False, False) in rows(model)
    assert model.index_of_span("t2", "p", 1) == 2


def test_an_empty_trace_is_a_row_without_rows_under_it(model: TreeModel) -> None:
    loaded = model.expand("t3")
    assert (loaded.root_id, loaded.top, model.block_size("t3"), len(model)) == (None, [], 0, 3)
    assert model.span_of(model.row_at(2)) is None


def test_the_root_falls_back_to_the_earliest_span_without_a_parent() -> None:
    assert LoadedTrace.build(T2).root_id == "p"
    # a root the store names that is a child here is not taken: the true root is
    assert LoadedTrace.build(T2, "a").root_id == "p"
    # the store's root is taken even when it is not the earliest root
    later = LoadedTrace.build(T2, "r2")
    assert (later.root_id, later.top) == ("r2", ["p", "o"])
    # no span without a parent (an orphan and its child): the orphan stands for the trace
    orphans = LoadedTrace.build([_span("m", "gone", 0, orphan=1), _span("n", "m", 1)])
    assert (orphans.root_id, orphans.top) == ("m", ["n"])


def test_a_long_trace_list_loads_only_what_is_expanded(loader: Loader) -> None:
    ids = [f"t{i}" for i in range(4, 100_000)] + ["t2"]
    model = TreeModel(ids, loader, documents)
    model.expand("t2")
    assert len(model) == 99_997 + 7
    assert model.row_at(99_995) == Row(TRACE, "t99999", has_children=True)
    assert model.row_at(99_997) == T2_BLOCK[0]
    assert model.index_of_trace("t2") == 99_996
    assert loader.loads == ["t2"]
    model.reset(["t1"])
    assert (len(model), model.loaded, model.index_of_trace("t2")) == (1, {}, None)


def test_reveal_opens_the_collapsed_spans_above_a_span(model: TreeModel) -> None:
    """The search walk goes to a span hidden under a collapsed one: it gets a row again."""
    model.expand("t2")
    model.toggle_span("t2", "a")
    assert model.index_of_span("t2", "a1") is None
    assert model.reveal("t2", "a1") is True
    assert model.index_of_span("t2", "a1") == model.index_of_trace("t2") + 2
    assert not model.span_is_collapsed("t2", "a")
    assert model.reveal("t2", "a1") is False  # nothing left to open
    assert model.reveal("t2", "b") is False  # nothing above it was closed
    assert model.reveal("t1", "y") is False  # a trace not expanded: nothing to reveal
    assert model.reveal("t2", "nowhere") is False
