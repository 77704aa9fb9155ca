"""Whether SQLite can run a compiled filter where the store will put it.

SQLite refuses some statements when it prepares them, whatever their meaning: before 3.46
its parser has a fixed stack of 100 entries (about 90 nested parentheses, far fewer nested
subqueries; later versions grow it), expressions may nest at most 1000 deep, and a statement
may hold at most 32,766 parameters. compile.py writes SQL that grows linearly with the
expression, but a filter nested deeply enough still overflows. So every compiled filter is
prepared once here — `EXPLAIN`, nothing runs — on a private in-memory database with the
store's schema, nested deeper than any query of the store nests it, and a refusal becomes a
FilterError. A filter that compiles can then never fail in SQLite's parser later, in whatever
queue query it ends up.

What the check costs: one prepare of a statement the size of the filter's SQL, 0.02-0.1 ms
for typical filters (bench/query_bench.py prints the compile time, check included).
"""

from __future__ import annotations

import sqlite3
import threading

from annotator.query.errors import FilterError, Where, fragment
from annotator.store import NEW_DATABASE

# The store's deepest use of a filter (store.next_queue_trace once filters are wired in):
#   ... WHERE <position> AND EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.trace_id
#       AND ((<queue>) AND (<filter>)) AND (<needs>))
# that is, inside EXISTS and two parentheses. The check nests the filter MARGIN parentheses
# deeper still, so that the queries that embed a filter may grow a little (another `&`, one
# more wrapping subquery) without any filter that compiled starting to fail.
STORE_PARENS = 2
MARGIN = 8
_OPEN = "(" * (STORE_PARENS + MARGIN)
_CLOSE = ")" * (STORE_PARENS + MARGIN)
_TEMPLATE = (
    "EXPLAIN SELECT t.trace_id FROM traces t WHERE 1 AND EXISTS (SELECT 1 FROM spans s "
    f"WHERE s.trace_id = t.trace_id AND {_OPEN}{{}}{_CLOSE})"
)

TOO_DEEP = (
    "the filter is nested too deeply for SQLite (its deepest part is here) — simplify it or "
    "split it into several filters"
)
_DEPTH_ERRORS = ("parser stack overflow", "expression tree is too large")


class _Checker:
    """One in-memory database with the schema, shared by every thread (under a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.executescript(NEW_DATABASE)
            self._conn = conn
        return self._conn

    def prepare(self, sql: str, params: list[object] | dict[str, object]) -> None:
        with self._lock:
            cursor = self._connection().execute(_TEMPLATE.format(sql), params)
            cursor.close()


_CHECKER = _Checker()


def check_runs(sql: str, params: list[object] | dict[str, object], deepest: Where) -> None:
    """Raises FilterError unless SQLite accepts `sql` (a condition on span `s` or trace `t`)
    nested deeper than the store nests it. `deepest` is where the user's text nests most."""
    try:
        _CHECKER.prepare(sql, params)
    except sqlite3.Error as error:
        reason = str(error)
        if reason.lower().startswith(_DEPTH_ERRORS):
            raise deepest.error(TOO_DEEP) from None
        if reason.startswith("too many SQL variables"):
            raise FilterError(
                "the filter holds more values than SQLite takes in one query — use fewer or "
                "shorter lists, or split it into several filters"
            ) from None
        # Anything else is the compiler's mistake, not the user's: still one clear error
        # (never a traceback from the queue later), saying so.
        raise FilterError(
            f"SQLite cannot run this filter ({fragment(reason)}); this is a bug in annotator, "
            "please report it with the filter"
        ) from None
