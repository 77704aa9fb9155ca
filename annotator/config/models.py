"""The config models: Phoenix's fields plus our extensions, validated once, by pydantic.

Every rule is a validator that raises a message naming the field (`errors.problem`). A rule that
reads other fields reads them from ``info.data``, which holds the fields declared before it that
are valid: a field with a problem is left out, so the rules that need it are skipped and the
others still run. Pydantic validates every field of every config, so a file gets all its
problems at once.

Rules across the configs of a set (names unique; value keys free of the app's keys after the
``keys:`` remaps) need the set: `ConfigSet` opens a `Scope` while it validates, and the configs'
validators record their names in it and check their keys against it.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, Self, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from annotator import keymap as km
from annotator.config import rules
from annotator.config.errors import Loc, Problems, Stage, problem
from annotator.model import NOTE_NAME, SpanKind, Target


class AnnotationType(StrEnum):
    CATEGORICAL = "CATEGORICAL"
    CONTINUOUS = "CONTINUOUS"
    FREEFORM = "FREEFORM"


class OptimizationDirection(StrEnum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"
    NONE = "NONE"


# Span kinds a document-target config applies to when it names none: documents live on these.
DOCUMENT_SPAN_KINDS = (SpanKind.RETRIEVER, SpanKind.RERANKER)


# --------------------------------------------------------------------------------------------
# The set being validated


@runtime_checkable
class LineLookup(Protocol):
    """Given as the validation context when the data came from a file: the line of a place in
    the data as the models see it (``("annotations", 2, "name")``, ``("keys", "undo", 0)``)."""

    def line(self, loc: Loc, at_key: bool = False) -> int | None: ...


@dataclass
class Scope:
    """What the rules across one set's configs need, gathered as the set validates: the app's
    keymap after the set's remaps (from the remaps that could be read, so one bad remap does not
    make every value key look taken), and each name with the config that has it first (a config
    with a problem elsewhere still has a name)."""

    lines: LineLookup | None = None
    keymap: dict[str, tuple[str, ...]] = field(default_factory=km.default_keymap)
    names: dict[str, int] = field(default_factory=dict)
    current: int = -1  # index of the config being validated

    def start_config(self) -> None:
        # Called by each config's wrap validator: pydantic validates a list's items in order.
        self.current += 1

    def claim_name(self, name: str) -> None:
        """Raise if an earlier config of the set has ``name``."""
        first = self.names.setdefault(name, self.current)
        if first == self.current:
            return
        line = self.lines.line(("annotations", first, "name")) if self.lines else None
        also = f" (also on line {line})" if line is not None else ""
        raise problem(f"duplicate name {name!r}{also}: names must be unique", Stage.NAMES)


# The scope of the ConfigSet being validated (None: a config validated on its own). A context
# variable rather than pydantic's context so that `ConfigSet(...)` and `model_validate` without
# one get the set's rules too.
_SCOPE: ContextVar[Scope | None] = ContextVar("annotation_config_scope", default=None)


def _kind(info: ValidationInfo) -> AnnotationType | None:
    """The config's type; None when it is missing or unknown (reported), which leaves the rules
    that depend on the type to the rules that do not."""
    kind = info.data.get("type")
    return kind if isinstance(kind, AnnotationType) else None


# --------------------------------------------------------------------------------------------
# Models


class SpanScope(StrEnum):
    """Which spans of a kind a config is offered on (``scope:``, our extension).

    ``outermost``: only a span whose parent (in its trace) is not of the same span kind, so of a
    chain of nested same-kind spans (LlamaIndex's ``LLM.predict`` > ``OpenAI.chat``) only the
    top one is asked. Siblings are each outermost; a span of another kind in between starts a
    new chain; a span shown at the top of its trace (no parent, parent missing, cut from a
    cycle) is outermost. The store's `queue.APPLIES` is the one implementation."""

    ALL = "all"
    OUTERMOST = "outermost"


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
    """One annotation config: Phoenix's fields plus our extensions, defaults filled in.

    Fields are declared after the fields their rules read (``type`` first; the bounds before
    ``step``; ``target`` before ``span_kinds``). Fields whose default depends on others are
    validated when absent too."""

    # revalidate_instances: configs handed to a ConfigSet are checked against the set.
    model_config = ConfigDict(frozen=True, extra="forbid", revalidate_instances="always")

    name: str = Field(None, validate_default=True)
    type: AnnotationType = Field(None, validate_default=True)
    description: str | None = None
    optimization_direction: OptimizationDirection | None = Field(None, validate_default=True)
    values: tuple[CategoricalValue, ...] = Field(None, validate_default=True)  # absent: ()
    lower_bound: float | None = None
    upper_bound: float | None = None
    step: float | None = Field(None, validate_default=True)
    target: Target = Target.SPAN
    span_kinds: tuple[SpanKind, ...] | None = Field(None, validate_default=True)
    auto_advance: bool = False
    scope: SpanScope = SpanScope.ALL

    @model_validator(mode="wrap")
    @classmethod
    def _known_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """A mapping of known fields (Phoenix's ``id`` and ``threshold`` are dropped); unknown
        ones are reported with the problems of the known ones."""
        scope = _SCOPE.get()
        if scope is not None:
            scope.start_config()
        if isinstance(data, AnnotationConfig):
            data = dict(data)
        if not isinstance(data, dict):
            raise problem(
                f"each annotation must be a mapping with a name and a type, not {rules.shown(data)}"
            )
        problems = Problems()
        for name in data:
            if name not in rules.CONFIG_FIELDS and name not in rules.IGNORED_CONFIG_FIELDS:
                message = rules.unknown_field(str(name), rules.CONFIG_FIELDS)
                problems.add((name,), message, Stage.UNKNOWN_FIELD, at_key=True)
        if problems or any(name in data for name in rules.IGNORED_CONFIG_FIELDS):
            data = {name: value for name, value in data.items() if name in rules.CONFIG_FIELDS}
        try:
            config = handler(data)
        except ValidationError as error:
            if not problems:
                raise
            problems.extend(error)
            problems.raise_all(cls.__name__)
        problems.raise_if_any(cls.__name__)
        return config

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if value is None:
            raise problem("missing name: give the annotation a name")
        name = rules.text(value, "name")
        assert name is not None
        if not name.strip():
            raise problem("name is empty: give the annotation a name")
        if name.strip().lower() == NOTE_NAME:
            raise problem(
                f"the name {name!r} is reserved for Phoenix span notes: pick another name"
            )
        scope = _SCOPE.get()
        if scope is not None:
            scope.claim_name(name)
        return name

    @field_validator("type", mode="before")
    @classmethod
    def _type(cls, value: Any) -> AnnotationType | None:
        if value is None:
            raise problem(f"missing type: use {rules.one_of(t.value for t in AnnotationType)}")
        return rules.choice(value, "type", AnnotationType, upper=True)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str | None:
        return rules.text(value, "description")

    @field_validator("optimization_direction", mode="before")
    @classmethod
    def _direction(cls, value: Any, info: ValidationInfo) -> OptimizationDirection | None:
        what = "optimization_direction"
        direction = rules.choice(value, what, OptimizationDirection, upper=True)
        if direction is None and _kind(info) in (
            AnnotationType.CATEGORICAL,
            AnnotationType.CONTINUOUS,
        ):
            return OptimizationDirection.NONE  # Phoenix requires one for these types
        return direction

    @field_validator("values", mode="before")
    @classmethod
    def _values(cls, value: Any, info: ValidationInfo) -> tuple[CategoricalValue, ...]:
        kind = _kind(info)
        problems = Problems()
        if kind not in (None, AnnotationType.CATEGORICAL) and rules.is_present(value):
            assert kind is not None
            message = f"values is only for CATEGORICAL annotations, not {kind.value}: remove it"
            problems.add((), message, Stage.OTHER_TYPE, at_key=True)
        checked: list[rules.CheckedValue] = []
        if isinstance(value, (list, tuple)):  # values of a config validated again
            value = [dict(v) if isinstance(v, CategoricalValue) else v for v in value]
        if kind == AnnotationType.CATEGORICAL:
            if value is None:
                message = "a CATEGORICAL annotation needs values: add a list of {label, score}"
                problems.add((), message, Stage.VALUES)
            else:
                scope = _SCOPE.get()
                keymap = scope.keymap if scope is not None else None
                checked = rules.categorical_values(value, problems, keymap)
        elif kind is None and value is not None:  # type unknown: still check what is there
            rules.categorical_values(value, problems, None)
        problems.raise_if_any("values")
        return tuple(
            # Each part was validated just now: build the values without validating again.
            CategoricalValue.model_construct(label=v.label, score=v.score, key=v.key)
            for v in checked
        )

    @field_validator("lower_bound", "upper_bound", mode="before")
    @classmethod
    def _bound(cls, value: Any, info: ValidationInfo) -> float | None:
        name = info.field_name or "bound"
        kind = _kind(info)
        problems = Problems()
        bound = None
        try:
            bound = rules.number(value, name)
        except PydanticCustomError as error:
            problems.add((), error.message())
        # Phoenix stores (and returns) bounds sent with a FREEFORM config: a config read back
        # from Phoenix must load, so they are accepted there and ignored.
        if kind == AnnotationType.CATEGORICAL and rules.is_present(value):
            message = f"{name} is only for CONTINUOUS annotations, not {kind.value}: remove it"
            problems.add((), message, Stage.OTHER_TYPE, at_key=True)
        problems.raise_if_any(name)
        # With the type unknown the bounds are still checked with the step (below).
        return bound if kind in (None, AnnotationType.CONTINUOUS) else None

    @field_validator("step", mode="before")
    @classmethod
    def _step(cls, value: Any, info: ValidationInfo) -> float | None:
        kind = _kind(info)
        problems = Problems()
        step = None
        try:
            step = rules.number(value, "step")
        except PydanticCustomError as error:
            problems.add((), error.message())
        if kind not in (None, AnnotationType.CONTINUOUS) and rules.is_present(value):
            assert kind is not None
            message = f"step is only for CONTINUOUS annotations, not {kind.value}: remove it"
            problems.add((), message, Stage.OTHER_TYPE, at_key=True)
        checked = None
        if kind in (None, AnnotationType.CONTINUOUS):
            lower, upper = info.data.get("lower_bound"), info.data.get("upper_bound")
            checked = rules.continuous_step(value, step, lower, upper, problems)
        problems.raise_if_any("step")
        return checked if kind == AnnotationType.CONTINUOUS else None

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Target | None:
        if value is None:
            return Target.SPAN
        return rules.choice(value, "target", Target, upper=False)

    @field_validator("span_kinds", mode="before")
    @classmethod
    def _span_kinds(cls, value: Any, info: ValidationInfo) -> tuple[SpanKind, ...] | None:
        problems = Problems()
        kinds = rules.span_kinds(value, problems)
        problems.raise_if_any("span_kinds")
        if kinds is None and info.data.get("target") == Target.DOCUMENT:
            return DOCUMENT_SPAN_KINDS
        return kinds

    @field_validator("auto_advance", mode="before")
    @classmethod
    def _auto_advance(cls, value: Any, info: ValidationInfo) -> bool:
        kind = _kind(info)
        advance = rules.boolean(value, "auto_advance")
        if advance and kind not in (None, AnnotationType.CATEGORICAL):
            assert kind is not None
            raise problem(
                f"auto_advance is only for CATEGORICAL annotations, not {kind.value}: remove it",
                Stage.AUTO_ADVANCE,
                at_key=True,
            )
        return bool(advance)

    @field_validator("scope", mode="before")
    @classmethod
    def _scope(cls, value: Any) -> SpanScope:
        if value is None:
            return SpanScope.ALL
        return rules.choice(value, "scope", SpanScope, upper=False) or SpanScope.ALL

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
                return rules.clean(self.clamp(current), step)
        return rules.clean(self.clamp(origin + k * step), step)

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
            for name in ("lower_bound", "upper_bound", "step"):
                if getattr(self, name) is not None:
                    doc[name] = getattr(self, name)
        doc["target"] = self.target.value
        if self.span_kinds is not None:
            doc["span_kinds"] = [kind.value for kind in self.span_kinds]
        if self.scope != SpanScope.ALL:  # absent when default: stored documents stay as they were
            doc["scope"] = self.scope.value
        return doc


class ConfigSet(BaseModel):
    """A loaded config file: the annotations, the ``keys:`` remaps, and where it came from.

    ``keys`` is declared first: the configs' value keys are checked against the keymap it
    makes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    guidelines: str | None = None  # Markdown for the annotators (`g` in the app); ours only
    annotations: list[AnnotationConfig]
    source: str = "<config>"

    @model_validator(mode="wrap")
    @classmethod
    def _in_a_scope(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo
    ) -> Self:
        lines = info.context if isinstance(info.context, LineLookup) else None
        token = _SCOPE.set(Scope(lines))
        try:
            return handler(data)
        finally:
            _SCOPE.reset(token)

    @field_validator("keys", mode="before")
    @classmethod
    def _keys(cls, value: Any, info: ValidationInfo) -> dict[str, tuple[str, ...]]:
        lines = info.context if isinstance(info.context, LineLookup) else None
        problems = Problems()
        remaps = rules.key_remaps(
            value, problems, (lambda loc: lines.line(("keys", *loc))) if lines else None
        )
        scope = _SCOPE.get()
        if scope is not None:
            scope.keymap = km.resolve_keymap(remaps)
        problems.raise_if_any("keys")
        return remaps

    @field_validator("guidelines", mode="before")
    @classmethod
    def _guidelines(cls, value: Any) -> str | None:
        return rules.guidelines(value)

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
        if self.guidelines is not None:
            doc["guidelines"] = self.guidelines
        return doc
