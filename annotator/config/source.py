"""A config file's YAML (or JSON: the same parser) as plain Python values, with the line of every
node, bounded against alias bombs and deep nesting.

The YAML is composed to nodes (which keep their line) and converted to dicts, lists and scalars
with a path -> line table: a problem found at ``("annotations", 2, "values", 0, "score")`` points
at that node. Plain scalars that YAML reads as something other than text (``yes``, ``1.10``,
``2024-01-01``) come as `Plain`, which keeps the text as written for the fields that are text.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner, ScannerError

from annotator.config.errors import ConfigError, ConfigProblem

Path = tuple[str | int, ...]

# Bounds on what a YAML (or JSON: the same parser) config may expand to. Real configs are a few
# levels deep and hold hundreds of values; an alias bomb ("billion laughs") or thousands of
# nested brackets are refused at the node that crosses the bound, before anything is expanded.
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000


@dataclass(frozen=True, slots=True, eq=False)
class Plain:
    """A plain (unquoted) scalar YAML read as something other than text: ``value`` is what YAML
    made of it (True for ``yes``, 1.1 for ``1.10``), ``text`` what the file says. Names, labels
    and descriptions take the text; numbers and booleans the value."""

    value: Any
    text: str


def unwrap(value: Any) -> Any:
    """The value YAML made of a scalar (`Plain` or not)."""
    return value.value if isinstance(value, Plain) else value


@dataclass
class Lines:
    """Where each value came from: path -> line of the value node, and of the mapping key that
    holds it (a problem with a field, rather than its value, points at the key)."""

    values: dict[Path, int] = field(default_factory=dict)
    keys: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path, at_key: bool = False) -> int | None:
        """The line of ``path``; for a path the file does not have (a missing field), the line
        of the nearest node above it."""
        if at_key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            line = self.values.get(path[:end])
            if line is not None:
                return line
        return None


@dataclass
class Document:
    """A config file read: its values, their lines, and the problems found while converting
    (duplicate fields, unsupported values), which do not stop validation."""

    data: Any
    lines: Lines
    problems: list[ConfigProblem]


def read_document(text: str, filename: str) -> Document:
    """The values of a YAML/JSON config. Raises ConfigError when there are none to validate:
    a syntax error, a bound crossed, an empty file."""
    root = _compose_fast(text)
    if root is _FAILED:
        root = _compose(text, filename)
    if root is None:
        message = "the file is empty: add an annotations: list (see configs/README.md)"
        raise ConfigError([ConfigProblem(filename, 1, message)])
    converter = _Converter(filename)
    data = converter.convert(root, (), frozenset())
    return Document(data, converter.lines, converter.problems)


_FAILED = object()


# Where libyaml and PyYAML read a text differently, the file is read by PyYAML alone: libyaml
# takes tabs in plain scalars (PyYAML refuses them), strips a byte order mark anywhere and
# counts lines differently around \r, NEL and the Unicode line separators; it takes a comment
# straight after a block scalar's indicator (`|#`, which PyYAML refuses); it reads malformed
# tags (`!` starting a token: configs have no tags) as tags where PyYAML stops; it takes a
# comment straight after a directive (`%YAML 1.1#`: configs have no directives, `%` starting a
# line); and it places an empty value (`key:` and nothing) at the next token, PyYAML after the
# colon, and takes a `?` inside a plain scalar in flow collections (`[a?]`), where PyYAML stops
# (both seen by `_CBoundedLoader`). tests/test_config_property.py reads such texts, and
# generated ones, both ways.
_LIBYAML_DIFFERS = re.compile(
    r"[\t\r\ufeff\x85\u2028\u2029]|[|>][-+0-9]*#|(?:^|[\s\[\]{},:?-])!|(?:^|\n)%"
)


def _compose_fast(text: str) -> Any:
    """The nodes, composed from libyaml's events when PyYAML has it (scanning and parsing in C:
    most of the time a config takes to read), with the same bounded composer and resolver.
    Anything that fails here — a syntax error, a crossed bound, a character libyaml refuses —
    returns _FAILED, and the pure-Python parser reads the file again for its messages (what
    the tests pin and users see). Also _FAILED without libyaml."""
    if _CBoundedLoader is None or _LIBYAML_DIFFERS.search(text):
        return _FAILED
    try:
        return yaml.compose(text, Loader=_CBoundedLoader)
    except Exception:  # read again, for the pure-Python parser's own message
        return _FAILED


def _compose_pure(text: str) -> yaml.Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    except ValueError:  # PyYAML's chr() of a "\U..." escape beyond the last character
        context = "while scanning a double-quoted scalar"
        problem = "found a \\U escape beyond U+10FFFF"
        raise ScannerError(context, None, problem, loader.get_mark()) from None
    finally:
        loader.dispose()


def _compose(text: str, filename: str) -> yaml.Node | None:
    try:
        return _compose_pure(text)
    except _YamlTooBig as error:
        raise ConfigError([ConfigProblem(filename, error.line, error.message)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        if error.problem and error.context and error.problem.startswith("but "):
            # "expected a single document in the stream, but found another document"
            reason = f"{error.context}, {error.problem}"
        elif error.problem and error.context:
            reason = f"{error.problem} ({error.context})"
        else:
            reason = error.problem or error.context or "cannot parse"
        raise ConfigError([ConfigProblem(filename, line, f"YAML syntax error: {reason}")]) from None
    except ReaderError as error:  # a character YAML does not allow
        line = text.count("\n", 0, error.position) + 1
        message = f"unreadable character {chr(error.character)!r}: remove it"
        raise ConfigError([ConfigProblem(filename, line, message)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([ConfigProblem(filename, None, f"YAML syntax error: {error}")]) from None


_STR_TAG = "tag:yaml.org,2002:str"


class _Converter:
    """Nodes -> plain values, recording each node's line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines = Lines()
        self.problems: list[ConfigProblem] = []
        self.constructor = SafeConstructor()
        self.resolver = Resolver()  # the type YAML guesses for a plain scalar (not a tag)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(ConfigProblem(self.filename, line, message))

    def convert(self, node: yaml.Node, path: Path, active: frozenset[int]) -> Any:
        line = node.start_mark.line + 1
        self.lines.values.setdefault(path, line)
        if id(node) in active:
            self.problem(line, "recursive YAML alias: remove it")
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:  # most scalars: what the constructor would return
                return _join_surrogates(node.value)
            try:
                value = self.constructor.construct_object(node)
            except Exception as error:  # PyYAML's constructors raise more than YAMLError
                if not node.style and node.tag == self.resolver.resolve(
                    yaml.ScalarNode, node.value, (True, False)
                ):
                    # Plain text that only looks like a date or time (2024-02-30): YAML
                    # guessed its type, so it is the text it says (a tag that names the type
                    # YAML guesses anyway, !!timestamp 2024-02-30, cannot be told apart).
                    return _join_surrogates(node.value)
                self.problem(
                    line,
                    f"unsupported YAML value {node.value!r} ({node.tag}): {_yaml_reason(error)}",
                )
                return None
            if isinstance(value, str):
                return _join_surrogates(value)
            if not node.style and value is not None:  # plain: None, or "" from libyaml
                return Plain(value, node.value)
            return value
        active = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), active) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        try:
            self.constructor.flatten_mapping(node)  # YAML merge keys (<<)
        except yaml.YAMLError as error:
            self.problem(line, f"bad YAML merge: {_yaml_reason(error)}")
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_line, "field names must be plain text")
                continue
            key = _join_surrogates(key_node.value)
            if key in result:
                self.problem(key_line, f"duplicate field {key!r}: keep only one")
                continue
            self.lines.keys[(*path, key)] = key_line
            result[key] = self.convert(value_node, (*path, key), active)
        return result


