"""A span filter, a trace filter and a full-text search together: the spans a command or the
queue works on.

    selection = Selection(SpanFilter("span_kind == 'LLM'"), TraceFilter("error_count > 0"))
    Selection(search="refund policy")  # full-text search: the app's `/`, the --search option
    selection.sql                  # a condition on `spans s JOIN traces t USING (trace_id)`
    selection.annotations_sql()    # a condition on `annotations a`: about a selected span

A span is selected when it matches the span filter, its trace matches the trace filter and it
matches the full-text search (an empty filter or search matches everything; the search is
`annotator.store.search_sql`: every word, the last as a prefix). An annotation belongs to the
selection when what it is about does: a span or document annotation when its span is
selected; a trace annotation when its trace's root span is (a trace stands for its root span,
as in the queue); a session annotation when the root span of one of the session's traces is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from annotator.query.errors import fragment
from annotator.query.filters import SpanFilter, TraceFilter
from annotator.store import Sql, search_sql

# How much of an expression `describe()` shows (the app's status line, a command's summary).
DESCRIBE_LIMIT = 60

# The parameters a Selection's SQL holds: the compiled filters' values and the search's query.
_NAMED = re.compile(r":(q[st]\d+|search)\b")


@dataclass(frozen=True)
class Selection:
    """Frozen and hashable (it sits in the app's queue filter); falsy when it selects all."""

    where: SpanFilter = field(default_factory=SpanFilter)
    trace_where: TraceFilter = field(default_factory=TraceFilter)
    search: str = ""  # full-text search words ('' or blank: no search)

    def __bool__(self) -> bool:
        return bool(self.where) or bool(self.trace_where) or bool(self.search.strip())

    @property
    def sql(self) -> Sql:
        """Span `s` (joined with its trace `t`) is selected."""
        parts = [f.sql for f in (self.where, self.trace_where) if f]
        if self.search.strip():
            parts.append(search_sql(self.search))
        if not parts:
            return Sql("1")
        if len(parts) == 1:
            return parts[0]
        # Side by side, each parenthesised once (as `&` does two): a filter sits no deeper
        # than query.limits allows for.
        params = {name: value for part in parts for name, value in part.params.items()}
        return Sql(" AND ".join(f"({part.text})" for part in parts), params)

    def annotations_sql(self) -> Sql:
        """Annotation `a` is about a selected span (see the module docstring)."""
        if not self:
            return Sql("1")
        selected = self.sql
        spans = "SELECT s.span_id FROM spans s JOIN traces t USING (trace_id) WHERE "
        roots = "FROM traces t JOIN spans s ON s.span_id = t.root_span_id WHERE "
        return Sql(
            f"(a.target IN ('span', 'document') AND a.span_id IN ({spans}{selected.text}))"
            f" OR (a.target = 'trace' AND a.trace_id IN (SELECT t.trace_id {roots}"
            f"{selected.text}))"
            f" OR (a.target = 'session' AND a.session_id IN (SELECT t.session_id {roots}"
            f"{selected.text}))",
            selected.params,
        )

    def describe(self, limit: int = DESCRIBE_LIMIT) -> str:
        """The expressions, sanitised and clipped: `where: … · trace: …` ('' when none)."""
        parts = []
        if self.where:
            parts.append("where: " + fragment(self.where.text, limit))
        if self.trace_where:
            parts.append("trace: " + fragment(self.trace_where.text, limit))
        if self.search.strip():
            parts.append("search: " + fragment(self.search, limit))
        return " · ".join(parts)


def positional(sql: Sql) -> tuple[str, list[object]]:
    """A filter's SQL with `?` placeholders, for queries that bind positional parameters.

    Safe as a text substitution: the compiler writes every value as a parameter, so the
    filter's SQL holds no string literal in which `:qs0` could stand for itself; a name used
    twice (a filter embedded twice) is bound twice."""
    params: list[object] = []

    def bind(match: re.Match[str]) -> str:
        params.append(sql.params[match.group(1)])
        return "?"

    return _NAMED.sub(bind, sql.text), params
