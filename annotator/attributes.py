"""Span attributes: dotted flat keys <-> the nested form Phoenix stores.

OpenTelemetry carries attributes as flat key/value pairs (``llm.input_messages.0.message.role``).
Phoenix splits every key on ``.`` and stores a nested document
(``{"llm": {"input_messages": [{"message": {"role": "user"}}]}}``); all-digit segments that have
something after them are list positions. The functions here reproduce that, so every reader
produces the same nested shape whatever the file used (flat dotted keys, already nested dicts,
lists of flat dicts as in Phoenix's DataFrame export, or a mix of them).

Rules (Phoenix's ``phoenix.trace.attributes.unflatten`` semantics, plus merging):

* ``None`` values are dropped (OTLP cannot carry a null; DataFrame exports use null for "absent").
* A digit segment followed by more segments is a list index: ``a.0.b`` -> ``{"a": [{"b": ...}]}``.
  Indices are compacted in order, as Phoenix does (``a.0.x`` and ``a.5.x`` give a 2-item list).
  A digit segment at the end of a key is an ordinary dict key: ``a.0`` -> ``{"a": {"0": ...}}``.
* A node that gets both list indices and named keys (``a.0.x`` and ``a.name``) stays a dict and
  the indices become string keys (``{"a": {"name": .., "0": {"x": ..}}}``).
  (Phoenix would emit ``{"a": [...], "a.name": ..}`` here; a dict is easier to read and lossless.)
* Leaf/prefix conflicts (``a.b = 1`` and ``a.b.c = 2``) keep both: the leaf keeps the plain key and
  the deeper value is stored under the joined key one level up: ``{"a": {"b": 1, "b.c": 2}}``.
  This is what Phoenix does. ``flatten`` gives back ``{"a.b": 1, "a.b.c": 2}`` and ``get_path``
  finds ``a.b.c``.
* A value that is a dict is merged into what is already there, key by key, without splitting its
  keys (it is already nested; ``metadata`` keys may legitimately contain dots). A value that is a
  list of dicts has each dict element unflattened (Phoenix's DataFrame form:
  ``[{"message.role": "user"}]``). Other lists are leaves.
* The same key twice: the last value wins. Otherwise the result does not depend on key order.
* Keys are split into at most 64 levels (the rest stays one key), so no input can nest the result
  deeper than JSON serialisers accept.

``unflatten(..., json_strings=True)`` also decodes the attributes Phoenix decodes on ingestion
(``metadata``, ``llm.prompt_template.variables``, ``tool.parameters``, ``document.metadata``; whole
key segments only) when they hold a JSON object/array as text; an empty ``{}``/``[]`` is dropped,
as Phoenix drops it.

Speed: readers call ``unflatten_dict`` once per span. Files repeat a few attribute layouts over
and over, so each layout ("shape") seen twice is compiled into a function that builds the nested
result in one expression (see ``_unflatten_shaped``); anything else goes through ``_Builder``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

__all__ = [
    "JSON_STRING_ATTRIBUTES",
    "STRUCTURED_ATTRIBUTES",
    "flatten",
    "get_path",
    "unflatten",
    "unflatten_dict",
]

# Attributes Phoenix interprets as JSON text on ingestion (phoenix.trace.attributes).
JSON_STRING_ATTRIBUTES: tuple[str, ...] = (
    "document.metadata",
    "llm.prompt_template.variables",
    "metadata",
    "tool.parameters",
)

# Flat attribute keys whose value is a list or an object in Phoenix's DataFrame export (and so can
# arrive JSON-encoded when a DataFrame was saved with dict/list columns turned into text).
STRUCTURED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "embedding.embeddings",
        "llm.input_messages",
        "llm.output_messages",
        "llm.prompt_template.variables",
        "llm.tools",
        "metadata",
        "reranker.input_documents",
        "reranker.output_documents",
        "retrieval.documents",
        "tag.tags",
        "tool.parameters",
    }
)

_SEP = "."

# Split keys are cached: the same few dozen attribute keys repeat on every span of a file.
_PARTS: dict[str, tuple[tuple[str | int, ...], bool]] = {}
_PARTS_LIMIT = 1 << 16
# Keys are split into at most this many levels, so that no key can nest the attributes deeper
# than JSON serialisers accept (orjson.dumps refuses more than 254 levels).
_MAX_SEGMENTS = 64


_JSON_SUFFIXES = tuple(f"{_SEP}{name}" for name in JSON_STRING_ATTRIBUTES)


def _is_json_key(key: str) -> bool:
    """``metadata``, ``x.document.metadata``... (whole segments, unlike Phoenix's endswith)."""
    return key.endswith(_JSON_SUFFIXES) or key in JSON_STRING_ATTRIBUTES


def _parts(key: str) -> tuple[tuple[str | int, ...], bool]:
    """``"a.0.b"`` -> ``(("a", 0, "b"), is_json_string_attribute)``; cached."""
    found = _PARTS.get(key)
    if found is not None:
        return found
    pieces = key.split(_SEP, _MAX_SEGMENTS - 1)  # the rest of an absurdly deep key stays joined
    last = len(pieces) - 1
    segs: list[str | int] = [
        int(p) if i < last and p.isdigit() and p.isascii() else p for i, p in enumerate(pieces)
    ]
    result = (tuple(segs), _is_json_key(key))
    if len(_PARTS) >= _PARTS_LIMIT:
        _PARTS.clear()
    _PARTS[key] = result
    return result


def unflatten(
    flat: Mapping[str, Any] | Iterable[tuple[str, Any]], *, json_strings: bool = False
) -> dict[str, Any]:
    """Dotted flat keys (and/or nested dicts) to Phoenix's nested attribute form.

    Accepts a mapping or an iterable of ``(key, value)`` pairs. Never raises on odd input (keys
    that are not strings are turned into strings) and never modifies the input: dicts and lists
    from the input are reused in the result as they are (no copies) unless something has to be
    added to them, in which case they are copied first.
    """
    if type(flat) is dict:
        return unflatten_dict(flat, json_strings)
    return _unflatten_general(flat.items() if isinstance(flat, Mapping) else flat, json_strings)


def unflatten_dict(flat: dict[str, Any], json_strings: bool = False) -> dict[str, Any]:
    """``unflatten`` for a plain dict: the readers' entry point (shapes first, then general)."""
    found = _unflatten_shaped(flat, json_strings)
    if found is None:
        found = _unflatten_general(flat.items(), json_strings)
    return found


def _unflatten_general(items: Iterable[tuple[Any, Any]], json_strings: bool) -> dict[str, Any]:
    builder = _Builder(json_strings)
    put = builder.put
    for key, value in items:
        if value is not None:
            put(key if type(key) is str else str(key), value)
    return builder.finish()


# Shapes. Spans from one instrumentation repeat the same attribute keys in the same order
# with the same value types ("a shape"). The second time a shape is seen, the general builder
# works out its nested layout once, with placeholders for the values, and that layout is turned
# into a small function whose body is one nested dict/list display
# (``return {"llm": {"provider": a0, ...}, ...}``); later records of that shape are built by
# calling it. Keys enter the generated source only through ``repr()`` of a str, so no input can
# inject code. Shapes with conflicts, too many keys or very deep keys are not compiled.
_SHAPES: dict[tuple, Any] = {}
_SEEN: dict[tuple, int] = {}
_SHAPES_LIMIT = 4096
_SHAPE_MAX_KEYS = 96
_SHAPE_MAX_DEPTH = 24
_NONE_TYPE = type(None)
_MISSING: Any = object()


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _unflatten_shaped(flat: dict, json_strings: bool) -> dict[str, Any] | None:
    keys = tuple(flat)
    values = list(flat.values())
    types = tuple(map(type, values))
    if _NONE_TYPE in types:
        return None
    signature = (keys, types, json_strings)
    plan = _SHAPES.get(signature, _MISSING)
    if plan is _MISSING:
        seen = _SEEN.get(signature, 0)
        if seen == 0:
            if len(_SEEN) >= _SHAPES_LIMIT * 16:
                _SEEN.clear()
            _SEEN[signature] = 1
            return None
        if len(_SHAPES) >= _SHAPES_LIMIT:
            _SHAPES.clear()
        plan = _SHAPES[signature] = _compile_shape(keys, types, json_strings)
        _SEEN.pop(signature, None)
    if plan is None:
        return None
    json_positions, list_positions, build = plan
    if json_positions:
        for i in json_positions:
            value = _decode_json_text(values[i])
            if value is None:
                return None  # Phoenix drops an empty {} / []: the general path does that
            values[i] = value
    if list_positions:
        for i in list_positions:
            values[i] = _unflatten_list(values[i], json_strings)
    return build(*values)


def _compile_shape(keys: tuple, types: tuple, json_strings: bool) -> Any:
    if len(keys) > _SHAPE_MAX_KEYS:
        return None
    builder = _Builder(False)
    for index, key in enumerate(keys):
        if type(key) is not str or key.count(_SEP) > _SHAPE_MAX_DEPTH:
            return None
        builder.put(key, _Slot(index))
    if builder._conflict:
        return None
    literal = _emit(builder.finish())
    params = ", ".join(f"a{i}" for i in range(len(keys)))
    namespace: dict[str, Any] = {}
    try:
        exec(f"def build({params}):\n    return {literal}\n", namespace)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    json_positions = tuple(
        i for i, key in enumerate(keys) if json_strings and types[i] is str and _is_json_key(key)
    )
    list_positions = tuple(i for i, t in enumerate(types) if t is list)
    return json_positions, list_positions, namespace["build"]


def _emit(node: Any) -> str:
    if type(node) is _Slot:
        return f"a{node.index}"
    if type(node) is dict:
        return "{" + ", ".join(f"{str(k)!r}: {_emit(v)}" for k, v in node.items()) + "}"
    if type(node) is list:
        return "[" + ", ".join(_emit(v) for v in node) + "]"
    raise ValueError("unexpected node in a shape")


class _Builder:
    """Incremental unflatten: ``put(key, value)`` repeatedly, then ``finish()`` once.

    The common case (no conflicts) is one pass: list-index nodes are built as dicts with int keys
    and remembered, then turned into lists at the end. After any conflict the end step is a full
    walk of the tree instead, which is slower but does not depend on the remembered positions.
    Dicts taken from the input ("borrowed") are copied before anything is added to them.
    """

    __slots__ = ("_borrowed", "_conflict", "_indexed", "_json", "root")

    def __init__(self, json_strings: bool = False) -> None:
        self.root: dict[Any, Any] = {}
        # id(node) -> (parent, key in parent, node) for dicts that received list indices.
        self._indexed: dict[int, tuple[dict | None, Any, dict]] = {}
        # id -> dict for dicts from the input that sit in the tree uncopied.
        self._borrowed: dict[int, dict] = {}
        self._json = json_strings
        self._conflict = False

    def put(self, key: str, value: Any) -> None:
        """Insert one flat attribute (``value`` must not be None)."""
        segs, is_json = _parts(key)
        tv = type(value)
        if tv is str and is_json and self._json:
            value = _decode_json_text(value)
            if value is None:
                return
            tv = type(value)
        if tv is list:
            value = _unflatten_list(value, self._json)
        node = self.root
        if len(segs) == 1:
            leaf = segs[0]
        else:
            borrowed = self._borrowed
            parent: dict | None = None
            pkey: Any = None
            last = len(segs) - 1
            i = 0
            while i < last:
                seg = segs[i]
                child = node.get(seg)
                if child is None:
                    child = node[seg] = {}
                    if type(seg) is int and id(node) not in self._indexed:
                        self._indexed[id(node)] = (parent, pkey, node)
                elif type(child) is not dict:
                    # Runs into a leaf: join this segment with the next one and stay here.
                    self._conflict = True
                    segs = (*segs[:i], f"{seg}{_SEP}{segs[i + 1]}", *segs[i + 2 :])
                    last -= 1
                    continue
                elif borrowed and id(child) in borrowed:
                    child = node[seg] = self._own(child)
                parent, pkey, node = node, seg, child
                i += 1
            leaf = segs[last]
        existing = node.get(leaf)
        if existing is None:
            node[leaf] = value
            if tv is dict:
                self._borrowed[id(value)] = value
            return
        self._conflict = True
        self._place(node, leaf, value)

    def _own(self, borrowed: dict) -> dict:
        """Copy a borrowed dict so it can be changed; its dict children become borrowed."""
        self._conflict = True  # the tree changed shape under remembered positions
        copy = dict(borrowed)
        for v in copy.values():
            if type(v) is dict:
                self._borrowed[id(v)] = v
        return copy

    def _place(self, node: dict, key: Any, value: Any) -> None:
        """``node[key] = value`` with the conflict rules; ``node`` must be owned."""
        existing = node.get(key)
        if existing is None:
            node[key] = value
            if type(value) is dict:
                self._borrowed[id(value)] = value
        elif type(value) is dict:
            if type(existing) is dict:
                node[key] = self._merged(existing, value)
            else:  # a leaf is there: it keeps the key, the dict's entries go to key.<sub>
                self._spill(node, key, value)
        else:
            if type(existing) is dict:
                self._spill(node, key, existing)
            node[key] = value

    def _merged(self, base: dict, extra: dict) -> dict:
        out = self._own(base) if id(base) in self._borrowed else base
        for k, v in extra.items():
            if v is not None:
                self._place(out, k, v)
        return out

    def _spill(self, node: dict, key: Any, container: dict) -> None:
        """Put ``container``'s entries into ``node`` as ``key.<sub>`` (leaf/prefix conflict)."""
        for sub, val in container.items():
            if val is not None:
                self._place(node, f"{key}{_SEP}{sub}", val)

    def finish(self) -> dict[str, Any]:
        if self._conflict:
            return _convert_all(self.root)
        # Children were registered after their all-index parents, so reversed order converts
        # children first; mixed nodes (and the root) are fixed in place, keeping references valid.
        for parent, pkey, node in reversed(self._indexed.values()):
            if parent is None:
                _stringify_int_keys(node)  # top-level indices ("0.a"): the root stays a dict
            elif parent.get(pkey) is node:
                parent[pkey] = _indexed_to_list(node)
        return self.root


def _convert_all(root: dict) -> dict:
    """Post-order walk turning every int-keyed dict into a list (used after conflicts)."""
    _convert_children(root)
    for k in root:
        if type(k) is int:
            _stringify_int_keys(root)
            break
    return root


def _convert_children(node: dict) -> None:
    for key, value in list(node.items()):
        if type(value) is dict:
            _convert_children(value)
            for k in value:
                if type(k) is int:
                    node[key] = _indexed_to_list(value)
                    break


def _indexed_to_list(node: dict) -> list | dict:
    """A dict with int keys becomes a list in index order; mixed keys stay a dict."""
    for k in node:
        if type(k) is not int:
            _stringify_int_keys(node)
            return node
    keys = list(node)
    if keys != sorted(keys):
        keys.sort()
    return [node[k] for k in keys]


def _stringify_int_keys(node: dict) -> None:
    """Mixed index/name keys, in place: indices become "0", "1"... after the named keys.

    A clash with a named "0" (``a.0`` as a leaf and ``a.0.x``) keeps the leaf at "0" and moves
    the rest to "0.x" (or "0.<i>" for a list).
    """
    ints = [(k, v) for k, v in node.items() if type(k) is int]
    for k, _ in ints:
        del node[k]
    for k, v in ints:
        key = str(k)
        if key not in node:
            node[key] = v
        elif type(v) is dict:
            for sub, val in v.items():
                node.setdefault(f"{key}{_SEP}{sub}", val)
        elif type(v) is list:
            for sub, val in enumerate(v):
                node.setdefault(f"{key}{_SEP}{sub}", val)


def _unflatten_list(values: list, json_strings: bool) -> list:
    """Lists of flat dicts (DataFrame form) get each dict unflattened; others are unchanged."""
    for item in values:
        if type(item) is dict:
            break
    else:
        return values
    return [unflatten_dict(item, json_strings) if type(item) is dict else item for item in values]


def _decode_json_text(text: str) -> Any:
    """Phoenix's ingestion decoding for JSON-string attributes; None means 'drop it'."""
    stripped = text.lstrip()
    if not stripped or stripped[0] not in "{[":
        return text
    try:
        decoded = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return text
    if type(decoded) is dict or type(decoded) is list:
        return decoded if decoded else None
    return text


def flatten(nested: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Nested attributes back to dotted flat keys (Phoenix's REST form).

    Lists whose items are all dicts (or lists of dicts) are expanded with their index
    (``a.0.b``); other lists are leaves. Empty dicts vanish (a flat form cannot hold them).
    """
    out: dict[str, Any] = {}
    _flatten_into(out, nested, prefix or None)
    return out


def _flatten_into(out: dict[str, Any], node: Mapping[str, Any], prefix: str | None) -> None:
    for key, value in node.items():
        full = str(key) if prefix is None else f"{prefix}{_SEP}{key}"
        if isinstance(value, Mapping):
            _flatten_into(out, value, full)
        elif type(value) is list and _expandable(value):
            _flatten_list(out, value, full)
        elif value is not None:
            out[full] = value


def _flatten_list(out: dict[str, Any], items: list, prefix: str) -> None:
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            _flatten_into(out, item, f"{prefix}{_SEP}{i}")
        else:
            _flatten_list(out, item, f"{prefix}{_SEP}{i}")


def _expandable(items: list) -> bool:
    """Lists of dicts (or of such lists) get indexed keys; other lists are leaf values."""
    if not items:
        return False
    for item in items:
        if isinstance(item, Mapping):
            continue
        if type(item) is list and _expandable(item):
            continue
        return False
    return True


def get_path(nested: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """``get_path(attrs, "llm.token_count.total")``; digit segments index lists.

    Also finds values stored under joined keys after a conflict (``{"b": 1, "b.c": 2}``).
    """
    if nested is None:
        return default
    found = _get(nested, path.split(_SEP), 0)
    return default if found is _MISSING else found


def _get(node: Any, segs: list[str], i: int) -> Any:
    if i == len(segs):
        return node
    if isinstance(node, Mapping):
        for j in range(i + 1, len(segs) + 1):
            key = segs[i] if j == i + 1 else _SEP.join(segs[i:j])
            if key in node:
                found = _get(node[key], segs, j)
                if found is not _MISSING:
                    return found
        return _MISSING
    if type(node) is list:
        seg = segs[i]
        if seg.isdigit() and seg.isascii() and int(seg) < len(node):
            return _get(node[int(seg)], segs, i + 1)
    return _MISSING
