"""Campaigns in the store: assignments (who has which item), skips and flags, final values.

* **Final values** are annotations whose identifier is `FINAL` ("final"), annotator kind HUMAN:
  one per item (target, id, document position, name) by the annotation key itself, valid as they
  are in Phoenix (an annotation by the identifier "final"). Their metadata says how they were
  decided (`decided_by`: reviewer / majority / unanimous, `reviewer`, `votes`). They are never a
  rater: agreement, per-annotator counts and the queues of raters leave them out.
* **Assignments** are rows of `assignments` (schema version 3), written by ``annotator assign``.
  An annotator who has any is restricted to them in the queue (annotator.store.queue).
* **Marks** (a skip or a flag of a span by an annotator, with a reason) are rows of `item_marks`.
  Each change is logged in `annotation_log` (action ``mark`` or ``unmark``, name = the kind,
  identifier = the annotator, before/after = the mark row as JSON), so undo and redo walk
  marks and annotation writes as one history.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from annotator.store.db import write_transaction
from annotator.timeutil import now_iso

FINAL = "final"  # the reserved identifier of final values
# meta keys of a batch written by ``annotator assign``: its campaign id and its annotator
CAMPAIGN_META = "campaign"
OWNER_META = "campaign_annotator"
SKIP = "skip"
FLAG = "flag"
MARK_KINDS = (SKIP, FLAG)
MARK_ACTIONS = ("mark", "unmark")

# metadata["decided_by"] of a final value
REVIEWER = "reviewer"
MAJORITY = "majority"
UNANIMOUS = "unanimous"


class CampaignError(ValueError):
    """A campaign write that cannot be made (an unknown span, a reserved name)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A skip or a flag of one span by one annotator (a trace row: its root span)."""

    kind: str
    annotator: str
    span_id: str
    trace_id: str
    reason: str
    created_at: str
    updated_at: str

    def image(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def from_image(cls, image: str | None) -> Mark | None:
        return None if image is None else cls(**orjson.loads(image))


@dataclass(frozen=True, slots=True)
class Assignment:
    """One item given to one annotator: a span, or a whole trace (every span of it)."""

    annotator: str
    target: str  # "span" or "trace"
    item_id: str  # span_id or trace_id
    trace_id: str
    campaign: str
    overlap: bool = False
    assigned_at: str = ""


_MARK_COLUMNS = "kind, annotator, span_id, trace_id, reason, created_at, updated_at"
_ASSIGNMENT_COLUMNS = "annotator, target, item_id, trace_id, campaign, overlap, assigned_at"


def has_campaign_tables(conn: sqlite3.Connection) -> bool:
    """Whether the file has schema version 3's tables (an older file read-only has not)."""
    return (
        conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('assignments', 'item_marks')"
        ).fetchone()[0]
        == 2
    )


# --- marks ---------------------------------------------------------------------------------------


def find_mark(conn: sqlite3.Connection, kind: str, annotator: str, span_id: str) -> Mark | None:
    row = conn.execute(
        f"SELECT {_MARK_COLUMNS} FROM item_marks WHERE kind = ? AND annotator = ? AND span_id = ?",
        (kind, annotator, span_id),
    ).fetchone()
    return Mark(*row) if row else None


def set_mark(
    conn: sqlite3.Connection, kind: str, annotator: str, span_id: str, reason: str = ""
) -> Mark:
    """Skip or flag `span_id` for `annotator` (again: the reason is replaced); logged. A mark
    that changes nothing is not logged (pressing `s` twice is one step of undo)."""
    _check_kind(kind)
    with write_transaction(conn):
        before = find_mark(conn, kind, annotator, span_id)
        if before is not None and before.reason == reason:
            return before
        if before is None:
            row = conn.execute(
                "SELECT trace_id FROM spans WHERE span_id = ?", (span_id,)
            ).fetchone()
            if row is None:
                raise CampaignError(f"no span {span_id!r} in this database")
            now = now_iso()
            after = Mark(kind, annotator, span_id, row[0], reason, now, now)
        else:
            after = Mark(
                kind, annotator, span_id, before.trace_id, reason, before.created_at, now_iso()
            )
        _write_mark(conn, after)
        _log_mark(conn, "mark", annotator, before, after)
        return after


def remove_mark(conn: sqlite3.Connection, kind: str, annotator: str, span_id: str) -> Mark | None:
    """Take the mark back (unskip, unflag); logged. Returns what was removed (None: nothing)."""
    _check_kind(kind)
    with write_transaction(conn):
        before = find_mark(conn, kind, annotator, span_id)
        if before is None:
            return None
        _delete_mark(conn, before)
        _log_mark(conn, "unmark", annotator, before, None)
        return before


