"""`--where EXPR`, `--trace-where EXPR` and `--search TEXT`: the options every command that
selects spans shares (annotate, export, dataset, stats, assign).

    @click.command("assign")
    @filter_options
    def assign_command(..., where: str | None, trace_where: str | None, search: str | None):
        selection = selection_from(where, trace_where, search)   # BadInput (exit 2): invalid
        ... selection.sql (a condition on `spans s JOIN traces t USING (trace_id)`),
        ... selection.annotations_sql() (on `annotations a`), annotator.query.positional(...)

`selection_from` is called before anything is opened or written: a bad expression is one line
(`--where: col 17: unknown function 'startswith' — ...`), exit code 2, and nothing runs; so is
a search without a word to look for (`--search '***'`). The search is the app's `/`: every
word must appear in what a span says, the last as a prefix (annotator.store.search_sql).
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

SEARCH_HELP = (
    "Only spans whose content holds these words (full-text search, as `/` in the app: name, "
    "input, output, messages, documents, errors; the last word as a prefix)."
)


def filter_options(function: F) -> F:
    """Adds `--where`, `--trace-where` and `--search` (parameters `where`, `trace_where`,
    `search`: text or None)."""
    function = click.option("--search", "search", metavar="TEXT", help=SEARCH_HELP)(function)
    function = click.option("--trace-where", "trace_where", metavar="EXPR", help=TRACE_WHERE_HELP)(
        function
    )
    return click.option("--where", "where", metavar="EXPR", help=WHERE_HELP)(function)


def selection_from(
    where: str | None, trace_where: str | None, search: str | None = None
) -> Selection:
    """The option texts as a checked Selection; BadInput naming the option when one is invalid
    (the span filter first, then the trace filter, then the search). A blank search is no
    search; one with no word in it (only punctuation) is refused, as it could match nothing."""
    from annotator.query import FilterError, Selection, SpanFilter, TraceFilter
    from annotator.store import has_words
    from annotator.text import sanitize

    try:
        span_filter = SpanFilter(where or "")
    except FilterError as error:
        raise BadInput(f"--where: {error}") from None
    try:
        trace_filter = TraceFilter(trace_where or "")
    except FilterError as error:
        raise BadInput(f"--trace-where: {error}") from None
    search = (search or "").strip()
    if search and not has_words(search):
        shown = sanitize(search[:60] + ("…" if len(search) > 60 else ""))
        raise BadInput(
            f"--search: no word in '{shown}' — a search looks for words (letters and digits)"
        )
    return Selection(span_filter, trace_filter, search)
