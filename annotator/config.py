"""Annotation configs: what a person can record on a span, read from YAML (or JSON).

Field names and meanings are Phoenix's (``POST /v1/annotation_configs``), so a Phoenix config — a
create body, a ``GET /v1/annotation_configs`` response, or a list of configs — loads unchanged. Our
extensions (``step``, per-value ``key``, ``target``, ``span_kinds``, ``auto_advance`` and a
top-level ``keys:`` action remap) are optional; see ``configs/README.md`` for the reference.

Validation reports every problem at once, each as ``file:line: message``: the YAML is composed to
nodes (which keep their line) and converted to plain values with a path -> line table, so a problem
found at ``("annotations", 2, "values", 0, "score")`` points at that node.

This module is core: it must never import Textual.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from yaml.constructor import SafeConstructor
from yaml.reader import ReaderError

from annotator import keymap as km
from annotator.model import NOTE_NAME, Problem, SpanKind, Target

__all__ = [
    "AnnotationConfig",
    "AnnotationType",
    "CategoricalValue",
    "ConfigError",
    "ConfigProblem",
    "ConfigSet",
    "OptimizationDirection",
    "bundled_config_names",
    "bundled_config_path",
    "keys_table_markdown",
    "load_config",
    "parse_config",
]

# --------------------------------------------------------------------------------------------
# Problems


# One thing wrong with a config file: the same `file:line: message` record the readers report.
ConfigProblem = Problem


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` lists every problem found, in line order."""

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems: list[ConfigProblem] = sorted(
            problems, key=lambda p: (p.line is not None, p.line or 0)
        )
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


# --------------------------------------------------------------------------------------------
# Enums and constants


class AnnotationType(StrEnum):
    CATEGORICAL = "CATEGORICAL"
    CONTINUOUS = "CONTINUOUS"
    FREEFORM = "FREEFORM"


class OptimizationDirection(StrEnum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"
    NONE = "NONE"


# Digits handed out, in order, to categorical values that have no explicit key.
DEFAULT_VALUE_KEYS = tuple(str(n) for n in range(1, 10))
# Span kinds a document-target config applies to when it names none: documents live on these.
DOCUMENT_SPAN_KINDS = (SpanKind.RETRIEVER, SpanKind.RERANKER)

_CONFIG_FIELDS = (
    "name", "type", "description", "optimization_direction", "values", "lower_bound",
    "upper_bound", "step", "target", "span_kinds", "auto_advance",
)  # fmt: skip
_IGNORED_CONFIG_FIELDS = ("id", "threshold")  # present in Phoenix's GET responses
_VALUE_FIELDS = ("label", "score", "key")
_TOP_FIELDS = ("annotations", "keys")
_PHOENIX_LIST_FIELDS = ("data", "next_cursor", "keys")

_Path = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# Small helpers


def _fmt(number: float) -> str:
    """5.0 -> '5', 0.1 -> '0.1'."""
    if math.isfinite(number) and float(number).is_integer() and abs(number) < 1e15:
        return str(int(number))
    return repr(float(number))


def _clean(value: float, step: float | None = None) -> float:
    """Round away float noise (0.1 + 0.2 -> 0.3), at a precision finer than ``step``."""
    digits = 9
    if step is not None and step > 0:
        digits += max(0, math.ceil(-math.log10(step)))
    return round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0


def _did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    candidates = list(candidates)
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not matches:  # case slips: 'Lower_Bound'
        lowered = {c.lower(): c for c in candidates}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


def _one_of(options: Iterable[str]) -> str:
    options = list(options)
    return ", ".join(options[:-1]) + " or " + options[-1] if len(options) > 1 else options[0]


def _unknown_field(field: str, allowed: Iterable[str]) -> str:
    suggestion = _did_you_mean(field, allowed)
    if suggestion:
        return f"unknown field {field!r}: did you mean {suggestion!r}?"
    return f"unknown field {field!r}: remove it (see configs/README.md)"


def _unknown_choice(what: str, value: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    suggestion = _did_you_mean(value, choices)
    if suggestion:
        return f"unknown {what} {value!r}: did you mean {suggestion!r}?"
    return f"unknown {what} {value!r}: use {_one_of(choices)}"


def _display(key: str) -> str:
    return km.display_key(key)


_FINITE_FLOAT: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(allow_inf_nan=False)])
_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


@dataclass(slots=True)
class _Issue:
    """A problem found while checking plain values; ``path`` locates it in the document."""

    path: _Path
    message: str
    at_key: bool = False  # point at the field's name (e.g. "remove it") rather than its value


