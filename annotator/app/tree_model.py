"""The rows of the trace tree, without Textual: what is visible, in what order, at what depth.

Only the trace list is held whole (one id per trace); a trace's spans are loaded when it is
expanded and dropped when it is collapsed. Rows below collapsed traces are never materialised:
`row_at(i)` maps a row index to a trace, or into the block of rows of an expanded trace, in time
proportional to the number of expanded traces, so a million-trace list costs one list of ids.
A trace row stands for its root span.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from annotator.store import SpanRow

TRACE = "trace"
SPAN = "span"
DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Row:
    kind: str  # TRACE, SPAN or DOCUMENT
    trace_id: str
    span_id: str | None = None  # the span a SPAN or DOCUMENT row is about
    depth: int = 0
    position: int | None = None  # DOCUMENT rows: the document's index in the span
    has_children: bool = False
    orphan: bool = False


@dataclass
class LoadedTrace:
    """One expanded trace: its spans and who is whose child."""

    spans: dict[str, SpanRow]
    children: dict[str, list[str]]
    root_id: str | None
    top: list[str]  # shown directly under the trace row: the root's children, other roots, orphans
    collapsed: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, rows: list[SpanRow], root_id: str | None = None) -> LoadedTrace:
        """`root_id`: the span the trace row stands for (the store's `traces.root_span_id`, which
        the queue counts trace configs on); when absent, the earliest span without a parent."""
        spans = {row.span_id: row for row in rows}
        children: dict[str, list[str]] = {}
        tops: list[str] = []
        for row in rows:  # rows come ordered by start time: children keep that order
            if row.parent_id and not row.orphan and row.parent_id in spans:
                children.setdefault(row.parent_id, []).append(row.span_id)
            else:
                tops.append(row.span_id)
        true_roots = [s for s in tops if not spans[s].parent_id]
        if root_id not in spans or root_id not in tops:
            root_id = next(iter(true_roots or tops), None)
        top = list(children.get(root_id, [])) if root_id else []
        top += [s for s in tops if s != root_id]
        return cls(spans, children, root_id, top)


class TreeModel:
    """Visible rows over a list of trace ids. `load(trace_id)` gives a trace's spans and its root;
    `document_rows(span)` says how many document rows to show under a span (0 unless a
    document-level annotation config applies to it)."""

    def __init__(
        self,
        trace_ids: list[str],
        load: Callable[[str], tuple[list[SpanRow], str | None]],
        document_rows: Callable[[SpanRow], int],
    ) -> None:
        self._load = load
        self._document_rows = document_rows
        self.reset(trace_ids)

    def reset(self, trace_ids: list[str]) -> None:
        self.trace_ids = trace_ids
        self._ordinal = {trace_id: i for i, trace_id in enumerate(trace_ids)}
        self.loaded: dict[str, LoadedTrace] = {}
        self._blocks: dict[int, list[Row]] = {}  # ordinal of an expanded trace -> rows under it
        self._expanded: list[int] = []  # sorted ordinals of expanded traces

    # --- geometry --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.trace_ids) + sum(len(block) for block in self._blocks.values())

    def row_at(self, index: int) -> Row:
        ordinal, sub = self._locate(index)
        trace_id = self.trace_ids[ordinal]
        if sub < 0:
            return Row(TRACE, trace_id, has_children=True)
        return self._blocks[ordinal][sub]

    def _locate(self, index: int) -> tuple[int, int]:
        """(trace ordinal, -1 for the trace row itself or the index in its block)."""
        if index < 0 or index >= len(self):
            raise IndexError(index)
        skipped = 0
        for ordinal in self._expanded:
            start = ordinal + skipped  # row index of this expanded trace's row
            if index <= start:
                return index - skipped, -1
            block = len(self._blocks[ordinal])
            if index <= start + block:
                return ordinal, index - start - 1
            skipped += block
        return index - skipped, -1

    def index_of_trace(self, trace_id: str) -> int | None:
        ordinal = self._ordinal.get(trace_id)
        if ordinal is None:
            return None
        before = self._expanded[: bisect_right(self._expanded, ordinal - 1)]
        return ordinal + sum(len(self._blocks[o]) for o in before)

    def index_of_span(self, trace_id: str, span_id: str, position: int | None = None) -> int | None:
        start = self.index_of_trace(trace_id)
        ordinal = self._ordinal.get(trace_id)
        if start is None or ordinal is None or ordinal not in self._blocks:
            return None
        loaded = self.loaded[trace_id]
        if position is None and span_id == loaded.root_id:
            return start
        for offset, row in enumerate(self._blocks[ordinal]):
            if row.span_id == span_id and row.position == position:
                return start + 1 + offset
        return None

    def block_size(self, trace_id: str) -> int:
        """Rows shown under an expanded trace's row (0 when collapsed)."""
        ordinal = self._ordinal.get(trace_id)
        return len(self._blocks.get(ordinal, ())) if ordinal is not None else 0

    def trace_ordinal(self, trace_id: str) -> int | None:
        return self._ordinal.get(trace_id)

    # --- expanding and collapsing ----------------------------------------------------------------

    def is_expanded(self, trace_id: str) -> bool:
        ordinal = self._ordinal.get(trace_id)
        return ordinal is not None and ordinal in self._blocks

    def expand(self, trace_id: str) -> LoadedTrace:
        ordinal = self._ordinal[trace_id]
        if trace_id not in self.loaded:
            self.loaded[trace_id] = LoadedTrace.build(*self._load(trace_id))
        if ordinal not in self._blocks:
            self._expanded.insert(bisect_right(self._expanded, ordinal), ordinal)
        self._blocks[ordinal] = self._block_rows(self.loaded[trace_id], trace_id)
        return self.loaded[trace_id]

    def collapse(self, trace_id: str) -> None:
        ordinal = self._ordinal[trace_id]
        if ordinal in self._blocks:
            del self._blocks[ordinal]
            self._expanded.remove(ordinal)
        self.loaded.pop(trace_id, None)  # memory follows what is on screen

    def toggle_span(self, trace_id: str, span_id: str) -> None:
        loaded = self.loaded.get(trace_id)
        if loaded is None:
            return
        loaded.collapsed.symmetric_difference_update({span_id})
        self._blocks[self._ordinal[trace_id]] = self._block_rows(loaded, trace_id)

    def reveal(self, trace_id: str, span_id: str) -> bool:
        """Open the collapsed spans above `span_id` in an expanded trace, so that it has a row;
        whether anything changed."""
        loaded = self.loaded.get(trace_id)
        if loaded is None or span_id not in loaded.spans:
            return False
        parent_of = {kid: parent for parent, kids in loaded.children.items() for kid in kids}
        above, seen = set(), set()
        current = parent_of.get(span_id)
        while current is not None and current not in seen:
            seen.add(current)
            above.add(current)
            current = parent_of.get(current)
        closed = above & loaded.collapsed
        if not closed:
            return False
        loaded.collapsed -= closed
        self._blocks[self._ordinal[trace_id]] = self._block_rows(loaded, trace_id)
        return True

    def span_is_collapsed(self, trace_id: str, span_id: str) -> bool:
        loaded = self.loaded.get(trace_id)
        return loaded is not None and span_id in loaded.collapsed

    def _block_rows(self, loaded: LoadedTrace, trace_id: str) -> list[Row]:
        rows: list[Row] = []
        documents_of_root = (
            self._document_rows(loaded.spans[loaded.root_id]) if loaded.root_id else 0
        )
        for position in range(documents_of_root):
            rows.append(Row(DOCUMENT, trace_id, loaded.root_id, 1, position))
        stack = [(span_id, 1) for span_id in reversed(loaded.top)]
        while stack:
            span_id, depth = stack.pop()
            span = loaded.spans[span_id]
            kids = loaded.children.get(span_id, ())
            documents = self._document_rows(span)
            rows.append(
                Row(
                    SPAN, trace_id, span_id, depth, None, bool(kids or documents), bool(span.orphan)
                )
            )
            if span_id in loaded.collapsed:
                continue
            for position in range(documents):
                rows.append(Row(DOCUMENT, trace_id, span_id, depth + 1, position))
            stack.extend((kid, depth + 1) for kid in reversed(kids))
        return rows

    def span_of(self, row: Row) -> SpanRow | None:
        loaded = self.loaded.get(row.trace_id)
        if loaded is None:
            return None
        span_id = row.span_id if row.kind != TRACE else loaded.root_id
        return loaded.spans.get(span_id) if span_id else None
