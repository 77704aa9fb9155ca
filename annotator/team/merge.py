"""Merging annotator databases: ``annotator merge IN.db... --into OUT.db``.

A QA lead hands the same traces to several annotators, gets one SQLite file back from each and
merges them into one. Phoenix has no offline merge, so the rules are spelled out here and the
command reports every place where they had to choose.

Inputs
    Never written to, and nothing is created beside them. Each is opened read-only (a
    ``file:...?mode=ro`` URI), which also reads a WAL file's pending content; a file left in WAL
    mode with no ``-wal`` or ``-shm`` beside it (closed by an older version) is opened with
    ``immutable=1`` instead, because ``mode=ro`` would create both and leave them (see
    ``annotator.store.db.readonly_uri`` for that parameter's caveat). When reading in place is
    impossible (SQLite cannot use the ``-shm`` of a live WAL database, e.g. in a read-only
    directory) the file and its ``-wal`` are copied to a temporary directory and the copy is
    read. A named pipe or other non-regular file is refused without being opened. An input from
    an older schema version is copied (SQLite backup API) and the copy upgraded with the normal
    migrations. Every input is checked
    before anything is written: a missing file, a file that is not SQLite, a SQLite file that
    annotator did not make, a newer schema version or the output file itself is refused with one
    line ``FILE: reason`` and OUT is not touched. Each input is read inside one transaction, so a
    file that its annotator is still writing is read as one consistent snapshot.

Spans
    Union by span id. A span already in OUT is never replaced. When two inputs hold different
    rows under one span id (a different trace id, or different content) and OUT had none, the
    row that sorts first by its canonical JSON is kept, so the result does not depend on the
    order of the inputs; each such case is reported. The traces of every added span are then
    summarised again (``summarise_traces``), as are traces whose summary row is missing or counts
    the wrong number of spans (left by an interrupted import).

Configs
    Union by name, the same for any order of the inputs. Each config's ``updated_at`` (the
    ``annotation_configs`` row: when that definition last changed; saving the same definition
    again keeps it) ranks its definitions: among OUT's and every input's definition of a name,
    the most recently updated wins, a tie going to the greater canonical JSON (sorted keys). The
    winner keeps its own updated_at in OUT, so merging again changes nothing and
    merge(merge(A, B), C) keeps the definitions merge(A, B, C) keeps (their order can differ
    when the files order their configs differently). Every name whose definitions differ
    is reported: the file kept, each other file and which fields differ, with their times. The
    ``keys:`` remap comes from the file whose newest config is the most recent (ties: the
    greater canonical JSON of the remap); differing remaps are reported under ``keys:``. Configs
    are listed by their position in the file their definition came from, then by name. A
    definition that would make the stored document invalid (e.g. a value key that clashes with
    the chosen ``keys:``) gives way to the next-ranked definition of its name; when none fits
    the config is not added; both are reported.

    No definition that a later merge could choose is lost: every distinct one that was offered
    and not chosen (it does not fit, or another of its name ranks higher) is kept aside in
    OUT's ``meta`` row ``config_set_aside`` (name, updated_at, config; by name, then rank),
    outside the document the app uses, and a later merge offers it again like any file's. That
    is what makes merge(merge(A, B), C) choose what merge(A, B, C) does: when C's newer
    ``keys:`` rules out the definition merge(A, B) chose, the one it passed over is still there
    to fall back on, and a set-aside definition counts for the newest config of its file (which
    ``keys:`` is kept). Whether a definition fits depends only on the remap (its value keys
    must be free), so one outranked by a valid definition of its name that needs no other
    value keys can never be chosen: it is not kept (`_set_aside`), whichever way the files are
    merged. A definition without a time (its file has no ``annotation_configs`` row for it)
    ranks as the oldest and is stored without one, so merging the same files twice stores the
    same. Set-aside definitions are not reported again, nor listed as differing in a config
    conflict unless one is kept. When the user stores configs (``config store``, ``annotate
    --config``), the set-aside definitions of each name they drop, change or add go (and,
    with ``--replace-configs``, names only set aside that their file does not have): the
    user's definition wins over what the file kept aside.

    The document's ``guidelines:`` (text for the annotators) are ranked like a definition: by
    when they last changed (``meta`` ``guidelines_updated_at``, which the store sets when a save
    changes them; removing them is a change too), a tie going to the greater text (none counts
    as ""). A file written before that time was kept has none: its guidelines rank as the
    oldest. The winner keeps its time in OUT, so the choice is the same for any order and step
    by step; files whose guidelines differ from the kept ones (other text, or removed: none
    with a time) are reported under ``guidelines:``; a file that never had any (none, no time)
    is not. (``keys:`` differ with a file without a remap: its annotators had the default
    keys, and the remap decides which definitions fit.)

Annotations
    One row per key (target, target id, document position, name, identifier), as in the store.
    Among OUT's existing row and every input's row for a key, the winner is the greatest by
    (updated_at, content, created_at, source), where content is the canonical JSON of
    (label, score, explanation, annotator_kind, metadata with sorted keys). That is a total
    order on everything that is compared, so the result is the same for any order of the inputs,
    merging again changes nothing, and merge(merge(A, B), C) equals merge(A, B, C). updated_at
    is compared as text: the store writes one ISO-8601 UTC form, in which text order is time
    order. OUT's row is kept when nothing beats it. A *conflict* is a key whose rows disagree on
    label, score or explanation; identical copies are not conflicts. Every conflict is reported
    with every file's value, its updated_at and the winner.

    Final values (identifier ``final``) follow the same rule with one exception: a reviewer's
    final value (``metadata.decided_by == "reviewer"``: the app's review mode, ``resolve
    --strategy reviewer``) beats an automatic one (resolve's majority / unanimous) however old
    it is, as resolve never overrides a reviewer. Between two reviewers' differing final values
    the newest wins and the key is reported as a conflict, every file's value listed with who
    decided it (``decided by reviewer 'lead'``, ``decided by majority``).

Assignments, skips and flags (``assign`` batches)
    Assignments: union; when files hold one (annotator, target, item) differently, the
    earliest (assigned_at, campaign, ...) is kept. Skips and flags: per (kind, annotator,
    span) the newest updated_at wins (then the greater reason). They are copied as they are,
    not logged again (each was logged where it was made). As with annotations, a merge adds
    and updates but never removes: a skip taken back in a batch after an earlier merge stays
    in OUT.

    Each annotation written to OUT is logged in ``annotation_log`` with action ``merge`` and actor
    ``merge:<input path as given>`` (before and after images; the path, not just the file
    name, because every annotator's file tends to be called annotations.db), keeping its own
    created_at and updated_at. Undo replays only set/delete/undo/redo, so merges are in
    nobody's undo history.

How
    Set-based SQL: each input is ATTACHed read-only in turn and read in one write transaction
    on OUT (one snapshot of the input): its new spans are inserted with INSERT ... SELECT, its
    annotations staged in a temporary table with a rank text that orders them by the rule above.
    After the trace summaries and the configs, one last transaction adds OUT's own rows for the
    staged keys, picks each key's greatest rank (GROUP BY), and writes the winners through the
    store's batch write path (``Store.annotation_batch``, the one import uses): the same key,
    context ids, time-keeping and log entries as every other write.
    ``dry_run`` runs the same merge on a temporary copy of OUT and throws it away.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from annotator.model import Annotation
from annotator.store import (
    ANNOTATION_COLUMNS,
    APPLICATION_ID,
    BUSY_TIMEOUT_MS,
    CONFIG_SET_ASIDE_META,
    FINAL,
    GUIDELINES_UPDATED_META,
    REVIEWER,
    TARGET_ID_SQL,
    AnnotationBatch,
    AnnotationKey,
    Store,
    StoreError,
    busy_timeout_ms,
    close_connection,
    config_set_aside_entries,
    connect,
    current_migrations,
    ensure_schema,
    open_in_this_process,
    readonly_uri_of,
    summarise_traces,
    wait_for_lock,
    write_transaction,
)

SQLITE_HEADER = b"SQLite format 3\x00"
REQUIRED_TABLES = ("meta", "spans", "annotation_configs", "annotations")
SPAN_CONFLICTS_SHOWN = 50  # in the text report; the JSON report lists every one

SPAN_COLUMNS = (
    "span_id", "trace_id", "parent_id", "name", "span_kind", "start_time", "end_time",
    "latency_ms", "status_code", "status_message", "attributes", "events", "project",
    "session_id", "document_count",
)  # fmt: skip
_SPAN_SELECT = ", ".join(SPAN_COLUMNS)
_SPAN_UPDATE = (
    f"UPDATE main.spans SET {', '.join(f'{c} = ?' for c in SPAN_COLUMNS[1:])} WHERE span_id = ?"
)

COLUMNS = ANNOTATION_COLUMNS
_VALUE_COLUMNS = COLUMNS[1:]  # every annotation column but the row id
_KEY_COLUMNS = ("k_target", "k_id", "k_pos", "k_name", "k_ident")
_KEY_LIST = ", ".join(_KEY_COLUMNS)
_KEY_SELECT = f"target, ({TARGET_ID_SQL}), coalesce(document_position, -1), name, identifier"
_RANK_ARGS = (
    "identifier, updated_at, label, score, explanation, annotator_kind, metadata, created_at, "
    "source"
)


# --- the report --------------------------------------------------------------------------------


@dataclass
class InputSummary:
    path: str
    schema_version: int
    read_from: str  # "file", "copy" (WAL fallback) or "upgraded copy"
    spans: int = 0
    annotations: int = 0
    configs: int = 0  # in its config document
    configs_set_aside: int = 0  # definitions an earlier merge into it set aside

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "schema_version": self.schema_version,
            "read_from": self.read_from,
            "spans": self.spans,
            "annotations": self.annotations,
            "configs": self.configs,
            "configs_set_aside": self.configs_set_aside,
        }


@dataclass(frozen=True)
class Version:
    """One file's row for a conflicting key."""

    source: str
    label: str | None
    score: float | None
    explanation: str | None
    annotator_kind: str
    updated_at: str
    won: bool
    # a final value's metadata: who decided it (reviewer / majority / unanimous) and the reviewer
    decided_by: str | None = None
    reviewer: str | None = None

    def describe(self) -> str:
        parts = []
        if self.label is not None:
            parts.append(f"label={self.label!r}")
        if self.score is not None:
            parts.append(f"score={self.score:g}")
        if self.explanation is not None:
            text = self.explanation
            if len(text) > 60:
                text = text[:57] + "..."
            parts.append(f"explanation={text!r}")
        if self.decided_by is not None:
            by = f"reviewer {self.reviewer!r}" if self.decided_by == REVIEWER else self.decided_by
            parts.append(f"(decided by {by})")
        return " ".join(parts) or "(empty)"