class _Source:
    """Where each value came from: path -> line of the value node / of the mapping key, and the
    verbatim text of plain scalars (so ``label: yes`` stays the string ``yes``)."""

    def __init__(self) -> None:
        self.lines: dict[_Path, int] = {}
        self.key_lines: dict[_Path, int] = {}
        self.plain: dict[_Path, str] = {}

    def line(self, path: _Path, at_key: bool = False) -> int | None:
        if at_key and path in self.key_lines:
            return self.key_lines[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def text(self, value: Any, path: _Path) -> Any:
        """A text field's value: plain YAML scalars by their verbatim text (``yes``, ``1``, ``0.10``
        stay text), other scalars as themselves; lists and mappings unchanged (caller rejects)."""
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if path in self.plain:
            return self.plain[path]
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return _fmt(value) if isinstance(value, float) else str(value)
        return value


_NO_SOURCE = _Source()


# --------------------------------------------------------------------------------------------
# Checking plain values (shared by the file parser and by direct model construction)


class _Checker:
    def __init__(self, source: _Source) -> None:
        self.source = source
        self.issues: list[_Issue] = []

    def err(self, path: _Path, message: str, at_key: bool = False) -> None:
        self.issues.append(_Issue(path, message, at_key))

    # -- scalar kinds ---------------------------------------------------------------------

    def text(self, value: Any, path: _Path, field: str) -> str | None:
        value = self.source.text(value, path)
        if value is None or isinstance(value, str):
            return value
        self.err(path, f"{field} must be text, not a {_kind(value)}")
        return None

    def number(self, value: Any, path: _Path, field: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.err(path, f"{field} must be a number, not {_shown(value)}")
            return None
        try:
            return _FINITE_FLOAT.validate_python(value)
        except ValidationError as error:
            kind = error.errors()[0]["type"]
            if kind == "finite_number":
                self.err(path, f"{field} must be a finite number, not {_shown(value)}")
            else:
                self.err(path, f"{field} must be a number, not {_shown(value)}")
            return None

    def boolean(self, value: Any, path: _Path, field: str) -> bool | None:
        if value is None:
            return None
        try:
            return _BOOL.validate_python(value)
        except ValidationError:
            self.err(path, f"{field} must be true or false, not {_shown(value)}")
            return None

    def choice(self, value: Any, path: _Path, what: str, enum: type[StrEnum], upper: bool) -> Any:
        text = self.text(value, path, what)
        if text is None:
            return None
        wanted = text.strip().upper() if upper else text.strip().lower()
        try:
            return enum(wanted)
        except ValueError:
            self.err(path, _unknown_choice(what, text, [m.value for m in enum]))
            return None

    def key(self, value: Any, path: _Path) -> str | None:
        text = self.source.text(value, path)
        if text is None:
            return None
        if not isinstance(text, (str, int)):
            self.err(path, f"a key must be text like j, ctrl+y or '[', not a {_kind(text)}")
            return None
        try:
            return km.normalise_key(text)
        except km.KeyError_ as error:
            self.err(path, f"{error}: write a key like j, ctrl+y or '['")
            return None

    # -- one annotation config ------------------------------------------------------------

    def config(self, raw: Any, path: _Path) -> dict[str, Any] | None:
        """Check one config mapping and return it with defaults filled in (fields with problems
        are None; the problems are recorded). None if it is not a mapping at all."""
        if not isinstance(raw, dict):
            self.err(
                path, f"each annotation must be a mapping with a name and a type, not {_shown(raw)}"
            )
            return None
        for field in raw:
            if field not in _CONFIG_FIELDS and field not in _IGNORED_CONFIG_FIELDS:
                self.err((*path, field), _unknown_field(str(field), _CONFIG_FIELDS), at_key=True)

        def at(field: str) -> _Path:
            return (*path, field)

        out: dict[str, Any] = {}
        # name
        if "name" not in raw or raw["name"] is None:
            self.err(
                path if "name" not in raw else at("name"),
                "missing name: give the annotation a name",
            )
            name = None
        else:
            name = self.text(raw["name"], at("name"), "name")
            if name is not None and not name.strip():
                self.err(at("name"), "name is empty: give the annotation a name")
                name = None
            elif name is not None and name.strip().lower() == NOTE_NAME:
                self.err(
                    at("name"),
                    f"the name {name!r} is reserved for Phoenix span notes: pick another name",
                )
                name = None
        out["name"] = name
        # type
        choices = _one_of([t.value for t in AnnotationType])
        if "type" not in raw or raw["type"] is None:
            self.err(path if "type" not in raw else at("type"), f"missing type: use {choices}")
            kind = None
        else:
            kind = self.choice(raw["type"], at("type"), "type", AnnotationType, upper=True)
        out["type"] = kind
        out["description"] = self.text(raw.get("description"), at("description"), "description")
        direction = self.choice(
            raw.get("optimization_direction"), at("optimization_direction"),
            "optimization_direction", OptimizationDirection, upper=True,
        )  # fmt: skip
        if direction is None and kind in (AnnotationType.CATEGORICAL, AnnotationType.CONTINUOUS):
            direction = OptimizationDirection.NONE  # Phoenix requires one for these types
        out["optimization_direction"] = direction
        target = raw.get("target")
        out["target"] = (
            Target.SPAN
            if target is None
            else self.choice(target, at("target"), "target", Target, upper=False)
        )
        out["span_kinds"] = self.span_kinds(raw.get("span_kinds"), at("span_kinds"))
        if out["span_kinds"] is None and out["target"] == Target.DOCUMENT:
            out["span_kinds"] = DOCUMENT_SPAN_KINDS
        auto_advance = self.boolean(raw.get("auto_advance"), at("auto_advance"), "auto_advance")
        out["auto_advance"] = bool(auto_advance)
        lower = self.number(raw.get("lower_bound"), at("lower_bound"), "lower_bound")
        upper = self.number(raw.get("upper_bound"), at("upper_bound"), "upper_bound")
        step = self.number(raw.get("step"), at("step"), "step")

        # fields that belong to other types (null / [] count as absent: Phoenix returns nulls)
        present = {
            f
            for f in ("values", "lower_bound", "upper_bound", "step")
            if raw.get(f) not in (None, [], ())
        }
        if kind is not None:
            allowed = {
                AnnotationType.CATEGORICAL: {"values"},
                AnnotationType.CONTINUOUS: {"lower_bound", "upper_bound", "step"},
                # Phoenix stores (and returns) bounds sent with a FREEFORM config: a config read
                # back from Phoenix must load, so they are accepted here and ignored.
                AnnotationType.FREEFORM: {"lower_bound", "upper_bound"},
            }[kind]
            for field in sorted(present - allowed, key=_CONFIG_FIELDS.index):
                owner = "CATEGORICAL" if field == "values" else "CONTINUOUS"
                self.err(
                    at(field),
                    f"{field} is only for {owner} annotations, not {kind.value}: remove it",
                    at_key=True,
                )
            if auto_advance and kind != AnnotationType.CATEGORICAL:
                self.err(
                    at("auto_advance"),
                    "auto_advance is only for CATEGORICAL annotations, "
                    f"not {kind.value}: remove it",
                    at_key=True,
                )

        out["values"] = ()
        out["lower_bound"] = out["upper_bound"] = out["step"] = None
        if kind == AnnotationType.CATEGORICAL:
            if "values" not in raw or raw["values"] is None:
                self.err(
                    path if "values" not in raw else at("values"),
                    "a CATEGORICAL annotation needs values: add a list of {label, score}",
                )
            else:
                out["values"] = self.values(raw["values"], at("values"))
        elif kind == AnnotationType.CONTINUOUS:
            out["lower_bound"], out["upper_bound"] = lower, upper
            out["step"] = self.step(raw, path, lower, upper, step)
        elif kind is None:  # type unknown or missing: still check what is there
            if raw.get("values") is not None:
                self.values(raw["values"], at("values"))
            self.step(raw, path, lower, upper, step)
        return out

    def span_kinds(self, value: Any, path: _Path) -> tuple[SpanKind, ...] | None:
        if value is None:
            return None
        items = [value] if isinstance(value, (str, int, float, bool)) else value
        if not isinstance(items, (list, tuple)):
            self.err(path, "span_kinds must be a list of span kinds, e.g. [LLM, CHAIN]")
            return None
        if not items:
            self.err(path, "span_kinds is empty: list span kinds, or remove it to mean all kinds")
            return None
        kinds: list[SpanKind] = []
        for index, item in enumerate(items):
            item_path = (*path, index) if isinstance(value, (list, tuple)) else path
            kind = self.choice(item, item_path, "span kind", SpanKind, upper=True)
            if kind is not None and kind not in kinds:
                kinds.append(kind)
        return tuple(kinds) or None

    def values(self, raw: Any, path: _Path) -> tuple[dict[str, Any], ...]:
        if not isinstance(raw, (list, tuple)):
            self.err(path, "values must be a list of {label, score} entries")
            return ()
        if not raw:
            self.err(path, "values is empty: add at least one {label, score}")
            return ()
        values: list[dict[str, Any]] = []
        unreadable: set[int] = set()  # explicit keys that could not be read: no default for them
        labels: dict[str, int] = {}
        explicit: dict[str, str] = {}  # key -> label
        for index, item in enumerate(raw):
            item_path = (*path, index)
            if isinstance(item, CategoricalValue):
                item = item.model_dump()
            if not isinstance(item, dict):  # shorthand: a bare label
                item = {"label": item}
                label_path = item_path
            else:
                label_path = (*item_path, "label")
                for field in item:
                    if field not in _VALUE_FIELDS:
                        self.err(
                            (*item_path, field),
                            _unknown_field(str(field), _VALUE_FIELDS),
                            at_key=True,
                        )
            label = None
            if item.get("label") is None:
                self.err(item_path, "missing label: give each value a label")
            else:
                label = self.text(item["label"], label_path, "label")
                if label is not None and not label.strip():
                    self.err(label_path, "label is empty: give each value a label")
                    label = None
                elif label is not None and label in labels:
                    self.err(label_path, f"duplicate label {label!r}: labels must be unique")
                elif label is not None:
                    labels[label] = index
            score = self.number(item.get("score"), (*item_path, "score"), "score")
            raw_key = item.get("key")
            key = None if raw_key == "" else self.key(raw_key, (*item_path, "key"))
            if key is None and raw_key not in (None, ""):
                unreadable.add(index)
            if key is not None:
                if key in explicit:
                    self.err(
                        (*item_path, "key"),
                        f"key {_display(key)!r} is already used by {explicit[key]}: "
                        "give this value another key",
                    )
                else:
                    explicit[key] = _value_name({"label": label}, index)
            values.append({"label": label, "score": score, "key": key})
        free = [digit for digit in DEFAULT_VALUE_KEYS if digit not in explicit]
        for index, value in enumerate(values):
            if value["key"] is None and index not in unreadable:
                if free:
                    value["key"] = free.pop(0)
                else:
                    self.err(
                        (*path, index),
                        f"no free digit key left for {_value_name(value, index)}: "
                        "give it a key (only 1-9 are assigned automatically)",
                    )
        return tuple(values)

    def step(
        self, raw: dict, path: _Path, lower: float | None, upper: float | None, step: float | None
    ) -> float | None:
        """Check a continuous config's bounds and step; return the step (default filled in)."""
        span: float | None = None
        if lower is not None and upper is not None:
            span = upper - lower
            if span <= 0:
                self.err(
                    (*path, "lower_bound"),
                    f"lower_bound ({_fmt(lower)}) must be below upper_bound ({_fmt(upper)})",
                )
                return None
        if raw.get("step") is None:
            if lower is None or upper is None or span is None:
                return 1.0
            if lower.is_integer() and upper.is_integer() and span >= 4:
                return 1.0
            return _clean(span / 10)
        if step is None:
            return None  # unreadable: already reported
        where = (*path, "step")
        if step <= 0:
            self.err(where, f"step must be positive, not {_fmt(step)}")
            return None
        if lower is not None and upper is not None and span is not None:
            count = span / step
            tolerance = 1e-9 * max(1.0, count)
            if count < 1 - tolerance:
                self.err(
                    where,
                    f"step {_fmt(step)} is larger than the range {_fmt(lower)}..{_fmt(upper)}: "
                    "use a smaller step",
                )
                return None
            if abs(count - round(count)) > tolerance:
                self.err(
                    where,
                    f"step {_fmt(step)} does not divide the range {_fmt(lower)}..{_fmt(upper)} "
                    f"into whole steps: use a step that divides {_fmt(span)}",
                )
                return None
        return step

    # -- the keys: remap ------------------------------------------------------------------

    def keys(
        self, raw: Any, path: _Path
    ) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], _Path]]:
        """Check a ``keys:`` mapping -> (normalised remaps, (action, key) -> path of that key)."""
        remaps: dict[str, tuple[str, ...]] = {}
        where: dict[tuple[str, str], _Path] = {}
        if raw is None:
            return remaps, where
        if not isinstance(raw, dict):
            self.err(path, "keys must be a mapping of action: key, e.g. {next_span: j}")
            return remaps, where
        for action, value in raw.items():
            action_path = (*path, action)
            action = str(action)
            if action not in km.ACTION_IDS:
                self.err(
                    action_path,
                    _unknown_choice("action", action, [a.id for a in km.ACTIONS]),
                    at_key=True,
                )
                continue
            if isinstance(value, (list, tuple)):
                items = [(item, (*action_path, index)) for index, item in enumerate(value)]
            elif value is None:
                items = []
            else:
                items = [(value, action_path)]
            if not items:
                self.err(action_path, f"give at least one key for {action!r}", at_key=True)
                continue
            keys: list[str] = []
            for item, item_path in items:
                key = self.key(item, item_path)
                if key is None:
                    continue
                if key in km.RESERVED_KEYS:
                    self.err(
                        item_path, f"key {_display(key)!r} is reserved by the app: pick another key"
                    )
                    continue
                if key not in keys:
                    keys.append(key)
                    where[(action, key)] = item_path
            if keys:
                remaps[action] = tuple(keys)
        owners = km.key_owners(km.resolve_keymap(remaps))
        for key, actions in owners.items():
            if len(actions) < 2:
                continue
            remapped = [a for a in actions if (a, key) in where]
            if not remapped:  # two defaults collide: a keymap bug, not the user's
                continue
            blame = max(remapped, key=lambda a: self.source.line(where[(a, key)]) or 0)
            others = [a for a in actions if a != blame]
            self.err(
                where[(blame, key)],
                f"key {_display(key)!r} is bound to both {others[0]!r} and {blame!r}: "
                "give one of them another key",
            )
        return remaps, where

    # -- a whole set ----------------------------------------------------------------------

    def config_set(
        self, configs: list[tuple[_Path, dict[str, Any]]], keymap: dict[str, tuple[str, ...]]
    ) -> None:
        """Checks across configs: unique names; value keys vs the app's keys."""
        seen: dict[str, _Path] = {}
        for path, config in configs:
            name = config.get("name")
            if name is None:
                continue
            if name in seen:
                first = self.source.line((*seen[name], "name"))
                also = f" (also on line {first})" if first is not None else ""
                self.err((*path, "name"), f"duplicate name {name!r}{also}: names must be unique")
            else:
                seen[name] = path
        owners = km.key_owners(keymap)
        for path, config in configs:
            for index, value in enumerate(config.get("values") or ()):
                key = value["key"]
                if key is None:
                    continue
                key_path = (*path, "values", index, "key")
                if key in km.RESERVED_KEYS:
                    self.err(
                        key_path, f"key {_display(key)!r} is reserved by the app: pick another key"
                    )
                elif key in owners:
                    action = owners[key][0]
                    self.err(
                        key_path,
                        f"key {_display(key)!r} of {_value_name(value, index)} is already bound to "
                        f"action {action!r}: pick another key, or remap {action} under keys:",
                    )


