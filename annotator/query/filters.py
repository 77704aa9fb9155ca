"""The objects the CLI and the app hold: a filter's text with its compiled SQL.

    flt = SpanFilter("span_kind == 'LLM' and latency_ms > 2000")   # FilterError if invalid
    flt.sql          # Sql(text, params): a condition on span `s` (traces `t` may be joined)
    flt.count(conn)  # how many spans match

    TraceFilter("any(span.status_code == 'ERROR' for span in spans)").sql   # on trace `t`

An empty (or blank) text is the filter that selects everything, and is falsy.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from annotator.store import Sql

if TYPE_CHECKING:
    from annotator.query import ir

_EVERYTHING = "1"


def compile_span_filter(text: str) -> Sql:
    """A condition on span `s` (`FROM spans s`, joined with `traces t USING (trace_id)` or
    not). Raises FilterError."""
    if not text.strip():
        return Sql(_EVERYTHING)
    # The parser, the compiler and SQLite's check are imported for a text to compile: a
    # command run without a filter (most) does without them (~15 ms of every CLI start).
    from annotator.query.parse import parse_span_filter

    return _compiled(parse_span_filter(text), prefix="qs")


def compile_trace_filter(text: str) -> Sql:
    """A condition on trace `t` (`FROM traces t`); it can also be ANDed into a query over
    `spans s JOIN traces t USING (trace_id)` to keep the spans of matching traces. Raises
    FilterError."""
    if not text.strip():
        return Sql(_EVERYTHING)
    from annotator.query.parse import parse_trace_filter

    return _compiled(parse_trace_filter(text), prefix="qt")


def _compiled(checked: ir.Checked, *, prefix: str) -> Sql:
    """The SQL of a checked filter, once SQLite has shown it can run it where the store puts
    it (query.limits): whatever compiles here runs."""
    from annotator.query.compile import compile_checked
    from annotator.query.limits import check_runs

    fragment = compile_checked(checked)
    sql = _named(f"({fragment.text})", fragment.params, prefix)
    check_runs(sql.text, sql.params, checked.deepest)
    return sql


def _named(text: str, params: list[object], prefix: str) -> Sql:
    """`?` placeholders as `:<prefix>N`: the store's queries bind named parameters (its
    configs travel as one JSON value), and a span and a trace filter ANDed into one query
    keep apart by their prefixes. Every `?` in the text is a placeholder: the compiler
    writes every value, its own constants included, as a parameter, so no quote ever opens a
    literal in which a `?` could stand."""
    assert "'" not in text and '"' not in text
    pieces = text.split("?")
    assert len(pieces) == len(params) + 1
    named = pieces[0]
    for index, piece in enumerate(pieces[1:]):
        named += f":{prefix}{index}{piece}"
    return Sql(named, {f"{prefix}{index}": value for index, value in enumerate(params)})


@dataclass(frozen=True)
class _Filter:
    """A filter's text, compiled once, when made (so an invalid text never gets this far).
    Equal when the class and the texts are equal; hashable, so it can sit in a frozen queue
    filter. Falsy when blank: it selects everything."""

    text: str = ""
    _sql: Sql = field(init=False, repr=False, compare=False)

    _FROM: ClassVar[str]  # what `sql` is a condition on, as a FROM clause

    @staticmethod
    def _compile(text: str) -> Sql:
        raise NotImplementedError

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sql", self._compile(self.text))

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    @property
    def sql(self) -> Sql:
        return Sql(self._sql.text, dict(self._sql.params))

    def count(self, conn: sqlite3.Connection) -> int:
        return conn.execute(
            f"SELECT count(*) FROM {self._FROM} WHERE {self._sql.text}", self._sql.params
        ).fetchone()[0]


@dataclass(frozen=True)
class SpanFilter(_Filter):
    """A span filter: a condition on span `s`."""

    _FROM = "spans s"
    _compile = staticmethod(compile_span_filter)

    def span_ids(self, conn: sqlite3.Connection) -> list[str]:
        """The matching span ids, in the store's order (trace start, then span start)."""
        rows = conn.execute(
            "SELECT s.span_id FROM spans s JOIN traces t USING (trace_id) "
            f"WHERE {self._sql.text} "
            "ORDER BY coalesce(t.start_time, ''), t.trace_id, coalesce(s.start_time, ''), s.rowid",
            self._sql.params,
        )
        return [row[0] for row in rows]


@dataclass(frozen=True)
class TraceFilter(_Filter):
    """A trace filter (rollups, root-span values, comprehensions over the trace's spans): a
    condition on trace `t`."""

    _FROM = "traces t"
    _compile = staticmethod(compile_trace_filter)

    def trace_ids(self, conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute(
            f"SELECT t.trace_id FROM traces t WHERE {self._sql.text} "
            "ORDER BY coalesce(t.start_time, ''), t.trace_id",
            self._sql.params,
        )
        return [row[0] for row in rows]


def count_matches(conn: sqlite3.Connection, selection: SpanFilter | TraceFilter) -> int:
    """Spans matching a span filter, or traces matching a trace filter."""
    return selection.count(conn)
