"""The annotation queue: which spans an annotator still has to judge, as SQL.

A span *needs* annotation when a required config applies to it (by target, span kind and
scope: `OUTERMOST`) and the annotator has not given it a value. Categorical and continuous
configs are required; freeform ones are optional (a comment box on every span must not keep
every span "to do"), unless the config set has nothing else. A trace row stands for its root span
(`traces.root_span_id`), so trace- and session-level configs apply to root spans.

This module is the one definition of those words. The configs travel as ONE JSON parameter
(`:configs`, joined with `json_each`), so a statement is the same size for 2 configs or 5,000
(one OR clause per config overflowed SQLite's parser stack at about 80). Every statement uses
named parameters: `:configs`, `:me` (the annotator), the filter's `:kinds`, `:status`, `:text`,
`:project`, and the caller's own (`:trace`, `:spans`, ...).

The app asks `Store.row_states` (which configs apply to each span of a trace and which of them
the annotator has a value for) built from the same fragments as `needs_sql`, so the tree's
marks and the queue cannot disagree about what applies or what counts as a value.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson

from annotator.text import sanitize

NOTE = "note"  # annotator.model.NOTE_NAME: notes are remarks, never judgements
FINAL = "final"  # annotator.store.campaign.FINAL: final values are decisions, not a rater's


class ConfigLike(Protocol):
    # Read-only (properties), so that a config whose span_kinds is a list of SpanKind fits.
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> Any: ...
    @property
    def target(self) -> Any: ...
    @property
    def span_kinds(self) -> Iterable[str] | None: ...


class FilterLike(Protocol):
    """A filter expression (annotator.query's SpanFilter / TraceFilter: the store does not
    import the query package, which builds on the store): its text, its SQL (a condition on
    span `s` / trace `t`), falsy when it selects everything. Frozen and hashable."""

    @property
    def text(self) -> str: ...

    @property
    def sql(self) -> Sql: ...

    def __bool__(self) -> bool: ...


# How much of a filter expression `QueueFilter.describe` shows.
DESCRIBE_EXPRESSION = 40


class QueueState:
    ALL = "all"
    TODO = "todo"  # needs my annotation
    MINE = "mine"  # carries at least one of my judgements
    OTHERS = "others"  # carries someone else's (another person, an LLM or code)
    DISAGREE = "disagree"  # two values differ under one annotation name
    SKIPPED = "skipped"  # I skipped it (`Store.skip`)
    FLAGGED = "flagged"  # someone flagged it for the reviewer (`Store.flag`)

    CHOICES = (ALL, TODO, MINE, OTHERS, DISAGREE, SKIPPED, FLAGGED)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue walks. Empty fields do not filter."""

    span_kinds: frozenset[str] = frozenset()
    status: str | None = None
    text: str = ""
    state: str = QueueState.ALL
    project: str | None = None
    where: FilterLike | None = None  # a span filter expression
    trace_where: FilterLike | None = None  # a trace filter expression

    def describe(self) -> str:
        parts = []
        if self.state != QueueState.ALL:
            parts.append(self.state)
        if self.span_kinds:
            parts.append("kind=" + ",".join(sorted(self.span_kinds)))
        if self.status:
            parts.append(f"status={self.status}")
        if self.text:
            parts.append("search " + _clipped(self.text))
        if self.project:
            parts.append(f"project={self.project}")
        if self.where:
            parts.append("where " + _clipped(self.where.text))
        if self.trace_where:
            parts.append("trace where " + _clipped(self.trace_where.text))
        return " ".join(parts) or "all spans"

    def expressions(self) -> list[FilterLike]:
        """The filter expressions that are set (span filter first)."""
        return [f for f in (self.where, self.trace_where) if f]

    def scope(self) -> QueueFilter:
        """The spans progress and marks count: the to-do queue counts what it covers, done or
        not (it lists only traces with work left, but a span done a moment ago stays ✓ and
        counted instead of vanishing from "3/10 done")."""
        return replace(self, state=QueueState.ALL) if self.state == QueueState.TODO else self


@functools.lru_cache(maxsize=64)
def fts_query(text: str) -> str:
    """The FTS5 query for what a person typed: every word must match (each quoted, so `-`,
    `NOT`, `(`, `*` or a stray `"` are words, never syntax; a "quoted phrase" stays a phrase),
    the last one as a prefix, since people search as they type. '' when there is no word.
    Cached: every queue query of an active search (marks per trace, progress) asks again."""
    # A "phrase" is found within one line only, and an odd last quote would open one that never
    # closes: so one line, single spaces, and an odd last quote dropped (NUL would end the query
    # inside SQLite: it is whitespace here too). Then every quote is in a pair.
    line = " ".join(text.replace("\x00", " ").split())
    if line.count('"') % 2:
        cut = line.rindex('"')
        line = line[:cut] + line[cut + 1 :]
    words = [bit for bit in _PHRASE_OR_SPACE.split(line) if bit and bit != '""']
    quoted = " ".join(bit if bit.startswith('"') else f'"{bit}"' for bit in words)
    return f"{quoted}*" if quoted else ""