def _value_name(value: dict[str, Any], index: int) -> str:
    label = value.get("label")
    return f"label {label!r}" if label is not None else f"value #{index + 1}"


def _kind(value: Any) -> str:
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


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return f"a {_kind(value)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _raise_if(checker: _Checker) -> None:
    if checker.issues:
        raise ValueError("; ".join(issue.message for issue in checker.issues))


# --------------------------------------------------------------------------------------------
# Models


class CategoricalValue(BaseModel):
    """One choice of a categorical config. ``key`` is a normalised key name (``keymap``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    score: float | None = None
    key: str = ""  # filled by the config: explicit, or the next free digit 1-9

    @field_validator("key", mode="before")
    @classmethod
    def _normalise_key(cls, value: Any) -> Any:
        if value is None or value == "":
            return ""
        return km.normalise_key(value)


class AnnotationConfig(BaseModel):
    """One annotation config: Phoenix's fields plus our extensions, defaults filled in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: AnnotationType
    description: str | None = None
    optimization_direction: OptimizationDirection | None = None
    values: tuple[CategoricalValue, ...] = ()
    lower_bound: float | None = None
    upper_bound: float | None = None
    step: float | None = None
    target: Target = Target.SPAN
    span_kinds: tuple[SpanKind, ...] | None = None
    auto_advance: bool = False

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for ignored in _IGNORED_CONFIG_FIELDS:
            data.pop(ignored, None)
        checker = _Checker(_NO_SOURCE)
        checked = checker.config(data, ())
        _raise_if(checker)
        assert checked is not None
        return checked

    # -- queries ---------------------------------------------------------------------------

    def applies_to(self, target: str, span_kind: str) -> bool:
        """Whether this config is offered for ``target`` on a span of ``span_kind``. For trace and
        session targets, pass the kind of the trace's root span. Any case; unknown kinds are
        UNKNOWN."""
        try:
            wanted = Target(str(target).strip().lower())
        except ValueError:
            return False
        if wanted != self.target:
            return False
        return self.span_kinds is None or SpanKind.parse(span_kind) in self.span_kinds

    def value_for_key(self, key: str) -> CategoricalValue | None:
        """The categorical value bound to ``key`` (any spelling ``normalise_key`` accepts)."""
        try:
            wanted = km.normalise_key(key)
        except km.KeyError_:
            return None
        return next((value for value in self.values if value.key == wanted), None)

    def value_for_label(self, label: str) -> CategoricalValue | None:
        return next((value for value in self.values if value.label == label), None)

    # -- continuous arithmetic -------------------------------------------------------------

    def clamp(self, score: float) -> float:
        """``score`` limited to the bounds that are set."""
        if self.lower_bound is not None and score < self.lower_bound:
            score = self.lower_bound
        if self.upper_bound is not None and score > self.upper_bound:
            score = self.upper_bound
        return score

    def step_score(self, current: float | None, steps: int) -> float:
        """The score after moving ``steps`` steps (negative: down) from ``current``.

        Unscored (``current is None``): ``steps < 0`` lands on the lower bound, ``steps > 0`` on
        ``lower + steps * step`` (with no lower bound, 0 stands in for it). Scores lie on the grid
        ``lower + k * step``; a score off the grid (set elsewhere) first snaps to the neighbouring
        grid point in the direction of travel; ``steps == 0`` leaves it where it is. The result is
        clamped to the bounds and rounded clear of float noise (0.1 + 0.2 gives 0.3)."""
        if self.type != AnnotationType.CONTINUOUS or self.step is None:
            raise ValueError(f"{self.name!r} is not a CONTINUOUS annotation")
        step = self.step
        origin = self.lower_bound if self.lower_bound is not None else self.clamp(0.0)
        if current is None:
            k = max(0, steps)
        else:
            position = (current - origin) / step
            nearest = round(position)
            if abs(position - nearest) <= 1e-9 * max(1.0, abs(position)):
                k = nearest + steps
            elif steps > 0:
                k = math.floor(position) + steps
            elif steps < 0:
                k = math.ceil(position) + steps
            else:
                return _clean(self.clamp(current), step)
        return _clean(self.clamp(origin + k * step), step)

    # -- export -----------------------------------------------------------------------------

    def phoenix_body(self) -> dict[str, Any]:
        """Exactly the Phoenix ``POST /v1/annotation_configs`` body (no extensions)."""
        body: dict[str, Any] = {"name": self.name, "type": self.type.value}
        if self.description is not None:
            body["description"] = self.description
        direction = self.optimization_direction
        if self.type == AnnotationType.CATEGORICAL:
            body["optimization_direction"] = (direction or OptimizationDirection.NONE).value
            body["values"] = [
                {"label": v.label, **({"score": v.score} if v.score is not None else {})}
                for v in self.values
            ]
        elif self.type == AnnotationType.CONTINUOUS:
            body["optimization_direction"] = (direction or OptimizationDirection.NONE).value
            if self.lower_bound is not None:
                body["lower_bound"] = self.lower_bound
            if self.upper_bound is not None:
                body["upper_bound"] = self.upper_bound
        elif direction is not None:  # FREEFORM: optional
            body["optimization_direction"] = direction.value
        return body

    def to_document(self) -> dict[str, Any]:
        """This config as a plain mapping, every default spelled out; ``parse_config`` reads it
        back to an equal config."""
        doc: dict[str, Any] = {"name": self.name, "type": self.type.value}
        if self.description is not None:
            doc["description"] = self.description
        if self.optimization_direction is not None:
            doc["optimization_direction"] = self.optimization_direction.value
        if self.type == AnnotationType.CATEGORICAL:
            doc["values"] = [
                {
                    "label": v.label,
                    **({"score": v.score} if v.score is not None else {}),
                    "key": v.key,
                }
                for v in self.values
            ]
            doc["auto_advance"] = self.auto_advance
        elif self.type == AnnotationType.CONTINUOUS:
            for field in ("lower_bound", "upper_bound", "step"):
                if getattr(self, field) is not None:
                    doc[field] = getattr(self, field)
        doc["target"] = self.target.value
        if self.span_kinds is not None:
            doc["span_kinds"] = [kind.value for kind in self.span_kinds]
        return doc


