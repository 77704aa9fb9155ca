"""The annotation queue: which spans an annotator still has to judge, as SQL.

A span *needs* annotation when a required config applies to it (by target and span kind) and
the annotator has not given it a value. Categorical and continuous configs are required;
freeform ones are optional (a comment box on every span must not keep every span "to do"),
unless the config set has nothing else. A trace row stands for its root span, so trace- and
session-level configs apply to root spans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

ROOT_SPAN = "s.span_id = t.root_span_id"


class ConfigLike(Protocol):
    name: str
    type: Any
    target: Any
    span_kinds: Iterable[str] | None


class QueueState:
    ALL = "all"
    TODO = "todo"  # needs my annotation
    MINE = "mine"  # carries at least one of my annotations
    OTHERS = "others"  # carries someone else's (another person, an LLM or code)
    DISAGREE = "disagree"  # two values differ under one annotation name

    CHOICES = (ALL, TODO, MINE, OTHERS, DISAGREE)


@dataclass(frozen=True)
class QueueFilter:
    """What the queue walks. Empty fields do not filter."""

    span_kinds: frozenset[str] = frozenset()
    status: str | None = None
    text: str = ""
    state: str = QueueState.ALL
    project: str | None = None

    def describe(self) -> str:
        parts = []
        if self.state != QueueState.ALL:
            parts.append(self.state)
        if self.span_kinds:
            parts.append("kind=" + ",".join(sorted(self.span_kinds)))
        if self.status:
            parts.append(f"status={self.status}")
        if self.text:
            parts.append(f"name~{self.text!r}")
        if self.project:
            parts.append(f"project={self.project}")
        return " ".join(parts) or "all spans"


@dataclass
class Sql:
    text: str
    params: list[Any] = field(default_factory=list)

    def __and__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) AND ({other.text})", [*self.params, *other.params])

    def __or__(self, other: Sql) -> Sql:
        return Sql(f"({self.text}) OR ({other.text})", [*self.params, *other.params])


TRUE = Sql("1")
FALSE = Sql("0")


def _value(x: Any) -> str:
    return getattr(x, "value", x)


def required_configs(configs: Iterable[ConfigLike]) -> list[ConfigLike]:
    configs = list(configs)
    required = [c for c in configs if _value(c.type).upper() != "FREEFORM"]
    return required or configs


def _kinds_sql(config: ConfigLike) -> Sql:
    kinds = list(config.span_kinds or ())
    if not kinds:
        return TRUE
    return Sql(f"s.span_kind IN ({','.join('?' * len(kinds))})", [_value(k) for k in kinds])


def applies_sql(config: ConfigLike) -> Sql:
    """Whether `config` applies to span `s` (in trace `t`)."""
    target = _value(config.target)
    if target == "span":
        return _kinds_sql(config)
    if target == "document":
        return _kinds_sql(config) & Sql("s.document_count > 0")
    # Trace and session configs apply on the root span (the trace row); their span_kinds
    # select by the root span's kind, as AnnotationConfig.applies_to does.
    if target == "trace":
        return Sql(ROOT_SPAN) & _kinds_sql(config)
    if target == "session":
        return Sql(f"{ROOT_SPAN} AND t.session_id IS NOT NULL") & _kinds_sql(config)
    return FALSE


def missing_sql(config: ConfigLike, identifier: str) -> Sql:
    """Whether `identifier` has not yet given `config` a value on span `s`."""
    target = _value(config.target)
    mine = "a.name = ? AND a.identifier = ? AND a.annotator_kind = 'HUMAN'"
    params = [config.name, identifier]
    if target == "span":
        return Sql(
            "NOT EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
            f"AND a.target = 'span' AND {mine})",
            params,
        )
    if target == "document":
        return Sql(
            "(SELECT count(*) FROM annotations a WHERE a.span_id = s.span_id "
            f"AND a.target = 'document' AND {mine}) < s.document_count",
            params,
        )
    if target == "trace":
        return Sql(
            "NOT EXISTS (SELECT 1 FROM annotations a WHERE a.trace_id = s.trace_id "
            f"AND a.target = 'trace' AND {mine})",
            params,
        )
    return Sql(
        "NOT EXISTS (SELECT 1 FROM annotations a WHERE a.session_id = t.session_id "
        f"AND a.target = 'session' AND {mine})",
        params,
    )


def needs_sql(configs: Iterable[ConfigLike], identifier: str) -> Sql:
    result = FALSE
    for config in required_configs(configs):
        result = result | (applies_sql(config) & missing_sql(config, identifier))
    return result


def in_scope_sql(configs: Iterable[ConfigLike]) -> Sql:
    result = FALSE
    for config in required_configs(configs):
        result = result | applies_sql(config)
    return result


def filter_sql(queue: QueueFilter, configs: Iterable[ConfigLike], identifier: str) -> Sql:
    """Membership of span `s` (joined with its trace `t`) in the queue."""
    configs = list(configs)
    clause = TRUE
    if queue.span_kinds:
        kinds = sorted(queue.span_kinds)
        clause = clause & Sql(f"s.span_kind IN ({','.join('?' * len(kinds))})", kinds)
    if queue.status:
        clause = clause & Sql("s.status_code = ?", [queue.status])
    if queue.text:
        clause = clause & Sql("instr(lower(s.name), ?) > 0", [queue.text.lower()])
    if queue.project:
        clause = clause & Sql("s.project = ?", [queue.project])
    state = queue.state
    if state in (QueueState.ALL, QueueState.TODO):
        clause = clause & in_scope_sql(configs)
    if state == QueueState.TODO:
        clause = clause & needs_sql(configs, identifier)
    elif state == QueueState.MINE:
        clause = clause & Sql(
            "EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
            "AND a.identifier = ? AND a.annotator_kind = 'HUMAN')",
            [identifier],
        )
    elif state == QueueState.OTHERS:
        clause = clause & Sql(
            "EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
            "AND NOT (a.identifier = ? AND a.annotator_kind = 'HUMAN'))",
            [identifier],
        )
    elif state == QueueState.DISAGREE:
        clause = clause & disagreement_sql()
    return clause


# The value two annotations are compared on: the label when there is one (a categorical judgement;
# its score may be missing in imported data), else the score. Text-only values never disagree.
_VALUE = "CASE WHEN a.label IS NOT NULL THEN 'L:' || a.label WHEN a.score IS NOT NULL THEN 'S:' || a.score END"


def disagreement_sql() -> Sql:
    """Span `s` has, under one annotation name (and document), two different values."""
    return Sql(
        "EXISTS (SELECT 1 FROM annotations a WHERE a.span_id = s.span_id "
        "AND a.name != 'note' AND a.target IN ('span', 'document') "
        "GROUP BY a.name, coalesce(a.document_position, -1) "
        f"HAVING count(DISTINCT {_VALUE}) > 1)"
        " OR (s.span_id = t.root_span_id AND EXISTS (SELECT 1 FROM annotations a "
        "WHERE a.trace_id = s.trace_id AND a.target = 'trace' GROUP BY a.name "
        f"HAVING count(DISTINCT {_VALUE}) > 1))"
    )
