"""`annotator resolve`: final values from the raters' votes (the rules are in
`annotator.team.resolve`)."""

from __future__ import annotations

import click

from annotator.cli.common import bad_input_on, db_option, friendly_errors
from annotator.cli.output import say, say_json


@click.command("resolve")
@db_option
@click.option(
    "--strategy",
    type=click.Choice(["majority", "unanimous", "reviewer"]),
    required=True,
    help="majority: more than half the votes; unanimous: every vote; reviewer: --reviewer's "
    "own values.",
)
@click.option(
    "--min-votes",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Fewer votes than this: listed as needing review (majority, unanimous).",
)
@click.option("--reviewer", metavar="NAME", help="Whose values decide (--strategy reviewer).")
@click.option(
    "--name", "names", multiple=True, metavar="CONFIG", help="Only this config (repeatable)."
)
@click.option("--dry-run", is_flag=True, help="Report what would be decided; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def resolve_command(
    db_path: str,
    strategy: str,
    min_votes: int,
    reviewer: str | None,
    names: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Write the final value of every item the strategy decides; list the rest (ties, too
    few votes) as needing review, never guessed. A reviewer's decision is never changed.

    Votes are people's labels (or scores), not LLM/CODE evaluations and not final values.
    """
    from annotator.store import Store
    from annotator.team.resolve import ResolveError, resolve

    with Store.open(db_path, readonly=dry_run) as store, bad_input_on(ResolveError):
        result = resolve(
            store,
            strategy,
            min_votes=min_votes,
            reviewer=reviewer,
            names=names or None,
            dry_run=dry_run,
        )
    if as_json:
        say_json(result.to_dict())
        return
    for line in result.lines():
        say(line)