@dataclass(frozen=True)
class AnnotationConflict:
    key: AnnotationKey
    versions: tuple[Version, ...]  # the winner first

    @property
    def winner(self) -> str:
        return self.versions[0].source

    def describe_key(self) -> str:
        position = "" if self.key.document_position is None else f"#{self.key.document_position}"
        who = self.key.identifier or "(no identifier)"
        return f"{self.key.target} {self.key.target_id}{position} · {self.key.name} · {who}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": {
                "target": self.key.target,
                "target_id": self.key.target_id,
                "document_position": self.key.document_position,
                "name": self.key.name,
                "identifier": self.key.identifier,
            },
            "winner": self.winner,
            "versions": [
                {
                    "source": v.source,
                    "label": v.label,
                    "score": v.score,
                    "explanation": v.explanation,
                    "annotator_kind": v.annotator_kind,
                    "updated_at": v.updated_at,
                    "won": v.won,
                    **(
                        {"decided_by": v.decided_by, "reviewer": v.reviewer}
                        if v.decided_by is not None
                        else {}
                    ),
                }
                for v in self.versions
            ],
        }


@dataclass(frozen=True)
class ConfigConflict:
    """Definitions of one config name (or the ``keys:`` remaps) that differ between files."""

    name: str
    kept_from: str  # the file(s) holding the definition kept
    differing: tuple[tuple[str, tuple[str, ...]], ...]  # (file, fields that differ)
    updated_at: tuple[tuple[str, str], ...] = ()  # (file, when its definition last changed)

    def describe(self) -> str:
        times = dict(self.updated_at)

        def when(source: str) -> str:
            return f" (updated {times[source]})" if times.get(source) else ""

        kept = self.kept_from.split(", ")[0]
        others = "; ".join(
            f"{source}{when(source)} differs in {', '.join(fields)}"
            for source, fields in self.differing
        )
        name = self.name if self.name.endswith(":") else f"{self.name}:"  # keys:, guidelines:
        return f"{name} kept {self.kept_from}'s{when(kept)}; {others}"

    def to_dict(self) -> dict[str, Any]:
        times = dict(self.updated_at)
        return {
            "name": self.name,
            "kept_from": self.kept_from,
            "kept_updated_at": times.get(self.kept_from.split(", ")[0]),
            "differing": [
                {"source": s, "fields": list(f), "updated_at": times.get(s)}
                for s, f in self.differing
            ],
        }


