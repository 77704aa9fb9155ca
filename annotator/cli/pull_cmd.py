"""`annotator pull`: a Phoenix project's spans, configs and annotations into the database."""

from __future__ import annotations

import click

from annotator.cli.common import EXIT_INTERRUPTED, db_option, friendly_errors
from annotator.cli.output import say, warn
from annotator.cli.phoenix_common import Progress, phoenix_client, url_option


@click.command("pull")
@url_option
@click.option("--project", required=True, metavar="NAME", help="The Phoenix project to pull.")
@click.option(
    "--where",
    metavar="EXPR",
    help="Phoenix's own span filter (its filter bar's language), e.g. \"span_kind == 'LLM'\".",
)
@click.option(
    "--since", metavar="TIME", help="Only spans that started at or after TIME (e.g. 2026-07-01)."
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N spans this run.")
@db_option
@friendly_errors
def pull_command(
    url: str | None,
    project: str,
    where: str | None,
    since: str | None,
    limit: int | None,
    db_path: str,
) -> None:
    """Pull a Phoenix project into the database: its spans (with the project name), its
    annotation configs and the annotations of every span, trace and session (span, trace,
    session and document annotations, notes).

    \b
    Pulling again adds nothing and reads only the spans Phoenix received since.
    An interrupted pull (Ctrl-C, a lost connection, --limit) continues where it stopped.
    A newer local value is never overwritten: it is kept and the pair listed as a conflict.
    Every failure is one line on stderr and exit code 2; what was pulled before it stays.

    \b
    Examples:
      annotator pull --project my-app
      annotator pull --url https://phoenix.example.com --project my-app --where "span_kind == 'LLM'"
    """
    from annotator.phoenix import pull
    from annotator.store import Store

    store = Store.open(db_path)
    progress = Progress("pull", {"spans": "spans", "annotations": "requests"})
    try:
        with phoenix_client(url) as client, progress:
            report = pull(
                store, client, project, where=where, since=since, limit=limit, progress=progress
            )
    except KeyboardInterrupt:
        spans = progress.done.get("spans", 0)
        warn(
            f"annotator: interrupted: {spans:,} spans of {project!r} are in {db_path}. Run the "
            "same pull again to continue."
        )
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        # A pull that could not start (unknown project, no server) leaves no empty database.
        store.close(discard_if_empty=True)
    say(report.summary())