# What splits a line into FTS5 words: spaces, and "phrases" (kept whole, quotes and all), as
# sqlite-utils' quote_fts does. Not sqlite-utils itself: importing it costs 0.1 s, 0.45 s where
# pandas is installed (it imports pandas), and that was the first search's pause in the app.
_PHRASE_OR_SPACE = re.compile(r'\s+|(".*?")')


def has_words(text: str) -> bool:
    """Whether a search holds a word at all (a letter or a digit: FTS5's unicode61 tokenizer
    splits at everything else, `_` included); one that does not matches nothing."""
    return _WORD.search(text) is not None


_WORD = re.compile(r"[^\W_]")

# The search box's live count stops here ("1,000+ spans"): counting is bounded work however
# common the word, and a number past it would not change what anyone does next.
SEARCH_COUNT_LIMIT = 1_000
# The ranked walk (`>` / `<` in the app) goes through this many best matches.
RANKED_LIMIT = 100


def search_sql(text: str) -> Sql:
    """Span `s` matches the full-text search `text` (see `fts_query`); none when no word."""
    query = fts_query(text)
    if not query:
        return Sql("0")
    return Sql(
        "s.rowid IN (SELECT rowid FROM span_search WHERE span_search MATCH :search)",
        {"search": query},
    )


def _clipped(text: str) -> str:
    """An expression for the status line: one line, controls as escapes, bounded."""
    flat = sanitize(" ".join(text.split()))
    if len(flat) > DESCRIBE_EXPRESSION:
        flat = flat[: DESCRIBE_EXPRESSION - 1] + "…"
    return flat


@dataclass
class Sql:
    text: str
    params: dict[str, Any] = field(default_factory=dict)

    def __and__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) AND ({other.text})", {**self.params, **other.params})


TRUE = Sql("1")


def _value(x: Any) -> str:
    return getattr(x, "value", x)


def required_configs(configs: Iterable[ConfigLike]) -> list[ConfigLike]:
    configs = list(configs)
    required = [c for c in configs if _value(c.type).upper() != "FREEFORM"]
    return required or configs


def configs_json(configs: Iterable[ConfigLike]) -> str:
    """The `:configs` parameter: every config with its index in `configs` and whether it is
    required (see `required_configs`)."""
    configs = list(configs)
    required = {id(c) for c in required_configs(configs)}
    return orjson.dumps(
        [
            {
                "i": i,
                "name": c.name,
                "type": _value(c.type).upper(),
                "target": _value(c.target),
                # '|LLM|CHAIN|': a kind matches with one instr(), however many kinds are listed
                "kinds": "|" + "|".join(_value(k) for k in c.span_kinds) + "|"
                if c.span_kinds
                else None,
                "required": 1 if id(c) in required else 0,
                "outermost": 1 if _value(getattr(c, "scope", "all")) == "outermost" else 0,
            }
            for i, c in enumerate(configs)
        ]
    ).decode()


# Materialised once per statement (the correlated subqueries below scan it for every span).
_MATERIALIZED = "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else ""
CONFIGS_CTE = (
    f"cfg AS {_MATERIALIZED}(SELECT json_extract(value, '$.i') AS idx, "
    "json_extract(value, '$.name') AS name, json_extract(value, '$.type') AS type, "
    "json_extract(value, '$.target') AS target, json_extract(value, '$.kinds') AS kinds, "
    "json_extract(value, '$.required') AS required, "
    "json_extract(value, '$.outermost') AS outermost FROM json_each(:configs))"
)


def with_configs(sql: str) -> str:
    return f"WITH {CONFIGS_CTE} {sql}"


# Span `s` is the outermost of a chain of nested spans of its kind: it is shown at the top of
# its trace (`orphan`: its parent is missing or it was cut from a cycle; a root has no parent),
# or its parent in the trace is of another kind. The one definition of ``scope: outermost``
# (annotator.config.SpanScope): the panel's offers, the marks and the queue all come from here.
# (The parent lookup uses the unique span_id index: one probe per span.)
OUTERMOST = (
    "(s.orphan OR NOT EXISTS (SELECT 1 FROM spans p WHERE p.span_id = s.parent_id "
    "AND p.trace_id = s.trace_id AND p.span_kind = s.span_kind))"
)

