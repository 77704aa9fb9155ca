"""Importing files into a store: every reader's spans through one `SpanWriter`, with one report.

Bad records never stop an import: each becomes a line in the report and the rest goes in. A
file that is not a trace file at all is reported (one line) and skipped; the caller decides the
exit code from `ImportReport.rejected_files`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from annotator.model import Problem, Span
from annotator.readers import NotATraceFile, read_spans
from annotator.store import Store


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

    @property
    def spans_read(self) -> int:
        return self.spans_new + self.spans_existing

    def summary(self) -> str:
        noun = "file" if self.files == 1 else "files"
        existing = f" ({self.spans_existing:,} already present)" if self.spans_existing else ""
        problems = len(self.problems) + len(self.rejected_files)
        return (
            f"Imported {self.spans_new:,} new spans{existing} in {self.traces:,} traces and "
            f"{self.sessions:,} sessions from {self.files} {noun} in {self.seconds:.2f}s; "
            f"{problems} problem{'s' if problems != 1 else ''}."
        )


def import_files(
    store: Store,
    paths: Iterable[str | Path],
    *,
    project: str | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> ImportReport:
    """Read every file into the store. `on_problem` sees each problem as it is found."""
    report = ImportReport()
    started = time.perf_counter()

    def problem(message: str) -> None:
        report.problems.append(message)
        if on_problem:
            on_problem(message)

    writer = store.span_writer()
    try:
        for path in paths:
            report.files += 1
            try:
                for item in read_spans(Path(path), project=project):
                    if isinstance(item, Span):
                        writer.add(item)
                    elif isinstance(item, Problem):
                        problem(str(item))
            except NotATraceFile as error:
                report.rejected_files.append(str(error))
                if on_problem:
                    on_problem(str(error))
            except OSError as error:
                message = f"{path}: cannot read ({error.strerror or error})"
                report.rejected_files.append(message)
                if on_problem:
                    on_problem(message)
        result = writer.close()
    except BaseException:
        writer.abort()
        raise
    for message in [*result.conflicts, *result.tree_problems]:
        problem(message)
    report.spans_new = result.new
    report.spans_existing = result.existing
    traces = store.traces_by_ids(sorted(result.trace_ids))
    report.traces = len(traces)
    report.sessions = len({row.session_id for row in traces.values() if row.session_id})
    report.seconds = time.perf_counter() - started
    return report
