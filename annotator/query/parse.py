"""Filter text to a checked tree (ir.py): Python's `ast` parser, then an allowlist walk.

Only the node types handled below are accepted; anything else Python can parse (lambdas,
f-strings, walrus, method calls, `**`...) is an error naming the position. Nothing is ever
evaluated. Types are checked here, as Phoenix checks them, so that a mistake is reported
before any SQL exists: `latency_ms > '100'` is an error, not a silent empty result.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from annotator.query import fields as f
from annotator.query import ir
from annotator.query.errors import FilterError, Where, fragment

# Bounds on what one expression may cost. Filters are typed by people; these leave room for
# any real one while keeping a pasted megabyte (or a generated monster) from reaching SQLite.
MAX_LENGTH = 10_000
MAX_NODES = 2_000
MAX_DEPTH = 60
MAX_RELATIONS = 16  # distinct annotation lookups (each is one join)
MAX_PATH_KEYS = 32
MAX_LIST_ITEMS = 1_000
MAX_COMPREHENSION_DEPTH = 4

_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Characters a JSON path key cannot hold in SQLite (its path syntax has no escapes, and the
# stored JSON escapes these).
_BAD_KEY = re.compile(r'["\\\x00-\x1f]')
_ORDERED = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}
_OTHER_OPERATORS = {
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.MatMult: "@",
}
_UNSUPPORTED_NODES = {
    ast.Lambda: "a lambda",
    ast.IfExp: "a conditional expression",
    ast.NamedExpr: "an assignment (:=)",
    ast.JoinedStr: "an f-string",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.DictComp: "a dict comprehension",
    ast.SetComp: "a set comprehension",
    ast.Starred: "a starred expression",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "a slice",
}


# A line as Python's tokenizer ends it (\r\n, \r or \n; not str.splitlines' other breaks).
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def parse_span_filter(text: str) -> ir.Checked:
    return _Parser(text, "span").run()


def parse_trace_filter(text: str) -> ir.Checked:
    return _Parser(text, "trace").run()


class _Bound:
    """A name bound by a comprehension: the loop variable and its element's scope."""

    def __init__(self, name: str, scope: ir.Scope):
        self.name = name
        self.scope = scope


