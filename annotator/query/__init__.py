"""Phoenix-style filter expressions compiled to SQLite: which spans (or traces) to annotate.

    from annotator.query import SpanFilter, TraceFilter, FilterError

`parse.py` checks the text (Python's `ast`, an allowlist of node types, Phoenix's typing
rules) into a typed tree (`ir.py`); `compile.py` turns that tree into SQL whose every value is
a parameter; `limits.py` has SQLite prepare that SQL once, nested as the store nests it, so
that whatever compiles also runs; `fields.py` is the vocabulary; `filters.py` the objects
callers hold.
"""

from annotator.query.errors import FilterError
from annotator.query.filters import (
    SpanFilter,
    TraceFilter,
    compile_span_filter,
    compile_trace_filter,
    count_matches,
)
from annotator.query.selection import Selection, positional

__all__ = [
    "FilterError",
    "Selection",
    "SpanFilter",
    "TraceFilter",
    "compile_span_filter",
    "compile_trace_filter",
    "count_matches",
    "positional",
]