@dataclass
class MergeReport:
    out: str
    dry_run: bool = False
    out_existed: bool = False
    inputs: list[InputSummary] = field(default_factory=list)
    spans_new: int = 0
    spans_existing: int = 0
    traces_summarised: int = 0
    configs_added: list[str] = field(default_factory=list)
    configs_set_aside: list[str] = field(default_factory=list)  # names no definition fits
    annotations_new: int = 0
    annotations_updated: int = 0
    annotations_unchanged: int = 0
    conflicts: list[AnnotationConflict] = field(default_factory=list)
    config_conflicts: list[ConfigConflict] = field(default_factory=list)
    span_conflicts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    assignments_changed: int = 0  # assignments added (or replaced by an earlier one)
    marks_changed: int = 0  # skips and flags added or updated

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "dry_run": self.dry_run,
            "out_existed": self.out_existed,
            "inputs": [summary.to_dict() for summary in self.inputs],
            "totals": {
                "spans_read": sum(s.spans for s in self.inputs),
                "spans_new": self.spans_new,
                "spans_existing": self.spans_existing,
                "traces_summarised": self.traces_summarised,
                "annotations_read": sum(s.annotations for s in self.inputs),
                "annotations_new": self.annotations_new,
                "annotations_updated": self.annotations_updated,
                "annotations_unchanged": self.annotations_unchanged,
                "conflicts": len(self.conflicts),
                "configs_added": len(self.configs_added),
                "configs_set_aside": len(self.configs_set_aside),
                "config_conflicts": len(self.config_conflicts),
                "span_conflicts": len(self.span_conflicts),
                "assignments_changed": self.assignments_changed,
                "marks_changed": self.marks_changed,
            },
            "configs_added": self.configs_added,
            "configs_set_aside": self.configs_set_aside,
            "conflicts": [c.to_dict() for c in self.conflicts],
            "config_conflicts": [c.to_dict() for c in self.config_conflicts],
            "span_conflicts": self.span_conflicts,
            "problems": self.problems,
            "seconds": round(self.seconds, 3),
        }

    def lines(self) -> list[str]:
        """The human-readable report."""
        files = len(self.inputs)
        verb = "Would merge" if self.dry_run else "Merged"
        plural = "s" if files != 1 else ""
        out = [f"{verb} {files} file{plural} into {self.out} in {self.seconds:.2f}s"]
        width = max(len(s.path) for s in self.inputs) if self.inputs else 0
        for s in self.inputs:
            via = "" if s.read_from == "file" else f"  (read from a temporary {s.read_from})"
            aside = f" (+{s.configs_set_aside} set aside)" if s.configs_set_aside else ""
            out.append(
                f"  {s.path:<{width}}  {s.spans:,} spans, {s.annotations:,} annotations, "
                f"{s.configs} configs{aside}{via}"
            )
        out.append(
            f"Spans: {self.spans_new:,} new, {self.spans_existing:,} already present; "
            f"{self.traces_summarised:,} traces summarised."
        )
        if self.configs_added:
            out.append(f"Configs added: {', '.join(self.configs_added)}.")
        if self.configs_set_aside:
            out.append(
                f"Configs set aside (no definition fits; kept for a later merge): "
                f"{', '.join(self.configs_set_aside)}."
            )
        conflicts = len(self.conflicts)
        out.append(
            f"Annotations: {self.annotations_new:,} new, {self.annotations_updated:,} updated, "
            f"{self.annotations_unchanged:,} unchanged; {conflicts:,} conflict"
            f"{'s' if conflicts != 1 else ''}."
        )
        if self.assignments_changed or self.marks_changed:
            out.append(
                f"Campaign: {self.assignments_changed:,} assignments and "
                f"{self.marks_changed:,} skips or flags added or updated."
            )
        if self.conflicts:
            out.append(
                "Conflicts (newest updated_at wins, but a reviewer's final value beats resolve's; "
                "a tie goes to the greater content):"
            )
            for conflict in self.conflicts:
                out.append(f"  {conflict.describe_key()}")
                source_width = max(len(v.source) for v in conflict.versions)
                for v in conflict.versions:
                    mark = "  <- won" if v.won else ""
                    out.append(
                        f"    {v.source:<{source_width}}  {v.updated_at}  {v.describe()}{mark}"
                    )
        if self.config_conflicts:
            out.append(
                "Config conflicts (the most recently updated definition is kept; a tie goes to "
                "the greater content):"
            )
            for config_conflict in self.config_conflicts:
                out.append(f"  {config_conflict.describe()}")
        if self.span_conflicts:
            out.append(f"Span conflicts ({len(self.span_conflicts):,}):")
            out.extend(f"  {line}" for line in self.span_conflicts[:SPAN_CONFLICTS_SHOWN])
            hidden = len(self.span_conflicts) - SPAN_CONFLICTS_SHOWN
            if hidden > 0:
                out.append(f"  ... and {hidden:,} more (--json lists them all)")
        if self.problems:
            out.append(f"Problems ({len(self.problems)}):")
            out.extend(f"  {line}" for line in self.problems)
        if self.dry_run:
            out.append(f"Dry run: nothing was written to {self.out}.")
        return out


# --- opening inputs ----------------------------------------------------------------------------


@dataclass
class _Source:
    """A checked input: the file itself, or a private copy of it, ready to ATTACH read-only."""

    path: Path  # as given
    label: str
    read_path: Path  # the file itself, or the copy in the temporary directory
    schema_version: int
    read_from: str  # "file", "copy" or "upgraded copy"

    @property
    def actor(self) -> str:
        return f"merge:{self.label}"


def _migrations() -> list[str]:
    # The versions compared here are the ones `ensure_schema` upgrades to by default.
    return current_migrations()


def _readonly_uri(path: Path) -> str:
    """`mode=ro`, or `immutable=1` for a file at rest in WAL mode: nothing is created beside it
    (as_uri() percent-escapes "?", "#", "%" and spaces, which a bare "file:" + path would not)."""
    return readonly_uri_of(path)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        _readonly_uri(path), uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
    return conn


def _probe(conn: sqlite3.Connection) -> None:
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


def _copy_in(path: Path, workdir: Path) -> Path:
    """Copy the file (and its -wal, which SQLite replays when it opens the copy) to a folder of
    its own in our temporary directory."""
    copy = Path(tempfile.mkdtemp(dir=workdir)) / path.name
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
    return copy


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def open_input(given: str | Path, workdir: Path, *, out: Path | None = None) -> _Source:
    """Check one input, copying it when it cannot be read in place or is from an older schema
    version. Raises StoreError("FILE: reason"); never writes to the file."""
    label = str(given)
    path = Path(given)
    if not path.exists():
        raise StoreError(f"{label}: no such file")
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise StoreError(f"{label}: cannot read ({error.strerror or error})") from None
    if stat.S_ISDIR(mode):
        raise StoreError(f"{label}: is a directory, not a database")
    if not stat.S_ISREG(mode):  # a FIFO with no writer would block the merge forever
        what = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "not a regular file"
        raise StoreError(f"{label}: {what}, not a database file")
    if out is not None and _same_file(path, out):
        raise StoreError(f"{label}: is the output database; merge into a different file")
    try:
        if open_in_this_process(path):  # ours; never open()/close() it under SQLite
            header = SQLITE_HEADER
        else:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StoreError(f"{label}: cannot read ({error.strerror or error})") from None
    if header != SQLITE_HEADER:
        reason = "an empty file" if not header else "not a SQLite database"
        raise StoreError(f"{label}: {reason}, not an annotator database")

    read_path, read_from = path, "file"
    conn: sqlite3.Connection | None = None
    try:
        try:
            conn = opened = _connect_readonly(path)
            wait_for_lock(opened, lambda: _probe(opened))
        except sqlite3.OperationalError:
            # Most often a WAL database whose -shm SQLite may not create here (read-only folder).
            if conn is not None:
                conn.close()
            conn = None
            read_path, read_from = _copy_in(path, workdir), "copy"
            conn = sqlite3.connect(read_path, isolation_level=None, check_same_thread=False)
            _probe(conn)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        known = len(_migrations())
        if version == 0 and not tables:
            raise StoreError(f"{label}: an empty SQLite database, not an annotator database")
        if version == 0 or application_id != APPLICATION_ID:
            raise StoreError(f"{label}: a SQLite database that annotator did not create")
        if version > known:
            raise StoreError(
                f"{label}: made by a newer annotator (schema version {version}; this one knows "
                f"{known}). Upgrade annotator to merge it."
            )
        missing = [table for table in REQUIRED_TABLES if table not in tables]
        if missing:
            raise StoreError(f"{label}: not an annotator database (no {', '.join(missing)} table)")
        if version < known:
            read_path = _upgraded_copy(conn, path, label, workdir)
            read_from = "upgraded copy"
    except sqlite3.DatabaseError as error:
        raise StoreError(f"{label}: not a usable SQLite database ({error})") from None
    except OSError as error:
        raise StoreError(f"{label}: cannot read ({error.strerror or error})") from None
    finally:
        if conn is not None:
            conn.close()
    return _Source(path, label, read_path, version, read_from)


