"""`--where EXPR` and `--trace-where EXPR`: the filter-expression options every command that
selects spans shares (annotate, export, dataset, stats, assign).

    @click.command("assign")
    @filter_options
    def assign_command(..., where: str | None, trace_where: str | None):
        selection = selection_from(where, trace_where)   # BadInput (exit 2) when invalid
        ... selection.sql (a condition on `spans s JOIN traces t USING (trace_id)`),
        ... selection.annotations_sql() (on `annotations a`), annotator.query.positional(...)

`selection_from` is called before anything is opened or written: a bad expression is one line
(`--where: col 17: unknown function 'startswith' — ...`), exit code 2, and nothing runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from annotator.cli.common import BadInput, F

if TYPE_CHECKING:
    from annotator.query import Selection

WHERE_HELP = (
    "Only spans matching this filter expression (Phoenix's syntax, e.g. \"span_kind == 'LLM' "
    'and latency_ms > 2000"; README: Filter expressions).'
)
TRACE_WHERE_HELP = (
    "Only spans of traces matching this trace filter (e.g. \"any(span.status_code == 'ERROR' "
    'for span in spans)").'
)


def filter_options(function: F) -> F:
    """Adds `--where` and `--trace-where` (parameters `where`, `trace_where`: text or None)."""
    function = click.option("--trace-where", "trace_where", metavar="EXPR", help=TRACE_WHERE_HELP)(
        function
    )
    return click.option("--where", "where", metavar="EXPR", help=WHERE_HELP)(function)


def selection_from(where: str | None, trace_where: str | None) -> Selection:
    """The two option texts as a checked Selection; BadInput naming the option when either is
    invalid (the span filter is checked first)."""
    from annotator.query import FilterError, Selection, SpanFilter, TraceFilter

    try:
        span_filter = SpanFilter(where or "")
    except FilterError as error:
        raise BadInput(f"--where: {error}") from None
    try:
        trace_filter = TraceFilter(trace_where or "")
    except FilterError as error:
        raise BadInput(f"--trace-where: {error}") from None
    return Selection(span_filter, trace_filter)
