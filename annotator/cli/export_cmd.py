"""`annotator export`: annotations out, as flat JSON lines / CSV or Phoenix request bodies."""

from __future__ import annotations

import sys

import click

from annotator.cli.common import bad_input_on, db_option, friendly_errors
from annotator.cli.filter_options import filter_options, selection_from
from annotator.cli.output import data_stdout, warn


@click.command("export")
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "phoenix"]),
    default="jsonl",
    show_default=True,
    help="jsonl/csv: one flat row per annotation with its span context; phoenix: the request "
    "bodies of Phoenix's annotation and note endpoints.",
)
@click.option(
    "--out",
    "out",
    default="-",
    show_default=True,
    help="Output file ('-': stdout). For phoenix, a directory (existing, or ending in '/') "
    "gets one file per endpoint. A file is replaced atomically (keeping its mode); a device or "
    "FIFO is written in place; a SQLite database and the --db are refused.",
)
@click.option(
    "--name", "names", multiple=True, help="Only annotations with this name (repeatable)."
)
@click.option("--annotator", help="Only this annotator's annotations (their identifier).")
@click.option(
    "--target",
    type=click.Choice(["span", "trace", "document", "session"]),
    help="Only annotations on this kind of target.",
)
@filter_options
@friendly_errors
def export_command(
    db_path: str,
    fmt: str,
    out: str,
    names: tuple[str, ...],
    annotator: str | None,
    target: str | None,
    where: str | None,
    trace_where: str | None,
    search: str | None,
) -> None:
    """Export annotations (not the log) from the database.

    --where / --trace-where / --search keep the annotations about the spans they select (span
    and document annotations by their span; trace annotations by the trace's root span;
    session annotations by the root span of one of the session's traces).

    \b
    jsonl / csv columns, in this order:
      name, annotator_kind, identifier, label, score, explanation, metadata, source,
      created_at, updated_at, target, span_id, trace_id, session_id, document_position, id,
      span_name, span_kind, project, span_start_time
    (`annotator import` reads both back exactly.) In CSV, text starting with = + - @, a tab
    or a carriage return gets a leading ' so that spreadsheets do not run it as a formula
    (import takes it off); the JSON lines export has every value raw.

    \b
    phoenix: {"span_annotations": {"data": [...]}, "document_annotations": {...},
      "trace_annotations": {...}, "session_annotations": {...}, "span_notes": [{"data": {...}},
      ...], "trace_notes": [...], "session_notes": [...]}; or with --out DIR/ the files
      DIR/span_annotations.json ... and DIR/span_notes.jsonl ... Send one with
      curl -X POST 'http://localhost:6006/v1/span_annotations?sync=true'
           -H 'Content-Type: application/json' --data-binary @span_annotations.json
    Items Phoenix would refuse (unknown spans, bad document positions...) are left out and
    counted in warnings; document annotations get an empty identifier (Phoenix's rule: the
    annotator goes to metadata.annotator_identifier, one annotation per document and name).
    """
    from annotator.annotations_io import ExportFilter, export_annotations
    from annotator.store import Store

    spans = selection_from(where, trace_where, search)  # before anything is opened or written
    selection = ExportFilter(names=tuple(names), annotator=annotator, target=target, spans=spans)
    stdout = None  # closed (>&-)
    if sys.stdout is not None:
        # Data from the database is escaped on its way to a terminal (JSON always, losslessly).
        stdout = data_stdout(json=fmt != "csv") if out == "-" else sys.stdout.buffer
    # An output refused (OutputError) or its reader gone (`annotator export | head`):
    # friendly_errors; a bad format or a directory for a one-file format: ValueError.
    with Store.open(db_path, readonly=True) as store, bad_input_on(ValueError):
        result = export_annotations(
            store,
            fmt,
            out,
            selection,
            stdout=stdout,
            protect=[db_path],
        )
    for warning in result.warnings:
        warn(f"warning: {warning}")
    where = "stdout" if out == "-" else (", ".join(result.files) if len(result.files) == 1 else out)
    noun = "annotation" if result.rows == 1 else "annotations"
    detail = ""
    if fmt == "phoenix":
        parts = [f"{name} {count:,}" for name, count in result.per_endpoint.items() if count]
        detail = f" ({', '.join(parts)})" if parts else ""
    warn(f"Exported {result.rows:,} {noun}{detail} as {fmt} to {where}.")
