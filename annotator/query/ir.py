"""The checked form of a filter expression: a small typed tree that parse.py builds and
compile.py turns into SQL. Everything in it has been validated; compiling it cannot fail.

Rows ("owners") say whose value a node reads: the span being filtered, the trace being
filtered, the trace's root span, an element of a comprehension, or an element's parent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annotator.query.errors import START, Where
from annotator.query.fields import BOOLEAN, NUMBER, STRING

# --- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpanRow:
    """The span a span filter tests (`s` in SQL)."""


@dataclass(frozen=True, slots=True)
class TraceRow:
    """The trace a trace filter tests (`t` in SQL)."""


@dataclass(frozen=True, slots=True)
class RootSpan:
    """The root span of the trace a trace filter tests (the span its trace row stands for)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The element of one comprehension: a span or an annotation. `index` is unique in the
    expression and names its SQL alias."""

    index: int
    element: str  # "span" | "annotation"


@dataclass(frozen=True, slots=True)
class ParentOf:
    """The stored parent (same trace) of a span element."""

    scope: Scope


Owner = SpanRow | TraceRow | RootSpan | Scope | ParentOf

# --- values ----------------------------------------------------------------------------------


class Node:
    __slots__ = ()
    type: str | None


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: text, number (always a float), boolean or None. Datetimes are canonical
    ISO-8601 UTC text, the form the store keeps, so that text order is time order."""

    value: Any
    type: str | None


@dataclass(frozen=True, slots=True)
class Column(Node):
    owner: Owner
    column: str
    type: str | None
    enum: bool = False


@dataclass(frozen=True, slots=True)
class Computed(Node):
    """A derived value; `what` is a key compile.py knows (see fields.Field.computed)."""

    owner: Owner
    what: str
    type: str | None


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    """A JSON value in `attributes`, looked up at each path in turn (the first present wins):
    `attributes['llm.model_name']` is `$.llm.model_name`, else `$."llm.model_name"`."""

    owner: Owner
    paths: tuple[str, ...]  # JSON paths, every key quoted
    # For paths under `metadata`: when the whole metadata attribute is stored as JSON text
    # (Phoenix decodes it on ingestion, but other writers may not), the path inside it.
    metadata_path: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class AsText(Node):
    """An attribute as compared with text: the value SQL holds (a number stays a number, so
    `metadata['turn'] == '0'` does not match the number 0; containers are JSON text). With
    `cast` (an explicit `str()`), converted to text: `str(metadata['turn']) == '0'` does."""

    operand: Attribute
    cast: bool = False
    type: str | None = STRING


@dataclass(frozen=True, slots=True)
class AsNumber(Node):
    """An attribute as a number, or NULL when it holds none (booleans, containers, text that
    is not a number): the row then matches nothing, never an error."""

    operand: Attribute
    type: str | None = NUMBER


@dataclass(frozen=True, slots=True)
class AsBool(Node):
    """An attribute as 1/0: JSON true/false, 1/0, or the text 'true'/'false' (any case)."""

    operand: Attribute
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class Relation:
    """One annotation lookup: `annotations['name', who]` or `trace_annotations[...]`. Each
    distinct (target, name, who) is one relation; every reference to it reads the same
    annotation, so `annotations['q'].label == 'a' and annotations['q'].score > 0.5` needs one
    annotation with both."""

    index: int
    target: str  # "span" (the span's own and its documents') | "trace"
    name: str
    kind: str | None  # HUMAN / LLM / CODE
    identifier: str | None


@dataclass(frozen=True, slots=True)
class AnnotationField(Node):
    relation: Relation
    field: str  # label | score | explanation
    type: str | None


@dataclass(frozen=True, slots=True)
class AnnotationExists(Node):
    relation: Relation
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class ParentMissing(Node):
    """`parent_span is None` (missing=True) / `is not None`. For the filtered span: no span
    with its parent_id exists (roots and orphans); for an element: no stored parent in its
    trace."""

    owner: SpanRow | Scope
    missing: bool
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + - * / %
    left: Node
    right: Node
    type: str | None = NUMBER


@dataclass(frozen=True, slots=True)
class Concat(Node):
    left: Node
    right: Node
    type: str | None = STRING


@dataclass(frozen=True, slots=True)
class Negate(Node):
    operand: Node
    type: str | None = NUMBER


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # = != < <= > >=
    left: Node
    right: Node
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class IsBool(Node):
    operand: Node
    value: bool
    negated: bool
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class InList(Node):
    operand: Node
    items: tuple[Literal, ...]
    negated: bool
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class Contains(Node):
    """Case-insensitive substring test: `needle in haystack`."""

    haystack: Node
    needle: Node
    negated: bool
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class And(Node):
    items: tuple[Node, ...]
    type: str | None = BOOLEAN
    # For a comparison chain (`a < b < c` is `a < b and b < c`): the middle operands, each one
    # node object that two neighbouring items hold, to be computed once (as Python does).
    shared: tuple[Node, ...] = ()


@dataclass(frozen=True, slots=True)
class Or(Node):
    items: tuple[Node, ...]
    type: str | None = BOOLEAN


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node
    type: str | None = BOOLEAN


# --- comprehensions (trace filters) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """What a comprehension iterates: `spans`, `trace_annotations`, `span_annotations` of the
    trace, or `children` / `siblings` / `annotations` of a span element (`parent`)."""

    kind: str
    parent: Scope | None = None


@dataclass(frozen=True, slots=True)
class Reduce(Node):
    """any / all / len / sum / max / min over `source`, elements filtered by `conditions`."""

    func: str
    scope: Scope
    source: Source
    element: Node | None  # the predicate (any/all) or the value (sum/max/min); None for len
    conditions: tuple[Node, ...]
    type: str | None


@dataclass(frozen=True, slots=True)
class Checked:
    """A validated expression: its condition and the annotation lookups it makes."""

    grain: str  # "span" | "trace"
    root: Node
    relations: tuple[Relation, ...]
    # Where the text nests deepest: what a "too deeply nested for SQLite" error points at.
    deepest: Where = START


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of `node` (for walks that look for relations or owners)."""
    if isinstance(node, AsText | AsNumber | AsBool | Negate | Not | IsNull | IsBool):
        return (node.operand,)
    if isinstance(node, Arith | Concat | Compare):
        return (node.left, node.right)
    if isinstance(node, InList):
        return (node.operand,)
    if isinstance(node, Contains):
        return (node.haystack, node.needle)
    if isinstance(node, And | Or):
        return node.items
    if isinstance(node, Reduce):
        return (*((node.element,) if node.element is not None else ()), *node.conditions)
    return ()


def walk(node: Node):
    """Every node under `node`, each node object once: a comparison chain's middle operand
    is one object in two places, and a chain nested in it would otherwise double the walk at
    every level."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(children(current))