def _upgraded_copy(conn: sqlite3.Connection, path: Path, label: str, workdir: Path) -> Path:
    """A copy (SQLite backup API: a consistent snapshot, WAL content included) upgraded to the
    current schema by the normal migrations."""
    copy_path = Path(tempfile.mkdtemp(dir=workdir)) / path.name
    copy = connect(copy_path)
    try:
        conn.backup(copy)
        ensure_schema(copy, label, migrations=_migrations())
    except sqlite3.Error as error:
        raise StoreError(f"{label}: cannot upgrade a copy of it ({error})") from None
    finally:
        close_connection(copy)  # out of the register of this process's open files too
    return copy_path


def open_inputs(
    paths: Sequence[str | Path], out: Path, workdir: Path
) -> tuple[list[_Source], list[str]]:
    """Check every input; raise one StoreError naming every bad one (one line each). Returns the
    sources and notes (an input given twice is read once)."""
    sources: list[_Source] = []
    errors: list[str] = []
    notes: list[str] = []
    for given in paths:
        if any(_same_file(Path(given), s.path) for s in sources):
            notes.append(f"{given}: given more than once; read once")
            continue
        try:
            sources.append(open_input(given, workdir, out=out))
        except StoreError as error:
            errors.append(str(error))
    if errors:
        raise StoreError("\n".join(errors))
    return sources, notes


# --- the merge ---------------------------------------------------------------------------------


def merge_databases(
    inputs: Sequence[str | Path], out: str | Path, *, dry_run: bool = False
) -> MergeReport:
    """Merge every input into `out` (created or upgraded as needed). Raises StoreError, before
    anything is written, when an input or OUT cannot be used."""
    started = time.perf_counter()
    out_path = Path(out)
    report = MergeReport(out=str(out), dry_run=dry_run, out_existed=out_path.exists())
    with tempfile.TemporaryDirectory(prefix="annotator-merge-") as tmp:
        workdir = Path(tmp)
        sources, notes = open_inputs(inputs, out_path, workdir)
        report.problems.extend(notes)
        target = _dry_run_copy(out_path, workdir) if dry_run else out_path
        store = _open_out(target)
        try:
            _Merger(store, sources, report, out_label=f"{out} (existing)").run()
        finally:
            store.close()
    report.seconds = time.perf_counter() - started
    return report