# Config `c` applies to span `s` of trace `t`.
APPLIES = (
    f"(NOT c.outermost OR {OUTERMOST}) AND "
    "(c.kinds IS NULL OR instr(c.kinds, '|' || s.span_kind || '|') > 0) AND (CASE c.target "
    "WHEN 'span' THEN 1 WHEN 'document' THEN s.document_count > 0 "
    "WHEN 'trace' THEN s.span_id = t.root_span_id "
    "WHEN 'session' THEN s.span_id = t.root_span_id AND t.session_id IS NOT NULL ELSE 0 END)"
)

# Annotation `a` is a value for config `c`: a label or a score (freeform: a text). An
# explanation alone on a categorical config is a remark, not a judgement.
HAS_VALUE = (
    "(CASE WHEN c.type = 'FREEFORM' THEN coalesce(a.explanation, '') != '' "
    "ELSE a.label IS NOT NULL OR a.score IS NOT NULL END)"
)

# Unary + keeps SQLite off the (name, identifier) index, which would scan every annotation of
# that name by this annotator for each span; the span and trace indexes find a handful of rows.
_MY = "+a.name = c.name AND +a.identifier = :me AND a.annotator_kind = 'HUMAN'"
# Each target's id column (schema.TARGET_ID_SQL), so these match exactly the annotation keys.
_ID_COLUMN = {"span": "a.span_id", "trace": "a.trace_id", "session": "a.session_id"}


def _my_value(target: str, target_id: str) -> str:
    return (
        f"SELECT 1 FROM annotations a WHERE {_ID_COLUMN[target]} = {target_id} "
        f"AND a.target = '{target}' AND {_MY} AND {HAS_VALUE}"
    )


_MY_DOCUMENTS = (
    "FROM annotations a WHERE a.span_id = s.span_id AND a.target = 'document' "
    "AND a.document_position BETWEEN 0 AND s.document_count - 1 "
    f"AND {_MY} AND {HAS_VALUE}"
)

# The annotator has a value for (span / trace / session) config `c` on span `s`.
HAS = (
    f"(CASE c.target WHEN 'span' THEN EXISTS ({_my_value('span', 's.span_id')}) "
    f"WHEN 'trace' THEN EXISTS ({_my_value('trace', 's.trace_id')}) "
    f"WHEN 'session' THEN EXISTS ({_my_value('session', 't.session_id')}) ELSE 0 END)"
)
# The documents of span `s` the annotator has a value for under document config `c`.
DOCUMENTS_DONE = f"(SELECT count(*) {_MY_DOCUMENTS})"
DOCUMENT_POSITIONS = f"(SELECT json_group_array(a.document_position) {_MY_DOCUMENTS})"
MISSING = (
    f"(CASE WHEN c.target = 'document' THEN {DOCUMENTS_DONE} < s.document_count ELSE NOT {HAS} END)"
)


# The annotator skipped span `s` (`Store.skip`): it needs nothing more from them.
SKIPPED = (
    "EXISTS (SELECT 1 FROM item_marks m WHERE m.kind = 'skip' AND m.annotator = :me "
    "AND m.span_id = s.span_id)"
)

# Someone flagged span `s` for the reviewer (`Store.flag`).
FLAGGED = "EXISTS (SELECT 1 FROM item_marks m WHERE m.kind = 'flag' AND m.span_id = s.span_id)"

# Span `s` is one of the annotator's assigned items (a span, or any span of an assigned trace),
# or the annotator has no assignment in this database: a batch of `annotator assign` is the
# annotator's queue, and nobody else's work shows up there. (The first test does not depend on
# the span: SQLite runs it once per statement.)
ASSIGNED = (
    "(NOT EXISTS (SELECT 1 FROM assignments g WHERE g.annotator = :me) "
    "OR EXISTS (SELECT 1 FROM assignments g WHERE g.annotator = :me AND g.target = 'span' "
    "AND g.item_id = s.span_id) "
    "OR EXISTS (SELECT 1 FROM assignments g WHERE g.annotator = :me AND g.target = 'trace' "
    "AND g.item_id = s.trace_id))"
)


def needs_sql(configs: Iterable[ConfigLike], identifier: str) -> Sql:
    """Span `s` (joined with its trace `t`) still needs `identifier`: a required config applies
    and has no value from them, and they did not skip it. Needs the `cfg` CTE."""
    return Sql(
        f"NOT {SKIPPED} AND "
        f"EXISTS (SELECT 1 FROM cfg c WHERE c.required AND {APPLIES} AND {MISSING})",
        {"configs": configs_json(configs), "me": identifier},
    )