def list_marks(
    conn: sqlite3.Connection,
    *,
    kind: str | None = None,
    annotator: str | None = None,
    span_id: str | None = None,
    trace_id: str | None = None,
) -> list[Mark]:
    """Marks, oldest first; every argument given narrows the list."""
    if not has_campaign_tables(conn):
        return []
    clauses, params = [], []
    for column, value in (
        ("kind", kind),
        ("annotator", annotator),
        ("span_id", span_id),
        ("trace_id", trace_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT {_MARK_COLUMNS} FROM item_marks{where} ORDER BY created_at, kind, annotator, "
        "span_id",
        params,
    )
    return [Mark(*row) for row in rows]


def mark_counts(conn: sqlite3.Connection, annotator: str | None = None) -> dict[str, int]:
    """{"skip": n, "flag": m}, for one annotator or everyone."""
    counts = dict.fromkeys(MARK_KINDS, 0)
    if not has_campaign_tables(conn):
        return counts
    where, params = ("WHERE annotator = ?", (annotator,)) if annotator is not None else ("", ())
    for kind, count in conn.execute(
        f"SELECT kind, count(*) FROM item_marks {where} GROUP BY kind", params
    ):
        counts[kind] = count
    return counts


def put_marks(conn: sqlite3.Connection, marks: Iterable[Mark]) -> int:
    """Insert or replace marks as they are, inside the caller's transaction, without logging
    (``merge`` carries marks made and logged in another file). Returns how many changed."""
    changed = 0
    for mark in marks:
        current = find_mark(conn, mark.kind, mark.annotator, mark.span_id)
        if current == mark:
            continue
        _write_mark(conn, mark)
        changed += 1
    return changed


def _write_mark(conn: sqlite3.Connection, mark: Mark) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO item_marks ({_MARK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            mark.kind,
            mark.annotator,
            mark.span_id,
            mark.trace_id,
            mark.reason,
            mark.created_at,
            mark.updated_at,
        ),
    )


def _delete_mark(conn: sqlite3.Connection, mark: Mark) -> None:
    conn.execute(
        "DELETE FROM item_marks WHERE kind = ? AND annotator = ? AND span_id = ?",
        (mark.kind, mark.annotator, mark.span_id),
    )


def _log_mark(
    conn: sqlite3.Connection,
    action: str,
    actor: str,
    before: Mark | None,
    after: Mark | None,
    reverts: int | None = None,
) -> None:
    mark = after or before
    assert mark is not None
    conn.execute(
        "INSERT INTO annotation_log (at, actor, action, annotation_id, target, span_id, trace_id, "
        "session_id, document_position, name, identifier, before, after, reverts) "
        "VALUES (?, ?, ?, NULL, 'span', ?, ?, NULL, NULL, ?, ?, ?, ?, ?)",
        (
            now_iso(),
            actor,
            action,
            mark.span_id,
            mark.trace_id,
            mark.kind,
            mark.annotator,
            before.image() if before else None,
            after.image() if after else None,
            reverts,
        ),
    )


def revert_mark(
    conn: sqlite3.Connection, actor: str, action: str, seq: int, wanted: Mark | None, other: Mark
) -> tuple[Mark | None, Mark | None]:
    """Undo/redo of a logged mark change, inside the caller's transaction: make the mark
    `wanted` (None: no mark), log it with `reverts = seq`. Returns (before, after)."""
    current = find_mark(conn, other.kind, other.annotator, other.span_id)
    if wanted is None:
        if current is not None:
            _delete_mark(conn, current)
    else:
        wanted = Mark(
            wanted.kind,
            wanted.annotator,
            wanted.span_id,
            wanted.trace_id,
            wanted.reason,
            wanted.created_at,
            now_iso(),
        )
        _write_mark(conn, wanted)
    if current is None and wanted is None:  # already gone (merged away): still record the step
        _log_mark(conn, action, actor, other, None, reverts=seq)
        return other, None
    _log_mark(conn, action, actor, current, wanted, reverts=seq)
    return current, wanted


def _check_kind(kind: str) -> None:
    if kind not in MARK_KINDS:
        raise CampaignError(f"unknown mark {kind!r}: expected one of {', '.join(MARK_KINDS)}")


# --- assignments ---------------------------------------------------------------------------------


def add_assignments(conn: sqlite3.Connection, assignments: Iterable[Assignment]) -> int:
    """Insert assignments (an existing one is kept as it is: an item once given stays given),
    inside the caller's transaction. Returns how many were new."""
    before = conn.total_changes
    conn.executemany(
        f"INSERT OR IGNORE INTO assignments ({_ASSIGNMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (
                a.annotator,
                a.target,
                a.item_id,
                a.trace_id,
                a.campaign,
                int(a.overlap),
                a.assigned_at or now_iso(),
            )
            for a in assignments
        ),
    )
    return conn.total_changes - before


def list_assignments(conn: sqlite3.Connection, annotator: str | None = None) -> list[Assignment]:
    """Assignments (of one annotator, or everyone's) by annotator, target, item."""
    if not has_campaign_tables(conn):
        return []
    where, params = ("WHERE annotator = ?", (annotator,)) if annotator is not None else ("", ())
    rows = conn.execute(
        f"SELECT {_ASSIGNMENT_COLUMNS} FROM assignments {where} "
        "ORDER BY annotator, target, item_id",
        params,
    )
    return [
        Assignment(who, target, item, trace, campaign, bool(overlap), at)
        for who, target, item, trace, campaign, overlap, at in rows
    ]


def has_assignment(conn: sqlite3.Connection, annotator: str) -> bool:
    if not has_campaign_tables(conn):
        return False
    return (
        conn.execute(
            "SELECT 1 FROM assignments WHERE annotator = ? LIMIT 1", (annotator,)
        ).fetchone()
        is not None
    )


# --- final values --------------------------------------------------------------------------------


def final_metadata(
    decided_by: str, votes: dict[str, Any], *, reviewer: str | None = None
) -> dict[str, Any]:
    """The metadata of a final value: how it was decided and the votes it was decided on
    ({rater: label, or score when there is no label})."""
    metadata: dict[str, Any] = {"decided_by": decided_by, "votes": dict(sorted(votes.items()))}
    if reviewer is not None:
        metadata["reviewer"] = reviewer
    return metadata
