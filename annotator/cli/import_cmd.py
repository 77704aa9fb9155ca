"""`annotator import`: trace files and annotation files into the database."""

from __future__ import annotations

import click

from annotator.cli.main import EXIT_BAD_INPUT, cli, db_option, friendly_errors


@cli.command("import")
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
    help="Identifier (e.g. the judge's name) for annotation records that have none "
    '[default: ""].',
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
    stored (unless --keep-orphans). A file that is neither traces nor annotations, or an
    evaluation table without a name (give --name), makes the exit code 2.
    """
    from annotator.annotations_io import AnnotationImportOptions
    from annotator.importer import import_files
    from annotator.store import Store

    options = AnnotationImportOptions(
        name=annotation_name.strip() if annotation_name and annotation_name.strip() else None,
        annotator_kind=annotator_kind.upper() if annotator_kind else None,
        identifier=identifier,
        keep_orphans=keep_orphans,
    )
    with Store.open(db_path) as store:
        report = import_files(
            store,
            files,
            project=project,
            on_problem=lambda line: click.echo(line, err=True),
            annotations=options,
        )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        click.echo(f"{report.summary()} Database: {db_path}")
    if report.rejected_files:
        raise SystemExit(EXIT_BAD_INPUT)
