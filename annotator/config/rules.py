"""The rules that read better as plain functions: turning what a file says into a field's value
(text, number, boolean, one of a few words, a key), and the checks over a whole list or mapping
(a categorical config's values, the ``keys:`` map, bounds with step, where a document keeps its
configs). The models' validators call them; each raises (or adds to `Problems`) a message that
names the field and says what to do.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from annotator import keymap as km
from annotator.config.errors import Loc, Problems, Stage, problem
from annotator.config.source import Path, Plain, unwrap
from annotator.model import SpanKind
from annotator.text import format_number as fmt

# Digits handed out, in order, to categorical values that have no explicit key.
DEFAULT_VALUE_KEYS = tuple(str(n) for n in range(1, 10))

CONFIG_FIELDS = (
    "name", "type", "description", "optimization_direction", "values", "lower_bound",
    "upper_bound", "step", "target", "span_kinds", "auto_advance", "scope",
)  # fmt: skip
IGNORED_CONFIG_FIELDS = ("id", "threshold")  # present in Phoenix's GET responses
VALUE_FIELDS = ("label", "score", "key")
TOP_FIELDS = ("annotations", "keys", "guidelines")
PHOENIX_LIST_FIELDS = ("data", "next_cursor", "keys", "guidelines")

Choice = TypeVar("Choice", bound=StrEnum)

_FINITE_FLOAT: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(allow_inf_nan=False)])
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


# --------------------------------------------------------------------------------------------
# Wording


def clean(value: float, step: float | None = None) -> float:
    """Round away float noise (0.1 + 0.2 -> 0.3), at a precision finer than ``step``."""
    digits = 9
    if step is not None and step > 0:
        digits += max(0, math.ceil(-math.log10(step)))
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not matches:  # case slips: 'Lower_Bound'
        lowered = {c.lower(): c for c in candidates}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


def one_of(options: Iterable[str]) -> str:
    options = list(options)
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


def unknown_field(name: str, allowed: Iterable[str]) -> str:
    suggestion = did_you_mean(name, allowed)
    if suggestion:
        return f"unknown field {name!r}: did you mean {suggestion!r}?"
    return f"unknown field {name!r}: remove it (see configs/README.md)"


def unknown_choice(what: str, value: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    suggestion = did_you_mean(value, choices)
    if suggestion:
        return f"unknown {what} {value!r}: did you mean {suggestion!r}?"
    return f"unknown {what} {value!r}: use {one_of(choices)}"


def kind_of(value: Any) -> str:
    value = unwrap(value)
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def shown(value: Any) -> str:
    value = unwrap(value)
    if isinstance(value, (dict, list, tuple)):
        return f"a {kind_of(value)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def value_name(label: str | None, index: int) -> str:
    return f"label {label!r}" if label is not None else f"value #{index + 1}"


def is_present(value: Any) -> bool:
    """Whether a field that belongs to another type is there: null and [] count as absent
    (Phoenix returns nulls)."""
    return value not in (None, [], ())


# --------------------------------------------------------------------------------------------
# One field's value. Each raises PydanticCustomError; None stays None (absent).


def text(value: Any, name: str) -> str | None:
    """A text field: plain YAML scalars by their text (``yes``, ``1``, ``0.10`` stay text)."""
    value = as_text(value)
    if value is None or isinstance(value, str):
        return value
    raise problem(f"{name} must be text, not a {kind_of(value)}")


# Guidelines are read in the app (and copied into every batch database): a long document
# belongs in a link, not in every file.
MAX_GUIDELINES = 100_000


def guidelines(value: Any) -> str | None:
    """The top-level ``guidelines:`` text (Markdown), bounded; blank is none."""
    found = text(value, "guidelines")
    if found is not None and len(found) > MAX_GUIDELINES:
        raise problem(
            f"guidelines are {len(found):,} characters; at most {MAX_GUIDELINES:,} (put a longer "
            "document elsewhere and link to it)"
        )
    return found if found is not None and found.strip() else None


def as_text(value: Any) -> Any:
    """Scalars as text; lists, mappings and other objects unchanged (for the caller to refuse)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Plain):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return fmt(value)
    return value


