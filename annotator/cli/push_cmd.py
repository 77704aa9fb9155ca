"""`annotator push`: the database's annotations, notes and configs (and, with --spans, traces
that came from files) to a live Phoenix."""

from __future__ import annotations

import os

import click

from annotator.cli.common import EXIT_INTERRUPTED, BadInput, db_option, friendly_errors
from annotator.cli.output import say, warn
from annotator.cli.phoenix_common import (
    EXIT_NOT_ALL_SENT,
    Progress,
    phoenix_client,
    url_option,
)


@click.command("push")
@url_option
@click.option(
    "--project",
    metavar="NAME",
    help="Only annotations about this project's spans, traces and sessions (default: every "
    "project in the database; configs are attached to each).",
)
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="NAME",
    help="Only these annotation names (repeatable).",
)
@click.option("--annotator", metavar="ID", help="Only annotations by this identifier.")
@click.option("--dry-run", is_flag=True, help="List what would be sent; send nothing.")
@click.option(
    "--spans",
    "with_spans",
    is_flag=True,
    help="First send the spans Phoenix does not have (traces imported from files), over OTLP.",
)
@db_option
@friendly_errors
def push_command(
    url: str | None,
    project: str | None,
    names: tuple[str, ...],
    annotator: str | None,
    dry_run: bool,
    with_spans: bool,
    db_path: str,
) -> None:
    """Push annotations, notes and configs to Phoenix.

    \b
    Annotations of every target go in batches (sync=true); notes one per request; document
    annotations by Phoenix's rule (its identifier is empty: yours goes to metadata); configs a
    sent annotation uses are normalised to what Phoenix accepts (upper-case type, {label,
    score} values, an optimization_direction), created if Phoenix lacks them, and attached to
    the project. What Phoenix confirmed is recorded in the database with Phoenix's ids: pushing
    again sends nothing new, and a push cut off half-way sends only the rest.

    \b
    Exit codes: 0 everything was sent; 2 nothing could be (one line says why; what Phoenix
    confirmed before stays recorded); 4 Phoenix refused some items or lacks the spans they are
    about (each listed; the rest was sent).
    """
    from annotator.phoenix import push, send_missing_spans
    from annotator.store import Store

    if not os.path.exists(db_path):
        raise BadInput(f"{db_path}: no such database (nothing to push; --db or ANNOTATOR_DB)")
    progress = Progress("push", {"spans": "spans", "ingested": "spans", "annotations": "items"})
    with Store.open(db_path, readonly=dry_run) as store:
        try:
            with phoenix_client(url) as client, progress:
                if with_spans and not dry_run:
                    say(
                        send_missing_spans(
                            store, client, project=project, progress=progress
                        ).summary()
                    )
                report = push(
                    store,
                    client,
                    project=project,
                    names=names,
                    annotator=annotator,
                    dry_run=dry_run,
                    progress=progress,
                )
        except KeyboardInterrupt:
            sent = progress.done.get("annotations", 0)
            warn(
                f"annotator: interrupted after {sent:,} items; what Phoenix confirmed is recorded "
                f"in {db_path}. Run the same push again to send the rest."
            )
            raise SystemExit(EXIT_INTERRUPTED) from None
    say(report.summary())
    if dry_run:
        for pending in report.would_send:
            say(f"  {pending.endpoint}: {pending.describe()}")
        return
    if report.rejected or report.not_in_phoenix:
        raise SystemExit(EXIT_NOT_ALL_SENT)
