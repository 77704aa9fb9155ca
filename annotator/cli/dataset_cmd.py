"""`annotator dataset`: annotated spans -> a Phoenix-ready dataset file (JSONL or CSV).

The example shape, the filters and what they mean when annotators disagree are documented in
`annotator.team.dataset`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from annotator.cli.main import BadInput, cli, db_option, friendly_errors
from annotator.cli.output import data_stdout, say, warn


@cli.command("dataset")
@db_option
@click.option("--out", "out", metavar="FILE", help="Where to write the dataset ('-': stdout).")
@click.option(
    "--format",
    "fmt",
    metavar="jsonl|csv",
    help="Output format (default: from the --out extension, else jsonl).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="NAME=LABEL",
    help="Spans with this label (repeatable; several labels of one NAME are OR-ed).",
)
@click.option("--min-score", "min_scores", multiple=True, metavar="NAME=X", help="Score >= X.")
@click.option("--max-score", "max_scores", multiple=True, metavar="NAME=X", help="Score <= X.")
@click.option(
    "--annotator",
    metavar="ID",
    help="Only annotations by this identifier count for the filters (default: any human).",
)
@click.option(
    "--agreed",
    is_flag=True,
    help="Every counted annotation of a filtered name must match, not just one.",
)
@click.option(
    "--span-kind", "span_kinds", multiple=True, metavar="KIND", help="Span kind (repeatable)."
)
@click.option("--project", metavar="NAME", help="Only spans of this project.")
@click.option("--limit", metavar="N", help="At most N examples.")
@friendly_errors
def dataset_command(
    db_path: str,
    out: str | None,
    fmt: str | None,
    labels: tuple[str, ...],
    min_scores: tuple[str, ...],
    max_scores: tuple[str, ...],
    annotator: str | None,
    agreed: bool,
    span_kinds: tuple[str, ...],
    project: str | None,
    limit: str | None,
) -> None:
    """Curate annotated spans into a Phoenix dataset file (JSONL or CSV).

    One example per matching span, {"input": {...}, "output": {...}, "metadata": {...},
    "span_id": ...}: what Phoenix's client (datasets.create_dataset(examples=...)) and its
    upload page take. Filters are AND-ed; by default any human annotation can match a
    --label/--min-score/--max-score filter, with --agreed every one must.

    \b
    Examples:
      annotator dataset --out bad.jsonl --label correctness=incorrect
      annotator dataset --out good.csv --label correctness=correct --agreed --span-kind LLM
      annotator dataset --out low.jsonl --max-score quality=3 --annotator alice
    """
    from annotator.store import Store
    from annotator.team.dataset import (
        FORMATS,
        DatasetArgumentError,
        build_spec,
        check_names,
        iter_examples,
        write_examples,
        write_file,
    )
    from annotator.text import sanitize

    if not out:
        raise BadInput("--out FILE is required (the dataset file to write; '-' for stdout)")
    if out != "-" and Path(out).resolve() == Path(db_path).resolve():
        raise BadInput(f"--out {out}: that is the database itself; write the dataset elsewhere")
    if fmt is None:
        fmt = "csv" if out.lower().endswith(".csv") else "jsonl"
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: use {' or '.join(FORMATS)}")
    try:
        spec = build_spec(
            labels=labels,
            min_scores=min_scores,
            max_scores=max_scores,
            annotator=annotator,
            agreed=agreed,
            span_kinds=span_kinds,
            project=project,
            limit=limit,
        )
    except DatasetArgumentError as error:
        raise BadInput(sanitize(str(error))) from None

    with Store.open(db_path, readonly=True) as store:
        for warning in check_names(store.connection, spec):
            warn(f"annotator: warning: {warning}")
        examples = iter_examples(store.connection, spec)
        try:
            if out == "-":
                stream = data_stdout(json=fmt == "jsonl")
                count = write_examples(examples, stream, fmt)
                stream.flush()
            else:
                try:
                    count = write_file(examples, out, fmt)
                except OSError as error:
                    raise BadInput(f"{out}: cannot write ({error.strerror or error})") from None
        finally:
            examples.close()  # its cursor, before the store closes (e.g. on a closed pipe)
    noun = "example" if count == 1 else "examples"
    where = "stdout" if out == "-" else out
    (warn if out == "-" else say)(f"Wrote {count:,} {noun} ({fmt}) to {where}.")