class _LibyamlDiffers(Exception):
    pass


class _YamlTooBig(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1 if mark is not None else None
        self.message = message


class _Bounds(Composer):
    """A composer that counts every node as it would be once aliases are expanded (an alias
    costs the size of what it names) and how deep that reaches; PyYAML's composer recurses once
    per level, so a deep file would otherwise end in RecursionError."""

    # From the parser it is mixed with (PyYAML's or libyaml's).
    check_event: Callable[..., bool]
    peek_event: Callable[[], Any]

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0  # nodes open above the one being composed
        self._expanded = 0
        self._child_heights: list[int] = []
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:
                size, height = self._measured.get(id(target), (1, 1))
                self._spend(size, event.start_mark)
                self._reach(height, event.start_mark)
            return super().compose_node(parent, index)
        mark = self.peek_event().start_mark
        self._reach(1, mark)
        self._spend(1, mark)
        before = self._expanded
        self._depth += 1
        self._child_heights.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            height = self._child_heights.pop() + 1
        if self._child_heights:
            self._child_heights[-1] = max(self._child_heights[-1], height)
        self._measured[id(node)] = (self._expanded - before + 1, height)
        return node

    def _spend(self, nodes: int, mark: yaml.Mark) -> None:
        self._expanded += nodes
        if self._expanded > MAX_YAML_NODES:
            raise _YamlTooBig(
                mark,
                f"the YAML expands to more than {MAX_YAML_NODES:,} values (aliases are counted "
                "as what they repeat): write the values out, or use fewer aliases",
            )

    def _reach(self, height: int, mark: yaml.Mark) -> None:
        if self._depth + height > MAX_YAML_DEPTH:
            raise _YamlTooBig(
                mark,
                f"nested more than {MAX_YAML_DEPTH} levels deep (counting what aliases repeat): "
                "a config needs a few levels",
            )
        if self._child_heights:
            self._child_heights[-1] = max(self._child_heights[-1], height)


class _BoundedLoader(_Bounds, Reader, Scanner, Parser, SafeConstructor, Resolver):
    """yaml.SafeLoader with the bounded composer (all in Python)."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Bounds.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


def _c_loader() -> type | None:
    """The bounded composer over libyaml's parser (yaml.CParser), when PyYAML was built with
    it. The composer comes first, so that PyYAML's Python composer (and its bounds) makes the
    nodes, not the C parser's own."""
    try:
        parser: Any = importlib.import_module("yaml._yaml").CParser
    except (ImportError, AttributeError):  # PyYAML without libyaml
        return None

    class _CBoundedLoader(_Bounds, parser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            parser.__init__(self, stream)
            _Bounds.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._flow = 0  # flow collections ([...], {...}) open around the node composed

        def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
            event: Any = self.peek_event()
            if not event.style and not event.value:
                raise _LibyamlDiffers  # an empty value: its line is PyYAML's to say
            if not event.style and self._flow and "?" in event.value:
                raise _LibyamlDiffers  # PyYAML ends a plain scalar at `?` in a flow collection
            return super().compose_scalar_node(anchor)

        def _collection(self, compose: Callable[[Any], Any], anchor: Any) -> Any:
            flow = bool(self.peek_event().flow_style)
            self._flow += flow
            try:
                return compose(anchor)
            finally:
                self._flow -= flow

        def compose_sequence_node(self, anchor: Any) -> yaml.SequenceNode:
            return self._collection(super().compose_sequence_node, anchor)

        def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
            return self._collection(super().compose_mapping_node, anchor)

    return _CBoundedLoader


_CBoundedLoader = _c_loader()


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogates(text: str) -> str:
    """JSON writes characters beyond the BMP as escaped surrogate pairs (``"\\ud83d\\ude00"``);
    YAML decodes the halves separately. Join them back into one character."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _yaml_reason(error: Exception) -> str:
    """Why a value was refused. PyYAML's constructors raise ValueError for values an explicit
    tag sends them (!!int x; a date out of range is its text, see `_Converter`), and
    KeyError, IndexError or AttributeError for others (!!bool x, !!int "", !!timestamp x)."""
    if isinstance(error, yaml.YAMLError):
        problem = getattr(error, "problem", None)
        return str(problem) if problem else str(error).splitlines()[0]
    if isinstance(error, ValueError) and str(error):
        return str(error).splitlines()[0]
    return "not a value of this type"