class _Parser:
    def __init__(self, text: str, grain: str):
        self.original = text
        self.grain = grain
        stripped = text.strip()
        leading = text[: len(text) - len(text.lstrip())]
        # Positions are reported in the text as given, so remember what strip() removed.
        self._line_shift = leading.count("\n")
        self._col_shift = len(leading) - (leading.rfind("\n") + 1)
        self.source = stripped
        self._lines = stripped.split("\n")
        # The source's lines as UTF-8 (the AST's columns count bytes), split as Python's
        # tokenizer splits them: `ast.get_source_segment` splits the whole text again on every
        # call, which made a long filter's parse quadratic.
        self._source_lines = [line.encode() for line in _LINES.findall(stripped)]
        self._multiline = "\n" in text.strip("\n")
        self._relations: dict[tuple, ir.Relation] = {}
        self._scopes = 0
        self._bound: list[_Bound] = []
        # The middle operands of comparison chains (by AST node id): each is read once and
        # its one IR node used by both comparisons; None until read.
        self._chain_values: dict[int, ir.Node | None] = {}

    # --- entry -----------------------------------------------------------------------------

    def run(self) -> ir.Checked:
        if len(self.original) > MAX_LENGTH:
            raise self._error_at(1, 1, f"the filter is longer than {MAX_LENGTH:,} characters")
        if "\x00" in self.original:
            col = self.original.index("\x00") + 1
            raise self._error_at(1, col, "the filter cannot contain a NUL character")
        if not self.source:
            raise self._error_at(1, 1, "the filter is empty")
        try:
            tree = ast.parse(self.source, mode="eval")
        except SyntaxError as error:
            raise self._syntax_error(error) from None
        except (ValueError, MemoryError, RecursionError) as error:
            message = str(error) or "the filter is too complex"
            if isinstance(error, MemoryError | RecursionError):
                message = "the filter is nested too deeply"
            raise self._error_at(1, 1, message) from None
        deepest = self._check_size(tree.body)
        body = tree.body
        if isinstance(body, ast.Constant) and isinstance(body.value, bool):
            raise self._error(
                body,
                f"`{body.value}` alone is not a condition; an empty filter selects everything",
            )
        root = self.condition(body)
        where = self._error(deepest, "")
        return ir.Checked(
            self.grain,
            root,
            tuple(self._relations.values()),
            Where(where.line, where.col, where.multiline),
        )

    def _check_size(self, body: ast.expr) -> ast.AST:
        """Bounds the tree's size and depth; returns its deepest node (the first one, in
        the text's order, of the greatest depth)."""
        # Iterative, so that the recursive walk that follows cannot exhaust the stack.
        count = 0
        stack: list[tuple[ast.AST, int]] = [(body, 1)]
        deepest: ast.AST = body
        deepest_key = (1, 0, 0)
        while stack:
            node, depth = stack.pop()
            key = (depth, -getattr(node, "lineno", 1), -getattr(node, "col_offset", 0))
            if key > deepest_key:
                deepest, deepest_key = node, key
            count += 1
            if count > MAX_NODES:
                raise self._error(body, f"the filter has more than {MAX_NODES:,} parts")
            if depth > MAX_DEPTH:
                raise self._error(node, f"the filter is nested more than {MAX_DEPTH} levels deep")
            stack.extend(
                (child, depth + 1)
                for child in ast.iter_child_nodes(node)
                if isinstance(child, ast.expr | ast.comprehension)  # not ctx / operator nodes
            )
        return deepest

    # --- positions and errors ----------------------------------------------------------------

    def _error_at(self, line: int, col: int, message: str) -> FilterError:
        if line == 1:
            col += self._col_shift
        return FilterError(message, line + self._line_shift, col, multiline=self._multiline)

    def _error(self, node: ast.AST, message: str) -> FilterError:
        line = getattr(node, "lineno", 1) or 1
        offset = getattr(node, "col_offset", 0) or 0
        text = self._lines[line - 1] if 0 < line <= len(self._lines) else ""
        col = len(text.encode()[:offset].decode("utf-8", "replace")) + 1
        return self._error_at(line, col, message)

    def _syntax_error(self, error: SyntaxError) -> FilterError:
        message = error.msg or "invalid syntax"
        if message.startswith("source code"):
            message = "the filter cannot contain a NUL character"
        line = error.lineno or 1
        col = error.offset or 0
        if line > len(self._lines) or col < 1:
            # Python reports the end of the input as offset 0: the expression stops short.
            if col < 1 and line <= len(self._lines) and message == "invalid syntax":
                message = "the filter ends before the expression is complete"
            line = min(line, len(self._lines))
            col = len(self._lines[line - 1]) + 1
        text = self._lines[line - 1]
        if (
            message.startswith("invalid syntax")
            and text[col - 1 : col + 1] in ("= ", "=")
            and (text[col - 2 : col - 1] not in ("=", "!", "<", ">"))
        ):
            message = "invalid syntax: compare with `==`, not `=`"
        if len(self._lines) > 1 and (line > 1 or col > len(text) or "indent" in message):
            message += " (a filter on several lines needs parentheses around it)"
        return self._error_at(line, col, message)

    def _segment(self, node: ast.AST) -> str | None:
        """The node's source text, as `ast.get_source_segment` gives it."""
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if first is None or last is None or start is None or end is None:
            return None
        lines = self._source_lines[first - 1 : last]
        if not lines or len(lines) != last - first + 1:
            return None
        if len(lines) == 1:
            return lines[0][start:end].decode("utf-8", "replace")
        middle = b"".join(lines[1:-1])
        return (lines[0][start:] + middle + lines[-1][:end]).decode("utf-8", "replace")

    def _text(self, node: ast.AST) -> str:
        segment = self._segment(node)
        return fragment(segment if segment is not None else type(node).__name__)

    def _check_spelling(self, node: ast.AST, name: str) -> None:
        """Python reads `ｎａｍｅ` as `name` (NFKC); a filter must mean what it shows."""
        segment = self._segment(node) or ""
        if not segment.endswith(name):
            shown = fragment(segment.split(".")[-1].strip() if segment else name)
            raise self._error(node, f"`{shown}` is read as `{name}`; write names in plain ASCII")

    # --- conditions --------------------------------------------------------------------------

    def condition(self, node: ast.expr) -> ir.Node:
        """A node in boolean position (the whole filter, and/or/not operands, any/all)."""
        value = self.value(node)
        if value.type != f.BOOLEAN:
            shown = self._text(node)
            raise self._error(
                node,
                f"`{shown}` is not a condition, expected a comparison such as `{shown} == ...`",
            )
        return value

    def value(self, node: ast.expr) -> ir.Node:
        key = id(node)
        if key not in self._chain_values:
            return self._value(node)
        found = self._chain_values[key]
        if found is None:
            found = self._chain_values[key] = self._value(node)
        return found

    def _value(self, node: ast.expr) -> ir.Node:
        if isinstance(node, ast.BoolOp):
            items = tuple(self.condition(v) for v in node.values)
            return ir.And(items) if isinstance(node.op, ast.And) else ir.Or(items)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Compare):
            return self._compare_chain(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Constant):
            return self._literal(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
            return self._reference(node)
        if isinstance(node, ast.List | ast.Tuple):
            raise self._error(
                node,
                f"`{self._text(node)}` is a collection, which is only allowed on the "
                "right of `in` / `not in`",
            )
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            raise self._error(
                node,
                "a comprehension must be the argument of "
                + (
                    "any(), all(), len(), sum(), max() or min()"
                    if self.grain == "trace"
                    else "a reducer, which only trace filters have"
                ),
            )
        what = _UNSUPPORTED_NODES.get(type(node), "this expression")
        raise self._error(node, f"{what} is not allowed in a filter: `{self._text(node)}`")

    # --- literals ----------------------------------------------------------------------------

    def _literal(self, node: ast.Constant) -> ir.Literal:
        value = node.value
        if value is None:
            return ir.Literal(None, f.NULL)
        if isinstance(value, bool):
            return ir.Literal(value, f.BOOLEAN)
        if isinstance(value, int | float):
            return ir.Literal(self._finite(node, value), f.NUMBER)
        if isinstance(value, str):
            if "\x00" in value:
                raise self._error(node, "string literals cannot contain a NUL character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise self._error(
                    node, "string literals cannot contain lone surrogates (\\ud800-\\udfff)"
                ) from None
            return ir.Literal(value, f.STRING)
        raise self._error(node, f"unsupported literal: `{self._text(node)}`")

    def _finite(self, node: ast.AST, value: int | float | str) -> float:
        try:
            number = float(value)
        except (OverflowError, ValueError):
            number = math.inf
        if not math.isfinite(number):
            raise self._error(node, f"invalid number: {self._text(node)}")
        return number

    # --- operators ---------------------------------------------------------------------------

    def _unary(self, node: ast.UnaryOp) -> ir.Node:
        if isinstance(node.op, ast.Not):
            return ir.Not(self.condition(node.operand))
        if isinstance(node.op, ast.Invert):
            raise self._error(node, "unsupported operator `~`")
        operand = self._numeric(self.value(node.operand), node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(operand, ir.Literal):
            return ir.Literal(-operand.value, f.NUMBER)
        return ir.Negate(operand)

    def _numeric(self, value: ir.Node, node: ast.AST, refusal: str | None = None) -> ir.Node:
        """A number as it is; a value of unknown type read as a number; else refused (with
        `refusal`, or `x` is a T, not a number)."""
        if value.type == f.NUMBER:
            return value
        if value.type is f.UNKNOWN:
            return ir.AsNumber(value)  # type: ignore[arg-type]
        raise self._error(node, refusal or f"`{self._text(node)}` is a {value.type}, not a number")

    def _binop(self, node: ast.BinOp) -> ir.Node:
        op_type = type(node.op)
        if op_type not in _ARITH:
            symbol = _OTHER_OPERATORS.get(op_type, "?")
            raise self._error(node, f"unsupported operator `{symbol}`: only + - * / % are allowed")
        op = _ARITH[op_type]
        left, right = self.value(node.left), self.value(node.right)
        for side, side_node in ((left, node.left), (right, node.right)):
            if side.type in (f.DATETIME, f.BOOLEAN, f.NULL):
                raise self._error(
                    side_node,
                    f"cannot do arithmetic with a {side.type}: `{self._text(side_node)}`",
                )
        # Text joined to text (Phoenix: `+` over two non-numbers concatenates).
        if op == "+" and f.NUMBER not in (left.type, right.type):
            return ir.Concat(self._text_of(left), self._text_of(right))
        if f.STRING in (left.type, right.type):
            raise self._error(node, "cannot do arithmetic with a number and a string")
        return ir.Arith(op, self._numeric(left, node.left), self._numeric(right, node.right))

    @staticmethod
    def _text_of(value: ir.Node) -> ir.Node:
        return ir.AsText(value) if value.type is f.UNKNOWN else value  # type: ignore[arg-type]

    # --- calls -------------------------------------------------------------------------------

    def _call(self, node: ast.Call) -> ir.Node:
        func = node.func
        allowed = "only float(), str() and int() are allowed"
        if self.grain == "trace":
            allowed = (
                "only float(), str(), int() and the reducers any(), all(), len(), sum(), "
                "max(), min() over a comprehension are allowed"
            )
        if isinstance(func, ast.Attribute):
            raise self._error(_attr_position(func), f"unknown function '{func.attr}' — {allowed}")
        if not isinstance(func, ast.Name):
            raise self._error(func, f"`{self._text(func)}` is not a function — {allowed}")
        name = func.id
        self._check_spelling(func, name)
        if name not in f.CAST_FUNCTIONS + f.REDUCERS:
            raise self._error(func, f"unknown function '{name}' — {allowed}")
        if node.keywords or len(node.args) != 1:
            raise self._error(node, f"{name}() takes exactly one argument")
        argument = node.args[0]
        if name in f.REDUCERS:
            return self._reduce(node, name, argument)
        if isinstance(argument, ast.Starred):
            raise self._error(argument, f"{name}() takes exactly one argument")
        if name == "str":
            return self._to_text(argument)
        return self._to_number(argument)

    def _to_number(self, node: ast.expr) -> ir.Node:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not _NUMERIC_TEXT.fullmatch(node.value):
                raise self._error(node, f"cannot convert {self._text(node)} to a number")
            return ir.Literal(self._finite(node, node.value), f.NUMBER)
        value = self.value(node)
        return self._numeric(value, node, f"cannot convert a {value.type} to a number")

    def _to_text(self, node: ast.expr) -> ir.Node:
        value = self.value(node)
        if isinstance(value, ir.Literal) and value.type != f.STRING:
            raise self._error(node, f"cannot convert the literal {self._text(node)} to text")
        if value.type == f.STRING:
            return value
        if value.type is f.UNKNOWN:
            return ir.AsText(value, cast=True)  # type: ignore[arg-type]
        raise self._error(node, f"cannot convert a {value.type} to text")

    # --- comparisons -------------------------------------------------------------------------

    def _compare_chain(self, node: ast.Compare) -> ir.Node:
        """`a < b < c` is `a < b and b < c` with b read once: parsed once here (a chain
        nested in b would otherwise be parsed twice per level), and marked `shared` for the
        compiler to compute once."""
        middles = node.comparators[:-1]
        for middle in middles:
            self._chain_values[id(middle)] = None
        try:
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self._compare(node, left, op, right))
                left = right
            shared = tuple(
                value for value in (self._chain_values[id(m)] for m in middles) if value is not None
            )
        finally:
            for middle in middles:
                del self._chain_values[id(middle)]
        return parts[0] if len(parts) == 1 else ir.And(tuple(parts), shared=shared)

    def _compare(
        self, whole: ast.Compare, left_node: ast.expr, op: ast.cmpop, right_node: ast.expr
    ) -> ir.Node:
        parent = self._parent_check(whole, left_node, op, right_node)
        if parent is not None:
            return parent
        if isinstance(op, ast.In | ast.NotIn):
            return self._membership(whole, left_node, right_node, isinstance(op, ast.NotIn))
        for side in (left_node, right_node):
            if isinstance(side, ast.List | ast.Tuple):
                raise self._error(
                    whole,
                    f"`{self._text(whole)}` compares against a collection, which is "
                    "only supported with `in` / `not in`",
                )
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(op, ast.Is | ast.IsNot) or (
            isinstance(op, ast.Eq | ast.NotEq) and f.NULL in (left.type, right.type)
        ):
            negated = isinstance(op, ast.IsNot | ast.NotEq)
            return self._identity(whole, left, right, negated)
        if isinstance(left, ir.Literal) and isinstance(right, ir.Literal):
            raise self._error(
                whole,
                f"`{self._text(whole)}` compares two literals, expected a field on one side",
            )
        symbol = (
            "="
            if isinstance(op, ast.Eq)
            else "!="
            if isinstance(op, ast.NotEq)
            else (_ORDERED[type(op)])
        )
        ordered = symbol not in ("=", "!=")
        if ordered and f.BOOLEAN in (left.type, right.type):
            raise self._error(
                whole,
                f"`{self._text(whole)}` orders a boolean, use `==`, `!=` or `is` "
                "instead of `<` / `>`",
            )
        left, right = self._coerce_pair(whole, left, left_node, right, right_node, ordered)
        return ir.Compare(symbol, left, right)

    def _coerce_pair(self, whole, left, left_node, right, right_node, ordered):
        left = self._as_datetime(left, left_node, right)
        right = self._as_datetime(right, right_node, left)
        left, right = self._enum_case(left, right), self._enum_case(right, left)
        if left.type is f.UNKNOWN and right.type is f.UNKNOWN:
            if ordered:  # text order would put '9' after '10': order numerically
                return ir.AsNumber(left), ir.AsNumber(right)
            return ir.AsText(left), ir.AsText(right)
        if left.type is f.UNKNOWN:
            left = self._convert(left, right.type, whole)
        elif right.type is f.UNKNOWN:
            right = self._convert(right, left.type, whole)
        if left.type != right.type:
            raise self._error(whole, self._mismatch(left, right))
        return left, right

    def _as_datetime(self, value: ir.Node, node: ast.expr, other: ir.Node) -> ir.Node:
        """A string literal beside a datetime is a datetime literal."""
        if other.type == f.DATETIME and isinstance(value, ir.Literal) and value.type == f.STRING:
            return ir.Literal(self._datetime(node, value.value), f.DATETIME)
        return value

    def _datetime(self, node: ast.AST, text: str) -> str:
        raw = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise self._error(
                node,
                f"invalid datetime {fragment(repr(text))}: write ISO 8601 with an "
                "offset, e.g. '2026-07-01T00:00:00Z'",
            ) from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise self._error(
                node,
                f"datetime {fragment(repr(text))} has no timezone, add an offset "
                "(e.g. 'Z' for UTC)",
            )
        return moment.astimezone(UTC).isoformat(timespec="microseconds")

    @staticmethod
    def _enum_case(value: ir.Node, other: ir.Node) -> ir.Node:
        if _is_enum(other) and isinstance(value, ir.Literal) and value.type == f.STRING:
            return ir.Literal(value.value.upper(), f.STRING)
        return value

    def _convert(self, value: ir.Node, to: str | None, whole: ast.AST) -> ir.Node:
        if to == f.STRING:
            return ir.AsText(value)  # type: ignore[arg-type]
        if to == f.NUMBER:
            return ir.AsNumber(value)  # type: ignore[arg-type]
        if to == f.BOOLEAN:
            return ir.AsBool(value)  # type: ignore[arg-type]
        raise self._error(
            whole,
            "cannot compare a datetime with an attribute; compare it with an ISO 8601 "
            "literal such as '2026-07-01T00:00:00Z'",
        )

    def _mismatch(self, left: ir.Node, right: ir.Node) -> str:
        message = f"cannot compare {left.type} and {right.type}"
        for side in (left, right):
            if (
                isinstance(side, ir.Literal)
                and side.type == f.STRING
                and f.NUMBER in (left.type, right.type)
                and _NUMERIC_TEXT.fullmatch(side.value)
            ):
                message += f", write {side.value} instead of '{side.value}'"
        return message

    def _identity(self, whole: ast.AST, left: ir.Node, right: ir.Node, negated: bool) -> ir.Node:
        """`x is None`, `x is True`, and `x == None` (which SQL can only answer as IS NULL)."""
        if _singleton(right):
            operand, constant = left, right
        elif _singleton(left):
            operand, constant = right, left
        else:
            raise self._error(
                whole,
                f"`{self._text(whole)}` uses `is` with a value, which SQL cannot "
                "express; use `==`, or `is` with None/True/False",
            )
        if isinstance(operand, ir.Literal):
            raise self._error(
                whole,
                f"`{self._text(whole)}` compares two literals, expected a field on one side",
            )
        if constant.value is None:  # type: ignore[attr-defined]
            return ir.IsNull(operand, negated)
        if operand.type is f.UNKNOWN:
            operand = ir.AsBool(operand)  # type: ignore[arg-type]
        if operand.type != f.BOOLEAN:
            raise self._error(whole, f"cannot compare {operand.type} and boolean")
        return ir.IsBool(operand, constant.value, negated)  # type: ignore[attr-defined]

    def _membership(
        self, whole: ast.Compare, left_node: ast.expr, right_node: ast.expr, negated: bool
    ) -> ir.Node:
        if isinstance(right_node, ast.List | ast.Tuple):
            return self._in_list(whole, left_node, right_node, negated)
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(right, ir.Literal) or right.type not in (f.STRING, f.UNKNOWN):
            keyword = "not in" if negated else "in"
            raise self._error(
                right_node,
                f"`{keyword}` expects a list or a text field on the right, "
                f"got `{self._text(right_node)}`",
            )
        if left.type not in (f.STRING, f.UNKNOWN):
            raise self._error(whole, f"cannot look for a {left.type} in text")
        return ir.Contains(self._text_of(right), self._text_of(left), negated)

    def _in_list(
        self,
        whole: ast.Compare,
        left_node: ast.expr,
        right_node: ast.List | ast.Tuple,
        negated: bool,
    ) -> ir.Node:
        left = self.value(left_node)
        if isinstance(left, ir.Literal):
            raise self._error(
                whole,
                f"`{self._text(whole)}` compares two literals, expected a field on the left",
            )
        if len(right_node.elts) > MAX_LIST_ITEMS:
            raise self._error(right_node, f"a list may hold at most {MAX_LIST_ITEMS} values")
        items: list[ir.Literal] = []
        for element in right_node.elts:
            if isinstance(element, ast.List | ast.Tuple):
                raise self._error(
                    element, f"`{self._text(element)}` is not a value, lists cannot be nested"
                )
            item = self.value(element)
            if not isinstance(item, ir.Literal):
                raise self._error(element, "a list may only hold literals")
            if item.type == f.NULL:
                raise self._error(
                    element,
                    "a list cannot hold None, which never matches in SQL; test for "
                    "missing values with `is None` / `is not None`",
                )
            if left.type == f.DATETIME and item.type == f.STRING:
                item = ir.Literal(self._datetime(element, item.value), f.DATETIME)
            items.append(self._enum_case(item, left))  # type: ignore[arg-type]
        types = {item.type for item in items}
        if len(types) > 1:
            first, second = sorted(types)[:2]  # type: ignore[type-var]
            raise self._error(right_node, f"a list cannot mix {first} and {second} values")
        item_type = types.pop() if types else None
        if left.type is f.UNKNOWN:
            if item_type == f.DATETIME:
                raise self._error(whole, "cannot compare a datetime with an attribute")
            left = self._convert(left, item_type or f.STRING, whole)
        elif item_type is not None and item_type != left.type:
            raise self._error(whole, f"cannot compare {left.type} and {item_type}")
        return ir.InList(left, tuple(items), negated)

    def _parent_check(self, whole, left_node, op, right_node) -> ir.Node | None:
        """`parent_span is None` and friends; None when the comparison is not about it."""
        sides = (left_node, right_node)
        owner = None
        for index, side in enumerate(sides):
            found = self._parent_owner(side)
            if found is not None:
                owner, other = found, sides[1 - index]
                break
        if owner is None:
            return None
        if not (isinstance(other, ast.Constant) and other.value is None) or not isinstance(
            op, ast.Is | ast.IsNot | ast.Eq | ast.NotEq
        ):
            raise self._error(
                whole,
                "`parent_span` can only be compared to None: `parent_span is None` "
                "or `parent_span is not None`",
            )
        return ir.ParentMissing(owner, isinstance(op, ast.Is | ast.Eq))

    def _parent_owner(self, node: ast.expr) -> ir.SpanRow | ir.Scope | None:
        if isinstance(node, ast.Name) and node.id == f.PARENT_SPAN and self.grain == "span":
            return ir.SpanRow()  # (a span filter's comprehensions bind annotations only)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == f.PARENT_SPAN
            and isinstance(node.value, ast.Name)
        ):
            bound = self._lookup(node.value.id)
            if bound is not None and bound.scope.element == "span":
                return bound.scope
        return None

    # --- names, attributes, annotations ------------------------------------------------------

    def _reference(self, node: ast.Name | ast.Attribute | ast.Subscript) -> ir.Node:
        root, steps = self._chain(node)
        self._check_spelling(root, root.id)
        for kind, payload, step in steps:
            if kind == "attr":
                self._check_spelling(step, str(payload))
        bound = self._lookup(root.id)
        if bound is not None:
            return self._element_reference(node, bound, steps)
        # A trace filter's comprehension reads its loop variables only; a span filter's (over
        # the span's annotations) may also read the span itself.
        inside_trace_comprehension = bool(self._bound) and self.grain == "trace"
        if inside_trace_comprehension and root.id not in (f.ATTRIBUTES, f.METADATA):
            raise self._error(
                root,
                f"inside a comprehension, use the loop variable's fields (e.g. "
                f"`{self._bound[-1].name}.latency_ms`), not `{self._text(node)}`",
            )
        if self.grain == "trace" and root.id in f.TRACE_ITERABLES and not steps:
            raise self._error(
                node,
                f"`{root.id}` is a collection; use it in a comprehension, e.g. "
                f"any(x.name == '...' for x in {root.id})",
            )
        if root.id in (*f.SPAN_ANNOTATION_ACCESSORS, f.TRACE_ANNOTATION_ACCESSOR):
            return self._annotation(node, root, steps)
        if root.id in (f.ATTRIBUTES, f.METADATA) and steps and steps[0][0] == "sub":
            owner = ir.SpanRow() if self.grain == "span" else ir.RootSpan()
            if inside_trace_comprehension:
                raise self._error(
                    root,
                    f"inside a comprehension, read attributes of the loop variable "
                    f"(e.g. `{self._bound[-1].name}.attributes[...]`)",
                )
            return self._attribute(owner, root, steps, metadata=root.id == f.METADATA)
        if any(kind == "sub" for kind, _, _ in steps):
            raise self._error(
                node,
                f"`{self._text(node)}`: subscripts only apply to attributes[...], "
                "metadata[...], annotations[...], evals[...] and trace_annotations[...]",
            )
        dotted = ".".join([root.id, *(str(payload) for _, payload, _ in steps)])
        if self.grain == "span":
            return self._span_name(node, root, dotted)
        return self._trace_name(node, root, dotted)

    def _chain(self, node: ast.expr) -> tuple[ast.Name, list[tuple[str, object, ast.AST]]]:
        """`a.b['c'][0].d` -> (Name a, [("attr", "b"), ("sub", slice), ("sub", 0), ...])."""
        steps: list[tuple[str, object, ast.AST]] = []
        current = node
        while isinstance(current, ast.Attribute | ast.Subscript):
            if isinstance(current, ast.Attribute):
                steps.append(("attr", current.attr, current))
            else:
                steps.append(("sub", current.slice, current))
            current = current.value
        if not isinstance(current, ast.Name):
            raise self._error(
                current, f"`{self._text(node)}` does not name a field or an attribute"
            )
        steps.reverse()
        return current, steps

    def _lookup(self, name: str) -> _Bound | None:
        for bound in reversed(self._bound):
            if bound.name == name:
                return bound
        return None

    def _span_name(self, node: ast.AST, root: ast.Name, dotted: str) -> ir.Node:
        if root.id == f.PARENT_SPAN:
            raise self._error(
                node,
                f"`{self._text(node)}` is not supported: only `parent_span is None` and "
                "`parent_span is not None`",
            )
        name = f.SPAN_ALIASES.get(dotted, dotted)
        field = f.SPAN_FIELDS.get(name)
        if field is not None:
            return self._field(ir.SpanRow(), field)
        if name in f.NUMERIC_ATTRIBUTES:
            return ir.AsNumber(self._path(ir.SpanRow(), node, name.split(".")))
        # Any other name is an attribute path: a misspelt one matches nothing, as in Phoenix.
        return self._path(ir.SpanRow(), node, dotted.split("."))

    def _trace_name(self, node: ast.AST, root: ast.Name, dotted: str) -> ir.Node:
        field = f.TRACE_FIELDS.get(dotted)
        if field is not None:
            return self._field(ir.TraceRow(), field)
        if dotted in f.TRACE_ATTRIBUTE_PROXIES:
            return self._path(ir.RootSpan(), node, dotted.split("."))
        if dotted in (f.ATTRIBUTES, f.METADATA):
            raise self._error(node, f"`{dotted}` needs a key, e.g. {dotted}['...']")
        if dotted in f.TRACE_UNAVAILABLE:
            raise self._error(node, f"`{dotted}`: {f.TRACE_UNAVAILABLE[dotted]}")
        raise self._error(
            node,
            f"unknown name `{fragment(dotted)}`"
            + f.did_you_mean(dotted, f.trace_vocabulary())
            + (
                ""
                if "." not in dotted
                else "; read other root-span attributes with attributes['...']"
            ),
        )

    def _field(self, owner: ir.Owner, field: f.Field) -> ir.Node:
        if field.computed:
            return ir.Computed(owner, field.computed, field.type)
        return ir.Column(owner, field.column, field.type, field.enum)  # type: ignore[arg-type]

    # --- attribute paths ---------------------------------------------------------------------

    def _attribute(self, owner: ir.Owner, root: ast.AST, steps, *, metadata: bool) -> ir.Node:
        keys: list[str | int] = [f.METADATA] if metadata else []
        for kind, payload, step in steps:
            if kind != "sub":
                raise self._error(
                    step,
                    f"`.{payload}` after a subscript is not supported; write the whole "
                    "key inside the brackets, e.g. attributes['llm.model_name']",
                )
            keys.extend(self._keys(payload, step))
        if not keys or not isinstance(keys[0], str):
            raise self._error(root, "an attribute path must start with a name")
        return self._path(owner, root, keys)

    def _keys(self, node: ast.expr, where: ast.AST) -> list[str | int]:
        elements = node.elts if isinstance(node, ast.List) else [node]
        if isinstance(node, ast.List) and not elements:
            raise self._error(where, "an attribute key list cannot be empty")
        keys: list[str | int] = []
        for element in elements:
            if (
                isinstance(element, ast.Constant)
                and isinstance(element.value, str | int)
                and not isinstance(element.value, bool)
            ):
                keys.append(element.value)
                continue
            raise self._error(
                element,
                f"`{self._text(element)}` is not an attribute key: use a string or a "
                "non-negative integer, e.g. attributes['llm.model_name']",
            )
        for key in keys:
            if isinstance(key, int) and key < 0:
                raise self._error(where, "list positions cannot be negative")
        return keys

    def _path(self, owner: ir.Owner, node: ast.AST, keys: Sequence[str | int]) -> ir.Attribute:
        """JSON paths for an attribute, as Phoenix resolves keys. Dotted keys are nested paths
        (`llm.model_name` is {"llm": {"model_name": ...}}); where a key is stored with its dots
        (metadata keys, leaf/prefix conflicts), the joined spellings are tried next."""
        for key in keys:
            if isinstance(key, str) and _BAD_KEY.search(key):
                raise self._error(
                    node,
                    "attribute keys with quotes, backslashes or control characters "
                    "cannot be looked up",
                )
        if any(isinstance(key, int) for key in keys):
            segments: list[str | int] = []
            for key in keys:
                segments.extend(_split(key) if isinstance(key, str) else [key])
            candidates = [segments]
        else:
            parts = ".".join(keys).split(".")  # type: ignore[arg-type]
            candidates = [_indexed(parts)]
            for cut in range(len(parts) - 1, -1, -1):
                candidate = _indexed([*parts[:cut], ".".join(parts[cut:])])
                if candidate not in candidates:
                    candidates.append(candidate)
        if max(len(c) for c in candidates) > MAX_PATH_KEYS:
            raise self._error(node, f"an attribute path may have at most {MAX_PATH_KEYS} keys")
        paths = tuple(_json_path(c) for c in candidates)
        metadata_path = None
        first = candidates[0]
        if first[0] == f.METADATA and len(first) > 1:
            metadata_path = _json_path(first[1:])
        return ir.Attribute(owner, paths, metadata_path)

    # --- annotations -------------------------------------------------------------------------

    def _annotation(self, node: ast.AST, root: ast.Name, steps) -> ir.Node:
        accessor = root.id
        if self.grain == "trace" and accessor != f.TRACE_ANNOTATION_ACCESSOR:
            raise self._error(node, _TRACE_ANNOTATIONS_HINT)
        if self._bound:
            raise self._error(
                node,
                "inside a comprehension, read annotations through the loop variable, "
                "e.g. any(a.label == '...' for a in span.annotations)",
            )
        if not steps or steps[0][0] != "sub":
            raise self._error(
                node, f"`{accessor}` needs an annotation name, e.g. {accessor}['correctness']"
            )
        name, who = self._annotation_key(steps[0][1], steps[0][2], accessor)
        target = "trace" if accessor == f.TRACE_ANNOTATION_ACCESSOR else "span"
        relation = self._relation(node, target, name, who)
        rest = steps[1:]
        if not rest:
            return ir.AnnotationExists(relation)
        kind, payload, step = rest[0]
        if kind != "attr" or payload not in f.ANNOTATION_FIELDS or len(rest) > 1:
            shown = f".{payload}" if kind == "attr" else "[...]"
            hint = f.did_you_mean(str(payload), f.ANNOTATION_FIELDS) if kind == "attr" else ""
            raise self._error(
                _attr_position(step) if kind == "attr" else step,
                f"invalid annotation field `{fragment(shown)}`{hint or ''}"
                + ("" if hint else ", expected `.label`, `.score` or `.explanation`"),
            )
        return ir.AnnotationField(relation, payload, f.ANNOTATION_FIELDS[payload])

    def _annotation_key(self, node: ast.expr, where: ast.AST, accessor: str):
        elements = node.elts if isinstance(node, ast.Tuple) else [node]
        if not 1 <= len(elements) <= 2 or not all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elements
        ):
            raise self._error(
                where,
                f"write {accessor}['name'] or {accessor}['name', 'LLM'] (a kind: HUMAN, "
                "LLM, CODE; or an annotator's identifier)",
            )
        name = elements[0].value  # type: ignore[attr-defined]
        if not name:
            raise self._error(where, f"missing annotation name in `{self._text(where)}`")
        who = elements[1].value if len(elements) == 2 else None  # type: ignore[attr-defined]
        return name, who

    def _relation(self, node: ast.AST, target: str, name: str, who: str | None) -> ir.Relation:
        kind = identifier = None
        if who is not None:
            if who.upper() in f.ANNOTATOR_KINDS:
                kind = who.upper()
            else:
                identifier = who
        key = (target, name, kind, identifier)
        relation = self._relations.get(key)
        if relation is None:
            if len(self._relations) >= MAX_RELATIONS:
                raise self._error(
                    node, f"a filter may look up at most {MAX_RELATIONS} different annotations"
                )
            relation = ir.Relation(len(self._relations), target, name, kind, identifier)
            self._relations[key] = relation
        return relation

    # --- comprehensions (trace filters) ------------------------------------------------------

    def _reduce(self, call: ast.Call, func: str, argument: ast.expr) -> ir.Node:
        if not isinstance(argument, ast.GeneratorExp | ast.ListComp):
            raise self._error(
                argument,
                f"{func}() takes a comprehension, e.g. {func}("
                + (
                    "span.status_code == 'ERROR'"
                    if func in f.QUANTIFIERS
                    else "span.latency_ms"
                    if func != "len"
                    else "span"
                )
                + " for span in spans)",
            )
        if len(argument.generators) != 1:
            raise self._error(
                argument.generators[1].target, "a comprehension may have only one `for`"
            )
        if len(self._bound) >= MAX_COMPREHENSION_DEPTH:
            raise self._error(
                argument, f"comprehensions may be nested at most {MAX_COMPREHENSION_DEPTH} deep"
            )
        generator = argument.generators[0]
        if generator.is_async:
            raise self._error(argument, "async comprehensions are not allowed")
        target = generator.target
        if not isinstance(target, ast.Name):
            raise self._error(target, "the loop variable must be a plain name")
        self._check_spelling(target, target.id)
        if self._lookup(target.id) is not None:
            raise self._error(target, f"the loop variable `{target.id}` is already in use")
        source, element = self._source(generator.iter)
        scope = ir.Scope(self._scopes, element)
        self._scopes += 1
        self._bound.append(_Bound(target.id, scope))
        try:
            conditions = tuple(self.condition(c) for c in generator.ifs)
            value = self._reduced(func, argument.elt, target.id)
        finally:
            self._bound.pop()
        result_type = {"any": f.BOOLEAN, "all": f.BOOLEAN, "len": f.NUMBER, "sum": f.NUMBER}.get(
            func, value.type if value is not None else f.NUMBER
        )
        return ir.Reduce(func, scope, source, value, conditions, result_type)

    def _reduced(self, func: str, element: ast.expr, variable: str) -> ir.Node | None:
        if func in f.QUANTIFIERS:
            return self.condition(element)
        if func == "len":
            if not (isinstance(element, ast.Name) and element.id == variable):
                self.value(element)  # checked, then counted like any element
            return None
        value = self.value(element)
        if func == "sum" and value.type == f.BOOLEAN:
            return value  # True counts 1, as in Python
        if value.type is f.UNKNOWN:
            return ir.AsNumber(value)  # type: ignore[arg-type]
        allowed = (f.NUMBER,) if func == "sum" else (f.NUMBER, f.DATETIME)
        if value.type not in allowed:
            raise self._error(
                element,
                f"{func}() needs numbers"
                + (" or datetimes" if func != "sum" else "")
                + f", not a {value.type}: `{self._text(element)}`",
            )
        return value

    def _source(self, node: ast.expr) -> tuple[ir.Source, str]:
        if isinstance(node, ast.Name) and self.grain == "span":
            self._check_spelling(node, node.id)
            if node.id in f.SPAN_ITERABLES:
                return ir.Source(f.SPAN_ITERABLES[node.id]), "annotation"
            raise self._error(
                node,
                f"cannot iterate `{fragment(node.id)}` in a span filter; iterate the "
                "span's annotations or its trace_annotations (spans are iterated in trace "
                "filters)",
            )
        if isinstance(node, ast.Name):
            self._check_spelling(node, node.id)
            if node.id in f.TRACE_ITERABLES:
                return ir.Source(node.id), f.TRACE_ITERABLES[node.id]
            if node.id in f.TRACE_UNAVAILABLE:
                raise self._error(node, f"`{node.id}`: {f.TRACE_UNAVAILABLE[node.id]}")
            raise self._error(
                node,
                f"cannot iterate `{fragment(node.id)}`"
                + f.did_you_mean(node.id, f.TRACE_ITERABLES)
                + "; iterate spans, trace_annotations or span_annotations",
            )
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            bound = self._lookup(node.value.id)
            if bound is not None and bound.scope.element == "span":
                self._check_spelling(node, node.attr)
                if node.attr in f.SPAN_ELEMENT_ITERABLES:
                    return (
                        ir.Source(node.attr, bound.scope),
                        f.SPAN_ELEMENT_ITERABLES[node.attr],
                    )
                raise self._error(
                    _attr_position(node),
                    f"cannot iterate `{self._text(node)}`"
                    + f.did_you_mean(node.attr, f.SPAN_ELEMENT_ITERABLES)
                    + "; a span has children, siblings and annotations",
                )
        raise self._error(
            node,
            f"cannot iterate `{self._text(node)}`; iterate spans, trace_annotations, "
            "span_annotations, or a span's children, siblings or annotations",
        )

    def _element_reference(self, node: ast.AST, bound: _Bound, steps) -> ir.Node:
        scope = bound.scope
        name = bound.name
        if not steps:
            raise self._error(
                node,
                f"`{name}` is a{'n annotation' if scope.element == 'annotation' else ' span'}"
                f"; compare one of its fields, e.g. `{name}."
                + ("label`" if scope.element == "annotation" else "name`"),
            )
        kind, payload, step = steps[0]
        if kind != "attr":
            raise self._error(step, f"write `{name}.attributes[...]` to read an attribute")
        if scope.element == "annotation":
            field = f.ANNOTATION_ELEMENT_FIELDS.get(payload)
            if field is None or len(steps) > 1:
                raise self._unknown_element_field(step, name, payload, f.ANNOTATION_ELEMENT_FIELDS)
            return self._field(scope, field)
        owner: ir.Owner = scope
        if payload == f.PARENT_SPAN:
            if len(steps) == 1:
                raise self._error(
                    node,
                    f"`{name}.parent_span` is a span; compare one of its fields, or "
                    f"test `{name}.parent_span is None`",
                )
            owner = ir.ParentOf(scope)
            steps = steps[1:]
            kind, payload, step = steps[0]
            if kind != "attr":
                raise self._error(step, "write `.attributes[...]` to read an attribute")
            if payload == f.PARENT_SPAN or payload in f.SPAN_ELEMENT_ITERABLES:
                raise self._error(
                    node,
                    f"`{self._text(node)}` is not supported: a span's parent_span has its "
                    "fields and attributes, not a parent_span or collections of its own",
                )
        if payload in (f.ATTRIBUTES, f.METADATA):
            if len(steps) < 2 or steps[1][0] != "sub":
                raise self._error(step, f"`{payload}` needs a key, e.g. {payload}['...']")
            return self._attribute(owner, step, steps[1:], metadata=payload == f.METADATA)
        if payload in f.SPAN_ELEMENT_ITERABLES and owner is scope:
            raise self._error(
                node,
                f"`{self._text(node)}` is a collection; use it in a comprehension, e.g. "
                f"any(c.status_code == 'ERROR' for c in {name}.{payload})",
            )
        field = f.SPAN_ELEMENT_FIELDS.get(payload)
        if field is None or len(steps) > 1:
            shown = name if owner is scope else f"{name}.parent_span"
            raise self._unknown_element_field(step, shown, payload, f.SPAN_ELEMENT_FIELDS)
        return self._field(owner, field)

    def _unknown_element_field(self, step, name, payload, known) -> FilterError:
        choices = [*known]
        if known is f.SPAN_ELEMENT_FIELDS:
            choices += [f.PARENT_SPAN, f.ATTRIBUTES, f.METADATA, *f.SPAN_ELEMENT_ITERABLES]
        return self._error(
            _attr_position(step) if isinstance(step, ast.Attribute) else step,
            f"unknown field `{name}.{fragment(str(payload))}`"
            + f.did_you_mean(str(payload), choices),
        )