def _open_out(path: Path) -> Store:
    """OUT through the store's own checks (created, upgraded, or refused untouched), then opened
    again with URI filenames on, which `ATTACH 'file:...?mode=ro'` needs."""
    Store.open(path).close()
    conn = sqlite3.connect(
        path.resolve().as_uri(), uri=True, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB each: the staging tables and their
    conn.execute("PRAGMA temp.cache_size = -65536")  # indexes stay in memory
    conn.create_function("merge_rank", 10, _rank, deterministic=True)
    conn.create_function("merge_result", 3, _result, deterministic=True)
    return Store(conn, path)


def _dry_run_copy(out: Path, workdir: Path) -> Path:
    """A private copy of OUT to merge into (a new file when OUT does not exist yet)."""
    copy_path = workdir / "dry-run" / out.name
    copy_path.parent.mkdir()
    if not out.exists() or out.stat().st_size == 0:  # a new OUT (Store.open creates it)
        if not out.parent.exists():
            raise StoreError(f"{out}: directory {out.parent} does not exist")
        return copy_path
    source = open_input(out, workdir)
    conn = _connect_readonly(source.read_path)
    try:
        copy = sqlite3.connect(copy_path)
        try:
            conn.backup(copy)
        finally:
            copy.close()
    finally:
        conn.close()
    return copy_path


class _Merger:
    def __init__(
        self, store: Store, sources: list[_Source], report: MergeReport, out_label: str
    ) -> None:
        self.store = store
        self.conn = store.connection
        self.sources = sources
        self.report = report
        self.out_label = out_label
        self.out_aside_label = f"{report.out} (existing, set aside)"
        self.summaries = [InputSummary(s.label, s.schema_version, s.read_from) for s in sources]
        report.inputs = self.summaries
        self.touched: set[str] = set()

    def run(self) -> None:
        conn = self.conn
        conn.execute("DROP TABLE IF EXISTS temp.merge_rows")
        conn.execute("DROP TABLE IF EXISTS temp.merge_added")
        conn.execute(
            f"CREATE TEMP TABLE merge_rows (src INTEGER NOT NULL, out_id INTEGER, {_KEY_LIST}, "
            f"{', '.join(_VALUE_COLUMNS)}, rank TEXT NOT NULL, result TEXT NOT NULL)"
        )
        conn.execute(
            "CREATE TEMP TABLE merge_added (span_id TEXT PRIMARY KEY, trace_id TEXT, src INTEGER)"
        )
        documents: list[_ConfigSource | None] = []
        # The temporary tables go with the connection, which the caller closes next: dropping
        # hundreds of thousands of staged rows one page at a time would only cost time.
        for index, source in enumerate(self.sources, 1):
            try:
                conn.execute("ATTACH DATABASE ? AS src", (_readonly_uri(source.read_path),))
            except sqlite3.Error as error:
                raise StoreError(f"{source.label}: cannot read ({error})") from None
            try:
                with write_transaction(conn):
                    self._check_attached(source)
                    self._merge_spans(index)
                    self._stage_annotations(index)
                    self._merge_campaign()
                    documents.append(self._read_configs(index))
            finally:
                conn.execute("DETACH DATABASE src")
        self._summarise()
        self._merge_configs(documents)
        self._merge_annotations()

    def _check_attached(self, source: _Source) -> None:
        """The file checked earlier is still the one read (not replaced meanwhile)."""
        version = self.conn.execute("PRAGMA src.user_version").fetchone()[0]
        application_id = self.conn.execute("PRAGMA src.application_id").fetchone()[0]
        if version != len(_migrations()) or application_id != APPLICATION_ID:
            raise StoreError(f"{source.label}: changed while being merged; nothing more was read")

    # -- spans ----------------------------------------------------------------------------------

    def _merge_spans(self, index: int) -> None:
        conn = self.conn
        summary = self.summaries[index - 1]
        summary.spans = conn.execute("SELECT count(*) FROM src.spans").fetchone()[0]
        # Rows that disagree with the span already there (from OUT or an earlier input).
        differs = " OR ".join(f"s.{c} IS NOT m.{c}" for c in SPAN_COLUMNS[1:])
        s_cols = ", ".join(f"s.{c}" for c in SPAN_COLUMNS)
        # Only the ids here: when two annotators imported the traces with different versions,
        # every span may differ, and the rows can be large.
        disagreeing = conn.execute(
            "SELECT s.span_id, a.src FROM src.spans s JOIN main.spans m USING (span_id) "
            f"LEFT JOIN temp.merge_added a USING (span_id) WHERE {differs}"
        ).fetchall()
        new = conn.execute(
            "INSERT INTO temp.merge_added (span_id, trace_id, src) SELECT span_id, trace_id, ? "
            "FROM src.spans s WHERE NOT EXISTS "
            "(SELECT 1 FROM main.spans m WHERE m.span_id = s.span_id)",
            (index,),
        ).rowcount
        conn.execute(
            f"INSERT INTO main.spans ({_SPAN_SELECT}) SELECT {s_cols} FROM src.spans s "
            "JOIN temp.merge_added a USING (span_id) WHERE a.src = ?",
            (index,),
        )
        self.touched.update(
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT trace_id FROM temp.merge_added WHERE src = ?", (index,)
            )
        )
        self.report.spans_new += new
        self.report.spans_existing += summary.spans - new - len(disagreeing)
        for span_id, kept_index in disagreeing:
            self._span_conflict(index, span_id, kept_index)

    def _span_conflict(self, index: int, span_id: str, kept_index: int | None) -> None:
        """One span id, two different rows. OUT's own row stays; between inputs the row that
        sorts first wins, so that the order of the inputs does not matter."""
        select = f"SELECT {_SPAN_SELECT} FROM {{}}.spans WHERE span_id = ?"
        row = self.conn.execute(select.format("src"), (span_id,)).fetchone()
        old = self.conn.execute(select.format("main"), (span_id,)).fetchone()
        replace = kept_index is not None and _span_order(row) < _span_order(old)
        fields = [c for c, a, b in zip(SPAN_COLUMNS, old, row, strict=True) if a != b]
        other = self.out_label if kept_index is None else self.sources[kept_index - 1].label
        mine = self.sources[index - 1].label
        what = (
            f"trace {row[1]} in {mine}, trace {old[1]} in {other}"
            if "trace_id" in fields
            else f"{', '.join(fields)} differ"
        )
        kept = mine if replace else other
        self.report.span_conflicts.append(
            f"span {row[0]}: {mine} and {other} disagree ({what}); kept {kept}'s"
        )
        if replace:
            self.conn.execute(_SPAN_UPDATE, (*row[1:], row[0]))
            self.conn.execute(
                "UPDATE temp.merge_added SET trace_id = ?, src = ? WHERE span_id = ?",
                (row[1], index, row[0]),
            )
            self.touched.update((old[1], row[1]))
        else:
            self.report.spans_existing += 1

    def _summarise(self) -> None:
        # Also traces whose summary is missing or stale (an interrupted import or merge).
        stale = self.conn.execute(
            "SELECT s.trace_id FROM (SELECT trace_id, count(*) AS n FROM spans "
            "GROUP BY trace_id) s LEFT JOIN traces t USING (trace_id) "
            "WHERE t.trace_id IS NULL OR t.span_count != s.n"
        )
        self.touched.update(row[0] for row in stale)
        if self.touched:
            self.report.problems.extend(summarise_traces(self.conn, sorted(self.touched)))
        self.report.traces_summarised = len(self.touched)

    # -- configs --------------------------------------------------------------------------------

    def _src_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM src.meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _read_configs(self, index: int) -> _ConfigSource | None:
        """The input's config document, as `Store.load_config_document` reads it, with each
        config's updated_at, and the definitions an earlier merge into it set aside
        (`Store.load_config_set_aside`)."""
        label = self.sources[index - 1].label
        aside = config_set_aside_entries(self._src_meta(CONFIG_SET_ASIDE_META))
        guidelines_at = str(self._src_meta(GUIDELINES_UPDATED_META) or "")
        try:
            stored = self._src_meta("config_document")
            if stored:
                document = orjson.loads(stored)
            else:
                rows = self.conn.execute(
                    "SELECT config FROM src.annotation_configs ORDER BY position, name"
                ).fetchall()
                if not rows and not aside:
                    return None
                document = {"annotations": [orjson.loads(r[0]) for r in rows]}
            times = dict(self.conn.execute("SELECT name, updated_at FROM src.annotation_configs"))
        except orjson.JSONDecodeError as error:
            self.report.problems.append(f"{label}: stored configs unreadable ({error}); skipped")
            return None
        found = _config_source(label, document, times, aside, f"{label} (set aside)", guidelines_at)
        if found is None:
            self.report.problems.append(
                f"{label}: stored configs are not a config document; skipped"
            )
            return None
        self.summaries[index - 1].configs = len(found.definitions)
        self.summaries[index - 1].configs_set_aside = len(found.set_aside)
        return found

    def _merge_configs(self, inputs: list[_ConfigSource | None]) -> None:
        base = self.store.load_config_document()
        base_aside = self.store.load_config_set_aside()
        base_times = self.store.config_times()
        out = None
        if base is not None or base_aside:
            own = {"annotations": []} if base is None else base
            out = _config_source(
                self.out_label,
                own,
                base_times,
                base_aside,
                self.out_aside_label,
                self.store.guidelines_updated_at(),
            )
        sources = [s for s in (out, *inputs) if s is not None]
        if not sources:
            return
        ranked: dict[str, list[_Definition]] = {}
        for source in sources:
            for definition in (*source.definitions, *source.set_aside):
                ranked.setdefault(definition.name, []).append(definition)
        for definitions in ranked.values():
            definitions.sort(key=_Definition.rank, reverse=True)
        keys_from = max(sources, key=lambda s: (s.newest, _canonical(s.keys)))
        keys = {"keys": keys_from.keys} if keys_from.keys else {}
        guidelines_from = max(sources, key=_ConfigSource.guidelines_rank)
        guidelines = guidelines_from.guidelines
        chosen: list[_Definition] = []
        for name in sorted(ranked, key=lambda n: (ranked[n][0].position, n)):
            found = self._choose(name, ranked[name], chosen, keys)
            if found is not None:
                chosen.append(found)
            else:
                self.report.configs_set_aside.append(name)
        self._report_config_conflicts(sources, ranked, chosen, keys_from, guidelines_from)
        base_names = {d.name for d in out.definitions} if out is not None else set()
        self.report.configs_added = [d.name for d in chosen if d.name not in base_names]
        document = {
            "annotations": [d.config for d in chosen],
            **keys,
            **({"guidelines": guidelines} if guidelines is not None else {}),
        }
        times = {d.name: d.updated_at for d in chosen}
        aside = _set_aside(ranked, chosen)
        guidelines_at = guidelines_from.guidelines_at
        if (
            document != base
            or any(base_times.get(n) != t for n, t in times.items())
            or aside != base_aside
            or guidelines_at != self.store.guidelines_updated_at()
        ):
            self.store.save_config_document(
                document, updated_at=times, set_aside=aside, guidelines_updated_at=guidelines_at
            )

    def _choose(
        self,
        name: str,
        definitions: list[_Definition],
        chosen: list[_Definition],
        keys: dict[str, Any],
    ) -> _Definition | None:
        """The greatest-ranked definition of `name` that fits the document (None: none does),
        reporting a file's definition that did not fit. Definitions that were set aside already
        are not reported again: only what a file offers for its own document is news."""
        from annotator.config import ConfigError, parse_config  # only with configs to merge

        live: dict[bytes, _Definition] = {}  # a copy in some file's document, by content
        for definition in definitions:
            if not definition.set_aside:
                live.setdefault(definition.canonical, definition)
        skipped: tuple[_Definition, str] | None = None  # the first such copy that did not fit
        for definition in _distinct(definitions):
            candidate = {"annotations": [*(d.config for d in chosen), definition.config]}
            try:
                parse_config(orjson.dumps({**candidate, **keys}).decode(), "merged configs")
            except ConfigError as error:
                copy = live.get(definition.canonical)
                if skipped is None and copy is not None:
                    skipped = (copy, error.problems[0].message if error.problems else "invalid")
                continue
            if skipped is not None:
                kept = live.get(definition.canonical, definition)
                self.report.problems.append(
                    f"{skipped[0].source}: config {name!r}: its newest definition does not fit "
                    f"({skipped[1]}); kept {kept.source}'s"
                )
            return definition
        if skipped is not None:
            self.report.problems.append(
                f"{skipped[0].source}: config {name!r} not added (set aside for a later merge): "
                f"{skipped[1]}"
            )
        return None

    def _report_config_conflicts(
        self,
        sources: list[_ConfigSource],
        ranked: dict[str, list[_Definition]],
        chosen: list[_Definition],
        keys_from: _ConfigSource,
        guidelines_from: _ConfigSource,
    ) -> None:
        kept = {d.name: d for d in chosen}
        for name, definitions in ranked.items():
            # The files' own definitions; one set aside earlier is listed only when it is kept.
            live = [d for d in definitions if not d.set_aside]
            winner = kept.get(name) or (live[0] if live else None)
            if winner is None or all(d.canonical == winner.canonical for d in live):
                continue
            shown = live if any(d.canonical == winner.canonical for d in live) else [winner, *live]
            holders = [d.source for d in shown if d.canonical == winner.canonical]
            differing = tuple(
                (d.source, _differing_fields(winner.config, d.config))
                for d in shown
                if d.canonical != winner.canonical
            )
            self.report.config_conflicts.append(
                ConfigConflict(
                    name,
                    ", ".join(holders),
                    tuple(sorted(differing, key=lambda item: self._source_order(item[0]))),
                    tuple((d.source, d.updated_at) for d in shown),
                )
            )
        keys_differ = tuple((s.label, ("keys",)) for s in sources if s.keys != keys_from.keys)
        if keys_differ:
            self.report.config_conflicts.append(
                ConfigConflict("keys:", keys_from.label, keys_differ)
            )
        # A file that never had guidelines (none, no time) says nothing about them: it is not
        # listed. One that has other text, or removed them (none, with a time), is.
        kept_text = guidelines_from.guidelines
        said = [s for s in sources if s.guidelines is not None or s.guidelines_at]
        if any(s.guidelines != kept_text for s in said):
            self.report.config_conflicts.append(
                ConfigConflict(
                    "guidelines:",
                    ", ".join(s.label for s in said if s.guidelines == kept_text),
                    tuple((s.label, ("guidelines",)) for s in said if s.guidelines != kept_text),
                    tuple((s.label, s.guidelines_at) for s in said),
                )
            )

    def _source_order(self, label: str) -> int:
        labels = [self.out_label, *(s.label for s in self.sources)]
        return labels.index(label) if label in labels else len(labels)

    # -- annotations ----------------------------------------------------------------------------

    # -- campaigns: assignments and marks -------------------------------------------------------

    def _merge_campaign(self) -> None:
        """Assignments: union; when two files hold one (annotator, target, item), the earliest
        (assigned_at, campaign, trace) is kept. Skips and flags: per (kind, annotator, span)
        the newest updated_at wins, a tie going to the greater reason and created_at. Both
        orders are total, so any order of the inputs gives the same result."""
        conn = self.conn
        before = conn.total_changes
        conn.execute(
            "INSERT INTO main.assignments (annotator, target, item_id, trace_id, campaign, "
            "overlap, assigned_at) SELECT annotator, target, item_id, trace_id, campaign, "
            "overlap, assigned_at FROM src.assignments WHERE true "
            "ON CONFLICT (annotator, target, item_id) DO UPDATE SET trace_id = excluded.trace_id, "
            "campaign = excluded.campaign, overlap = excluded.overlap, "
            "assigned_at = excluded.assigned_at WHERE (excluded.assigned_at, excluded.campaign, "
            "excluded.trace_id, excluded.overlap) < (assignments.assigned_at, "
            "assignments.campaign, assignments.trace_id, assignments.overlap)"
        )
        self.report.assignments_changed += conn.total_changes - before
        before = conn.total_changes
        conn.execute(
            "INSERT INTO main.item_marks (kind, annotator, span_id, trace_id, reason, created_at, "
            "updated_at) SELECT kind, annotator, span_id, trace_id, reason, created_at, "
            "updated_at FROM src.item_marks WHERE true "
            "ON CONFLICT (kind, annotator, span_id) DO UPDATE SET trace_id = excluded.trace_id, "
            "reason = excluded.reason, created_at = excluded.created_at, "
            "updated_at = excluded.updated_at WHERE (excluded.updated_at, excluded.reason, "
            "excluded.created_at, excluded.trace_id) > (item_marks.updated_at, "
            "item_marks.reason, item_marks.created_at, item_marks.trace_id)"
        )
        self.report.marks_changed += conn.total_changes - before

    def _stage_annotations(self, index: int) -> None:
        values = ", ".join(_VALUE_COLUMNS)
        cursor = self.conn.execute(
            f"INSERT INTO temp.merge_rows (src, {_KEY_LIST}, {values}, rank, result) "
            f"SELECT ?, {_KEY_SELECT}, {values}, merge_rank(?, {_RANK_ARGS}), "
            "merge_result(label, score, explanation) FROM src.annotations",
            (index, index),
        )
        self.summaries[index - 1].annotations = cursor.rowcount

    def _merge_annotations(self) -> None:
        conn = self.conn
        report = self.report
        values = ", ".join(_VALUE_COLUMNS)
        # One write transaction: OUT's rows are read and the winners written in it.
        with self.store.annotation_batch(action="merge") as batch:
            conn.execute("DROP TABLE IF EXISTS temp.merge_keys")
            conn.execute(
                f"CREATE TEMP TABLE merge_keys AS SELECT DISTINCT {_KEY_LIST} FROM merge_rows"
            )
            conn.execute(f"CREATE UNIQUE INDEX temp.merge_keys_key ON merge_keys ({_KEY_LIST})")
            # OUT's own rows for those keys (src 0); the index is built once they are in.
            conn.execute(
                f"INSERT INTO temp.merge_rows (src, out_id, {_KEY_LIST}, {values}, rank, result) "
                f"SELECT 0, id, {_KEY_SELECT}, {values}, merge_rank(0, {_RANK_ARGS}), "
                "merge_result(label, score, explanation) FROM main.annotations "
                "WHERE EXISTS (SELECT 1 FROM temp.merge_keys k WHERE k.k_target = target "
                f"AND k.k_id = ({TARGET_ID_SQL}) AND k.k_pos = coalesce(document_position, -1) "
                "AND k.k_name = name AND k.k_ident = identifier)"
            )
            conn.execute(f"CREATE INDEX temp.merge_rows_key ON merge_rows ({_KEY_LIST}, rank)")
            keys = conn.execute("SELECT count(*) FROM temp.merge_keys").fetchone()[0]
            report.conflicts = list(self._conflicts())
            self._write_winners(batch)
        report.annotations_new = batch.counts.new
        report.annotations_updated = batch.counts.updated
        report.annotations_unchanged = keys - report.annotations_new - report.annotations_updated

    def _write_winners(self, batch: AnnotationBatch) -> None:
        """Each key's greatest row, where it is not OUT's own, through the store's batch write
        path (logged as 'merge' by the input's actor, its times kept, context ids filled from
        OUT's spans and traces), with OUT's row it replaces as the row before."""
        conn = self.conn
        values = ", ".join(f"r.{c}" for c in _VALUE_COLUMNS)
        before = ", ".join(f"a.{c}" for c in COLUMNS)
        # Materialised first, so that no query is still reading the tables written below.
        conn.execute("DROP TABLE IF EXISTS temp.merge_winners")
        conn.execute(
            f"CREATE TEMP TABLE merge_winners AS "
            f"WITH best AS (SELECT {_KEY_LIST}, max(rank) AS rank, max(out_id) AS before_id "
            f"FROM temp.merge_rows GROUP BY {_KEY_LIST}) "
            f"SELECT r.src, b.before_id, {values}, {before} FROM best b "
            f"JOIN temp.merge_rows r USING ({_KEY_LIST}, rank) "
            "LEFT JOIN main.annotations a ON a.id = b.before_id "
            "WHERE r.src != 0"
        )
        width = len(_VALUE_COLUMNS)
        actors = [source.actor for source in self.sources]
        for row in conn.execute("SELECT * FROM temp.merge_winners"):
            src, before_id = row[0], row[1]
            after = Annotation(**dict(zip(_VALUE_COLUMNS, row[2 : 2 + width], strict=True)))
            after.metadata = _metadata(after.metadata)  # type: ignore[arg-type]
            replaced = None
            if before_id is not None:
                replaced = Annotation(**dict(zip(COLUMNS, row[2 + width :], strict=True)))
                replaced.metadata = _metadata(replaced.metadata)  # type: ignore[arg-type]
            batch.put(after, actor=actors[src - 1], before=replaced)

    def _conflicts(self) -> Iterator[AnnotationConflict]:
        rows = self.conn.execute(
            f"WITH c AS (SELECT {_KEY_LIST} FROM temp.merge_rows GROUP BY {_KEY_LIST} "
            "HAVING count(DISTINCT result) > 1) "
            f"SELECT {_KEY_LIST}, src, label, score, explanation, annotator_kind, updated_at, "
            f"rank, {_FINAL_META.format('decided_by')}, {_FINAL_META.format('reviewer')} "
            f"FROM temp.merge_rows JOIN c USING ({_KEY_LIST}) "
            f"ORDER BY {_KEY_LIST}, rank DESC"
        )
        current_key: tuple | None = None
        versions: list[Version] = []
        best: tuple | None = None
        for row in rows:
            key_values = row[:5]
            if key_values != current_key:
                if current_key is not None:
                    yield _conflict(current_key, versions)
                current_key, versions, best = key_values, [], None
            src, label, score, explanation, kind, updated_at, rank, decided_by, reviewer = row[5:]
            order = rank[:-_SRC_WIDTH]  # equal for identical rows from different files
            if best is None:
                best = order
            source_label = self.out_label if src == 0 else self.sources[src - 1].label
            versions.append(
                Version(
                    source_label,
                    label,
                    score,
                    explanation,
                    kind,
                    updated_at,
                    order == best,
                    _text_or_none(decided_by),
                    _text_or_none(reviewer),
                )
            )
        if current_key is not None:
            yield _conflict(current_key, versions)


