"""`Store`: the one object the rest of the program uses to reach the database.

It is the single source of truth for annotations: the app keeps no copy it could lose, it asks
the store and shows what the store returns. Every write has committed when its method returns.
A `Store` (its sqlite3 connection) belongs to one thread at a time; the app gives its worker
thread a store of its own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from annotator.model import NOTE_NAME, Annotation, Span
from annotator.semconv import input_preview
from annotator.store import annotations as annotation_ops
from annotator.store import campaign
from annotator.store.annotations import AnnotationBatch, AnnotationKey, Change
from annotator.store.campaign import Assignment, Mark
from annotator.store.db import (
    EMPTY,
    StoreError,
    close_connection,
    connect,
    describe_error,
    ensure_schema,
    inspect_database,
    rollback,
    wait_for_lock,
    write_transaction,
)
from annotator.store.queue import (
    APPLIES,
    DOCUMENT_POSITIONS,
    FLAGGED,
    HAS,
    RANKED_LIMIT,
    SEARCH_COUNT_LIMIT,
    SKIPPED,
    ConfigLike,
    FilterLike,
    QueueFilter,
    QueueState,
    Sql,
    filter_sql,
    fts_query,
    in_scope_sql,
    needs_sql,
    with_configs,
)
from annotator.store.schema import TARGET_ID_SQL
from annotator.store.spans import SpanWriter, repair_trace_summaries
from annotator.timeutil import now_iso


def config_set_aside_entries(stored: str | None) -> list[dict[str, Any]]:
    """The `meta` row ``config_set_aside`` read back: its entries that are objects with a name
    and a config (an object with that name); nothing when it is missing or not a JSON list."""
    try:
        entries = orjson.loads(stored) if stored else []
    except orjson.JSONDecodeError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        entry
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("config"), dict)
        and isinstance(entry.get("name"), str)
        and entry["config"].get("name") == entry["name"]
    ]


class TraceRow(NamedTuple):
    trace_id: str
    project: str
    session_id: str | None
    root_span_id: str | None
    root_name: str | None
    root_kind: str | None
    start_time: str | None
    latency_ms: float | None
    span_count: int
    error_count: int
    orphan_count: int
    status_code: str


class SpanRow(NamedTuple):
    """What the span tree needs of a span: no attributes (they can be megabytes)."""

    span_id: str
    trace_id: str
    parent_id: str | None
    name: str
    span_kind: str
    start_time: str | None
    latency_ms: float | None
    status_code: str
    orphan: int
    document_count: int


class Contributions(NamedTuple):
    """What one person has recorded in a database (see `Store.my_contribution_counts`)."""

    annotations: int
    notes: int


class RankedMatch(NamedTuple):
    """A span a full-text search found, with its bm25 score (lower is better)."""

    span_id: str
    trace_id: str
    name: str
    score: float


class SpanState(NamedTuple):
    """One span's standing in the queue for one annotator (see `Store.row_states`)."""

    span_id: str
    document_count: int
    in_queue: bool
    # config index -> has a value (span, trace, session configs) or the document positions
    # that have one (document configs); only the configs that apply to this span, and only
    # required configs are looked up (optional ones are False)
    have: dict[int, bool | frozenset[int]]
    skipped: bool = False  # the annotator skipped it: it needs nothing more from them
    flagged: bool = False  # someone flagged it for the reviewer


_TRACE_COLUMNS = ", ".join(f"t.{c}" for c in TraceRow._fields)
_SPAN_ROW_COLUMNS = ", ".join(SpanRow._fields)
_TRACE_ORDER = "coalesce(t.start_time, ''), t.trace_id"
# `ranked_matches` checks this many times the matches it returns against the queue first.
RANK_POOL_FACTOR = 20
# The `meta` key of the config definitions a merge set aside (`Store.save_config_document`).
CONFIG_SET_ASIDE_META = "config_set_aside"
# The `meta` key of when the config document's `guidelines:` last changed (merge: newest wins).
GUIDELINES_UPDATED_META = "guidelines_updated_at"


