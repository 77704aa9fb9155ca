"""A checked filter (ir.py) to SQLite SQL with `?` parameters.

The SQL text holds only what this module writes: keywords, table and column names from
fields.py, and aliases it numbers itself (`qf_...`, so they cannot meet the store's `s`, `t`
and `a`). Every value — the user's literals and this module's own constants alike — is a
parameter, so the emitted text contains no quoted string at all.

Span filters reference the span as `s` only (`FROM spans s`, joined with `traces t` or not);
trace filters reference the trace as `t` only. How the value of each kind of node is built:

* attributes: `json_extract` of each candidate JSON path, the first present one wins;
  conversions to number and boolean are total (a value that is not one gives NULL, so the
  row matches nothing, never an error);
* annotations: Phoenix's semantics — one annotation row per lookup (`annotations['x']` with
  its `.label`, `.score`... all read the same row) and the condition holds if some
  combination of rows (or of "no row") satisfies it;
* comprehensions: correlated subqueries (`EXISTS`, `count(*)`, `total`, `max`, `min`).

No emitted fragment ever holds a sub-expression's SQL twice: where a construct needs a value
more than once (Python's `%`, the number and boolean conversions, the shared middle of
`a < b < c`), the value is computed once as the column of a one-row subquery (`_let`). The SQL
then grows linearly with the expression, in size and in nesting, rather than doubling with
every level (and the comparisons of an and / or that read one attribute as a number or a
boolean share one conversion, `_shared_operands`) — SQLite's parser has a fixed stack, and
query.limits checks what is left of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from annotator.query import ir
from annotator.query.fields import NOTE

SPAN = "s"
TRACE = "t"
_ROOT = "qf_r"
# Paths of the OpenInference attributes the computed fields read (keys quoted, candidates
# as parse.py builds them for the same names).
_PROMPT = (
    '$."llm"."token_count"."prompt"',
    '$."llm"."token_count.prompt"',
    '$."llm.token_count.prompt"',
)
_COMPLETION = (
    '$."llm"."token_count"."completion"',
    '$."llm"."token_count.completion"',
    '$."llm.token_count.completion"',
)
_INPUT = ('$."input"."value"', '$."input.value"')
_OUTPUT = ('$."output"."value"', '$."output.value"')
_SPAN_TARGETS = ("span", "document")


class Frag:
    """A piece of SQL and its parameters, in order."""

    __slots__ = ("params", "text")

    def __init__(self, text: str, params: Sequence[object] = ()):
        self.text = text
        self.params = list(params)


def _p(value: object) -> Frag:
    return Frag("?", [value])


def _sql(template: str, *parts: Frag | str) -> Frag:
    """`template` with each `{}` replaced by a part (a Frag, or SQL text of this module's)."""
    pieces = template.split("{}")
    assert len(pieces) == len(parts) + 1, template
    text = [pieces[0]]
    params: list[object] = []
    for part, after in zip(parts, pieces[1:], strict=True):
        if isinstance(part, Frag):
            text.append(part.text)
            params.extend(part.params)
        else:
            text.append(part)
        text.append(after)
    return Frag("".join(text), params)


def _join(parts: Iterable[Frag], separator: str) -> Frag:
    parts = list(parts)
    return Frag(separator.join(p.text for p in parts), [v for p in parts for v in p.params])


def _list(values: Iterable[object]) -> Frag:
    return _join((_p(v) for v in values), ", ")


class Compiler:
    def __init__(self, checked: ir.Checked):
        self.checked = checked
        self._counter = 0
        # Nodes computed once by an enclosing `_let` (by identity): their SQL is the name.
        self._bound_values: dict[int, Frag] = {}

    def _fresh(self, stem: str) -> str:
        self._counter += 1
        return f"qf_{stem}{self._counter}"

    def _let(self, body: Callable[..., Frag], *values: Frag) -> Frag:
        """`body` applied to each value computed once. SQL has no variables: each value
        becomes a column of a one-row subquery, and `body` receives the column names. Writing
        a value twice instead would double the SQL at every level of nesting."""
        names = [self._fresh("v") for _ in values]
        columns = _join(
            (_sql(f"{{}} AS {name}", value) for name, value in zip(names, values, strict=True)),
            ", ",
        )
        return _sql("(SELECT {} FROM (SELECT {}))", body(*(Frag(n) for n in names)), columns)

    # --- entry -------------------------------------------------------------------------------

    def compile(self) -> Frag:
        root = self.checked.root
        # (A comparison chain sharing a value stays whole: its parts read one binding.)
        split = isinstance(root, ir.And) and not _binds(root)
        conjuncts = list(root.items) if isinstance(root, ir.And) and split else [root]
        plain = [c for c in conjuncts if not _uses_relations(c)]
        annotated = [c for c in conjuncts if _uses_relations(c)]
        # Cheap tests first: SQLite evaluates AND terms in order, so a span-kind test spares
        # the JSON and subquery work on every span of another kind.
        parts = []
        if plain:
            parts.append(self._shared_operands(sorted(plain, key=_cost), "AND", positive=True))
        if annotated:
            parts.append(self._annotations(annotated))
        return self._balanced(parts, "AND")

    # --- annotations -------------------------------------------------------------------------

    def _annotations(self, conjuncts: list[ir.Node]) -> Frag:
        inner = conjuncts[0] if len(conjuncts) == 1 else ir.And(tuple(conjuncts))
        relations = self.checked.relations
        if len(relations) == 1 and _self_contained(inner) and _needs_row(inner):
            # Every match needs an annotation row and the test reads nothing else: one
            # uncorrelated subquery, evaluated once, instead of one per span.
            relation = relations[0]
            alias = _relation_alias(relation)
            owner_key, key_column = self._relation_key(relation)
            return _sql(
                "({} IN (SELECT {}.{} FROM annotations AS {} WHERE {} AND {}))",
                owner_key,
                alias,
                key_column,
                alias,
                self._relation_match(relation),
                self.cond(inner, positive=True),
            )
        joins = []
        for relation in relations:
            alias = _relation_alias(relation)
            owner_key, key_column = self._relation_key(relation)
            joins.append(
                _sql(
                    " LEFT JOIN annotations AS {} ON {}.{} = {} AND {}",
                    alias,
                    alias,
                    key_column,
                    owner_key,
                    self._relation_match(relation),
                )
            )
        # Phoenix's shape: a one-row seed outer-joined to each lookup, so that "no annotation"
        # is a row too (`annotations['x'].label is None`), and EXISTS so that several
        # annotators never duplicate a span.
        return _sql(
            "EXISTS (SELECT 1 FROM (SELECT 1) AS qf_seed{} WHERE {})",
            _join(joins, ""),
            self.cond(inner, positive=True),
        )

    def _relation_key(self, relation: ir.Relation) -> tuple[str, str]:
        """(the filtered row's key, the annotation column it matches)."""
        if self.checked.grain == "trace":
            return f"{TRACE}.trace_id", "trace_id"
        if relation.target == "trace":
            return f"{SPAN}.trace_id", "trace_id"
        return f"{SPAN}.span_id", "span_id"

    def _relation_match(self, relation: ir.Relation) -> Frag:
        alias = _relation_alias(relation)
        if relation.target == "trace":
            parts = [_sql(f"{alias}.target = {{}}", _p("trace"))]
        else:
            parts = [_sql(f"{alias}.target IN ({{}})", _list(_SPAN_TARGETS))]
        parts.append(_sql(f"{alias}.name = {{}}", _p(relation.name)))
        if relation.kind is not None:
            parts.append(_sql(f"{alias}.annotator_kind = {{}}", _p(relation.kind)))
        if relation.identifier is not None:
            parts.append(_sql(f"{alias}.identifier = {{}}", _p(relation.identifier)))
        return _join(parts, " AND ")

    # --- conditions --------------------------------------------------------------------------

    def cond(self, node: ir.Node, *, positive: bool = False) -> Frag:
        """A condition. `positive`: only AND / OR / EXISTS stand between it and the WHERE, so
        false and unknown (NULL) select the same rows, and a cheap test that is false where
        the exact one is unknown may go first."""
        if isinstance(node, ir.And):
            shared = _binds(node)
            if shared:
                return self._chain(node, shared, positive=positive)
            return self._shared_operands(node.items, "AND", positive=positive)
        if isinstance(node, ir.Or):
            return self._shared_operands(node.items, "OR", positive=positive)
        if isinstance(node, ir.Not):
            return _sql("(NOT {})", self.cond(node.operand))
        if isinstance(node, ir.Compare):
            test = _sql(f"({{}} {node.op} {{}})", self.value(node.left), self.value(node.right))
            if positive and node.op == "=":
                return self._prefiltered(node.left, node.right, test, equality=True)
            return test
        if isinstance(node, ir.IsNull):
            return _sql(
                "({} IS NOT NULL)" if node.negated else "({} IS NULL)", self.value(node.operand)
            )
        if isinstance(node, ir.IsBool):
            return _sql(
                "({} IS NOT {})" if node.negated else "({} IS {})",
                self.value(node.operand),
                _p(int(node.value)),
            )
        if isinstance(node, ir.InList):
            return self._in_list(node)
        if isinstance(node, ir.Contains):
            test = self._contains(node)
            if node.negated:
                return _sql("(NOT {})", test)
            if positive:
                return self._prefiltered(node.haystack, node.needle, test, equality=False)
            return test
        return self.value(node)  # boolean-valued: existence, parent test, any/all, True/False

    def _shared_operands(self, items: Sequence[ir.Node], op: str, *, positive: bool) -> Frag:
        """`x == 1 or x == 2 or ...`: a number or boolean conversion of one attribute that
        several comparisons read is computed once for them all (`_let`). Each conversion is a
        CASE over the extracted value inside a one-row subquery; written once per comparison,
        a 600-term filter was 180 KB of SQL with 600 subqueries for SQLite to prepare. The
        value is the same wherever it is read, so no result changes; only operands reached
        through and / or / not are shared, never a comprehension's element, whose alias
        exists inside its own subquery only."""
        instances: dict[ir.Node, list[ir.Node]] = {}
        readers: dict[ir.Node, int] = {}
        for item in items:
            seen: set[ir.Node] = set()
            for operand in _operands(item):
                if (
                    isinstance(operand, ir.AsNumber | ir.AsBool)
                    and id(operand) not in self._bound_values
                ):
                    instances.setdefault(operand, []).append(operand)
                    seen.add(operand)
            for operand in seen:
                readers[operand] = readers.get(operand, 0) + 1
        shared = [value for value, count in readers.items() if count > 1]
        if not shared:
            return self._balanced([self.cond(i, positive=positive) for i in items], op)

        def body(*names: Frag) -> Frag:
            bound = [id(i) for value in shared for i in instances[value]]
            for value, name in zip(shared, names, strict=True):
                for instance in instances[value]:
                    self._bound_values[id(instance)] = name
            try:
                return self._balanced([self.cond(i, positive=positive) for i in items], op)
            finally:
                for key in bound:
                    self._bound_values.pop(key, None)

        return self._let(body, *(self.value(value) for value in shared))

    def _chain(self, node: ir.And, shared: list[ir.Node], *, positive: bool) -> Frag:
        """`a < b < c`: both comparisons read b, computed once (as Python does)."""

        def body(*names: Frag) -> Frag:
            for value, name in zip(shared, names, strict=True):
                self._bound_values[id(value)] = name
            try:
                items = [self.cond(i, positive=positive) for i in node.items]
            finally:
                for value in shared:
                    del self._bound_values[id(value)]
            return self._balanced(items, "AND")

        return self._let(body, *(self.value(value) for value in shared))

    def _balanced(self, parts: list[Frag], op: str) -> Frag:
        """A AND B AND C... as a balanced tree: SQLite limits expression depth, and a long
        chain of ORs would otherwise be as deep as it is long."""
        if len(parts) == 1:
            return parts[0]
        middle = len(parts) // 2
        left = self._balanced(parts[:middle], op)
        right = self._balanced(parts[middle:], op)
        return _sql(f"({{}} {op} {{}})", left, right)

    def _prefiltered(self, value: ir.Node, literal: ir.Node, test: Frag, *, equality: bool) -> Frag:
        """`attributes LIKE '%text%' AND test` when that is the same selection, faster: most
        of a filter's time goes into reading and parsing every span's attributes JSON, and
        LIKE on the raw text is cheaper. It holds when the literal is written unchanged inside
        the stored JSON wherever the value holds it: printable ASCII with no quote or
        backslash (JSON escapes those), and, for `in`, something a number or a boolean cannot
        render to (those are rendered differently from their JSON text)."""
        if equality and isinstance(value, ir.Literal):
            value, literal = literal, value
        if not (
            isinstance(value, ir.AsText)
            and not value.cast
            and isinstance(value.operand.owner, ir.SpanRow | ir.Scope | ir.ParentOf)
            and isinstance(literal, ir.Literal)
            and isinstance(literal.value, str)
            and _literal_in_json(literal.value, equality=equality)
        ):
            return test
        escaped = literal.value.replace("%", "\\%").replace("_", "\\_")
        column = f"{self._alias(value.operand.owner)}.attributes"
        # LIKE folds ASCII case, as lower() does for the exact test (the store never turns
        # on PRAGMA case_sensitive_like).
        return _sql(
            f"({column} LIKE {{}} ESCAPE {{}} AND {{}})", _p(f"%{escaped}%"), _p("\\"), test
        )

    def _in_list(self, node: ir.InList) -> Frag:
        operand = self.value(node.operand)
        if not node.items:
            # `x in []` matches nothing; `x not in []` matches every x that has a value.
            return _sql("({} IS NOT NULL)", operand) if node.negated else _p(0)
        values = _list(self._literal_value(item) for item in node.items)
        keyword = "NOT IN" if node.negated else "IN"
        return _sql(f"({{}} {keyword} ({{}}))", operand, values)

    def _contains(self, node: ir.Contains) -> Frag:
        haystack = self.value(node.haystack)
        needle = node.needle
        if isinstance(needle, ir.Literal):
            text = needle.value
            if text.isascii():
                return _sql("(instr(lower({}), {}) > {})", haystack, _p(text.lower()), _p(0))
            # SQLite's lower() folds ASCII only: match other letters in either case with GLOB.
            return _sql("(lower({}) GLOB {})", haystack, _p(_glob_pattern(text)))
        return _sql("(instr(lower({}), lower({})) > {})", haystack, self.value(needle), _p(0))

    # --- values ------------------------------------------------------------------------------

    def value(self, node: ir.Node) -> Frag:
        bound = self._bound_values.get(id(node))
        if bound is not None:
            return bound
        if isinstance(node, ir.Literal):
            if node.value is None:
                return Frag("NULL")
            return _p(self._literal_value(node))
        if isinstance(node, ir.Column):
            return Frag(f"{self._alias(node.owner)}.{node.column}")
        if isinstance(node, ir.Computed):
            return self._computed(node)
        if isinstance(node, ir.Attribute):
            return self._on_row(node.owner, lambda a: self._native(node, a))
        if isinstance(node, ir.AsText):
            if node.cast:
                return self._on_row(
                    node.operand.owner,
                    lambda a: _sql("CAST({} AS TEXT)", self._native(node.operand, a)),
                )
            return self._on_row(node.operand.owner, lambda a: self._native(node.operand, a))
        if isinstance(node, ir.AsNumber):
            return self._on_row(node.operand.owner, lambda a: self._number(node.operand, a))
        if isinstance(node, ir.AsBool):
            return self._on_row(node.operand.owner, lambda a: self._bool(node.operand, a))
        if isinstance(node, ir.AnnotationField):
            return Frag(f"{_relation_alias(node.relation)}.{node.field}")
        if isinstance(node, ir.AnnotationExists):
            return Frag(f"({_relation_alias(node.relation)}.id IS NOT NULL)")
        if isinstance(node, ir.ParentMissing):
            return self._parent_missing(node)
        if isinstance(node, ir.Arith):
            return self._arith(node)
        if isinstance(node, ir.Concat):
            return _sql("({} || {})", self.value(node.left), self.value(node.right))
        if isinstance(node, ir.Negate):
            return _sql("(- {})", self.value(node.operand))
        if isinstance(node, ir.Reduce):
            return self._reduce(node)
        return self.cond(node)

    @staticmethod
    def _literal_value(node: ir.Literal) -> object:
        return int(node.value) if isinstance(node.value, bool) else node.value

    def _arith(self, node: ir.Arith) -> Frag:
        left, right = self.value(node.left), self.value(node.right)
        if node.op == "/":  # true division, as in Python; x / 0 is NULL in SQLite
            return _sql("(CAST({} AS REAL) / {})", left, right)
        if node.op == "%":
            # Python's modulo (the sign of the divisor), without SQLite's optional math
            # functions: a - b * floor(a / b), floor(q) = CAST(q AS INTEGER) - (CAST(q AS
            # INTEGER) > q); a and b computed once. Written as flat as SQL allows: q as
            # a * 1.0 / b (the same double as CAST(a AS REAL) / b) nests less.
            def modulo(a: Frag, b: Frag) -> Frag:
                quotient = _sql("{} * {} / {}", a, _p(1.0), b)
                whole = _sql("CAST({} AS INTEGER)", quotient)
                return _sql("{} - {} * ({} - ({} > {}))", a, b, whole, whole, quotient)

            return self._let(modulo, left, right)
        return _sql(f"({{}} {node.op} {{}})", left, right)

    def _alias(self, owner: ir.Owner) -> str:
        if isinstance(owner, ir.SpanRow):
            return SPAN
        if isinstance(owner, ir.TraceRow):
            return TRACE
        if isinstance(owner, ir.RootSpan):
            return _ROOT
        if isinstance(owner, ir.Scope):
            return f"qf_e{owner.index}"
        return f"qf_p{owner.scope.index}"

    def _on_row(self, owner: ir.Owner, build) -> Frag:
        """A value read from a span's attributes; the root span's through a subquery (one per
        value, so that a conversion repeating the value reads the row once)."""
        if isinstance(owner, ir.RootSpan):
            return _sql(
                f"(SELECT {{}} FROM spans AS {_ROOT} WHERE {_ROOT}.span_id = {TRACE}.root_span_id)",
                build(f"{_ROOT}.attributes"),
            )
        return build(f"{self._alias(owner)}.attributes")

    # --- attribute values ----------------------------------------------------------------------

    def _native(self, attribute: ir.Attribute, column: str) -> Frag:
        """The value as SQL has it: text, integer, real (JSON true/false as 1/0, containers
        as JSON text), NULL when absent or JSON null."""
        return self._first(attribute, column, "json_extract({}, {})")

    def _json(self, attribute: ir.Attribute, column: str) -> Frag:
        """The value as JSON text ('"abc"', '12', 'true'), NULL when absent."""
        return self._first(attribute, column, "({} -> {})")

    def _first(self, attribute: ir.Attribute, column: str, extract: str) -> Frag:
        candidates = [_sql(extract, column, _p(path)) for path in attribute.paths]
        if attribute.metadata_path is not None:
            # metadata stored as JSON text rather than an object: look inside the text. (The
            # metadata value is written twice, but it is a fixed leaf, never a sub-expression.)
            metadata = _sql("json_extract({}, {})", column, _p('$."metadata"'))
            candidates.append(
                _sql(
                    "CASE WHEN json_type({}, {}) = {} AND json_valid({}) THEN " + extract + " END",
                    column,
                    _p('$."metadata"'),
                    _p("text"),
                    metadata,
                    metadata,
                    _p(attribute.metadata_path),
                )
            )
        if len(candidates) == 1:
            return candidates[0]
        return _sql("coalesce({})", _join(candidates, ", "))

    def _number(self, attribute: ir.Attribute, column: str) -> Frag:
        # The JSON text is read only where it decides (is an integer 1 JSON's `true`?), so
        # it is not bound: most values never need it.
        as_json = self._json(attribute, column)
        return self._let(
            lambda value: _sql(
                "CASE typeof({}) WHEN {} THEN {} "
                "WHEN {} THEN CASE WHEN {} NOT IN ({}, {}) THEN {} END "
                "WHEN {} THEN CASE WHEN json_valid({}) AND json_type({}) IN ({}, {}) "
                "THEN CAST({} AS REAL) END END",
                value,
                _p("real"),
                value,
                _p("integer"),
                as_json,
                _p("true"),
                _p("false"),
                value,
                _p("text"),
                value,
                value,
                _p("integer"),
                _p("real"),
                value,
            ),
            self._native(attribute, column),
        )

    def _bool(self, attribute: ir.Attribute, column: str) -> Frag:
        as_json = self._json(attribute, column)
        return self._let(
            lambda value: _sql(
                "CASE json_type({}) WHEN {} THEN {} WHEN {} THEN {} "
                "WHEN {} THEN CASE {} WHEN {} THEN {} WHEN {} THEN {} END "
                "WHEN {} THEN CASE lower({}) WHEN {} THEN {} WHEN {} THEN {} END END",
                as_json,
                _p("true"),
                _p(1),
                _p("false"),
                _p(0),
                _p("integer"),
                value,
                _p(1),
                _p(1),
                _p(0),
                _p(0),
                _p("text"),
                value,
                _p("true"),
                _p(1),
                _p("false"),
                _p(0),
            ),
            self._native(attribute, column),
        )

    def _paths_number(self, paths: tuple[str, ...], column: str) -> Frag:
        return self._number(ir.Attribute(ir.SpanRow(), paths), column)

    # --- computed fields ---------------------------------------------------------------------

    def _computed(self, node: ir.Computed) -> Frag:
        what = node.what
        if what in ("root_input", "root_output"):
            paths = _INPUT if what == "root_input" else _OUTPUT
            return self.value(ir.AsText(ir.Attribute(ir.RootSpan(), paths)))
        if what in ("trace_tokens_prompt", "trace_tokens_completion", "trace_tokens_total"):
            row = self._fresh("k")
            return _sql(
                f"(SELECT {{}} FROM spans AS {row} "
                f"WHERE {row}.trace_id = {TRACE}.trace_id AND {row}.span_kind = {{}})",
                self._token_sum(what.rsplit("_", 1)[1], row),
                _p("LLM"),
            )
        if what in ("llm_span_count", "tool_span_count"):
            row = self._fresh("k")
            return _sql(
                f"(SELECT count(*) FROM spans AS {row} "
                f"WHERE {row}.trace_id = {TRACE}.trace_id AND {row}.span_kind = {{}})",
                _p("LLM" if what == "llm_span_count" else "TOOL"),
            )
        owner = self._alias(node.owner)
        # A span element's missing parent (the NULL row of a LEFT JOIN) has no values at
        # all; every other row read here exists (span_id is NOT NULL).
        present = f"{owner}.span_id IS NOT NULL" if isinstance(node.owner, ir.ParentOf) else None
        if what.startswith("llm_tokens_"):
            value = self._llm_tokens(what.rsplit("_", 1)[1], owner)
            if present is None:
                return value
            return _sql(f"(CASE WHEN {present} THEN {{}} END)", value)
        return self._cumulative(what, owner, present)

    def _llm_tokens(self, which: str, row: str) -> Frag:
        """Phoenix's per-span token counts: an LLM span's prompt / completion (0 when absent
        or not a number; NULL for other kinds), total = prompt + completion (0 for other
        kinds)."""

        def count(paths: tuple[str, ...]) -> Frag:
            return _sql("coalesce({}, {})", self._paths_number(paths, f"{row}.attributes"), _p(0))

        if which == "total":
            tokens = _sql("({} + {})", count(_PROMPT), count(_COMPLETION))
        else:
            tokens = count(_PROMPT if which == "prompt" else _COMPLETION)
        if which == "total":
            return _sql(
                f"(CASE WHEN {row}.span_kind = {{}} THEN {{}} ELSE {{}} END)",
                _p("LLM"),
                tokens,
                _p(0),
            )
        return _sql(f"(CASE WHEN {row}.span_kind = {{}} THEN {{}} END)", _p("LLM"), tokens)

    def _token_sum(self, which: str, row: str) -> Frag:
        """The prompt / completion / total tokens of the LLM spans `row` ranges over (0 when
        there are none), for a subquery's select list. total() rather than coalesce(sum(...),
        0): a count that is not a number adds nothing either way, big integers cannot make
        sum() fail with "integer overflow", and it nests less (SQLite's parser stack is
        small)."""
        prompt, completion = (
            _sql("total({})", self._paths_number(paths, f"{row}.attributes"))
            for paths in (_PROMPT, _COMPLETION)
        )
        if which == "total":
            return _sql("{} + {}", prompt, completion)  # (a subquery's select list: no parens)
        return prompt if which == "prompt" else completion

    def _cumulative(self, what: str, owner: str, present: str | None) -> Frag:
        """Sum over the span and everything below it (stored parent edges, same trace): 0
        when nothing counts, NULL for a missing parent (`present` false)."""
        tree, child, row = self._fresh("tree"), self._fresh("c"), self._fresh("d")
        if what == "cumulative_errors":
            summed = _sql(f"total({row}.status_code = {{}})", _p("ERROR"))
            only = Frag("")
        else:
            summed = self._token_sum(what.rsplit("_", 1)[1], row)
            only = _sql(f" WHERE {row}.span_kind = {{}}", _p("LLM"))
        if present is not None:
            summed = _sql(f"({{}} + CASE WHEN {present} THEN {{}} END)", summed, _p(0))
        # UNION (not UNION ALL): a parent cycle in bad data ends instead of looping.
        return _sql(
            f"(WITH RECURSIVE {tree}(id) AS (SELECT {owner}.span_id UNION "
            f"SELECT {child}.span_id FROM spans AS {child} JOIN {tree} "
            f"ON {child}.parent_id = {tree}.id WHERE {child}.trace_id = {owner}.trace_id) "
            f"SELECT {{}} FROM spans AS {row} JOIN {tree} ON {row}.span_id = {tree}.id{{}})",
            summed,
            only,
        )

    # --- tree --------------------------------------------------------------------------------

    def _parent_missing(self, node: ir.ParentMissing) -> Frag:
        if isinstance(node.owner, ir.SpanRow):
            # As Phoenix: a span whose parent is not stored at all (a root, or an orphan).
            row = self._fresh("ps")
            exists = f"EXISTS (SELECT 1 FROM spans AS {row} WHERE {row}.span_id = {SPAN}.parent_id)"
            return Frag(f"(NOT {exists})" if node.missing else exists)
        parent = f"qf_p{node.owner.index}"
        test = "IS NULL" if node.missing else "IS NOT NULL"
        return Frag(f"({parent}.span_id {test})")

    # --- comprehensions ----------------------------------------------------------------------

    def _reduce(self, node: ir.Reduce) -> Frag:
        source = self._source(node)
        where = [source[1], *(self.cond(c, positive=True) for c in node.conditions)]
        func = node.func
        if func == "any":
            where.append(self.cond(node.element, positive=True))  # type: ignore[arg-type]
            return _sql("EXISTS (SELECT 1 FROM {} WHERE {})", source[0], _join(where, " AND "))
        if func == "all":
            # A span for which the predicate is false or unknown (a missing value) breaks all().
            predicate = self.cond(node.element)  # type: ignore[arg-type]
            where.append(_sql("({} IS NOT {})", predicate, _p(1)))
            return _sql(
                "(NOT EXISTS (SELECT 1 FROM {} WHERE {}))", source[0], _join(where, " AND ")
            )
        if func == "len":
            selected = Frag("count(*)")
        elif func == "sum":
            # total(), not sum(): 0 for no elements, and never SQLite's "integer overflow"
            # error, which sum() raises at run time for big integers in the data.
            selected = _sql("total({})", self.value(node.element))  # type: ignore[arg-type]
        else:
            selected = _sql(f"{func}({{}})", self.value(node.element))  # type: ignore[arg-type]
        return _sql("(SELECT {} FROM {} WHERE {})", selected, source[0], _join(where, " AND "))

    def _source(self, node: ir.Reduce) -> tuple[Frag, Frag]:
        """(FROM clause, correlation condition) for a comprehension's elements."""
        element = self._alias(node.scope)
        source = node.source
        kind = source.kind
        if kind in ("spans", "children", "siblings"):
            table = f"spans AS {element}"
            if _reads_parent(node):
                parent = f"qf_p{node.scope.index}"
                table += (
                    f" LEFT JOIN spans AS {parent} ON {parent}.span_id = {element}.parent_id "
                    f"AND {parent}.trace_id = {element}.trace_id"
                )
            if kind == "spans":
                return Frag(table), Frag(f"{element}.trace_id = {TRACE}.trace_id")
            outer = self._alias(source.parent)  # type: ignore[arg-type]
            if kind == "children":
                return Frag(table), Frag(
                    f"{element}.trace_id = {outer}.trace_id AND {element}.parent_id = "
                    f"{outer}.span_id"
                )
            stored = self._fresh("sp")
            return Frag(table), Frag(
                f"{element}.trace_id = {outer}.trace_id AND {element}.parent_id = "
                f"{outer}.parent_id AND {element}.span_id != {outer}.span_id AND EXISTS "
                f"(SELECT 1 FROM spans AS {stored} WHERE {stored}.span_id = {outer}.parent_id "
                f"AND {stored}.trace_id = {outer}.trace_id)"
            )
        annotations = Frag(f"annotations AS {element}")
        not_note = _sql(f"{element}.name != {{}}", _p(NOTE))
        row = TRACE if self.checked.grain == "trace" else SPAN
        if kind == "trace_annotations":
            return annotations, _sql(
                f"{element}.trace_id = {row}.trace_id AND {element}.target = {{}} AND {{}}",
                _p("trace"),
                not_note,
            )
        targets = _list(_SPAN_TARGETS)
        if kind == "span_annotations":
            return annotations, _sql(
                f"{element}.trace_id = {TRACE}.trace_id AND {element}.target IN ({{}}) AND {{}}",
                targets,
                not_note,
            )
        # A span's own annotations: a span element's, or (span filters) the filtered span's.
        outer = self._alias(source.parent) if source.parent is not None else SPAN
        return annotations, _sql(
            f"{element}.span_id = {outer}.span_id AND {element}.target IN ({{}}) AND {{}}",
            targets,
            not_note,
        )


def compile_checked(checked: ir.Checked) -> Frag:
    return Compiler(checked).compile()


def _relation_alias(relation: ir.Relation) -> str:
    return f"qf_a{relation.index}"


def _glob_pattern(needle: str) -> str:
    """`*needle*` for `lower(haystack) GLOB ?`: ASCII letters lower-cased (as lower() leaves
    the haystack), other cased letters as a class of their case variants, GLOB's own
    special characters escaped as one-character classes."""
    out = ["*"]
    for char in needle:
        if char in "*?[":
            out.append(f"[{char}]")
        elif char.isascii():
            out.append(char.lower())
        else:
            variants = sorted(
                {v for v in (char, char.lower(), char.upper(), char.casefold()) if len(v) == 1}
            )
            out.append(f"[{''.join(variants)}]" if len(variants) > 1 else char)
    out.append("*")
    return "".join(out)


# What SQLite renders a number or a boolean (1/0) with, including an infinity ("Inf").
_NUMBER_CHARACTERS = frozenset("0123456789.e+-inf")


def _literal_in_json(text: str, *, equality: bool) -> bool:
    if not text or not all(" " <= c <= "~" for c in text) or '"' in text or "\\" in text:
        return False
    return equality or not set(text.lower()) <= _NUMBER_CHARACTERS


# Values as cheap to write twice as to name once: a column, a parameter, an annotation field.
_ATOMIC = (ir.Literal, ir.Column, ir.Attribute, ir.AnnotationField, ir.AnnotationExists)


def _binds(node: ir.And) -> list[ir.Node]:
    """The values a comparison chain's parts share that are worth computing once."""
    return [value for value in node.shared if not isinstance(value, _ATOMIC)]


def _operands(node: ir.Node) -> Iterable[ir.Node]:
    """The values the comparisons of a condition read, through and / or / not only: never
    inside a comprehension, whose element exists in its own subquery only."""
    if isinstance(node, ir.Compare):
        yield from (node.left, node.right)
    elif isinstance(node, ir.Contains):
        yield from (node.haystack, node.needle)
    elif isinstance(node, ir.InList | ir.IsNull | ir.IsBool):
        yield node.operand
    elif isinstance(node, ir.And | ir.Or):
        for item in node.items:
            yield from _operands(item)
    elif isinstance(node, ir.Not):
        yield from _operands(node.operand)


def _uses_relations(node: ir.Node) -> bool:
    return any(isinstance(n, ir.AnnotationField | ir.AnnotationExists) for n in ir.walk(node))


def _self_contained(node: ir.Node) -> bool:
    """Reads only annotation fields and literals (nothing of the span or trace)."""
    return all(
        not isinstance(n, ir.Column | ir.Computed | ir.Attribute | ir.ParentMissing | ir.Reduce)
        for n in ir.walk(node)
    )


def _reads_field(node: ir.Node) -> bool:
    return any(isinstance(n, ir.AnnotationField) for n in ir.walk(node))


def _needs_row(node: ir.Node) -> bool:
    """Whether `node` can only hold when an annotation row exists: with the row missing
    (every field NULL, the existence check false) it is false or unknown."""
    if isinstance(node, ir.AnnotationExists):
        return True
    if isinstance(node, ir.Compare | ir.Contains | ir.InList):
        return _reads_field(node)
    if isinstance(node, ir.IsNull):
        return node.negated and _reads_field(node.operand)
    if isinstance(node, ir.IsBool):
        # With no row the operand is 0 (an existence check) or NULL (a comparison of a field).
        operand = node.operand
        if isinstance(operand, ir.AnnotationExists):
            return node.value != node.negated  # `is True`, `is not False`
        return not node.negated and _null_without_row(operand)
    if isinstance(node, ir.And):
        return any(_needs_row(i) for i in node.items)
    if isinstance(node, ir.Or):
        return all(_needs_row(i) for i in node.items)
    if isinstance(node, ir.Not):
        return _null_without_row(node.operand)  # NOT NULL is NULL
    return False


def _null_without_row(node: ir.Node) -> bool:
    """A comparison of an annotation field: NULL (not false) when there is no row."""
    if isinstance(node, ir.InList) and not node.items:
        return False  # `in []` is 0 and `not in []` is IS NOT NULL, never NULL
    return isinstance(node, ir.Compare | ir.Contains | ir.InList) and _reads_field(node)


def _reads_parent(node: ir.Reduce) -> bool:
    parent = ir.ParentOf(node.scope)
    for n in ir.walk(node):
        owner = getattr(n, "owner", None)
        if owner == parent or (isinstance(n, ir.ParentMissing) and n.owner == node.scope):
            return True
        if isinstance(n, ir.AsText | ir.AsNumber | ir.AsBool) and n.operand.owner == parent:
            return True
    return False


def _cost(node: ir.Node) -> int:
    """A rough order of evaluation cost, for ordering the terms of the top-level AND."""
    cost = 0
    for n in ir.walk(node):
        if isinstance(n, ir.Reduce | ir.ParentMissing) or (
            isinstance(n, ir.Computed) and not n.what.startswith("llm_tokens")
        ):
            cost += 100
        elif isinstance(n, ir.AsText | ir.AsNumber | ir.AsBool | ir.Attribute):
            attribute = n if isinstance(n, ir.Attribute) else n.operand
            cost += 100 if isinstance(attribute.owner, ir.RootSpan) else 10
        elif isinstance(n, ir.Contains):
            cost += 5
        else:
            cost += 1
    return cost