@dataclass(frozen=True)
class _Definition:
    """One file's definition of one config."""

    source: str
    name: str
    config: dict[str, Any]
    updated_at: str  # "" when the file has no annotation_configs row for it
    position: int  # in its file's document (set aside: after every position there)
    canonical: bytes
    set_aside: bool = False  # not in the file's document: set aside by an earlier merge

    def rank(self) -> tuple[str, bytes, int]:
        """Greatest first: newest, then greater content; among copies of one definition the
        earliest position (so that the order of the configs does not depend on the inputs')."""
        return (self.updated_at, self.canonical, -self.position)


@dataclass(frozen=True)
class _ConfigSource:
    label: str
    definitions: list[_Definition]  # its document's
    keys: dict[str, Any]
    newest: str  # the most recent updated_at of its configs, those set aside included
    set_aside: list[_Definition] = field(default_factory=list)
    guidelines: str | None = None  # its document's guidelines: (blank: None)
    guidelines_at: str = ""  # when they last changed; "" when not recorded (older files)

    def guidelines_rank(self) -> tuple[str, str]:
        """The greatest wins: the newest guidelines, a tie going to the greater text (none
        counts as ""); guidelines without a time (written before times were kept) are the
        oldest."""
        return (self.guidelines_at, self.guidelines or "")


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _config_source(
    label: str,
    document: Any,
    times: dict[str, str],
    aside: list[dict[str, Any]],
    aside_label: str,
    guidelines_at: str,
) -> _ConfigSource | None:
    """A file's configs: its document's (`times`: their updated_at by name), the entries
    `aside` that an earlier merge set aside (`config_set_aside_entries`) and its document's
    guidelines, changed at `guidelines_at`."""
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        return None
    definitions = [
        _Definition(
            label, str(config["name"]), config, str(times.get(str(config["name"])) or ""),
            position, _canonical(config),
        )
        for position, config in enumerate(document["annotations"])
        if isinstance(config, dict) and "name" in config
    ]  # fmt: skip
    set_aside = [
        _Definition(
            aside_label, entry["name"], entry["config"], str(entry.get("updated_at") or ""),
            _ASIDE_POSITION + position, _canonical(entry["config"]), set_aside=True,
        )
        for position, entry in enumerate(aside)
    ]  # fmt: skip
    keys = document.get("keys")
    guidelines = document.get("guidelines")
    return _ConfigSource(
        label,
        definitions,
        keys if isinstance(keys, dict) else {},
        max((d.updated_at for d in (*definitions, *set_aside)), default=""),
        set_aside,
        guidelines if isinstance(guidelines, str) and guidelines.strip() else None,
        guidelines_at,
    )


