"""`annotator dataset`: annotated spans -> a Phoenix-ready dataset file (JSONL or CSV).

The example shape, the filters and what they mean when annotators disagree are documented in
`annotator.team.dataset`.
"""

from __future__ import annotations

import sys
from contextlib import closing
from typing import TYPE_CHECKING

import click

from annotator.cli.common import BadInput, bad_input_on, db_option, friendly_errors
from annotator.cli.filter_options import filter_options, selection_from
from annotator.cli.output import data_stdout, say, warn
from annotator.cli.phoenix_common import phoenix_client, url_option

if TYPE_CHECKING:
    from annotator.team.dataset import DatasetSpec


@click.command("dataset")
@db_option
@click.option(
    "--out",
    "out",
    metavar="FILE",
    help="Where to write the dataset ('-': stdout). A file is replaced atomically (keeping its "
    "mode); a device or FIFO is written in place; a SQLite database and the --db are refused.",
)
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
    help="Only annotations by this identifier count for the filters (default: the final value).",
)
@click.option(
    "--any-rater",
    is_flag=True,
    help="Filters match any person's annotation, not the final value (resolve / review).",
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
@click.option(
    "--push",
    "push_name",
    metavar="NAME",
    help="Upload the examples to Phoenix as a new dataset NAME (with or without --out).",
)
@url_option
@filter_options
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
    any_rater: bool,
    span_kinds: tuple[str, ...],
    project: str | None,
    limit: str | None,
    push_name: str | None,
    url: str | None,
    where: str | None,
    trace_where: str | None,
    search: str | None,
) -> None:
    """Curate annotated spans into a Phoenix dataset file (JSONL or CSV).

    One example per matching span, {"input": {...}, "output": {...}, "metadata": {...},
    "span_id": ...}: what Phoenix's client (datasets.create_dataset(examples=...)) and its
    upload page take. Filters are AND-ed; a --label/--min-score/--max-score filter matches the
    item's final value (annotator resolve, the review), or any person's annotation with
    --any-rater (also for a name with no final values yet, with a warning); with --agreed
    every person's must match.

    CSV: span_id, then input.KEY / output.KEY / metadata.KEY columns, which Phoenix's CSV
    upload reads back as the same examples (the command prints the keys to pass). Text
    starting with = + - @, a tab or CR gets a leading ' (spreadsheets do not run it); the
    JSONL has every value exact.

    \b
    Examples:
      annotator dataset --out bad.jsonl --label correctness=incorrect
      annotator dataset --out good.csv --label correctness=correct --agreed --span-kind LLM
      annotator dataset --out low.jsonl --max-score quality=3 --annotator alice
      annotator dataset --push bad-answers --label correctness=incorrect
      annotator dataset --out slow.jsonl --where "span_kind == 'LLM' and latency_ms > 2000"
    """
    from annotator.output_file import check_output, open_output
    from annotator.store import Store
    from annotator.team.dataset import (
        FORMATS,
        DatasetArgumentError,
        build_spec,
        check_names,
        iter_examples,
        write_examples,
    )

    if not out and not push_name:
        raise BadInput(
            "--out FILE or --push NAME is required (the dataset file to write, '-' for stdout; "
            "or the Phoenix dataset to create)"
        )
    spans = selection_from(where, trace_where, search)
    plan = check_output(out, protect=[db_path]) if out else None  # OutputError: friendly_errors
    if fmt is None:
        fmt = "csv" if out and out.lower().endswith(".csv") else "jsonl"
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: use {' or '.join(FORMATS)}")
    with bad_input_on(DatasetArgumentError):
        spec = build_spec(
            labels=labels,
            min_scores=min_scores,
            max_scores=max_scores,
            annotator=annotator,
            agreed=agreed,
            any_rater=any_rater,
            span_kinds=span_kinds,
            project=project,
            limit=limit,
        )
    spec.spans = spans
    if not out or plan is None:  # no --out: --push only
        _push(db_path, spec, str(push_name), url)
        return

    with Store.open(db_path, readonly=True) as store:
        for warning in check_names(store, spec):
            warn(f"annotator: warning: {warning}")
        # closed here, while the database still is (not by the garbage collector later)
        # OutputError, or ReaderGone (`annotator dataset --out - | head`): friendly_errors
        with closing(iter_examples(store, spec)) as examples:
            stdout = None  # closed (>&-)
            if sys.stdout is not None:
                stdout = data_stdout(json=fmt == "jsonl") if out == "-" else sys.stdout.buffer
            with open_output(plan, stdout=stdout) as stream:
                result = write_examples(examples, stream, fmt, spool_dir=plan.directory)
    if result.inexact:
        parts = [f"{count:,} with {reason}" for reason, count in result.inexact.items()]
        warn(
            f"annotator: warning: Phoenix's CSV upload will not read every example exactly as "
            f"the JSONL has it: {'; '.join(sorted(parts))}. The JSONL format keeps every value."
        )
    noun = "example" if result.count == 1 else "examples"
    where = "stdout" if out == "-" else out
    tell = warn if out == "-" else say
    tell(f"Wrote {result.count:,} {noun} ({fmt}) to {where}.")
    if fmt == "csv" and result.count:
        tell(_phoenix_call(out, result.columns))
    if push_name:
        _push(db_path, spec, push_name, url)


def _push(db_path: str, spec: DatasetSpec, name: str, url: str | None) -> None:
    """The same examples the JSONL holds, uploaded as Phoenix dataset `name`."""
    from annotator.phoenix.datasets import push_dataset
    from annotator.store import Store
    from annotator.team.dataset import iter_examples

    with Store.open(db_path, readonly=True) as store:
        with closing(iter_examples(store, spec)) as examples:
            with phoenix_client(url) as client:
                dataset_id, count = push_dataset(client, name, examples)
                where = client.url
    noun = "example" if count == 1 else "examples"
    say(f"Created Phoenix dataset {name!r} ({count:,} {noun}, id {dataset_id}) at {where}.")


def _phoenix_call(out: str, columns: dict[str, list[str]]) -> str:
    """The phoenix-client call that uploads this CSV as the same examples as the JSONL."""
    from annotator.text import sanitize

    path = "dataset.csv" if out == "-" else out
    keys = ", ".join(
        f"{bucket}_keys={[sanitize(c) for c in columns[bucket]]!r}" for bucket in columns
    )
    return (
        f"Upload: Client().datasets.create_dataset(name=..., csv_file_path={sanitize(path)!r}, "
        f"{keys}, span_id_key='span_id')"
    )
