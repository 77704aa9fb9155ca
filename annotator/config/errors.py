"""Config problems: the `file:line: message` records a user sees, and the pydantic errors the
models raise for them.

A rule raises a pydantic error whose context says where the problem is (the field's value, or the
field's name for "remove it" problems) and which check found it (`Stage`). Validation gathers
every error (pydantic reports all fields, all configs); `loading` turns each into a record with
the YAML line of the node it names.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any, NoReturn

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from annotator.model import Problem

# One thing wrong with a config file: the same `file:line: message` record the readers report.
ConfigProblem = Problem

# The pydantic error type of every config problem; the message is in the context.
ERROR_TYPE = "annotation_config"

Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` lists every problem found, in line order."""

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems: list[ConfigProblem] = sorted(
            problems, key=lambda p: (p.line is not None, p.line or 0)
        )
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class Stage(IntEnum):
    """Which check found a problem. Problems on one line are listed in this order (a config
    written on one line, or JSON, puts them all there): for each config, what is unknown, each
    field's own value, fields that belong to another type, then values and the range; after
    every config, the names and the value keys checked across the set."""

    UNKNOWN_FIELD = 0
    FIELD = 1  # a field's own value (and everything in the keys: map)
    OTHER_TYPE = 2  # values, bounds or step on a type they are not for
    AUTO_ADVANCE = 3  # auto_advance on a type it is not for
    VALUES = 4  # a categorical config's values
    RANGE = 5  # bounds and step together
    NAMES = 6  # a name another config of the set has
    APP_KEYS = 7  # a value key the app (or a keys: remap) uses


def problem(
    message: str, stage: Stage = Stage.FIELD, *, at_key: bool = False, field: str | None = None
) -> PydanticCustomError:
    """The error for one problem. ``at_key``: point at the field's name rather than its value;
    ``field``: the problem is about this sibling of the field being validated (a rule that reads
    several fields runs in the last one's validator)."""
    # The message goes last: pydantic fills `{key}` placeholders key by key, so text from the
    # file (which may hold "{stage}") is never formatted.
    context: dict[str, Any] = {"stage": stage, "at_key": at_key}
    if field is not None:
        context["field"] = field
    context["message"] = message
    return PydanticCustomError(ERROR_TYPE, "{message}", context)


class Problems:
    """Problems gathered by a rule that finds several at once (a list of values, the keys: map),
    raised together as one ValidationError; ``loc`` is relative to what the rule validates."""

    def __init__(self) -> None:
        self.errors: list[InitErrorDetails] = []

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(
        self,
        loc: Loc,
        message: str,
        stage: Stage = Stage.FIELD,
        *,
        at_key: bool = False,
        field: str | None = None,
    ) -> None:
        error = problem(message, stage, at_key=at_key, field=field)
        self.errors.append(InitErrorDetails(type=error, loc=loc, input=None))

    def extend(self, error: ValidationError, prefix: Loc = ()) -> None:
        """Another validation's errors, at ``prefix`` + their own location."""
        for detail in error.errors(include_url=False):
            context = detail.get("ctx") or {}
            if detail["type"] == ERROR_TYPE:
                again = PydanticCustomError(ERROR_TYPE, "{message}", context)
            else:  # pydantic's own (a type the rules let through): keep its message
                again = problem(detail["msg"])
            self.errors.append(
                InitErrorDetails(type=again, loc=(*prefix, *detail["loc"]), input=detail["input"])
            )

    def raise_if_any(self, title: str) -> None:
        if self.errors:
            raise ValidationError.from_exception_data(title, self.errors)

    def raise_all(self, title: str) -> NoReturn:
        raise ValidationError.from_exception_data(title, self.errors)