_ASIDE_POSITION = 1_000_000  # a set-aside definition's position: after any in a document


def _set_aside(
    ranked: dict[str, list[_Definition]], chosen: list[_Definition]
) -> list[dict[str, Any]]:
    """What the merged file keeps aside: every distinct definition that was not chosen (each
    with its newest copy's updated_at) and that a later merge could still choose, by name and
    then rank. With them a later merge offers every definition this one was offered that
    matters, so merge(merge(A, B), C) chooses what merge(A, B, C) chooses: a definition that
    does not fit now, or that lost to one that may not fit another file's keys: remap, can
    still be chosen then.

    Left out: a definition outranked by one that fits wherever it fits (`_outranked`). Whether a
    definition fits depends only on the keys: remap (its value keys must be free of the app's
    actions), so no later merge can choose it: the other one, or one ranked higher still,
    always comes first. Leaving it out changes no choice and no file's newest time (the
    other's is as new), and the same definition is left out whichever way the files are
    merged, so merging stays associative; it keeps the list to what can still be chosen."""
    kept = {(d.name, d.canonical) for d in chosen}
    aside: list[dict[str, Any]] = []
    for name in sorted(ranked):
        fitting: list[frozenset[str]] = []  # the value keys of each valid one ranked higher
        for d in _distinct(ranked[name]):
            keys = _value_keys(d.config)
            if _outranked(keys, fitting):
                continue
            if keys is not None:
                fitting.append(keys)
            if (name, d.canonical) not in kept:
                aside.append({"name": name, "updated_at": d.updated_at, "config": d.config})
    return aside