class ConfigSet(BaseModel):
    """A loaded config file: the annotations, the ``keys:`` remaps, and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    annotations: list[AnnotationConfig]
    keys: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    source: str = "<config>"

    @field_validator("keys", mode="before")
    @classmethod
    def _check_keys(cls, value: Any) -> Any:
        if value is None:
            return {}
        checker = _Checker(_NO_SOURCE)
        remaps, _ = checker.keys(value, ())
        _raise_if(checker)
        return remaps

    @model_validator(mode="after")
    def _check_set(self) -> ConfigSet:
        checker = _Checker(_NO_SOURCE)
        checker.config_set(
            [((i,), c.model_dump(mode="python")) for i, c in enumerate(self.annotations)],
            self.keymap(),
        )
        _raise_if(checker)
        return self

    def keymap(self) -> dict[str, tuple[str, ...]]:
        """Every action's keys: the defaults with this file's ``keys:`` remaps applied."""
        return km.resolve_keymap(self.keys)

    def by_name(self, name: str) -> AnnotationConfig | None:
        return next((config for config in self.annotations if config.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """Plain JSON-able mapping that ``parse_config`` reads back to an equal set (stored in the
        database so a session keeps the configs it was annotated with)."""
        doc: dict[str, Any] = {"annotations": [config.to_document() for config in self.annotations]}
        if self.keys:
            doc["keys"] = {action: list(keys) for action, keys in self.keys.items()}
        return doc


# --------------------------------------------------------------------------------------------
# YAML -> plain values with a line table


class _Reader:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.source = _Source()
        self.problems: list[ConfigProblem] = []
        self.constructor = SafeConstructor()

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(ConfigProblem(self.filename, line, message))

    def convert(self, node: yaml.Node, path: _Path, active: set[int]) -> Any:
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        line = node.start_mark.line + 1
        if id(node) in active:
            self.problem(line, "recursive YAML alias: remove it")
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.style is None:
                self.source.plain[path] = node.value
            try:
                value = self.constructor.construct_object(node)
            except yaml.YAMLError as error:
                self.problem(
                    line,
                    f"unsupported YAML value {node.value!r} ({node.tag}): {_yaml_reason(error)}",
                )
                return None
            if isinstance(value, str):
                value = _join_surrogates(value)
                if path in self.source.plain:
                    self.source.plain[path] = value
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
            self.source.key_lines[(*path, key)] = key_line
            result[key] = self.convert(value_node, (*path, key), active)
        return result


# Bounds on what a YAML (or JSON: the same parser) config may expand to. Real configs are a few
# levels deep and hold hundreds of values; an alias bomb ("billion laughs") or thousands of
# nested brackets are refused at the node that crosses the bound, before anything is expanded.
MAX_YAML_DEPTH = 64
MAX_YAML_NODES = 100_000


class _YamlTooBig(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.line = mark.line + 1 if mark is not None else None
        self.message = message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts every node as it would be once aliases are expanded
    (an alias costs the size of what it names) and how deep that reaches; PyYAML's composer
    recurses once per level, so a deep file would otherwise end in RecursionError."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
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


def _join_surrogates(text: str) -> str:
    """JSON writes characters beyond the BMP as escaped surrogate pairs (``"\\ud83d\\ude00"``);
    YAML decodes the halves separately. Join them back into one character."""
    if not any("\ud800" <= char <= "\udfff" for char in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _yaml_reason(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None)
    return str(problem) if problem else str(error).splitlines()[0]


def parse_config(text: str, filename: str = "<config>") -> ConfigSet:
    """Read a config from YAML/JSON text. Raises ConfigError listing every problem."""
    reader = _Reader(filename)
    try:
        root = yaml.compose(text, Loader=_BoundedLoader)
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
        raise ConfigError(
            [
                ConfigProblem(
                    filename, line, f"unreadable character {chr(error.character)!r}: remove it"
                )
            ]
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError([ConfigProblem(filename, None, f"YAML syntax error: {error}")]) from None
    if root is None:
        raise ConfigError(
            [
                ConfigProblem(
                    filename,
                    1,
                    "the file is empty: add an annotations: list (see configs/README.md)",
                )
            ]
        )
    data = reader.convert(root, (), set())
    source = reader.source
    checker = _Checker(source)

    items: list[tuple[_Path, Any]] = []
    keys_raw: Any = None
    if isinstance(data, list):
        items = [((i,), item) for i, item in enumerate(data)]
        if not data:
            checker.err((), "the list is empty: add at least one annotation config")
    elif isinstance(data, dict):
        if "annotations" in data or "data" in data:
            list_field = "annotations" if "annotations" in data else "data"
            allowed = _TOP_FIELDS if list_field == "annotations" else _PHOENIX_LIST_FIELDS
            for field in data:
                if field not in allowed:
                    checker.err((field,), _unknown_field(field, allowed), at_key=True)
            listed = data[list_field]
            list_path = (list_field,)
            if isinstance(listed, dict) and list_field == "data":
                items = [(list_path, listed)]  # GET /v1/annotation_configs/{name}: one config
            elif isinstance(listed, list):
                items = [((*list_path, i), item) for i, item in enumerate(listed)]
                if not listed:
                    checker.err(
                        list_path, f"{list_field} is empty: add at least one annotation config"
                    )
            else:
                checker.err(list_path, f"{list_field} must be a list of annotation configs")
            keys_raw = data.get("keys")
        elif "name" in data or "type" in data:  # one config on its own (a Phoenix create body)
            items = [((), data)]
        else:
            suggested = False
            for field in data:
                if field in _TOP_FIELDS:
                    continue
                message = _unknown_field(field, _TOP_FIELDS)
                suggested |= "did you mean 'annotations'" in message
                checker.err((field,), message, at_key=True)
            if not suggested:
                checker.err((), "no annotations: list: add one (see configs/README.md)")
    else:
        checker.err((), f"expected a mapping with an annotations: list, not {_shown(data)}")

    remaps, _ = checker.keys(keys_raw, ("keys",))
    keymap = km.resolve_keymap(remaps)
    checked: list[tuple[_Path, dict[str, Any]]] = []
    for path, item in items:
        config = checker.config(item, path)
        if config is not None:
            checked.append((path, config))
    checker.config_set(checked, keymap)

    problems = reader.problems + [
        ConfigProblem(filename, source.line(issue.path, issue.at_key), issue.message)
        for issue in checker.issues
    ]
    if problems:
        raise ConfigError(problems)
    # The models validate again; the checks above should leave them nothing to find, but if they
    # do, pydantic's error locations map back to lines the same way.
    annotations: list[AnnotationConfig] = []
    for path, config in checked:
        try:
            annotations.append(AnnotationConfig.model_validate(config))
        except ValidationError as error:
            problems += [
                ConfigProblem(filename, source.line((*path, *detail["loc"])), detail["msg"])
                for detail in error.errors()
            ]
    if problems:
        raise ConfigError(problems)
    try:
        return ConfigSet(annotations=annotations, keys=remaps, source=filename)
    except ValidationError as error:
        raise ConfigError(
            [ConfigProblem(filename, None, detail["msg"]) for detail in error.errors()]
        ) from None


# Characters a JSON encoder leaves raw that YAML 1.1 refuses in a stream (DEL, C1 but NEL,
# U+FFFE/U+FFFF); as \\u escapes they are the same characters to the YAML reader.
_YAML_REFUSES = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")


def parse_config_document(document: dict[str, Any], filename: str) -> ConfigSet:
    """A config document as `ConfigSet.to_document()` wrote it (stored in a database) back to a
    config set. Raises ConfigError as `parse_config` does."""
    import json

    text = json.dumps(document, ensure_ascii=False)
    text = _YAML_REFUSES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return parse_config(text, filename)


def load_config(path: str | Path) -> ConfigSet:
    """Read a config file. Raises ConfigError (also when the file cannot be read)."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            [ConfigProblem(filename, None, "not UTF-8 text: save the config as UTF-8")]
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(
            [ConfigProblem(filename, None, f"cannot read the config: {reason}")]
        ) from None
    return parse_config(text, filename)