def number(value: Any, name: str) -> float | None:
    value = unwrap(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise problem(f"{name} must be a number, not {shown(value)}")
    try:
        return _FINITE_FLOAT.validate_python(value)
    except ValidationError as error:
        if error.errors()[0]["type"] == "finite_number":
            raise problem(f"{name} must be a finite number, not {shown(value)}") from None
        raise problem(f"{name} must be a number, not {shown(value)}") from None


def boolean(value: Any, name: str) -> bool | None:
    value = unwrap(value)
    if value is None:
        return None
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        raise problem(f"{name} must be true or false, not {shown(value)}") from None


def choice(value: Any, what: str, enum: type[Choice], upper: bool) -> Choice | None:
    """One of ``enum``'s values, in any case; an unknown word gets a did-you-mean."""
    word = text(value, what)
    if word is None:
        return None
    wanted = word.strip().upper() if upper else word.strip().lower()
    try:
        return enum(wanted)
    except ValueError:
        raise problem(unknown_choice(what, word, [m.value for m in enum])) from None


def key(value: Any) -> str | None:
    """A key as a user writes it (``j``, ``ctrl+y``, ``"["``) -> its Textual name."""
    written = as_text(value)
    if written is None:
        return None
    if not isinstance(written, str):
        raise problem(f"a key must be text like j, ctrl+y or '[', not a {kind_of(written)}")
    try:
        return km.normalise_key(written)
    except km.KeyError_ as error:
        raise problem(f"{error}: write a key like j, ctrl+y or '['") from None


def display(key_name: str) -> str:
    return km.display_key(key_name)


def span_kinds(value: Any, problems: Problems) -> tuple[SpanKind, ...] | None:
    """``span_kinds``: a list of kinds, or one kind on its own; repeats dropped."""
    if value is None:
        return None
    single = isinstance(unwrap(value), (str, int, float, bool))
    items = [value] if single else value
    if not isinstance(items, (list, tuple)):
        problems.add((), "span_kinds must be a list of span kinds, e.g. [LLM, CHAIN]")
        return None
    if not items:
        problems.add((), "span_kinds is empty: list span kinds, or remove it to mean all kinds")
        return None
    kinds: list[SpanKind] = []
    for index, item in enumerate(items):
        try:
            kind = choice(item, "span kind", SpanKind, upper=True)
        except PydanticCustomError as error:
            problems.add(() if single else (index,), error.message())
            continue
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    return tuple(kinds) or None


# --------------------------------------------------------------------------------------------
# A categorical config's values


@dataclass
class CheckedValue:
    label: str | None  # None: the label has a problem (reported)
    score: float | None
    key: str | None  # None: no key yet, or one that could not be read (reported)


def categorical_values(
    raw: Any, problems: Problems, app_keymap: Mapping[str, tuple[str, ...]] | None
) -> list[CheckedValue]:
    """Check a ``values:`` list: each value's label, score and key, labels and keys unique,
    free digits handed out in order to values without a key, and (given the app's keymap) no
    value key the app uses. Problems go to ``problems``; the values come back with what could
    be read, so that one bad value does not hide the others' problems."""
    if not isinstance(raw, (list, tuple)):
        problems.add((), "values must be a list of {label, score} entries", Stage.VALUES)
        return []
    if not raw:
        problems.add((), "values is empty: add at least one {label, score}", Stage.VALUES)
        return []
    values: list[CheckedValue] = []
    unreadable: set[int] = set()  # explicit keys that could not be read: no default for them
    labels: set[str] = set()
    explicit: dict[str, str] = {}  # key -> the value that has it
    for index, item in enumerate(raw):
        if isinstance(item, dict):
            label_loc: Loc = (index, "label")
            for name in item:
                if name not in VALUE_FIELDS:
                    message = unknown_field(str(name), VALUE_FIELDS)
                    problems.add((index, name), message, Stage.VALUES, at_key=True)
        else:  # shorthand: a bare label
            item = {"label": item}
            label_loc = (index,)
        label = None
        if item.get("label") is None:
            problems.add((index,), "missing label: give each value a label", Stage.VALUES)
        else:
            try:
                label = text(item["label"], "label")
            except PydanticCustomError as error:
                problems.add(label_loc, error.message(), Stage.VALUES)
            if label is not None and not label.strip():
                problems.add(label_loc, "label is empty: give each value a label", Stage.VALUES)
                label = None
            elif label is not None and label in labels:
                message = f"duplicate label {label!r}: labels must be unique"
                problems.add(label_loc, message, Stage.VALUES)
            elif label is not None:
                labels.add(label)
        score = None
        try:
            score = number(item.get("score"), "score")
        except PydanticCustomError as error:
            problems.add((index, "score"), error.message(), Stage.VALUES)
        raw_key = item.get("key")
        value_key = None
        if raw_key != "":
            try:
                value_key = key(raw_key)
            except PydanticCustomError as error:
                problems.add((index, "key"), error.message(), Stage.VALUES)
                unreadable.add(index)
        if value_key is not None:
            if value_key in explicit:
                message = (
                    f"key {display(value_key)!r} is already used by {explicit[value_key]}: "
                    "give this value another key"
                )
                problems.add((index, "key"), message, Stage.VALUES)
            else:
                explicit[value_key] = value_name(label, index)
        values.append(CheckedValue(label, score, value_key))
    free = [digit for digit in DEFAULT_VALUE_KEYS if digit not in explicit]
    for index, value in enumerate(values):
        if value.key is None and index not in unreadable:
            if free:
                value.key = free.pop(0)
            else:
                message = (
                    f"no free digit key left for {value_name(value.label, index)}: "
                    "give it a key (only 1-9 are assigned automatically)"
                )
                problems.add((index,), message, Stage.VALUES)
    if app_keymap is not None:
        _free_of_the_app(values, app_keymap, problems)
    return values


def _free_of_the_app(
    values: list[CheckedValue], app_keymap: Mapping[str, tuple[str, ...]], problems: Problems
) -> None:
    owners = km.key_owners(dict(app_keymap))
    for index, value in enumerate(values):
        if value.key is None:
            continue
        if value.key in km.RESERVED_KEYS:
            message = f"key {display(value.key)!r} is reserved by the app: pick another key"
            problems.add((index, "key"), message, Stage.APP_KEYS)
        elif value.key in owners:
            action = owners[value.key][0]
            message = (
                f"key {display(value.key)!r} of {value_name(value.label, index)} is already bound "
                f"to action {action!r}: pick another key, or remap {action} under keys:"
            )
            problems.add((index, "key"), message, Stage.APP_KEYS)


# --------------------------------------------------------------------------------------------
# Bounds and step


def continuous_step(
    written: Any,
    step: float | None,
    lower: float | None,
    upper: float | None,
    problems: Problems,
) -> float | None:
    """A continuous config's step (the default filled in when none is ``written``), checked
    against the bounds; ``step`` is the written one read as a number (None: unreadable)."""
    span: float | None = None
    if lower is not None and upper is not None:
        span = upper - lower
        if span <= 0:
            message = f"lower_bound ({fmt(lower)}) must be below upper_bound ({fmt(upper)})"
            problems.add((), message, Stage.RANGE, field="lower_bound")
            return None
    if written is None:
        if lower is None or upper is None or span is None:
            return 1.0
        if lower.is_integer() and upper.is_integer() and span >= 4:
            return 1.0
        return clean(span / 10)
    if step is None:
        return None  # unreadable: already reported
    if step <= 0:
        problems.add((), f"step must be positive, not {fmt(step)}", Stage.RANGE)
        return None
    if lower is not None and upper is not None and span is not None:
        count = span / step
        tolerance = 1e-9 * max(1.0, count)
        if count < 1 - tolerance:
            message = (
                f"step {fmt(step)} is larger than the range {fmt(lower)}..{fmt(upper)}: "
                "use a smaller step"
            )
            problems.add((), message, Stage.RANGE)
            return None
        if abs(count - round(count)) > tolerance:
            message = (
                f"step {fmt(step)} does not divide the range {fmt(lower)}..{fmt(upper)} "
                f"into whole steps: use a step that divides {fmt(span)}"
            )
            problems.add((), message, Stage.RANGE)
            return None
    return step


# --------------------------------------------------------------------------------------------
# The keys: map


def key_remaps(
    raw: Any, problems: Problems, line: Callable[[Loc], int | None] | None = None
) -> dict[str, tuple[str, ...]]:
    """Check a ``keys:`` mapping -> the remaps that could be read (action -> normalised keys).
    Two actions on one key are blamed on the remap on the later line (``line(loc)``: the line
    of a place in the map, when it came from a file; else, and on one line, the first action
    in the app's order)."""
    remaps: dict[str, tuple[str, ...]] = {}
    if raw is None:
        return remaps
    if not isinstance(raw, dict):
        problems.add((), "keys must be a mapping of action: key, e.g. {next_span: j}")
        return remaps
    where: dict[tuple[str, str], Loc] = {}  # (action, key) -> where the remap writes it
    for action_name, value in raw.items():
        action = str(action_name)
        if action not in km.ACTION_IDS:
            message = unknown_choice("action", action, [a.id for a in km.ACTIONS])
            problems.add((action,), message, at_key=True)
            continue
        if isinstance(value, (list, tuple)):
            items: list[tuple[Any, Loc]] = [(item, (action, i)) for i, item in enumerate(value)]
        elif value is None:
            items = []
        else:
            items = [(value, (action,))]
        if not items:
            problems.add((action,), f"give at least one key for {action!r}", at_key=True)
            continue
        keys: list[str] = []
        for item, loc in items:
            try:
                normalised = key(item)
            except PydanticCustomError as error:
                problems.add(loc, error.message())
                continue
            if normalised is None:
                continue
            if normalised in km.RESERVED_KEYS:
                message = f"key {display(normalised)!r} is reserved by the app: pick another key"
                problems.add(loc, message)
                continue
            if normalised not in keys:
                keys.append(normalised)
                where[(action, normalised)] = loc
        if keys:
            remaps[action] = tuple(keys)
    for key_name, actions in km.key_owners(km.resolve_keymap(remaps)).items():
        if len(actions) < 2:
            continue
        remapped = [a for a in actions if (a, key_name) in where]
        if not remapped:  # two defaults collide: a keymap bug, not the user's
            continue
        lines = [(line(where[(a, key_name)]) if line else None) or 0 for a in remapped]
        blame = remapped[lines.index(max(lines))]
        others = [a for a in actions if a != blame]
        message = (
            f"key {display(key_name)!r} is bound to both {others[0]!r} and {blame!r}: "
            "give one of them another key"
        )
        problems.add(where[(blame, key_name)], message)
    return remaps


# --------------------------------------------------------------------------------------------
# Where a document keeps its configs


@dataclass
class Shape:
    """The configs a document holds and where: ``items`` (each with its path), the ``keys:``
    map if any, and what is wrong with the document's outline."""

    items: list[tuple[Path, Any]] = field(default_factory=list)
    keys: Any = None
    guidelines: Any = None
    issues: list[tuple[Path, str, bool]] = field(default_factory=list)  # (path, message, at_key)

    def issue(self, path: Path, message: str, at_key: bool = False) -> None:
        self.issues.append((path, message, at_key))


def document_shape(data: Any) -> Shape:
    """Any of the forms a config file may take: ``annotations:`` with ``keys:``, a bare list,
    one config on its own (a Phoenix create body), or Phoenix's ``{"data": [...]}`` /
    ``{"data": {...}}`` responses."""
    shape = Shape()
    if isinstance(data, list):
        shape.items = [((i,), item) for i, item in enumerate(data)]
        if not data:
            shape.issue((), "the list is empty: add at least one annotation config")
    elif isinstance(data, dict):
        if "annotations" in data or "data" in data:
            list_field = "annotations" if "annotations" in data else "data"
            allowed = TOP_FIELDS if list_field == "annotations" else PHOENIX_LIST_FIELDS
            for name in data:
                if name not in allowed:
                    shape.issue((name,), unknown_field(name, allowed), at_key=True)
            listed = data[list_field]
            if isinstance(listed, dict) and list_field == "data":
                shape.items = [((list_field,), listed)]  # GET /v1/annotation_configs/{name}
            elif isinstance(listed, list):
                shape.items = [((list_field, i), item) for i, item in enumerate(listed)]
                if not listed:
                    message = f"{list_field} is empty: add at least one annotation config"
                    shape.issue((list_field,), message)
            else:
                shape.issue((list_field,), f"{list_field} must be a list of annotation configs")
            shape.keys = data.get("keys")
            shape.guidelines = data.get("guidelines")
        elif "name" in data or "type" in data:  # one config on its own (a Phoenix create body)
            shape.items = [((), data)]
        else:
            suggested = False
            for name in data:
                if name in TOP_FIELDS:
                    continue
                message = unknown_field(name, TOP_FIELDS)
                suggested |= "did you mean 'annotations'" in message
                shape.issue((name,), message, at_key=True)
            if not suggested:
                shape.issue((), "no annotations: list: add one (see configs/README.md)")
    else:
        shape.issue((), f"expected a mapping with an annotations: list, not {shown(data)}")
    return shape
