"""`annotator assign`: one batch database per annotator, with controlled overlap (the rules are
in `annotator.team.assign`)."""

from __future__ import annotations

import click

from annotator.cli.common import bad_input_on, db_option, friendly_errors
from annotator.cli.filter_options import filter_options, selection_from
from annotator.cli.output import say, say_json


@click.command("assign")
@db_option
@click.option(
    "--annotators",
    required=True,
    metavar="NAMES",
    help="Who gets work, comma-separated (alice,bob,carol): one batch file each.",
)
@click.option(
    "--per-item",
    type=click.IntRange(min=1),
    required=True,
    help="How many annotators get each item.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the batches (NAME.db) and manifest.json; again later: adds, never moves.",
)
@click.option(
    "--target",
    type=click.Choice(["span", "trace"]),
    default="span",
    show_default=True,
    help="An item is a span a config applies to, or a whole trace.",
)
@click.option("--sample", type=click.IntRange(min=1), help="Only N items, chosen by --seed.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every choice.")
@click.option(
    "--overlap-all",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="K",
    help="K items go to every annotator (for agreement figures).",
)
@click.option(
    "--blind",
    is_flag=True,
    help="Leave LLM/CODE annotations out of the batches (raters are not anchored by the judge).",
)
@filter_options
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@friendly_errors
def assign_command(
    db_path: str,
    annotators: str,
    per_item: int,
    out_dir: str,
    target: str,
    sample: int | None,
    seed: int,
    overlap_all: int,
    where: str | None,
    trace_where: str | None,
    search: str | None,
    as_json: bool,
    blind: bool,
) -> None:
    """Hand out the items of --db: each to exactly --per-item annotators, loads balanced
    (counts differ by at most one), the same result for the same inputs and --seed.

    \b
    Writes OUT/NAME.db per annotator (the traces they need, the configs and guidelines, the
    LLM/CODE annotations on those traces unless --blind, their assignment: `annotator annotate --db
    OUT/alice.db --annotator alice` walks exactly that) and OUT/manifest.json (who has what).
    Run again into the same folder to add annotators or items: work already handed out stays
    where it is.
    """
    from annotator.team.assign import AssignError, assign

    selection = selection_from(where, trace_where, search)
    names = [name.strip() for name in annotators.split(",") if name.strip()]
    with bad_input_on(AssignError):
        result = assign(
            db_path,
            out_dir,
            names,
            per_item=per_item,
            target=target,
            seed=seed,
            sample=sample,
            overlap_all=overlap_all,
            selection=selection,
            blind=blind,
        )
    if as_json:
        say_json(result.to_dict())
        return
    kind = f"{target}s"
    say(
        f"{result.selected:,} {kind} assigned ({result.new_items:,} new; {result.candidates:,} "
        f"candidates; {result.overlap:,} to everyone), campaign {result.campaign}"
    )
    for batch in result.batches:
        state = "created" if batch.created else "updated"
        say(
            f"  {batch.file}: {batch.items:,} {kind} ({batch.new_items:,} new), "
            f"{batch.traces:,} traces — {state}"
        )
    say(f"  {result.manifest}")
