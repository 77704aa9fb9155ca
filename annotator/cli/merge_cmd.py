"""`annotator merge`: several annotators' databases into one."""

from __future__ import annotations

import click

from annotator.cli.common import friendly_errors
from annotator.cli.output import say, say_json


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "--into",
    "out_path",
    required=True,
    type=click.Path(),
    help="Database to merge into (created if missing; an existing one keeps its data).",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@friendly_errors
def merge_command(inputs: tuple[str, ...], out_path: str, dry_run: bool, as_json: bool) -> None:
    """Merge annotator databases INPUTS into the one given with --into.

    \b
    Spans: union by span id (OUT's own rows are never replaced).
    Annotations: per key (target, id, document position, name, identifier) the newest
      updated_at wins, a tie goes to the greater content, so the order of INPUTS does not
      matter and merging again changes nothing. Every disagreement is listed.
    Configs: union by name; under one name the most recently updated definition wins (OUT's
      included), a tie goes to the greater content, so the order of INPUTS does not matter
      either; differing definitions are listed with the fields that differ. A definition
      that does not fit the keys: remap kept (or loses to another) is set aside in OUT and
      offered again by a later merge, so merging step by step keeps what one merge keeps.
      The guidelines: text last changed most recently is kept (differing ones are listed).

    Inputs are only read (an older schema version is upgraded on a temporary copy). A missing,
    foreign or newer-version input stops the merge before anything is written (exit code 2).
    """
    from annotator.team.merge import merge_databases

    report = merge_databases(inputs, out_path, dry_run=dry_run)
    if as_json:
        say_json(report.to_dict())
    else:
        for line in report.lines():
            say(line)
