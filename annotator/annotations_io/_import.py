"""Importing one annotation file into a store: records -> annotations -> one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from annotator.annotations_io._files import Record, records
from annotator.annotations_io._records import (
    Defaults,
    NoName,
    NoTarget,
    is_own_export,
    to_annotation,
)
from annotator.model import Annotation, Problem, Target
from annotator.readers import BadRecord, Sniffed, one_line
from annotator.store import AnnotationError, AnnotationKey, import_annotations
from annotator.store import find_annotation as find

# Orphans listed one by one per file; the rest are counted in one line.
ORPHAN_LINES = 10
NO_TARGET_FILE = (
    "the records have no span_id, trace_id or session_id, so nothing says what they are "
    "about. A pandas DataFrame indexed by span_id (as phoenix-client's "
    "get_span_annotations_dataframe() returns it) loses its index in to_json(orient='records') "
    "and to_csv(index=False): save it with .reset_index()"
)


@dataclass(slots=True)
class AnnotationImportOptions:
    """``annotator import`` options for annotation files. They fill in what a file does not
    say (a record's own name, kind or identifier always wins)."""

    name: str | None = None
    annotator_kind: str | None = None
    identifier: str | None = None
    keep_orphans: bool = False


@dataclass(slots=True)
class FileImportResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    orphaned: int = 0  # records about spans/traces/sessions (or documents) not in the database
    assumed_kind: int = 0  # records without annotator_kind, stored as LLM
    problems: int = 0


class FileRejected(Exception):
    """The whole file cannot be imported (one line, names the file); nothing was written."""


def import_annotation_file(
    conn: sqlite3.Connection,
    path: Path,
    sniffed: Sniffed,
    options: AnnotationImportOptions,
    on_problem: Callable[[str], None],
) -> FileImportResult:
    """Read the file and write its annotations in one transaction (actor ``import:<file
    name>``, action ``import``). Bad records and orphans go to `on_problem` as
    ``file:line: reason`` lines; FileRejected when the file as a whole cannot be used."""
    file = str(path)
    defaults = Defaults(
        name=options.name, annotator_kind=options.annotator_kind, identifier=options.identifier
    )
    result = FileImportResult()
    targets = _Targets(conn)
    orphan_ids: list[str] = []
    # Where each key was first seen: a later record with the same key is reported, not written
    # (writing both would make the file fight itself and every re-import log changes).
    seen: dict[tuple, str] = {}

    def problem(item: Problem) -> None:
        result.problems += 1
        on_problem(str(item))

    def annotations() -> Iterator[Annotation]:
        named = False
        for item in records(path, sniffed, defaults):
            if isinstance(item, Problem):
                problem(item)
                continue
            if type(item.value) is not dict:
                problem(_at(file, item, f"not an annotation record ({_what(item.value)})"))
                continue
            try:
                annotation, assumed = to_annotation(item.value, defaults)
            except NoName:
                if not named:
                    raise FileRejected(
                        f"{file}: not imported: the records have no annotation name (an "
                        "evaluation table usually has none): give it with --name NAME"
                    ) from None
                problem(_at(file, item, "no annotation name"))
                continue
            except NoTarget as exc:
                if not named:
                    # The first record says nothing about what it is about: a whole table
                    # saved without its id column, and pandas is the usual way to lose it.
                    raise FileRejected(f"{file}: not imported: {NO_TARGET_FILE}") from None
                problem(_at(file, item, str(exc)))
                continue
            except BadRecord as exc:
                problem(_at(file, item, one_line(exc, 240)))
                continue
            named = True
            try:
                key = AnnotationKey.of(annotation).params()
            except AnnotationError as exc:
                problem(_at(file, item, str(exc)))
                continue
            first = seen.get(key)
            if first is not None:
                problem(_at(file, item, f"same target, name and identifier as {first}: skipped"))
                continue
            seen[key] = _where(item)
            if not is_own_export(item.value):
                _keep_bookkeeping_if_unchanged(conn, annotation)
            missing = targets.missing(annotation)
            if missing is not None:
                result.orphaned += 1
                if result.orphaned <= ORPHAN_LINES:
                    tail = " (stored anyway: --keep-orphans)" if options.keep_orphans else ""
                    problem(_at(file, item, missing + tail))
                elif len(orphan_ids) < 5:
                    orphan_ids.append(_target_id(annotation))
                if not options.keep_orphans:
                    continue
            result.assumed_kind += assumed
            yield annotation

    counts = import_annotations(conn, annotations(), actor=f"import:{path.name}")
    if result.orphaned > ORPHAN_LINES:
        more = result.orphaned - ORPHAN_LINES
        fate = "stored anyway (--keep-orphans)" if options.keep_orphans else "not stored"
        problem(
            Problem(
                file,
                None,
                f"{more:,} more record{'s' if more != 1 else ''} about ids not in the database "
                f"({fate}), e.g. {', '.join(orphan_ids)}",
            )
        )
    result.new, result.updated, result.unchanged = counts.new, counts.updated, counts.unchanged
    return result


def _keep_bookkeeping_if_unchanged(conn: sqlite3.Connection, annotation: Annotation) -> None:
    """A record that carries the stored row's values is unchanged, whatever its source and
    times say: a Phoenix record has Phoenix's (or none), and taking them would turn a
    re-import of our own Phoenix export into an update of every row (source APP -> API,
    updated_at -> now), which a later merge would take for a newer judgement."""
    stored = find(conn, AnnotationKey.of(annotation))
    if stored is None or any(
        getattr(stored, field) != getattr(annotation, field) for field in _VALUE_FIELDS
    ):
        return
    annotation.source = stored.source
    annotation.created_at = stored.created_at
    annotation.updated_at = stored.updated_at


_VALUE_FIELDS = ("label", "score", "explanation", "annotator_kind", "metadata")


def _at(file: str, item: Record, message: str) -> Problem:
    return Problem(file, item.line, f"{item.place}: {message}" if item.place else message)


def _where(item: Record) -> str:
    if item.line is not None:
        return f"line {item.line}" + (f" {item.place}" if item.place else "")
    return item.place or "an earlier record"


def _what(value: object) -> str:
    if type(value) is list:
        return "a JSON array"
    if value is None:
        return "null"
    return f"a JSON {type(value).__name__}"


def _target_id(annotation: Annotation) -> str:
    if annotation.target == Target.TRACE:
        return str(annotation.trace_id)
    if annotation.target == Target.SESSION:
        return str(annotation.session_id)
    return str(annotation.span_id)


class _Targets:
    """Is what an annotation is about in the database? One query per distinct id."""

    _LIMIT = 200_000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._spans: dict[str, int | None] = {}  # span id -> document count (None: absent)
        self._traces: dict[str, bool] = {}
        self._sessions: dict[str, bool] = {}

    def missing(self, annotation: Annotation) -> str | None:
        """Why Phoenix would refuse it (404/422), or None when the target exists."""
        target = annotation.target
        if target in (Target.SPAN, Target.DOCUMENT):
            span_id = str(annotation.span_id)
            count = self._span(span_id)
            if count is None:
                return f"span id {span_id} is not in the database"
            position = annotation.document_position
            if target == Target.DOCUMENT and position is not None and position >= count:
                return f"span {span_id} has no document {position} (it has {count})"
            return None
        if target == Target.TRACE:
            trace_id = str(annotation.trace_id)
            if not self._known(self._traces, "SELECT 1 FROM traces WHERE trace_id = ?", trace_id):
                return f"trace id {trace_id} is not in the database"
            return None
        session_id = str(annotation.session_id)
        if not self._known(
            self._sessions, "SELECT 1 FROM traces WHERE session_id = ? LIMIT 1", session_id
        ):
            return f"session id {session_id} is not in the database"
        return None

    def _span(self, span_id: str) -> int | None:
        if span_id in self._spans:
            return self._spans[span_id]
        row = self._conn.execute(
            "SELECT document_count FROM spans WHERE span_id = ?", (span_id,)
        ).fetchone()
        if len(self._spans) >= self._LIMIT:
            self._spans.clear()
        self._spans[span_id] = count = row[0] if row else None
        return count

    def _known(self, cache: dict[str, bool], sql: str, key: str) -> bool:
        found = cache.get(key)
        if found is None:
            found = self._conn.execute(sql, (key,)).fetchone() is not None
            if len(cache) >= self._LIMIT:
                cache.clear()
            cache[key] = found
        return found