_TRACE_ANNOTATIONS_HINT = (
    "`annotations[...]` is not available in a trace filter; use trace_annotations[...] for the "
    "trace's annotations, or iterate span_annotations, e.g. "
    "any(a.label == 'incorrect' for a in span_annotations)"
)


def _attr_position(node: ast.Attribute) -> ast.AST:
    """A stand-in node positioned at the attribute name after the dot (for messages)."""
    marker = ast.Name(id=node.attr)
    marker.lineno = node.end_lineno or node.lineno
    marker.end_lineno = marker.lineno
    end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
    marker.col_offset = max(end - len(node.attr.encode()), 0)
    marker.end_col_offset = end
    return marker


def _singleton(value: ir.Node) -> bool:
    return isinstance(value, ir.Literal) and (value.value is None or value.type == f.BOOLEAN)


def _is_enum(value: ir.Node) -> bool:
    return isinstance(value, ir.Column) and value.enum


def _split(key: str) -> list[str | int]:
    return _indexed(key.split("."))


def _indexed(parts: list[str]) -> list[str | int]:
    """All-digit segments with something after them are list positions (as when Phoenix
    unflattens `llm.input_messages.0.message.role`)."""
    last = len(parts) - 1
    return [int(p) if i < last and p.isdigit() and p.isascii() else p for i, p in enumerate(parts)]


def _json_path(keys: Sequence[str | int]) -> str:
    """SQLite JSON path with every key quoted: ('llm', 'model_name') -> $."llm"."model_name"."""
    return "$" + "".join(f"[{k}]" if isinstance(k, int) else f'."{k}"' for k in keys)