class Store:
    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self.created = False  # this Store created the file (see `close(discard_if_empty=)`)

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """Open (creating or upgrading when needed) the database at `path`.
        Raises StoreError with a one-line reason when the file cannot be used; a file that is
        not ours is left exactly as it was."""
        target = Path(path)
        existed = target.exists()
        try:
            conn = connect(target, readonly=readonly)
        except sqlite3.Error as error:
            reason = describe_error(error, target) or f"{target}: cannot open ({error})"
            raise StoreError(reason) from None
        try:
            if readonly:
                wait_for_lock(conn, lambda: _check_readable_version(conn, target))
            else:
                ensure_schema(conn, target)
                repair_trace_summaries(conn)
        except BaseException as error:
            close_connection(conn, readonly=readonly)
            if not existed:
                _remove_if_blank(target)
            if isinstance(error, sqlite3.Error) and describe_error(error, target):
                raise StoreError(describe_error(error, target)) from None
            raise
        store = cls(conn, target, readonly=readonly)
        store.created = not existed
        return store

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for annotator's own set-based core code only: team (stats,
        merge, dataset, agreement), annotations_io (export, import), phoenix (push, pull), the
        importer and config_changes, which write annotations only through `AnnotationBatch` so
        that every change is logged. The app and the command line never touch it (a test
        checks): they call the methods below, or hand the Store itself to the core."""
        return self._conn

    def close(self, *, discard_if_empty: bool = False) -> bool:
        """Close the connection; the last one to close a database leaves no -wal or -shm beside
        it. A process with several stores on one file (the app and its background worker) just
        closes each: whichever closes last does the clean-up.

        `discard_if_empty`: when this Store created the file and nothing was written to it (no
        spans, annotations or configs), remove it, so that a command that stored nothing leaves
        no database behind. Returns whether it was removed."""
        discard = discard_if_empty and self.created and not self.readonly and self._holds_nothing()
        close_connection(self._conn, readonly=self.readonly)
        if discard:
            _remove_database_files(self.path)
        return discard

    def _holds_nothing(self) -> bool:
        try:
            return not self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM spans) OR EXISTS (SELECT 1 FROM annotations) "
                "OR EXISTS (SELECT 1 FROM annotation_configs) OR EXISTS (SELECT 1 FROM meta) "
                "OR EXISTS (SELECT 1 FROM annotation_log)"
            ).fetchone()[0]
        except sqlite3.Error:
            return False

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- metadata and configs ----------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with write_transaction(self._conn):
            self._put_meta(key, value)

    def _put_meta(self, key: str, value: str | None) -> None:
        """Inside a write transaction: `key` set to `value`, or removed when it is None."""
        if value is None:
            self._conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
            )

    def save_config_document(
        self,
        document: dict[str, Any],
        *,
        updated_at: Mapping[str, str] | None = None,
        set_aside: Sequence[Mapping[str, Any]] | None = None,
        guidelines_updated_at: str | None = None,
        superseded: Iterable[str] = (),
    ) -> None:
        """Store a config set (its `to_document()` form): one row per config in
        `annotation_configs`, the whole document (with the `keys:` map) in `meta`.

        A config's ``updated_at`` is when its definition last changed: saving the same
        definition again keeps it (``annotator merge`` picks the newest definition of a name).
        `updated_at` gives it per name instead (merge and assign keep each definition's own;
        "" for one whose time is not known, which merge ranks as the oldest: never "now", so
        that merging the same files twice stores the same).

        `set_aside` (merge only): the definitions a merge did not choose, each
        ``{"name", "updated_at", "config"}``, stored in the same transaction under the `meta`
        key ``config_set_aside`` (none: the row is removed); None leaves that row as it is.
        `superseded`: names the user dropped, changed or gave a definition of their own; their
        set-aside definitions go, so that a later merge neither brings a dropped config back
        nor falls back on a definition the user replaced.

        When the document's ``guidelines:`` differ from the stored ones, `meta`
        ``guidelines_updated_at`` becomes now (merge keeps the newest guidelines);
        `guidelines_updated_at` gives it instead ("": not known, the row is removed)."""
        now = now_iso()
        with write_transaction(self._conn):
            if guidelines_updated_at is None and document.get("guidelines") != (
                self._stored_guidelines()
            ):
                guidelines_updated_at = now
            if guidelines_updated_at is not None:
                self._put_meta(GUIDELINES_UPDATED_META, guidelines_updated_at or None)
            gone = set(superseded)
            if set_aside is None and gone:
                set_aside = [e for e in self.load_config_set_aside() if e["name"] not in gone]
            previous = {
                name: (config, at)
                for name, config, at in self._conn.execute(
                    "SELECT name, config, updated_at FROM annotation_configs"
                )
            }
            self._conn.execute("DELETE FROM annotation_configs")
            for position, config in enumerate(document.get("annotations", [])):
                text = orjson.dumps(config).decode()
                kept = previous.get(config["name"])
                if updated_at is not None and config["name"] in updated_at:
                    at = updated_at[config["name"]]
                else:
                    at = kept[1] if kept is not None and kept[0] == text else now
                self._conn.execute(
                    "INSERT INTO annotation_configs (name, type, description, config, position, "
                    "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        config["name"],
                        str(config.get("type", "")).upper(),
                        config.get("description"),
                        text,
                        position,
                        at,
                    ),
                )
            self._put_meta("config_document", orjson.dumps(document).decode())
            if set_aside is not None:
                aside = orjson.dumps(list(set_aside)).decode() if set_aside else None
                self._put_meta(CONFIG_SET_ASIDE_META, aside)

    def load_config_document(self) -> dict[str, Any] | None:
        stored = self.get_meta("config_document")
        if stored:
            return orjson.loads(stored)
        rows = self._conn.execute(
            "SELECT config FROM annotation_configs ORDER BY position, name"
        ).fetchall()
        if not rows:
            return None
        return {"annotations": [orjson.loads(row[0]) for row in rows]}

    def _stored_guidelines(self) -> Any:
        try:
            stored = orjson.loads(self.get_meta("config_document") or "{}")
        except orjson.JSONDecodeError:
            return None
        return stored.get("guidelines") if isinstance(stored, dict) else None

    def load_config_set_aside(self) -> list[dict[str, Any]]:
        """The config definitions a merge set aside (`save_config_document`'s `set_aside`): not
        part of the config set, offered again to the next merge. Empty when there are none or
        the row is not a JSON list."""
        return config_set_aside_entries(self.get_meta(CONFIG_SET_ASIDE_META))

    def guidelines_updated_at(self) -> str:
        """When the stored ``guidelines:`` last changed; "" when not recorded (a database
        written before it was, or one that never had guidelines)."""
        return self.get_meta(GUIDELINES_UPDATED_META) or ""

    # --- what other connections changed (the app's live refresh) ------------------------------

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this connection: a different value once another
        connection (another process, or this process's writer thread) has committed."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def change_marks(self) -> tuple[int, int]:
        """(the newest annotation log entry, the newest span row): where `changes_since`
        starts. Both are the end of an index: cheap at any size."""
        seq = self._conn.execute("SELECT coalesce(max(seq), 0) FROM annotation_log").fetchone()
        span = self._conn.execute("SELECT coalesce(max(rowid), 0) FROM spans").fetchone()
        return int(seq[0]), int(span[0])

    def changes_since(
        self, marks: tuple[int, int], *, not_by: str, limit: int = 1000
    ) -> tuple[tuple[int, int], list[tuple[str, str | None, str | None]], bool]:
        """What was logged after `marks` by anyone but the actor `not_by` (a writer's own
        changes are known to it): (the new marks, (target, trace_id, session_id) of at most
        `limit` changed annotations, whether spans were added)."""
        seq, span = marks
        rows = self._conn.execute(
            "SELECT seq, actor, target, trace_id, session_id FROM annotation_log "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit + 1),
        ).fetchall()
        changed = [(r[2], r[3], r[4]) for r in rows if r[1] != not_by]
        new_seq = rows[-1][0] if len(rows) <= limit and rows else self.change_marks()[0]
        if len(rows) > limit:
            changed = changed[: limit + 1]  # more than `limit`: the caller refreshes everything
        new_span = self.change_marks()[1]
        return (max(seq, new_seq), new_span), changed, new_span > span

    # --- spans and traces ----------------------------------------------------------------------

    def span_writer(self) -> SpanWriter:
        return SpanWriter(self._conn)

    def counts(self) -> dict[str, int]:
        one = lambda sql: self._conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "spans": one("SELECT count(*) FROM spans"),
            "traces": one("SELECT count(*) FROM traces"),
            "sessions": one("SELECT count(DISTINCT session_id) FROM traces"),
            "annotations": one("SELECT count(*) FROM annotations"),
        }

    def get_span(self, span_id: str) -> Span | None:
        row = self._conn.execute(
            "SELECT span_id, trace_id, parent_id, name, span_kind, start_time, end_time, "
            "status_code, status_message, attributes, events, project, session_id "
            "FROM spans WHERE span_id = ?",
            (span_id,),
        ).fetchone()
        if row is None:
            return None
        values = list(row)
        values[9] = orjson.loads(values[9])
        values[10] = orjson.loads(values[10])
        return Span(*values)

    def trace(self, trace_id: str) -> TraceRow | None:
        row = self._conn.execute(
            f"SELECT {_TRACE_COLUMNS} FROM traces t WHERE t.trace_id = ?", (trace_id,)
        ).fetchone()
        return TraceRow(*row) if row else None

    def traces_by_ids(self, trace_ids: Sequence[str]) -> dict[str, TraceRow]:
        result: dict[str, TraceRow] = {}
        for chunk in _chunks(trace_ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces t WHERE t.trace_id IN ({marks})", chunk
            ):
                result[row[0]] = TraceRow(*row)
        return result

    def trace_previews(self, trace_ids: Sequence[str]) -> dict[str, str]:
        """Each trace's one-line preview of its root span's input (`semconv.input_preview`; ""
        when there is none). Reads only the input of the roots asked for: the app asks for the
        rows on screen, so the cost follows the screen, not the database."""
        result: dict[str, str] = {}
        for chunk in _chunks(trace_ids, 500):
            # Two paths: json_extract answers a JSON array of both (one parse of the attributes).
            rows = self._conn.execute(
                "SELECT t.trace_id, json_extract(s.attributes, '$.input', "
                "'$.llm.input_messages') FROM traces t JOIN spans s ON s.span_id = t.root_span_id "
                "WHERE t.trace_id IN (SELECT value FROM json_each(:traces))",
                {"traces": orjson.dumps(chunk).decode()},
            )
            for trace_id, found in rows:
                io, listed = orjson.loads(found)
                attributes: dict[str, Any] = {}
                if io is not None:
                    attributes["input"] = io
                if listed is not None:
                    attributes["llm"] = {"input_messages": listed}
                result[trace_id] = input_preview(attributes)
        for trace_id in trace_ids:
            result.setdefault(trace_id, "")
        return result

    def span_rows(self, trace_id: str) -> list[SpanRow]:
        rows = self._conn.execute(
            f"SELECT {_SPAN_ROW_COLUMNS} FROM spans WHERE trace_id = ? "
            "ORDER BY coalesce(start_time, ''), rowid",
            (trace_id,),
        ).fetchall()
        return [SpanRow(*row) for row in rows]

    # --- the queue ------------------------------------------------------------------------------
    # Every statement takes the configs as one JSON parameter (see annotator.store.queue): its
    # size does not grow with the number of configs.

    def trace_ids(
        self, queue: QueueFilter, configs: Iterable[ConfigLike], identifier: str
    ) -> list[str]:
        """Trace ids in display order: every trace when nothing is filtered (and `identifier`
        has no assignment here), else the traces that hold at least one span of the queue."""
        if queue == QueueFilter() and not self.has_assignment(identifier):
            sql = Sql(f"SELECT t.trace_id FROM traces t ORDER BY {_TRACE_ORDER}")
        else:
            member = filter_sql(queue, configs, identifier)
            sql = Sql(
                with_configs(
                    "SELECT t.trace_id FROM traces t WHERE EXISTS (SELECT 1 FROM spans s "
                    f"WHERE s.trace_id = t.trace_id AND {member.text}) ORDER BY {_TRACE_ORDER}"
                ),
                member.params,
            )
        return [row[0] for row in self._conn.execute(sql.text, sql.params)]

    def queue_marks(
        self,
        trace_id: str,
        queue: QueueFilter,
        configs: Iterable[ConfigLike],
        identifier: str,
    ) -> dict[str, bool]:
        """The spans of one trace that progress counts for this queue (`QueueFilter.scope`),
        each with whether it still needs `identifier`'s annotation."""
        configs = list(configs)
        member = filter_sql(queue.scope(), configs, identifier)
        needs = needs_sql(configs, identifier)
        rows = self._conn.execute(
            with_configs(
                f"SELECT s.span_id, ({needs.text}) FROM spans s JOIN traces t USING (trace_id) "
                f"WHERE s.trace_id = :trace AND ({member.text})"
            ),
            {**needs.params, **member.params, "trace": trace_id},
        )
        return {span_id: bool(needed) for span_id, needed in rows}

    def queue_progress(
        self, queue: QueueFilter, configs: Iterable[ConfigLike], identifier: str
    ) -> tuple[int, int]:
        """(done, total): spans in the queue's scope, and how many of them need nothing more."""
        configs = list(configs)
        member = filter_sql(queue.scope(), configs, identifier)
        needs = needs_sql(configs, identifier)
        done, total = self._conn.execute(
            with_configs(
                f"SELECT coalesce(sum(NOT ({needs.text})), 0), count(*) FROM spans s "
                f"JOIN traces t USING (trace_id) WHERE {member.text}"
            ),
            {**needs.params, **member.params},
        ).fetchone()
        return done, total

    def trace_progress(
        self,
        trace_ids: Sequence[str],
        configs: Iterable[ConfigLike],
        identifier: str,
        queue: QueueFilter | None = None,
    ) -> dict[str, tuple[int, int]]:
        """(done, total) of the spans of each trace in the queue's scope (default: unfiltered)."""
        configs = list(configs)
        member = filter_sql((queue or QueueFilter()).scope(), configs, identifier)
        needs = needs_sql(configs, identifier)
        result = dict.fromkeys(trace_ids, (0, 0))
        for chunk in _chunks(trace_ids, 500):
            rows = self._conn.execute(
                with_configs(
                    f"SELECT s.trace_id, sum(NOT ({needs.text})), count(*) FROM spans s "
                    "JOIN traces t USING (trace_id) "
                    "WHERE s.trace_id IN (SELECT value FROM json_each(:traces)) "
                    f"AND ({member.text}) GROUP BY s.trace_id"
                ),
                {**needs.params, **member.params, "traces": orjson.dumps(chunk).decode()},
            )
            for trace_id, done, total in rows:
                result[trace_id] = (done, total)
        return result

    def row_states(
        self,
        trace_id: str,
        queue: QueueFilter,
        configs: Sequence[ConfigLike],
        identifier: str,
        span_ids: Sequence[str] | None = None,
    ) -> dict[str, SpanState]:
        """For each span of a trace (or only `span_ids`): whether it is in the queue's scope,
        which of `configs` apply to it (by index) and, for the required ones, whether
        `identifier` has a value (for a document config: the positions that have one; an
        optional config is always False). Built from the same SQL fragments as `needs_sql`."""
        configs = list(configs)
        member = filter_sql(queue.scope(), configs, identifier)
        only = ""
        params: dict[str, Any] = {**member.params, "trace": trace_id}
        if span_ids is not None:
            only = " AND s.span_id IN (SELECT value FROM json_each(:spans))"
            params["spans"] = orjson.dumps(list(span_ids)).decode()
        rows = self._conn.execute(
            with_configs(
                f"SELECT s.span_id, s.document_count, ({member.text}), {SKIPPED}, {FLAGGED}, "
                "(SELECT json_group_array(json_array(c.idx, CASE WHEN NOT c.required THEN 0 "
                f"WHEN c.target = 'document' THEN json({DOCUMENT_POSITIONS}) ELSE {HAS} END)) "
                f"FROM cfg c WHERE {APPLIES}) "
                f"FROM spans s JOIN traces t USING (trace_id) WHERE s.trace_id = :trace{only}"
            ),
            params,
        )
        result: dict[str, SpanState] = {}
        for span_id, document_count, in_queue, skipped, flagged, applicable in rows:
            have: dict[int, bool | frozenset[int]] = {}
            for index, value in orjson.loads(applicable):
                have[index] = frozenset(value) if isinstance(value, list) else bool(value)
            result[span_id] = SpanState(
                span_id, document_count, bool(in_queue), have, bool(skipped), bool(flagged)
            )
        return result

    def next_queue_trace(
        self,
        after_trace_id: str | None,
        queue: QueueFilter,
        configs: Iterable[ConfigLike],
        identifier: str,
        *,
        backwards: bool = False,
        todo_only: bool = True,
    ) -> str | None:
        """The nearest trace after (or before) `after_trace_id`, in display order, that holds a
        queue span still needing `identifier` (or any queue span when not `todo_only`)."""
        configs = list(configs)
        member = filter_sql(queue, configs, identifier)
        if todo_only and queue.state != QueueState.TODO:
            member = member & needs_sql(configs, identifier)
        position = Sql("1")
        if after_trace_id is not None:
            op = "<" if backwards else ">"
            position = Sql(
                f"(coalesce(t.start_time, ''), t.trace_id) {op} (SELECT coalesce(start_time, ''),"
                " trace_id FROM traces WHERE trace_id = :after)",
                {"after": after_trace_id},
            )
        direction = "DESC" if backwards else "ASC"
        sql = with_configs(
            f"SELECT t.trace_id FROM traces t WHERE {position.text} AND EXISTS (SELECT 1 "
            f"FROM spans s WHERE s.trace_id = t.trace_id AND {member.text}) "
            f"ORDER BY coalesce(t.start_time, '') {direction}, t.trace_id {direction} LIMIT 1"
        )
        row = self._conn.execute(sql, {**position.params, **member.params}).fetchone()
        return row[0] if row else None

    def count_selected(
        self, where: FilterLike | None = None, trace_where: FilterLike | None = None
    ) -> int:
        """Spans matching a span filter and in traces matching a trace filter (the filter
        dialog's live count)."""
        condition = Sql("1")
        for expression in (where, trace_where):
            if expression:
                sql = expression.sql
                condition = Sql(
                    f"{condition.text} AND {sql.text}", {**condition.params, **sql.params}
                )
        return self._conn.execute(
            f"SELECT count(*) FROM spans s JOIN traces t USING (trace_id) WHERE {condition.text}",
            condition.params,
        ).fetchone()[0]

    # --- full-text search: the live count and the ranked walk ------------------------------------

    def _search_matches(
        self,
        queue: QueueFilter,
        configs: Iterable[ConfigLike],
        identifier: str,
        *,
        pool: int | None = None,
    ) -> Sql | None:
        """`FROM ... WHERE ...` over the spans of the queue matching its search: the index's
        matches (`hits`: rowid and rank; with `pool`, only the best `pool` of them) joined to
        `spans s` and `traces t`, the rest of the queue as a condition. None when the search
        holds no word."""
        query = fts_query(queue.text)
        if not query:
            return None
        member = filter_sql(replace(queue, text=""), configs, identifier)
        hits = "SELECT rowid, rank FROM span_search WHERE span_search MATCH :search"
        params: dict[str, Any] = {**member.params, "search": query}
        if pool is not None:
            hits += " ORDER BY rank LIMIT :pool"
            params["pool"] = pool
        return Sql(
            f"FROM ({hits}) hits JOIN spans s ON s.rowid = hits.rowid "
            f"JOIN traces t USING (trace_id) WHERE {member.text}",
            params,
        )

    def count_matches(
        self,
        queue: QueueFilter,
        configs: Iterable[ConfigLike],
        identifier: str,
        *,
        limit: int = SEARCH_COUNT_LIMIT,
    ) -> int:
        """How many spans of the queue match its search (`queue.text`), counted up to `limit`
        and no further (the search box's live count: `limit` means "that many or more"). 0 when
        the search holds no word."""
        matches = self._search_matches(queue, configs, identifier)
        if matches is None:
            return 0
        sql = with_configs(f"SELECT count(*) FROM (SELECT 1 {matches.text} LIMIT :limit)")
        return self._conn.execute(sql, {**matches.params, "limit": limit}).fetchone()[0]

    def ranked_matches(
        self,
        queue: QueueFilter,
        configs: Iterable[ConfigLike],
        identifier: str,
        *,
        limit: int = RANKED_LIMIT,
    ) -> list[RankedMatch]:
        """The best `limit` spans of the queue for its search, best first: FTS5's `rank`
        (bm25 over the name and the content; ties in import order).

        Bounded: the index ranks its matches and keeps the best RANK_POOL_FACTOR × `limit`,
        and only those are checked against the rest of the queue. When `limit` of them are in
        the queue they are exactly its best (every other match ranks below them); only when
        the queue keeps fewer (a narrow queue, a common word) are all matches checked."""
        pool = limit * RANK_POOL_FACTOR
        for bound in (pool, None):
            matches = self._search_matches(queue, configs, identifier, pool=bound)
            if matches is None:
                return []
            sql = with_configs(
                f"SELECT s.span_id, s.trace_id, s.name, hits.rank {matches.text} "
                "ORDER BY hits.rank, s.rowid LIMIT :limit"
            )
            found = [
                RankedMatch(*row)
                for row in self._conn.execute(sql, {**matches.params, "limit": limit})
            ]
            if len(found) == limit or bound is None:
                return found
            total = self._conn.execute(
                "SELECT count(*) FROM span_search WHERE span_search MATCH :search",
                {"search": matches.params["search"]},
            ).fetchone()[0]
            if total <= pool:
                return found  # the pool held every match
        return []

    # Recent filter expressions, per database and kind ('where' / 'trace_where'), newest first.
    RECENT_FILTERS = 20

    def recent_filters(self, kind: str) -> list[str]:
        stored = self.get_meta(f"recent_filters:{kind}")
        try:
            found = orjson.loads(stored) if stored else []
        except orjson.JSONDecodeError:
            return []  # a hand-edited value: start afresh rather than fail
        if not isinstance(found, list):
            return []
        return [text for text in found if isinstance(text, str)][: self.RECENT_FILTERS]

    def remember_filter(self, kind: str, text: str) -> list[str]:
        """Puts `text` first in the recent expressions of `kind` (once; blank ones are not
        kept) and returns the list."""
        text = text.strip()
        recent = self.recent_filters(kind)
        if not text:
            return recent
        recent = [text, *(t for t in recent if t != text)][: self.RECENT_FILTERS]
        self.set_meta(f"recent_filters:{kind}", orjson.dumps(recent).decode())
        return recent

    def span_kinds(self) -> list[str]:
        """The span kinds present, sorted (for the filter dialog)."""
        rows = self._conn.execute("SELECT DISTINCT span_kind FROM spans ORDER BY 1")
        return [row[0] for row in rows]

    def my_contribution_counts(self, identifier: str) -> Contributions:
        """The annotations and the notes `identifier` made as a person. A note's identifier is
        its own (Phoenix's `px-span-note:<uuid>` form); its author is `metadata.author`."""
        annotations, notes = self._conn.execute(
            "SELECT count(*) FILTER (WHERE name != :note AND identifier = :who), "
            "count(*) FILTER (WHERE name = :note AND (identifier = :who OR (json_valid(metadata)"
            " AND json_extract(metadata, '$.author') = :who))) "
            "FROM annotations WHERE annotator_kind = 'HUMAN'",
            {"note": NOTE_NAME, "who": identifier},
        ).fetchone()
        return Contributions(annotations, notes)

    # --- annotations ----------------------------------------------------------------------------

    def annotations_on_span(self, span_id: str) -> list[Annotation]:
        """Span and document annotations on this span, every annotator."""
        return self._annotations("span_id = ? AND target IN ('span', 'document')", span_id)

    def annotations_on_trace(self, trace_id: str) -> list[Annotation]:
        return self._annotations("trace_id = ? AND target = 'trace'", trace_id)

    def annotations_on_session(self, session_id: str) -> list[Annotation]:
        return self._annotations("session_id = ? AND target = 'session'", session_id)

    def _annotations(self, where: str, *params: Any) -> list[Annotation]:
        rows = self._conn.execute(
            f"SELECT {', '.join(annotation_ops.COLUMNS)} FROM annotations WHERE {where} "
            "ORDER BY name, coalesce(document_position, -1), annotator_kind, identifier",
            params,
        ).fetchall()
        return [annotation_ops.row_to_annotation(row) for row in rows]

    def find_annotation(self, key: AnnotationKey) -> Annotation | None:
        return annotation_ops.find(self._conn, key)

    def set_annotation(self, annotation: Annotation, *, actor: str | None = None) -> Annotation:
        """Insert or update (by target, ids, document position, name, identifier); committed
        with its log entry before this returns."""
        return annotation_ops.set_annotation(
            self._conn, annotation, actor=actor if actor is not None else annotation.identifier
        )

    def delete_annotation(
        self, key: AnnotationKey, *, actor: str | None = None
    ) -> Annotation | None:
        return annotation_ops.delete_annotation(
            self._conn, key, actor=actor if actor is not None else key.identifier
        )

    def undo(self, actor: str) -> Change | None:
        return annotation_ops.undo(self._conn, actor)

    def redo(self, actor: str) -> Change | None:
        return annotation_ops.redo(self._conn, actor)

    @contextmanager
    def annotation_batch(self, *, action: str) -> Iterator[AnnotationBatch]:
        """One write transaction for many annotation writes and their log entries (import,
        pull, merge: `AnnotationBatch` has the rules). What else the block runs on
        `connection` commits with them, or rolls back with them on an error."""
        with write_transaction(self._conn):
            batch = AnnotationBatch(self._conn, action=action)
            yield batch
            batch.flush()

    def annotation_counts_by_identifier(self) -> list[tuple[str, int]]:
        """(identifier, how many annotations), the most first (``annotate --reset`` says what
        it would delete)."""
        return self._conn.execute(
            "SELECT identifier, count(*) FROM annotations GROUP BY identifier "
            "ORDER BY count(*) DESC, identifier"
        ).fetchall()

    # --- campaigns: final values, skips and flags, assignments (annotator.store.campaign) -----

    def set_final(
        self,
        annotation: Annotation,
        *,
        reviewer: str,
        decided_by: str = campaign.REVIEWER,
    ) -> Annotation:
        """Record the final value of an item: `annotation`'s target, ids, document position,
        name, label, score and explanation, stored under the identifier `FINAL` (annotator
        kind HUMAN), its metadata saying who decided and the raters' votes at that moment.
        Logged with actor `reviewer`, so `undo(reviewer)` takes it back like any change."""
        final = Annotation(**annotation_ops.annotation_to_dict(annotation))
        final.id = None
        final.identifier = campaign.FINAL
        final.annotator_kind = "HUMAN"
        final.source = "APP"
        final.created_at = final.updated_at = None
        key = AnnotationKey.of(final)
        final.metadata = campaign.final_metadata(decided_by, self.votes(key), reviewer=reviewer)
        return annotation_ops.set_annotation(self._conn, final, actor=reviewer)

    def clear_final(self, key: AnnotationKey, *, reviewer: str) -> Annotation | None:
        """Remove the final value of the item `key` is about (any identifier in `key`); logged
        with actor `reviewer`. Returns what was removed."""
        return annotation_ops.delete_annotation(self._conn, _final_key(key), actor=reviewer)

    def final_value(self, key: AnnotationKey) -> Annotation | None:
        """The final value of the item `key` is about (its identifier is ignored), or None."""
        return annotation_ops.find(self._conn, _final_key(key))

    def final_values(self) -> list[Annotation]:
        """Every final value, by name and item."""
        return self._annotations("identifier = ? AND annotator_kind = 'HUMAN'", campaign.FINAL)

    def votes(self, key: AnnotationKey) -> dict[str, str | float]:
        """The raters' values on the item `key` is about (its identifier is ignored): people
        (annotator kind HUMAN) other than `FINAL`, each their label, or their score when they
        gave no label. Values without either (a text) are not votes."""
        rows = self._conn.execute(
            "SELECT identifier, label, score FROM annotations WHERE target = ? "
            f"AND ({TARGET_ID_SQL}) = ? AND coalesce(document_position, -1) = ? AND name = ? "
            "AND annotator_kind = 'HUMAN' AND identifier != ? "
            "AND (label IS NOT NULL OR score IS NOT NULL) ORDER BY identifier",
            (*_final_key(key).params()[:4], campaign.FINAL),
        )
        return {who: label if label is not None else score for who, label, score in rows}

    def skip(self, span_id: str, annotator: str, reason: str = "") -> Mark:
        """`annotator` skips the span (a trace row: its root span): it leaves their to-do queue
        and counts as skipped. Logged: `undo(annotator)` takes it back."""
        return campaign.set_mark(self._conn, campaign.SKIP, annotator, span_id, reason)

    def unskip(self, span_id: str, annotator: str) -> Mark | None:
        return campaign.remove_mark(self._conn, campaign.SKIP, annotator, span_id)

    def flag(self, span_id: str, annotator: str, reason: str = "") -> Mark:
        """`annotator` flags the span for the reviewer, with an optional reason (flagging it
        again replaces the reason). Logged: `undo(annotator)` takes it back."""
        return campaign.set_mark(self._conn, campaign.FLAG, annotator, span_id, reason)

    def unflag(self, span_id: str, annotator: str) -> Mark | None:
        return campaign.remove_mark(self._conn, campaign.FLAG, annotator, span_id)

    def marks(
        self,
        *,
        kind: str | None = None,
        annotator: str | None = None,
        span_id: str | None = None,
        trace_id: str | None = None,
    ) -> list[Mark]:
        """Skips and flags, oldest first; each argument given narrows the list."""
        return campaign.list_marks(
            self._conn, kind=kind, annotator=annotator, span_id=span_id, trace_id=trace_id
        )

    def mark_counts(self, annotator: str | None = None) -> dict[str, int]:
        """{"skip": n, "flag": m} of one annotator, or of everyone."""
        return campaign.mark_counts(self._conn, annotator)

    def assignments(self, annotator: str | None = None) -> list[Assignment]:
        return campaign.list_assignments(self._conn, annotator)

    def batch_owner(self) -> str | None:
        """The annotator this database was handed out to by ``assign`` (None: not a batch)."""
        return self.get_meta(campaign.OWNER_META)

    def has_assignment(self, annotator: str) -> bool:
        """Whether `annotator` has assigned items here: then their queue is the assignment."""
        return campaign.has_assignment(self._conn, annotator)

    def campaign_items(
        self, configs: Iterable[ConfigLike], target: str, *, selection: Sql | None = None
    ) -> list[tuple[str, str]]:
        """What ``assign`` can hand out, as (item id, trace id) in display order: spans a
        required config applies to (`target` "span"), or traces holding one ("trace").
        `selection`: a condition on span `s` joined with its trace `t` (annotator.query's
        `Selection.sql`) the span must meet too."""
        scope = in_scope_sql(configs)
        condition = scope.text
        params: dict[str, Any] = dict(scope.params)
        if selection is not None:
            condition += f" AND ({selection.text})"
            params.update(selection.params)
        if target == "span":
            sql = (
                "SELECT s.span_id, s.trace_id FROM spans s JOIN traces t USING (trace_id) "
                f"WHERE {condition} ORDER BY {_TRACE_ORDER}, coalesce(s.start_time, ''), s.rowid"
            )
        else:
            sql = (
                "SELECT t.trace_id, t.trace_id FROM traces t WHERE EXISTS (SELECT 1 FROM spans s "
                f"WHERE s.trace_id = t.trace_id AND {condition}) ORDER BY {_TRACE_ORDER}"
            )
        return [(a, b) for a, b in self._conn.execute(with_configs(sql), params)]

    def config_times(self) -> dict[str, str]:
        """When each stored config's definition last changed (name -> updated_at)."""
        return dict(self._conn.execute("SELECT name, updated_at FROM annotation_configs"))

    def add_assignments(self, assignments: Iterable[Assignment]) -> int:
        """Add assignments (one already there is kept); returns how many were new."""
        with write_transaction(self._conn):
            return campaign.add_assignments(self._conn, assignments)

    def set_busy_timeout(self, milliseconds: int) -> None:
        """How long a write waits for another process's lock before SQLITE_BUSY."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    def rollback(self) -> None:
        """Roll back a transaction left open (a COMMIT refused for a full disk can leave one)."""
        rollback(self._conn)

    def integrity_check(self) -> str:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0]


def _final_key(key: AnnotationKey) -> AnnotationKey:
    return AnnotationKey(key.target, key.target_id, key.document_position, key.name, campaign.FINAL)


def connection_of(source: Store | sqlite3.Connection) -> sqlite3.Connection:
    """The connection of a Store, or the connection itself: for core functions that take
    either (the command line hands them the Store, never its connection)."""
    return source.connection if isinstance(source, Store) else source


def _check_readable_version(conn: sqlite3.Connection, path: Path) -> None:
    from annotator.store.schema import READABLE_SINCE, SCHEMA_VERSION

    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == 0:
        raise StoreError(f"{path}: not an annotator database")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer annotator (schema version {version}; this one knows "
            f"{SCHEMA_VERSION}). Upgrade annotator to open it."
        )
    # An older file read-only cannot be upgraded: read it as it is when the queries can.
    if version < READABLE_SINCE:
        raise StoreError(
            f"{path}: schema version {version} is old; open it once read-write to upgrade"
        )


def _remove_if_blank(path: Path) -> None:
    """After a failed first open: remove the file this process created unless it holds a
    schema by now (another process creating the same file at the same moment keeps its own)."""
    try:
        if inspect_database(path).kind != EMPTY:
            return
    except StoreError:
        return
    _remove_database_files(path)


def _remove_database_files(path: Path) -> None:
    """Remove a database this process created (and nobody else can have written to yet)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with suppress(OSError):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _chunks(items: Sequence[str], size: int) -> Iterable[list[str]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
