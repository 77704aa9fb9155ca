"""The vocabulary of the filter language: which names exist, what type each has and where it
lives. Every identifier the compiler emits into SQL comes from the tables here, never from the
user's text.

Span filters follow Phoenix's span filter vocabulary exactly: a name that is not listed here is
an attribute path, so adding a name would change what existing expressions select. Trace
filters reject unknown names (with a did-you-mean), so a name added there only turns an error
into a meaning.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

# Value types. An attribute read from the JSON `attributes` column has no type until it is
# compared: `None` ("unknown"), converted to the type of what it meets.
STRING = "string"
NUMBER = "number"
DATETIME = "datetime"
BOOLEAN = "boolean"
NULL = "null"
UNKNOWN = None


@dataclass(frozen=True, slots=True)
class Field:
    """A named value of a row. Either a stored `column` of the row's table, or `computed`: the
    key of an expression compile.py builds (token rollups, subtree sums, root-span values)."""

    type: str
    column: str | None = None
    computed: str | None = None
    # Enum fields: string literals compared with them are upper-cased ('llm' == 'LLM').
    enum: bool = False


# --- span filters (Phoenix's span filter vocabulary) --------------------------------------------

SPAN_FIELDS: dict[str, Field] = {
    "span_id": Field(STRING, column="span_id"),
    "trace_id": Field(STRING, column="trace_id"),
    "parent_id": Field(STRING, column="parent_id"),
    "name": Field(STRING, column="name"),
    "span_kind": Field(STRING, column="span_kind", enum=True),
    "status_code": Field(STRING, column="status_code", enum=True),
    "status_message": Field(STRING, column="status_message"),
    "latency_ms": Field(NUMBER, column="latency_ms"),
    "start_time": Field(DATETIME, column="start_time"),
    "end_time": Field(DATETIME, column="end_time"),
    "cumulative_llm_token_count_prompt": Field(NUMBER, computed="cumulative_prompt"),
    "cumulative_llm_token_count_completion": Field(NUMBER, computed="cumulative_completion"),
    "cumulative_llm_token_count_total": Field(NUMBER, computed="cumulative_total"),
}

# Older spellings Phoenix still accepts (stored conditions depend on them).
SPAN_ALIASES: dict[str, str] = {
    "context.span_id": "span_id",
    "context.trace_id": "trace_id",
    "cumulative_token_count.prompt": "cumulative_llm_token_count_prompt",
    "cumulative_token_count.completion": "cumulative_llm_token_count_completion",
    "cumulative_token_count.total": "cumulative_llm_token_count_total",
}

# Attributes known to hold numbers: compared as numbers, whatever they are compared with.
NUMERIC_ATTRIBUTES: frozenset[str] = frozenset(
    {"llm.token_count.prompt", "llm.token_count.completion", "llm.token_count.total"}
)

# `parent_span` is reserved: only `parent_span is None` / `is not None`.
PARENT_SPAN = "parent_span"

# Subscript roots that read attributes; `metadata[...]` is `attributes['metadata'][...]`.
ATTRIBUTES = "attributes"
METADATA = "metadata"

# `annotations['name']` and its legacy alias `evals['name']` read the span's annotations;
# `trace_annotations['name']` reads its trace's.
SPAN_ANNOTATION_ACCESSORS = ("annotations", "evals")
TRACE_ANNOTATION_ACCESSOR = "trace_annotations"
ANNOTATION_FIELDS: dict[str, str] = {"label": STRING, "score": NUMBER, "explanation": STRING}
ANNOTATOR_KINDS = ("HUMAN", "LLM", "CODE")

# Phoenix stores notes as annotations with this name; they are not evaluations.
NOTE = "note"

CAST_FUNCTIONS = ("float", "int", "str")

# --- trace filters --------------------------------------------------------------------------------

TRACE_FIELDS: dict[str, Field] = {
    "trace_id": Field(STRING, column="trace_id"),
    "start_time": Field(DATETIME, column="start_time"),
    "end_time": Field(DATETIME, column="end_time"),
    "latency_ms": Field(NUMBER, column="latency_ms"),
    # Rollups: 0 when nothing matches, never null.
    "num_spans": Field(NUMBER, column="span_count"),
    "error_count": Field(NUMBER, column="error_count"),
    "token_count_prompt": Field(NUMBER, computed="trace_tokens_prompt"),
    "token_count_completion": Field(NUMBER, computed="trace_tokens_completion"),
    "token_count_total": Field(NUMBER, computed="trace_tokens_total"),
    "llm_span_count": Field(NUMBER, computed="llm_span_count"),
    "tool_span_count": Field(NUMBER, computed="tool_span_count"),
    # The root span's (the span a trace row stands for).
    "input": Field(STRING, computed="root_input"),
    "output": Field(STRING, computed="root_output"),
    # Extensions (Phoenix's trace filter rejects these names, so they take no meaning away).
    "name": Field(STRING, column="root_name"),
    "span_kind": Field(STRING, column="root_kind", enum=True),
    "status_code": Field(STRING, column="status_code", enum=True),
}

# Dotted names a trace filter reads from the root span's attributes.
TRACE_ATTRIBUTE_PROXIES: frozenset[str] = frozenset({"user.id"})

# Phoenix names this program has no data for: a clear message rather than a did-you-mean.
TRACE_UNAVAILABLE: dict[str, str] = dict.fromkeys(
    ("prompt_cost", "completion_cost", "total_cost", "span_cost_details"),
    "annotator stores no model prices, so there are no costs to filter on",
)

REDUCERS = ("any", "all", "len", "sum", "max", "min")
QUANTIFIERS = ("any", "all")

# What a comprehension can iterate at the top of a trace filter, and what each element is.
TRACE_ITERABLES: dict[str, str] = {
    "spans": "span",
    "trace_annotations": "annotation",
    "span_annotations": "annotation",
}
# What a comprehension can iterate in a span filter (an extension: Phoenix's span filters have
# no comprehensions): the span's own annotations, or its trace's.
SPAN_ITERABLES: dict[str, str] = {
    "annotations": "annotations",
    "evals": "annotations",
    "trace_annotations": "trace_annotations",
}
# Collections a span element carries.
SPAN_ELEMENT_ITERABLES: dict[str, str] = {
    "children": "span",
    "siblings": "span",
    "annotations": "annotation",
}

# A span in a comprehension (`for span in spans`): a span filter's fields, and more.
SPAN_ELEMENT_FIELDS: dict[str, Field] = {
    **SPAN_FIELDS,
    "cumulative_error_count": Field(NUMBER, computed="cumulative_errors"),
    "llm_token_count_prompt": Field(NUMBER, computed="llm_tokens_prompt"),
    "llm_token_count_completion": Field(NUMBER, computed="llm_tokens_completion"),
    "llm_token_count_total": Field(NUMBER, computed="llm_tokens_total"),
}

ANNOTATION_ELEMENT_FIELDS: dict[str, Field] = {
    "name": Field(STRING, column="name"),
    "label": Field(STRING, column="label"),
    "score": Field(NUMBER, column="score"),
    "explanation": Field(STRING, column="explanation"),
    "annotator_kind": Field(STRING, column="annotator_kind", enum=True),
    "identifier": Field(STRING, column="identifier"),
}


def trace_vocabulary() -> list[str]:
    """Every name a trace filter accepts at its top level (for did-you-mean)."""
    return [
        *TRACE_FIELDS,
        *TRACE_ATTRIBUTE_PROXIES,
        *TRACE_ITERABLES,
        ATTRIBUTES,
        METADATA,
        TRACE_ANNOTATION_ACCESSOR,
    ]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`, did you mean `x`?` for the closest choice, or nothing."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f", did you mean `{found[0]}`?" if found else ""
