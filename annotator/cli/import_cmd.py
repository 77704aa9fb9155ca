"""`annotator import`: trace files into the database."""

from __future__ import annotations

import click

from annotator.cli.main import EXIT_BAD_INPUT, cli, db_option, friendly_errors


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@db_option
@click.option("--project", help="Project name for every span (default: from the file).")
@click.option("--quiet", "-q", is_flag=True, help="Print only problems.")
@friendly_errors
def import_command(files: tuple[str, ...], db_path: str, project: str | None, quiet: bool) -> None:
    """Import trace FILES (OTLP JSON, Phoenix exports, parquet; detected from content).

    Importing the same spans again changes nothing. Bad records are reported as FILE:LINE and
    skipped; a file that is not a trace file at all makes the exit code 2.
    """
    from annotator.importer import import_files
    from annotator.store import Store

    with Store.open(db_path) as store:
        report = import_files(
            store, files, project=project, on_problem=lambda line: click.echo(line, err=True)
        )
    if not quiet:
        click.echo(f"{report.summary()} Database: {db_path}")
    if report.rejected_files:
        raise SystemExit(EXIT_BAD_INPUT)
