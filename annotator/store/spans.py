"""Writing spans: batched, idempotent inserts and the per-trace summaries they feed.

Importing the same span twice (the same file again, overlapping exports) changes nothing. The
traces a transaction touched are summarised again in that same transaction, which is also when
orphans (parent not in the database) and parent cycles are found: a span is never committed
without its trace row, so an import cut short (Ctrl-C, a full disk) leaves every committed span
visible and the rest absent.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field

import orjson

from annotator.model import Span, StatusCode
from annotator.semconv import document_count
from annotator.store.db import begin_immediate, rollback, write_transaction
from annotator.timeutil import latency_ms

_SPAN_COLUMNS = (
    "span_id, trace_id, parent_id, name, span_kind, start_time, end_time, latency_ms, "
    "status_code, status_message, project, session_id, document_count, attributes, events"
)
# A batch is staged in a temporary table (no trigger, no index, untyped: the values reach
# `spans` as given) and moved into `spans` by one statement. Row by row, every INSERT would be a
# statement of its own, and the search index's trigger would make FTS5 write its pending terms
# out as a new segment at each statement's savepoint (about 0.08 ms a span); in one statement
# they are written once a batch. Same rows, same order (rowids), same conflicts skipped.
_STAGE_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS span_batch ({_SPAN_COLUMNS})"
_STAGE_SPAN = f"INSERT INTO temp.span_batch VALUES ({', '.join('?' * 15)})"
_MOVE_BATCH = (
    f"INSERT INTO spans ({_SPAN_COLUMNS}) SELECT {_SPAN_COLUMNS} FROM temp.span_batch "
    "WHERE true ORDER BY rowid ON CONFLICT (span_id) DO NOTHING"
)

BATCH_SIZE = 2000
# Commit every so often so that annotators writing to the same file are not held up for the
# whole length of a large import.
COMMIT_EVERY = 20_000


@dataclass
class SpanWriteResult:
    new: int = 0
    existing: int = 0
    conflicts: list[str] = field(default_factory=list)
    trace_ids: set[str] = field(default_factory=set)
    tree_problems: list[str] = field(default_factory=list)


class SpanWriter:
    """Collects spans into batches and writes them; `close()` flushes and summarises traces.

    Memory holds one batch and the set of trace ids touched, whatever the size of the import.
    (A writer thread was measured and rejected: SQLite releases the GIL per row, and the
    per-row handovers with the parsing thread cost more than the overlap won.)"""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._batch: list[Span] = []
        self._uncommitted = 0
        self._in_transaction = False
        self._pending_traces: set[str] = set()  # touched by the open transaction
        self._cycles: dict[str, list[str]] = {}  # trace id -> its latest cycle messages
        self.result = SpanWriteResult()
        self.committed = 0  # new spans committed so far (with their trace rows)
        self.committed_traces: set[str] = set()

    def add(self, span: Span) -> None:
        self._batch.append(span)
        if len(self._batch) >= BATCH_SIZE:
            self._flush()

    def add_all(self, spans: Iterable[Span]) -> None:
        for span in spans:
            self.add(span)

    def close(self) -> SpanWriteResult:
        self._flush()
        self._commit()
        self.result.tree_problems = [m for messages in self._cycles.values() for m in messages]
        return self.result

    def abort(self, error: BaseException | None = None) -> None:
        """Give up after `error`: what is not committed yet is rolled back (spans and trace rows
        alike)."""
        self._batch = []
        # Our transaction ended without us: SQLite rolled it back after an error of its own
        # (a full disk), or COMMIT had returned when Ctrl-C arrived, before the bookkeeping.
        ended_without_us = self._in_transaction and not self._conn.in_transaction
        if ended_without_us and not isinstance(error, sqlite3.Error):
            self._committed()
        if self._in_transaction:
            self._in_transaction = False
            self._pending_traces = set()
            rollback(self._conn)
            with suppress(sqlite3.Error):
                self._conn.execute("PRAGMA synchronous = FULL")

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        conn = self._conn
        if not self._in_transaction:
            # NORMAL: an import cut short by a power cut is simply run again (it is idempotent).
            conn.execute("PRAGMA synchronous = NORMAL")
            begin_immediate(conn)
            self._in_transaction = True
        rows = [_row(span, self.result.conflicts) for span in batch]
        conn.execute(_STAGE_TABLE)
        try:
            conn.executemany(_STAGE_SPAN, rows)
            # rowcount, not total_changes: the search index's trigger writes count in the latter.
            inserted = conn.execute(_MOVE_BATCH).rowcount
        finally:
            with suppress(sqlite3.Error):  # never in place of the error that got here
                conn.execute("DELETE FROM temp.span_batch")
        self.result.new += inserted
        trace_ids = self.result.trace_ids
        for span in batch:
            trace_ids.add(span.trace_id)
            self._pending_traces.add(span.trace_id)
        if inserted < len(rows):
            self._check_duplicates(rows, inserted)
        self._uncommitted += len(rows)
        if self._uncommitted >= COMMIT_EVERY:
            self._commit()

    def _commit(self) -> None:
        if self._in_transaction:
            self._cycles.update(summarise_in_transaction(self._conn, self._pending_traces))
            self._conn.execute("COMMIT")
            self._committed()
            self._conn.execute("PRAGMA synchronous = FULL")

    def _committed(self) -> None:
        """The bookkeeping of a commit; safe to run twice (see `abort`), `_in_transaction` last."""
        self.committed = self.result.new
        self.committed_traces |= self._pending_traces
        self._pending_traces = set()
        self._uncommitted = 0
        self._in_transaction = False

    def _check_duplicates(self, rows: list[tuple], inserted: int) -> None:
        """Spans that were already there: fine when they are the same span, reported when the
        id belongs to another trace (ids must be unique, as in Phoenix)."""
        self.result.existing += len(rows) - inserted
        wanted = {row[0]: row[1] for row in rows}
        placeholders = ",".join("?" * len(wanted))
        stored = self._conn.execute(
            f"SELECT span_id, trace_id FROM spans WHERE span_id IN ({placeholders})",
            list(wanted),
        ).fetchall()
        for span_id, trace_id in stored:
            if wanted[span_id] != trace_id:
                self.result.conflicts.append(
                    f"span {span_id} of trace {wanted[span_id]} skipped: "
                    f"that span id already belongs to trace {trace_id}"
                )
                self.result.existing -= 1


def _row(span: Span, problems: list[str]) -> tuple:
    start, end = span.start_time, span.end_time
    return (
        span.span_id,
        span.trace_id,
        span.parent_id,
        span.name,
        span.span_kind,
        start,
        end,
        _latency(start, end),
        span.status_code,
        span.status_message,
        span.project,
        span.session_id,
        document_count(span.attributes),
        _json(span.attributes, span, "attributes", problems),
        _json(span.events, span, "events", problems),
    )


def _json(value: object, span: Span, what: str, problems: list[str]) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:  # deeper than orjson's 254 levels, or odd types: the slow, tolerant way
        return json.dumps(value, default=str, ensure_ascii=False)
    except (RecursionError, ValueError, TypeError) as error:
        problems.append(
            f"span {span.span_id}: {what} could not be stored ({type(error).__name__}); kept empty"
        )
        return "{}" if what == "attributes" else "[]"


def _latency(start: str | None, end: str | None) -> float | None:
    try:
        return latency_ms(start, end)
    except ValueError:
        return None


_SUMMARY_COLUMNS = (
    "trace_id, span_id, parent_id, name, span_kind, start_time, end_time, status_code, "
    "project, session_id, orphan"
)


def summarise_traces(conn: sqlite3.Connection, trace_ids: Iterable[str]) -> list[str]:
    """Recompute `traces` rows and `spans.orphan` flags for these traces, in a transaction of
    their own; return one message per parent cycle broken."""
    with write_transaction(conn):
        cycles = summarise_in_transaction(conn, trace_ids)
    return [message for messages in cycles.values() for message in messages]


def repair_trace_summaries(conn: sqlite3.Connection) -> int:
    """Summarise the traces whose spans are not all counted in `traces` (committed by a version
    that wrote trace rows only at the end of an import that was then cut short). Two counts when
    nothing is wrong, which is every time for files this version wrote. Returns traces fixed."""
    spans = conn.execute("SELECT count(*) FROM spans").fetchone()[0]
    counted = conn.execute("SELECT coalesce(sum(span_count), 0) FROM traces").fetchone()[0]
    if spans == counted:
        return 0
    stale = [
        row[0]
        for row in conn.execute(
            "SELECT s.trace_id FROM spans s LEFT JOIN traces t USING (trace_id) "
            "GROUP BY s.trace_id HAVING count(*) IS NOT max(t.span_count)"
        )
    ]
    summarise_traces(conn, stale)
    return len(stale)


def summarise_in_transaction(
    conn: sqlite3.Connection, trace_ids: Iterable[str]
) -> dict[str, list[str]]:
    """`summarise_traces` inside the caller's open write transaction; returns the parent cycle
    messages by trace id."""
    problems: list[str] = []
    by_trace: dict[str, list[str]] = {}
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS affected_traces (trace_id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM affected_traces")
    conn.executemany("INSERT OR IGNORE INTO affected_traces VALUES (?)", ((t,) for t in trace_ids))
    cursor = conn.execute(
        f"SELECT {_SUMMARY_COLUMNS} FROM spans JOIN affected_traces USING (trace_id) "
        "ORDER BY trace_id"
    )
    summaries = []
    orphan_updates: list[tuple] = []
    current: list[tuple] = []
    for row in cursor:
        if current and row[0] != current[0][0]:
            summaries.append(_summarise_one(current, orphan_updates, problems))
            by_trace[current[0][0]], problems = problems, []
            current = []
        current.append(row)
    if current:
        summaries.append(_summarise_one(current, orphan_updates, problems))
        by_trace[current[0][0]], problems = problems, []
    conn.executemany("UPDATE spans SET orphan = ? WHERE span_id = ?", orphan_updates)
    conn.executemany(
        "INSERT OR REPLACE INTO traces (trace_id, project, session_id, root_span_id, "
        "root_name, root_kind, start_time, end_time, latency_ms, span_count, error_count, "
        "orphan_count, status_code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        summaries,
    )
    conn.execute("DELETE FROM affected_traces")
    return {trace_id: messages for trace_id, messages in by_trace.items() if messages}


def _summarise_one(rows: list[tuple], orphan_updates: list, problems: list[str]) -> tuple:
    trace_id = rows[0][0]
    ids = {row[1] for row in rows}
    parent_of = {row[1]: row[2] for row in rows}
    start_of = {row[1]: row[5] or "" for row in rows}
    orphans = {span_id for span_id, parent in parent_of.items() if parent and parent not in ids}
    cut = _break_cycles(parent_of, start_of, orphans)
    for cycle, at in cut:
        problems.append(
            f"trace {trace_id}: parent cycle {' -> '.join(cycle)} broken at span {at} "
            "(shown at the top of its trace)"
        )
    orphans |= {at for _, at in cut}
    for row in rows:
        flag = 1 if row[1] in orphans else 0
        if flag != row[10]:
            orphan_updates.append((flag, row[1]))

    by_id = {row[1]: row for row in rows}
    true_roots = sorted((start_of[s], s) for s, p in parent_of.items() if not p)
    top = true_roots or sorted((start_of[s], s) for s in orphans)
    root = by_id[top[0][1]] if top else min(rows, key=lambda r: (r[5] or "", r[1]))
    starts = [row[5] for row in rows if row[5]]
    ends = [row[6] for row in rows if row[6]]
    start, end = (min(starts) if starts else None), (max(ends) if ends else None)
    session_id = root[9] or next((row[9] for row in rows if row[9]), None)
    errors = sum(1 for row in rows if row[7] == StatusCode.ERROR)
    return (
        trace_id,
        root[8],
        session_id,
        root[1],
        root[3],
        root[4],
        start,
        end,
        _latency(start, end),
        len(rows),
        errors,
        len(orphans),
        root[7],
    )


def _break_cycles(
    parent_of: dict[str, str | None], start_of: dict[str, str], orphans: set[str]
) -> list[tuple[list[str], str]]:
    """Spans unreachable from any top-level span sit on (or under) a parent cycle. Cut each cycle
    at its earliest span so that every span is shown exactly once."""
    children: dict[str, list[str]] = {}
    for span_id, parent in parent_of.items():
        if parent and span_id not in orphans:
            children.setdefault(parent, []).append(span_id)
    reached: set[str] = set()

    def reach(start: str) -> None:
        stack = [start]
        while stack:
            node = stack.pop()
            if node in reached:
                continue
            reached.add(node)
            stack.extend(children.get(node, ()))

    for span_id, parent in parent_of.items():
        if not parent or span_id in orphans:
            reach(span_id)
    cuts: list[tuple[list[str], str]] = []
    for span_id in sorted(parent_of, key=lambda s: (start_of[s], s)):
        if span_id in reached:
            continue
        # Walk up until a span repeats: the repeated part is the cycle.
        path: list[str] = []
        seen: dict[str, int] = {}
        node: str | None = span_id
        while node is not None and node not in seen:
            seen[node] = len(path)
            path.append(node)
            node = parent_of.get(node)
        cycle = path[seen[node] :] if node is not None else path
        at = min(cycle, key=lambda s: (start_of[s], s))
        cuts.append(([*cycle, cycle[0]], at))
        reach(at)
    return cuts
