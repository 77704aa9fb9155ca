"""Importing files into a store: every reader's spans through one `SpanWriter`, with one report.

Bad records never stop an import: each becomes a line in the report and the rest goes in. A
file that is not a trace file at all is reported (one line) and skipped; the caller decides the
exit code from `ImportReport.rejected_files`. `check_inputs` finds such files before anything is
written, so that a command can refuse them without touching the database.

An import cut short (Ctrl-C, a full disk) leaves what it committed consistent and visible (spans
are committed with their trace rows); the caller's `ImportReport` says how much that was.

Annotation files (Phoenix annotation records, evaluation tables, this program's own export;
recognised from their content) may be given in the same call: the span files are imported
first, then the annotation files in the order given, each in one transaction
(``annotator.annotations_io``), so that annotations find spans from any of the files.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from annotator.model import Problem, Span
from annotator.readers import ANNOTATION_FORMATS, EMPTY, NotATraceFile, read_spans, sniff_file
from annotator.store import Store

if TYPE_CHECKING:
    from annotator.annotations_io import AnnotationImportOptions


@dataclass
class ImportReport:
    files: int = 0
    spans_new: int = 0
    spans_existing: int = 0
    traces: int = 0
    sessions: int = 0
    problems: list[str] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Annotation files (counts over all of them).
    annotation_files: int = 0
    annotations_new: int = 0
    annotations_updated: int = 0
    annotations_unchanged: int = 0
    annotations_orphaned: int = 0
    orphans_kept: bool = False
    annotation_files_done: int = 0  # committed (each file is one transaction)
    notes: list[str] = field(default_factory=list)  # not problems: what was assumed

    def committed(self) -> str:
        """What an import cut short had committed, for its one-line message."""
        parts = []
        if self.spans_new:
            parts.append(f"{self.spans_new:,} spans in {self.traces:,} traces")
        if self.annotations_new or self.annotations_updated:
            parts.append(
                f"{self.annotations_new + self.annotations_updated:,} annotations"
                f" from {self.annotation_files_done} file"
                f"{'s' if self.annotation_files_done != 1 else ''}"
            )
        if not parts:
            return "nothing was imported"
        return f"{' and '.join(parts)} had been imported and are visible; the rest was not"

    @property
    def spans_read(self) -> int:
        return self.spans_new + self.spans_existing

    def summary(self) -> str:
        """One line. The spans part is left out when every file was an annotation file."""
        noun = "file" if self.files == 1 else "files"
        problems = len(self.problems) + len(self.rejected_files)
        tail = f"; {problems} problem{'s' if problems != 1 else ''}."
        annotations = ""
        if self.annotation_files:
            fate = "stored anyway" if self.orphans_kept else "not stored"
            orphaned = (
                f"{self.annotations_orphaned:,} orphaned (not in the database: {fate})"
                if self.annotations_orphaned
                else "0 orphaned"
            )
            annotations = (
                f"{self.annotations_new:,} new, {self.annotations_updated:,} updated, "
                f"{self.annotations_unchanged:,} unchanged, {orphaned}"
            )
            if self.files == self.annotation_files:
                return (
                    f"Imported annotations from {self.files} {noun} in {self.seconds:.2f}s: "
                    f"{annotations}{tail}"
                )
            annotations = f"; annotations: {annotations}"
        existing = f" ({self.spans_existing:,} already present)" if self.spans_existing else ""
        return (
            f"Imported {self.spans_new:,} new spans{existing} in {self.traces:,} traces and "
            f"{self.sessions:,} sessions from {self.files} {noun} in {self.seconds:.2f}s"
            f"{annotations}{tail}"
        )


def check_inputs(paths: Iterable[str | Path]) -> list[str]:
    """One line per file that cannot be imported, found before anything is written: missing, not
    a regular file (a directory; a named pipe, which could block forever and cannot be read
    twice), unreadable, or neither traces nor annotations by its content. Detection reads the
    first lines (a file holding one JSON document is parsed whole, here and again on import)."""
    problems = []
    for given in paths:
        path = Path(given)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            problems.append(f"{given}: no such file")
            continue
        except OSError as error:
            problems.append(f"{given}: cannot read ({error.strerror or error})")
            continue
        if stat.S_ISDIR(info.st_mode):
            problems.append(f"{given}: is a directory; give the files in it")
            continue
        if not stat.S_ISREG(info.st_mode):
            kind = "a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
            problems.append(
                f"{given}: {kind}; annotator reads its inputs twice (to detect the format), so "
                "save the data to a file first"
            )
            continue
        try:
            sniff_file(path)
        except NotATraceFile as error:
            problems.append(str(error))
    return problems


def import_files(
    store: Store,
    paths: Iterable[str | Path],
    *,
    project: str | None = None,
    on_problem: Callable[[str], None] | None = None,
    annotations: AnnotationImportOptions | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Read every file into the store. `on_problem` sees each problem as it is found.
    `annotations`: options for the annotation files among `paths` (name, kind, identifier to
    assume, whether to keep orphans). `report`: filled in as the import goes, so that a caller
    whose import was cut short (an exception) knows what had been committed."""
    report = report if report is not None else ImportReport()
    started = time.perf_counter()

    def problem(message: str) -> None:
        report.problems.append(message)
        if on_problem:
            on_problem(message)

    def rejected(message: str) -> None:
        report.rejected_files.append(message)
        if on_problem:
            on_problem(message)

    annotation_files: list[Path] = []
    writer = store.span_writer()
    try:
        for path in paths:
            report.files += 1
            try:
                sniffed = sniff_file(Path(path))
                if sniffed.fmt == EMPTY:
                    report.notes.append(f"{path}: an empty list of records: nothing to import")
                    continue
                if sniffed.fmt in ANNOTATION_FORMATS:
                    annotation_files.append(Path(path))  # after the spans; detected again then
                    continue
                for item in read_spans(Path(path), project=project, sniffed=sniffed):
                    if isinstance(item, Span):
                        writer.add(item)
                    elif isinstance(item, Problem):
                        problem(str(item))
            except NotATraceFile as error:
                rejected(str(error))
            except OSError as error:
                rejected(f"{path}: cannot read ({error.strerror or error})")
        result = writer.close()
    except BaseException as error:
        writer.abort(error)
        report.spans_new = writer.committed
        report.traces = len(writer.committed_traces)
        raise
    for message in [*result.conflicts, *result.tree_problems]:
        problem(message)
    report.spans_new = result.new
    report.spans_existing = result.existing
    traces = store.traces_by_ids(sorted(result.trace_ids))
    report.traces = len(traces)
    report.sessions = len({row.session_id for row in traces.values() if row.session_id})
    if annotation_files:
        _import_annotation_files(store, annotation_files, annotations, report, problem, rejected)
    report.seconds = time.perf_counter() - started
    return report


