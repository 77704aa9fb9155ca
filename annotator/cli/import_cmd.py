"""`annotator import`: trace files and annotation files into the database."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from annotator.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    BadInput,
    db_option,
    friendly_errors,
)
from annotator.cli.output import say, warn

if TYPE_CHECKING:
    from annotator.annotations_io import AnnotationImportOptions
    from annotator.importer import ImportReport
    from annotator.store import Store


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@click.option("--project", help="Project name for every span (default: from the file).")
@click.option(
    "--name",
    "annotation_name",
    help="Annotation name for annotation files whose records have none (evaluation tables).",
)
@click.option(
    "--annotator-kind",
    type=click.Choice(["LLM", "CODE", "HUMAN"], case_sensitive=False),
    help="Annotator kind for annotation records that do not say [default: LLM].",
)
@click.option(
    "--identifier",
    help='Identifier (e.g. the judge\'s name) for annotation records that have none [default: ""].',
)
@click.option(
    "--keep-orphans",
    is_flag=True,
    help="Store annotations on spans/traces/sessions that are not in the database "
    "(still reported).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@friendly_errors
def import_command(
    files: tuple[str, ...],
    db_path: str,
    project: str | None,
    annotation_name: str | None,
    annotator_kind: str | None,
    identifier: str | None,
    keep_orphans: bool,
    quiet: bool,
) -> None:
    """Import trace FILES and annotation FILES (detected from content, in any mix).

    \b
    Traces: OTLP JSON, Phoenix exports, parquet.
    Annotations: Phoenix annotation records (GET .../span_annotations etc. responses, POST
      /v1/*_annotations request bodies, document annotations), evaluation tables (JSON lines,
      CSV, parquet with a span_id / context.span_id column and label / score / explanation;
      Phoenix SpanEvaluations files) and `annotator export` output. Imported annotations get
      source API (rows of an `annotator export` file keep theirs) and keep their times.

    Importing the same files again changes nothing. Bad records are reported as FILE:LINE and
    skipped; annotations on spans, traces or sessions not in the database are reported and not
    stored (unless --keep-orphans). Every file is checked first: if one is missing, unreadable
    or neither traces nor annotations, nothing is imported (exit code 2) and no database is
    created. An evaluation table without a name (give --name) is found later: it is skipped
    and the exit code is 2.
    """
    from annotator.annotations_io import AnnotationImportOptions

    options = AnnotationImportOptions(
        name=annotation_name.strip() if annotation_name and annotation_name.strip() else None,
        annotator_kind=annotator_kind.upper() if annotator_kind else None,
        identifier=identifier,
        keep_orphans=keep_orphans,
    )
    from annotator.store import Store

    refuse_bad_inputs(files)
    store = Store.open(db_path)
    discarded = False
    try:
        report = import_into_store(store, files, project=project, annotations=options)
    finally:
        discarded = store.close(discard_if_empty=True)  # every record was bad: no database
    for note in report.notes:
        warn(f"note: {note}")
    if not quiet:
        where = f"No database was created ({db_path})." if discarded else f"Database: {db_path}"
        say(f"{report.summary()} {where}")
    if report.rejected_files:
        raise SystemExit(EXIT_BAD_INPUT)


def refuse_bad_inputs(files: Sequence[str]) -> None:
    """Exit with code 2, before anything is opened or written, when a file cannot be imported:
    one line per such file."""
    from annotator.importer import check_inputs

    refused = check_inputs(files)
    if not refused:
        return
    if len(refused) == 1:
        warn(f"{refused[0]} (nothing was imported)")
    else:
        for line in refused:
            warn(line)
        warn(f"Nothing was imported: {len(refused)} of the files cannot be imported.")
    raise SystemExit(EXIT_BAD_INPUT)


def import_into_store(
    store: Store,
    files: Sequence[str],
    *,
    project: str | None,
    annotations: AnnotationImportOptions | None = None,
) -> ImportReport:
    """Import checked files, each problem on stderr as it is found. An import cut short (Ctrl-C,
    a full disk, a lock held too long) says in one line what it had committed (whole traces:
    see `annotator.store.spans`)."""
    from annotator.importer import ImportReport, import_files
    from annotator.store import StoreError, describe_error

    report = ImportReport()
    try:
        import_files(
            store, files, project=project, on_problem=warn, annotations=annotations, report=report
        )
    except KeyboardInterrupt:
        warn(
            f"annotator: interrupted: {report.committed()}. Run the same import again to "
            "finish it (what is already there is skipped)."
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    except (StoreError, sqlite3.Error) as error:
        reason = str(error) if isinstance(error, StoreError) else describe_error(error, store.path)
        if reason is None:
            raise
        raise BadInput(f"{reason} ({report.committed()})") from None
    return report