def _value_keys(config: dict[str, Any]) -> frozenset[str] | None:
    """The keys a config's values take (none for other types), or None when the config is not
    valid on its own (then it fits no document). Checked without a keymap: what depends on
    the keys: remap is only whether these keys are free."""
    from annotator.config import AnnotationConfig
    from annotator.keymap import RESERVED_KEYS

    try:
        parsed = AnnotationConfig.model_validate(config)
    except (ValueError, TypeError):
        return None
    keys = frozenset(value.key for value in parsed.values if value.key)
    return None if keys & RESERVED_KEYS else keys


def _outranked(keys: frozenset[str] | None, fitting: list[frozenset[str]]) -> bool:
    """Whether a definition with value `keys` (None: not valid) can never be chosen, given the
    value keys of the valid definitions of its name ranked above it: one of those needs no key
    that it does not need itself, so it fits under every remap this one fits under."""
    if keys is None:
        return bool(fitting)
    return any(higher <= keys for higher in fitting)


def _distinct(definitions: list[_Definition]) -> Iterator[_Definition]:
    seen: set[bytes] = set()
    for definition in definitions:
        if definition.canonical not in seen:
            seen.add(definition.canonical)
            yield definition


def _differing_fields(kept: dict[str, Any], other: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in set(kept) | set(other) if kept.get(k) != other.get(k)))


def _conflict(key_values: tuple, versions: list[Version]) -> AnnotationConflict:
    target, target_id, position, name, identifier = key_values
    key = AnnotationKey(target, target_id, None if position == -1 else position, name, identifier)
    return AnnotationConflict(key, tuple(versions))


# A final value's metadata field (text), NULL for other rows and metadata that is not JSON.
_FINAL_META = (
    f"CASE WHEN k_ident = '{FINAL}' AND json_valid(metadata) "
    "THEN json_extract(metadata, '$.{}') END"
)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


_SRC_WIDTH = 10  # the rank's last part: the input's position, inverted
_SEPARATOR = "\x01\x01"


def _rank(
    src: int,
    identifier: str | None,
    updated_at: str | None,
    label: Any,
    score: Any,
    explanation: Any,
    kind: Any,
    metadata: Any,
    created_at: str | None,
    source: str | None,
) -> str:
    """One text whose order (SQLite compares text bytewise) is the order of the tuple
    (reviewer's final, updated_at, content, created_at, source, -src), content being the
    canonical JSON of (label, score, explanation, annotator_kind, metadata with sorted keys).
    The greatest rank of a key wins: a reviewer's final value before an automatic one, then the
    newest, on a tie the greater content, then the later created_at and source; between
    identical rows the earliest input (or OUT itself, src 0)."""
    meta = _metadata(metadata)
    reviewed = identifier == FINAL and meta.get("decided_by") == REVIEWER
    content = orjson.dumps(
        [label, score, explanation, kind, meta], option=orjson.OPT_SORT_KEYS
    ).decode()
    parts = [
        "1" if reviewed else "0",
        _escape(updated_at or ""),
        content,
        _escape(created_at or ""),
        _escape(source or ""),
    ]
    return _SEPARATOR.join(parts) + _SEPARATOR + f"{9_999_999 - src:08d}"


def _escape(text: str) -> str:
    r"""Order-preserving: characters \x00 and \x01 become \x01\x02 and \x01\x03, so that the
    separator \x01\x01 sorts below every character and a field that ends sorts before one that
    goes on (tuple order). orjson already escapes every control character in `content`."""
    if "\x00" in text or "\x01" in text:
        return text.replace("\x01", "\x01\x03").replace("\x00", "\x01\x02")
    return text


def _result(label: Any, score: Any, explanation: Any) -> str:
    """What a conflict is about: rows of one key with different results disagree."""
    return orjson.dumps([label, score, explanation]).decode()


def _metadata(raw: str | None) -> Any:
    """The metadata column as the store writes it (a JSON object). Text that is not a JSON
    object (edited by hand) is wrapped the same way when compared and when written, so that
    merging it again compares equal."""
    try:
        value = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {"_unparsed": raw}
    return value if isinstance(value, dict) else {"_value": value}


def _span_order(row: tuple) -> bytes:
    return orjson.dumps(list(row))
