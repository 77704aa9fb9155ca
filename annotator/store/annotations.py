"""Annotation writes, each logged with its before and after image, and undo/redo from that log.

Every public function here runs one `BEGIN IMMEDIATE` transaction and has committed when it
returns: the row and its log entry land together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from annotator.model import Annotation, Target
from annotator.store.campaign import MARK_ACTIONS, Mark, revert_mark
from annotator.store.db import write_transaction
from annotator.store.schema import TARGET_ID_SQL
from annotator.timeutil import now_iso

COLUMNS = (
    "id", "target", "span_id", "trace_id", "session_id", "document_position", "name", "label",
    "score", "explanation", "annotator_kind", "source", "identifier", "metadata", "created_at",
    "updated_at",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM annotations"
_KEY_WHERE = (
    f"target = ? AND ({TARGET_ID_SQL}) = ? AND coalesce(document_position, -1) = ? "
    "AND name = ? AND identifier = ?"
)
_RESULT_FIELDS = ("label", "score", "explanation")


class AnnotationError(ValueError):
    """An annotation that cannot be stored (missing ids, unknown target...)."""


@dataclass(frozen=True, slots=True)
class AnnotationKey:
    """What makes an annotation unique (Phoenix's upsert key plus the document position)."""

    target: str
    target_id: str
    document_position: int | None
    name: str
    identifier: str

    @classmethod
    def of(cls, annotation: Annotation) -> AnnotationKey:
        target = Target(annotation.target)
        target_id = {
            Target.SPAN: annotation.span_id,
            Target.DOCUMENT: annotation.span_id,
            Target.TRACE: annotation.trace_id,
            Target.SESSION: annotation.session_id,
        }[target]
        if not target_id:
            raise AnnotationError(f"a {target.value} annotation needs its {target.value} id")
        if (target is Target.DOCUMENT) != (annotation.document_position is not None):
            raise AnnotationError("document_position is required for, and only for, documents")
        return cls(
            target.value,
            target_id,
            annotation.document_position,
            annotation.name,
            annotation.identifier or "",
        )

    def params(self) -> tuple:
        position = -1 if self.document_position is None else self.document_position
        return (self.target, self.target_id, position, self.name, self.identifier)


@dataclass(frozen=True, slots=True)
class Change:
    """One logged change, as undo/redo report it to the app."""

    seq: int
    action: str
    before: Annotation | None
    after: Annotation | None
    # An undo/redo of a skip or flag (`Store.skip` ...): the mark before and after it; then
    # `before` and `after` are None.
    mark_before: Mark | None = None
    mark_after: Mark | None = None

    @property
    def is_mark(self) -> bool:
        return self.mark_before is not None or self.mark_after is not None

    @property
    def annotation(self) -> Annotation:
        result = self.after or self.before
        assert result is not None, "a mark change has no annotation: see is_mark"
        return result

    @property
    def mark(self) -> Mark:
        result = self.mark_after or self.mark_before
        assert result is not None, "an annotation change has no mark: see is_mark"
        return result


def row_to_annotation(row: sqlite3.Row | tuple) -> Annotation:
    values = dict(zip(COLUMNS, row, strict=True))
    values["metadata"] = orjson.loads(values["metadata"]) if values["metadata"] else {}
    return Annotation(**values)


def annotation_to_dict(annotation: Annotation) -> dict[str, Any]:
    return {column: getattr(annotation, column) for column in COLUMNS}


def find(conn: sqlite3.Connection, key: AnnotationKey) -> Annotation | None:
    row = conn.execute(f"{_SELECT} WHERE {_KEY_WHERE}", key.params()).fetchone()
    return row_to_annotation(row) if row else None


def set_annotation(
    conn: sqlite3.Connection, annotation: Annotation, *, actor: str, action: str = "set"
) -> Annotation:
    """Insert or update by key; returns the stored row. A write that changes nothing is not
    logged (re-pressing the same label must not fill the undo history)."""
    key = AnnotationKey.of(annotation)
    with write_transaction(conn):
        return _set_in_transaction(conn, annotation, key, actor=actor, action=action)


def _set_in_transaction(
    conn: sqlite3.Connection,
    annotation: Annotation,
    key: AnnotationKey,
    *,
    actor: str,
    action: str,
    reverts: int | None = None,
) -> Annotation:
    """Stamps updated_at (and created_at of a new row) with the current time. An undo/redo
    (`reverts` set) restores the row's id and created_at but still stamps updated_at, so that a
    merge sees the undo as the newest change."""
    before = find(conn, key)
    stored = _with_context(conn, annotation)
    if before is not None and reverts is None and _same_result(before, stored):
        return before
    now = now_iso()
    stored.updated_at = now
    if before is not None:
        stored.id = before.id
        stored.created_at = before.created_at
        values = annotation_to_dict(stored)
        assignments = ", ".join(f"{c} = :{c}" for c in COLUMNS if c != "id")
        conn.execute(f"UPDATE annotations SET {assignments} WHERE id = :id", _bind(values))
    else:
        restoring = reverts is not None
        if not restoring or not stored.created_at:
            stored.created_at = now
        values = annotation_to_dict(stored)
        if not restoring or stored.id is None or _id_taken(conn, stored.id):
            values.pop("id")
        cursor = conn.execute(
            f"INSERT INTO annotations ({', '.join(values)}) "
            f"VALUES ({', '.join(':' + n for n in values)})",
            _bind(values),
        )
        stored.id = cursor.lastrowid
    _log(conn, action, actor, key, stored, before, stored, reverts)
    return stored


def delete_annotation(
    conn: sqlite3.Connection, key: AnnotationKey, *, actor: str, action: str = "delete"
) -> Annotation | None:
    """Remove the annotation with this key; returns what was removed (None if nothing was)."""
    with write_transaction(conn):
        return _delete_in_transaction(conn, key, actor=actor, action=action)


def _delete_in_transaction(
    conn: sqlite3.Connection,
    key: AnnotationKey,
    *,
    actor: str,
    action: str,
    reverts: int | None = None,
) -> Annotation | None:
    before = find(conn, key)
    if before is None:
        return None
    conn.execute("DELETE FROM annotations WHERE id = ?", (before.id,))
    _log(conn, action, actor, key, before, before, None, reverts)
    return before


@dataclass(slots=True)
class ImportCounts:
    """What `import_annotations` did: rows inserted, rows changed, rows already identical."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


# Compared to decide whether an imported annotation changes the stored row.
_IMPORT_FIELDS = ("label", "score", "explanation", "annotator_kind", "source", "metadata")

# `AnnotationBatch.put(before=LOOKUP)`: find the stored row by the annotation's key.
LOOKUP: Any = object()

_INSERT_COLUMNS = COLUMNS  # with the id: the batch numbers new rows itself
_INSERT_SQL = (
    f"INSERT INTO annotations ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
)
_UPDATE_SQL = f"UPDATE annotations SET {', '.join(f'{c} = ?' for c in COLUMNS[1:])} WHERE id = ?"
_LOG_SQL = (
    "INSERT INTO annotation_log (at, actor, action, annotation_id, target, span_id, trace_id, "
    "session_id, document_position, name, identifier, before, after, reverts) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
)


class AnnotationBatch:
    """The one path for writing many annotations at once (``annotator import``, ``pull``,
    ``merge``): each change goes in with its log entry, inside the caller's write transaction
    (`Store.annotation_batch` opens one), in batches of `size` rows.

    The rules are those of `import_annotations` (which is this batch over one file):

    * the key is `AnnotationKey.of` (an annotation without a valid key raises AnnotationError);
      a stored row with that key is updated, else a row is inserted. The stored row is looked
      up by key unless the caller already has it (`put(before=...)`, as merge does);
    * times are kept: created_at / updated_at come from the annotation when it has them. A new
      row given only one of them gets it for both; given neither, the current time for both.
      An updated row given none keeps its created_at and gets updated_at = now. "Now" is one
      moment for the whole batch (its log entries' ``at`` too);
    * an annotation is *unchanged*, neither written nor logged, when label, score,
      explanation, annotator_kind, source and metadata equal the stored row's, and so do
      created_at and updated_at where the annotation has them;
    * as in `set_annotation`, a span or document annotation gets its span's trace and session
      ids when it lacks them, a trace annotation its trace's session, and the identifier
      defaults to "". Each row's `source` is stored as given;
    * each change is logged with the batch's `action`, the item's `actor` and the row before
      and after (every column, metadata as an object).
    """

    def __init__(self, conn: sqlite3.Connection, *, action: str, size: int = 2000) -> None:
        if not conn.in_transaction:
            raise RuntimeError("AnnotationBatch needs the caller's write transaction")
        self._conn = conn
        self.action = action
        self.size = size
        self.now = now_iso()
        self.counts = ImportCounts()
        self._next_id = (conn.execute("SELECT max(id) FROM annotations").fetchone()[0] or 0) + 1
        # (stored row, row before, actor) not written yet, and their keys' parameters
        self._pending: list[tuple[Annotation, Annotation | None, str]] = []
        self._pending_keys: set[tuple] = set()

    def put(self, annotation: Annotation, *, actor: str, before: Any = LOOKUP) -> str:
        """Stage one annotation; returns "new", "updated" or "unchanged". `before`: the row
        stored under its key (None: there is none), when the caller knows it."""
        key = AnnotationKey.of(annotation)
        params = key.params()
        if before is LOOKUP:
            if params in self._pending_keys:  # the same key again: see the staged row
                self.flush()
            before = find(self._conn, key)
        incoming = _copy(annotation)
        if before is not None and _same_import(before, incoming):
            self.counts.unchanged += 1
            return "unchanged"
        if before is not None:
            incoming.id = before.id
            incoming.created_at = incoming.created_at or before.created_at
            incoming.updated_at = incoming.updated_at or self.now
            self.counts.updated += 1
        else:
            incoming.id = self._next_id
            self._next_id += 1
            incoming.updated_at = incoming.updated_at or incoming.created_at or self.now
            incoming.created_at = incoming.created_at or incoming.updated_at
            self.counts.new += 1
        self._pending.append((incoming, before, actor))
        self._pending_keys.add(params)
        if len(self._pending) >= self.size:
            self.flush()
        return "new" if before is None else "updated"

    def delete(self, key: AnnotationKey, *, actor: str) -> Annotation | None:
        """Remove the annotation with this key (logged as a 'delete' by `actor`); returns what
        was removed. What is staged is written first."""
        self.flush()
        return _delete_in_transaction(self._conn, key, actor=actor, action="delete")

    def flush(self) -> None:
        """Write what is staged (the caller's transaction commits it)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_keys = set()
        _fill_contexts(self._conn, [row for row, _, _ in pending])
        inserts, updates, logs = [], [], []
        dumps = orjson.dumps
        for row, before, actor in pending:
            values = annotation_to_dict(row)
            after_image = dumps(values).decode()
            values["metadata"] = dumps(row.metadata).decode()
            if before is None:
                inserts.append(tuple(values.values()))
            else:
                updates.append((*list(values.values())[1:], row.id))
            logs.append(
                (
                    self.now,
                    actor,
                    self.action,
                    row.id,
                    row.target,
                    row.span_id,
                    row.trace_id,
                    row.session_id,
                    row.document_position,
                    row.name,
                    row.identifier,
                    _image(before),
                    after_image,
                )
            )
        self._conn.executemany(_UPDATE_SQL, updates)
        self._conn.executemany(_INSERT_SQL, inserts)
        self._conn.executemany(_LOG_SQL, logs)


def import_annotations(
    conn: sqlite3.Connection,
    annotations: Iterable[Annotation],
    *,
    actor: str,
    action: str = "import",
) -> ImportCounts:
    """Insert or update many annotations in ONE write transaction (all or nothing), by the
    same key as `set_annotation`, each change logged with its before and after image: an
    `AnnotationBatch` (its docstring has the rules on times, unchanged rows and context ids).

    `annotations` may be a generator: it is consumed inside the transaction. An annotation
    without a valid key raises AnnotationError, which rolls the whole batch back: check keys
    (``AnnotationKey.of``) before handing them over.
    """
    with write_transaction(conn):
        batch = AnnotationBatch(conn, action=action)
        for annotation in annotations:
            batch.put(annotation, actor=actor)
        batch.flush()
    return batch.counts


def _same_import(stored: Annotation, incoming: Annotation) -> bool:
    if any(getattr(stored, f) != getattr(incoming, f) for f in _IMPORT_FIELDS):
        return False
    return all(
        getattr(incoming, f) is None or getattr(incoming, f) == getattr(stored, f)
        for f in ("created_at", "updated_at")
    )


def _same_result(a: Annotation, b: Annotation) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in _RESULT_FIELDS) and (
        a.annotator_kind == b.annotator_kind
    )


def _id_taken(conn: sqlite3.Connection, annotation_id: int) -> bool:
    return (
        conn.execute("SELECT 1 FROM annotations WHERE id = ?", (annotation_id,)).fetchone()
        is not None
    )


def _with_context(conn: sqlite3.Connection, annotation: Annotation) -> Annotation:
    """A copy with the span's trace and session filled in, so that per-trace and per-session
    questions need no join."""
    copy = Annotation(**annotation_to_dict(annotation))
    copy.identifier = copy.identifier or ""
    copy.metadata = dict(annotation.metadata or {})
    if copy.target in (Target.SPAN, Target.DOCUMENT) and (not copy.trace_id or not copy.session_id):
        row = conn.execute(
            "SELECT trace_id, session_id FROM spans WHERE span_id = ?", (copy.span_id,)
        ).fetchone()
        if row:
            copy.trace_id = copy.trace_id or row[0]
            copy.session_id = copy.session_id or row[1]
    elif copy.target == Target.TRACE and not copy.session_id:
        row = conn.execute(
            "SELECT session_id FROM traces WHERE trace_id = ?", (copy.trace_id,)
        ).fetchone()
        if row:
            copy.session_id = row[0]
    return copy


def _copy(annotation: Annotation) -> Annotation:
    copy = Annotation(**annotation_to_dict(annotation))
    copy.identifier = copy.identifier or ""
    copy.metadata = dict(annotation.metadata or {})
    return copy


def _fill_contexts(conn: sqlite3.Connection, rows: list[Annotation]) -> None:
    """`_with_context` for many rows: one query for the spans, one for the traces."""
    spans = {
        row.span_id
        for row in rows
        if row.target in (Target.SPAN, Target.DOCUMENT) and (not row.trace_id or not row.session_id)
    }
    traces = {row.trace_id for row in rows if row.target == Target.TRACE and not row.session_id}
    span_context = {
        span_id: (trace_id, session_id)
        for chunk in _chunks(sorted(spans, key=str))
        for span_id, trace_id, session_id in conn.execute(
            "SELECT span_id, trace_id, session_id FROM spans "
            "WHERE span_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(chunk).decode(),),
        )
    }
    trace_session = {
        trace_id: session_id
        for chunk in _chunks(sorted(traces, key=str))
        for trace_id, session_id in conn.execute(
            "SELECT trace_id, session_id FROM traces "
            "WHERE trace_id IN (SELECT value FROM json_each(?))",
            (orjson.dumps(chunk).decode(),),
        )
    }
    for row in rows:
        if row.target in (Target.SPAN, Target.DOCUMENT):
            found = span_context.get(row.span_id)
            if found is not None:
                row.trace_id = row.trace_id or found[0]
                row.session_id = row.session_id or found[1]
        elif row.target == Target.TRACE and not row.session_id:
            row.session_id = trace_session.get(row.trace_id) or row.session_id


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _bind(values: dict[str, Any]) -> dict[str, Any]:
    bound = dict(values)
    bound["metadata"] = orjson.dumps(values.get("metadata") or {}).decode()
    return bound


def _log(
    conn: sqlite3.Connection,
    action: str,
    actor: str,
    key: AnnotationKey,
    row: Annotation,
    before: Annotation | None,
    after: Annotation | None,
    reverts: int | None,
    *,
    at: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO annotation_log (at, actor, action, annotation_id, target, span_id, trace_id, "
        "session_id, document_position, name, identifier, before, after, reverts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            at or now_iso(),
            actor,
            action,
            row.id,
            key.target,
            row.span_id,
            row.trace_id,
            row.session_id,
            key.document_position,
            key.name,
            key.identifier,
            _image(before),
            _image(after),
            reverts,
        ),
    )


def _image(annotation: Annotation | None) -> str | None:
    if annotation is None:
        return None
    return orjson.dumps(annotation_to_dict(annotation)).decode()


def _from_image(image: str | None) -> Annotation | None:
    if image is None:
        return None
    return Annotation(**orjson.loads(image))


# --- undo / redo -------------------------------------------------------------------------------
# The log is the undo history, so it survives restarts. Replaying an actor's entries rebuilds
# both stacks: a change pushes onto undo and clears redo; an undo moves its entry to redo; a redo
# moves it back.

_UNDOABLE = ("set", "delete", *MARK_ACTIONS)  # marks: skips and flags (annotator.store.campaign)


def _stacks(conn: sqlite3.Connection, actor: str) -> tuple[list[int], list[int]]:
    undo: list[int] = []
    redo: list[int] = []
    for seq, action, reverts in conn.execute(
        "SELECT seq, action, reverts FROM annotation_log WHERE actor = ? "
        "AND action IN ('set', 'delete', 'mark', 'unmark', 'undo', 'redo') ORDER BY seq",
        (actor,),
    ):
        if action in _UNDOABLE:
            undo.append(seq)
            redo.clear()
        elif action == "undo":
            if reverts in undo:
                undo.remove(reverts)
            redo.append(reverts)
        elif reverts in redo:
            redo.remove(reverts)
            undo.append(reverts)
    return undo, redo


def undo(conn: sqlite3.Connection, actor: str) -> Change | None:
    """Put back what `actor`'s latest not-yet-undone change replaced. None: nothing to undo."""
    return _travel(conn, actor, backwards=True)


def redo(conn: sqlite3.Connection, actor: str) -> Change | None:
    return _travel(conn, actor, backwards=False)


def _travel(conn: sqlite3.Connection, actor: str, *, backwards: bool) -> Change | None:
    with write_transaction(conn):
        undo_stack, redo_stack = _stacks(conn, actor)
        stack = undo_stack if backwards else redo_stack
        if not stack:
            return None
        seq = stack[-1]
        original, before_image, after_image = conn.execute(
            "SELECT action, before, after FROM annotation_log WHERE seq = ?", (seq,)
        ).fetchone()
        action = "undo" if backwards else "redo"
        if original in MARK_ACTIONS:
            wanted_mark = Mark.from_image(before_image if backwards else after_image)
            other = Mark.from_image(after_image if backwards else before_image)
            assert wanted_mark is not None or other is not None
            was, now = revert_mark(
                conn,
                actor,
                action,
                seq,
                wanted_mark,
                other or wanted_mark,  # type: ignore[arg-type]
            )
            new_seq = conn.execute("SELECT max(seq) FROM annotation_log").fetchone()[0]
            return Change(new_seq, action, None, None, was, now)
        wanted = _from_image(before_image if backwards else after_image)
        replaced = _from_image(after_image if backwards else before_image)
        assert wanted is not None or replaced is not None
        key = AnnotationKey.of(wanted or replaced)  # type: ignore[arg-type]
        current = find(conn, key)
        if wanted is None:
            _delete_in_transaction(conn, key, actor=actor, action=action, reverts=seq)
            if current is None:  # already gone (someone else removed it): still record the step
                _log(conn, action, actor, key, replaced, None, None, seq)  # type: ignore[arg-type]
        else:
            _set_in_transaction(conn, wanted, key, actor=actor, action=action, reverts=seq)
        new_seq = conn.execute("SELECT max(seq) FROM annotation_log").fetchone()[0]
        return Change(new_seq, action, current, find(conn, key))