def _import_annotation_files(
    store: Store,
    paths: list[Path],
    options: AnnotationImportOptions | None,
    report: ImportReport,
    problem: Callable[[str], None],
    rejected: Callable[[str], None],
) -> None:
    from annotator.annotations_io import (
        AnnotationImportOptions,
        FileRejected,
        import_annotation_file,
    )

    options = options or AnnotationImportOptions()
    report.orphans_kept = options.keep_orphans
    for path in paths:
        report.annotation_files += 1
        try:
            # Detected again rather than kept from the first pass: a JSON document is held
            # parsed only while its own file is imported.
            sniffed = sniff_file(path)
            result = import_annotation_file(store.connection, path, sniffed, options, problem)
        except (NotATraceFile, FileRejected) as error:
            rejected(str(error))
            continue
        except OSError as error:
            rejected(f"{path}: cannot read ({error.strerror or error})")
            continue
        report.annotations_new += result.new
        report.annotations_updated += result.updated
        report.annotations_unchanged += result.unchanged
        report.annotations_orphaned += result.orphaned
        report.annotation_files_done += 1
        if result.assumed_kind:
            report.notes.append(
                f"{path}: {result.assumed_kind:,} record{'s' if result.assumed_kind != 1 else ''} "
                "without annotator_kind stored as LLM (say otherwise with --annotator-kind)"
            )