def in_scope_sql(configs: Iterable[ConfigLike]) -> Sql:
    return Sql(
        f"EXISTS (SELECT 1 FROM cfg c WHERE c.required AND {APPLIES})",
        {"configs": configs_json(configs)},
    )


def has_value(
    config: ConfigLike, label: str | None, score: float | None, explanation: str | None
) -> bool:
    """`HAS_VALUE` for a value not yet in the database (the app's unsaved changes)."""
    if _value(config.type).upper() == "FREEFORM":
        return bool(explanation)
    return label is not None or score is not None


def _judgements_about_span(who: str) -> str:
    """Span `s` carries a judgement (not a note) by `who` (a condition on `a`): on the span or
    its documents, and for the root span (the trace row) on its trace or session."""
    judgement = f"a.name != '{NOTE}' AND {who}"
    return (
        "(EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
        f"AND a.target IN ('span', 'document') AND {judgement})"
        " OR (s.span_id = t.root_span_id AND (EXISTS (SELECT 1 FROM annotations a "
        f"WHERE a.trace_id = s.trace_id AND a.target = 'trace' AND {judgement})"
        " OR (t.session_id IS NOT NULL AND EXISTS (SELECT 1 FROM annotations a "
        f"WHERE a.target = 'session' AND a.session_id = t.session_id AND {judgement})))))"
    )


MINE = "a.identifier = :me AND a.annotator_kind = 'HUMAN'"


def filter_sql(queue: QueueFilter, configs: Iterable[ConfigLike], identifier: str) -> Sql:
    """Membership of span `s` (joined with its trace `t`) in the queue. Needs the `cfg` CTE."""
    configs = list(configs)
    clause = Sql(ASSIGNED, {"configs": configs_json(configs), "me": identifier})
    if queue.span_kinds:
        clause = clause & Sql(
            "s.span_kind IN (SELECT value FROM json_each(:kinds))",
            {"kinds": orjson.dumps(sorted(queue.span_kinds)).decode()},
        )
    if queue.status:
        clause = clause & Sql("s.status_code = :status", {"status": queue.status})
    if queue.text:
        clause = clause & search_sql(queue.text)
    if queue.project:
        clause = clause & Sql("s.project = :project", {"project": queue.project})
    state = queue.state
    if state in (QueueState.ALL, QueueState.TODO):
        clause = clause & in_scope_sql(configs)
    if state == QueueState.TODO:
        clause = clause & needs_sql(configs, identifier)
    elif state == QueueState.MINE:
        clause = clause & Sql(_judgements_about_span(MINE))
    elif state == QueueState.OTHERS:
        clause = clause & Sql(_judgements_about_span(f"NOT ({MINE})"))
    elif state == QueueState.DISAGREE:
        clause = clause & disagreement_sql()
    elif state == QueueState.SKIPPED:
        clause = clause & Sql(SKIPPED)
    elif state == QueueState.FLAGGED:
        clause = clause & Sql(FLAGGED)
    for expression in queue.expressions():
        # Not `&`: a compiled filter is parenthesised already, and each `&` would nest it one
        # level deeper (query.limits checks filters nested STORE_PARENS deep, no more).
        sql = expression.sql
        clause = Sql(f"({clause.text}) AND {sql.text}", {**clause.params, **sql.params})
    return clause


# The value two annotations are compared on: the label when there is one (a categorical judgement;
# its score may be missing in imported data), else the score. Text-only values never disagree.
_VALUE = (
    "CASE WHEN a.label IS NOT NULL THEN 'L:' || a.label "
    "WHEN a.score IS NOT NULL THEN 'S:' || a.score END"
)


# Two raters differ on the item of one group (name, document), and it has no final value.
_UNDECIDED_DISAGREEMENT = (
    f"count(DISTINCT CASE WHEN a.identifier != '{FINAL}' THEN {_VALUE} END) > 1 "
    f"AND max(a.identifier = '{FINAL}') = 0"
)


def disagreement_sql() -> Sql:
    """Span `s` has, under one annotation name (and document), two different values, and no
    final value decides it (a final value is not a rater's value)."""
    return Sql(
        "EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
        f"AND a.name != '{NOTE}' AND a.target IN ('span', 'document') "
        "GROUP BY a.name, coalesce(a.document_position, -1) "
        f"HAVING {_UNDECIDED_DISAGREEMENT})"
        " OR (s.span_id = t.root_span_id AND EXISTS (SELECT 1 FROM annotations a "
        f"WHERE a.trace_id = s.trace_id AND a.target = 'trace' AND a.name != '{NOTE}' "
        f"GROUP BY a.name HAVING {_UNDECIDED_DISAGREEMENT}))"
    )