# --------------------------------------------------------------------------------------------
# Bundled configs


def _bundled_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent
    return [package / "_bundled" / "configs", package.parent / "configs"]


def bundled_config_path(name: str = "default") -> Path:
    """``configs/<name>.yaml``: from the wheel (``annotator/_bundled/configs``), else from the
    source tree. Raises FileNotFoundError naming the configs that exist."""
    stem = name.removesuffix(".yaml")
    for directory in _bundled_dirs():
        candidate = directory / f"{stem}.yaml"
        if candidate.is_file():
            return candidate
    available = ", ".join(bundled_config_names()) or "none"
    raise FileNotFoundError(f"no bundled config {stem!r} (bundled: {available})")


def bundled_config_names() -> list[str]:
    """Names of the bundled configs (``default``, ``thumbs``, ...)."""
    for directory in _bundled_dirs():
        if directory.is_dir():
            names = sorted(p.stem for p in directory.glob("*.yaml"))
            if names:
                return names
    return []


def keys_table_markdown() -> str:
    """The ``keys:`` action table for configs/README.md, generated from keymap.ACTIONS. Keys are
    shown as one may write them in a config (``[`` rather than ``left_square_bracket``)."""
    rows = ["| action id | what it does | default keys |", "|---|---|---|"]
    for action in km.ACTIONS:
        keys = ", ".join(f"`{_written_key(k)}`" for k in action.default_keys)
        rows.append(f"| `{action.id}` | {action.description} | {keys} |")
    return "\n".join(rows)


def _written_key(key: str) -> str:
    *modifiers, base = key.split("+")
    if base != "space":
        base = km._NAME_CHARACTERS.get(base, base)
    return "+".join([*modifiers, base]).replace("|", "\\|")
