"""What Phoenix would refuse in a config that is valid here, and what `push` sends instead.

Phoenix's ``POST /v1/annotation_configs`` (its OpenAPI schema, checked against a live server in
tests/phoenix) takes ``type`` only as upper-case ``CATEGORICAL`` / ``CONTINUOUS`` / ``FREEFORM``,
categorical ``values`` only as ``{label, score}`` mappings, and needs an
``optimization_direction`` (``MINIMIZE`` / ``MAXIMIZE`` / ``NONE``, upper case) on categorical and
continuous configs. This app reads the friendlier spellings (a config file is written by hand),
and `push` sends ``AnnotationConfig.phoenix_body()``; these warnings say so where the file is
written, so that nobody copies the file into a Phoenix request and is surprised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from annotator.config.errors import ConfigProblem
from annotator.config.loading import ReadConfig, config_text, read_config
from annotator.config.models import AnnotationConfig, AnnotationType, ConfigSet
from annotator.config.rules import document_shape
from annotator.config.source import read_document, unwrap

# How many values a warning shows of what push sends (a config may have hundreds).
SHOWN_VALUES = 3

_NEEDS_DIRECTION = (AnnotationType.CATEGORICAL, AnnotationType.CONTINUOUS)


def check_config(path: str | Path) -> tuple[ConfigSet, list[ConfigProblem]]:
    """A config file read and validated once (ConfigError listing every problem), with its
    `file:line: warning (Phoenix): ...` problems."""
    filename = str(path)
    read = read_config(config_text(path), filename)
    return read.configs, _warnings(read, filename)


def phoenix_warnings(text: str, filename: str, configs: ConfigSet) -> list[ConfigProblem]:
    """One `file:line: warning (Phoenix): ...` problem per spelling Phoenix would refuse.
    `text` must be the text `configs` was validated from (its configs, in file order)."""
    document = read_document(text, filename)
    return _warnings(ReadConfig(configs, document, document_shape(document.data).items), filename)


def _warnings(read: ReadConfig, filename: str) -> list[ConfigProblem]:
    warnings: list[ConfigProblem] = []
    for (path, item), config in zip(read.items, read.configs.annotations, strict=True):
        if not isinstance(item, dict):
            continue
        for field, message in _item_warnings(item, config):
            line = read.document.lines.line((*path, field) if field else path, at_key=bool(field))
            warnings.append(ConfigProblem(filename, line, f"warning (Phoenix): {message}"))
    return sorted(warnings, key=lambda w: w.line or 0)


def _item_warnings(item: dict[str, Any], config: AnnotationConfig) -> list[tuple[str, str]]:
    """(field, message) for one config as written; field '' is the config itself."""
    found: list[tuple[str, str]] = []
    name = config.name
    body = config.phoenix_body()
    written_type = unwrap(item.get("type"))
    if isinstance(written_type, str) and written_type != config.type.value:
        found.append(
            (
                "type",
                f"config {name!r}: type {written_type!r} is read here, but Phoenix accepts only "
                f"{config.type.value!r}; push sends {config.type.value!r}",
            )
        )
    values = item.get("values")
    if config.type == AnnotationType.CATEGORICAL and isinstance(values, list):
        bare = sum(1 for value in values if not isinstance(value, dict))
        if bare:
            sent = body["values"]
            shown = orjson.dumps(sent[:SHOWN_VALUES]).decode()
            if len(sent) > SHOWN_VALUES:
                shown = f"{shown[:-1]}, ... ({len(sent)} values)]"
            found.append(
                (
                    "values",
                    f"config {name!r}: {bare} of its values are bare labels, which Phoenix does "
                    f"not accept (it wants {{label, score}} mappings); push sends {shown}",
                )
            )
    written_direction = unwrap(item.get("optimization_direction"))
    if written_direction is None and config.type in _NEEDS_DIRECTION:
        found.append(
            (
                "",
                f"config {name!r}: no optimization_direction, which Phoenix requires on "
                f"{config.type.value} configs; push sends 'NONE' (say MAXIMIZE or MINIMIZE if a "
                "higher or lower score is better)",
            )
        )
    elif isinstance(written_direction, str) and config.optimization_direction is not None:
        wanted = config.optimization_direction.value
        if written_direction != wanted:
            found.append(
                (
                    "optimization_direction",
                    f"config {name!r}: optimization_direction {written_direction!r} is read "
                    f"here, but Phoenix accepts only {wanted!r}; push sends {wanted!r}",
                )
            )
    return found


__all__ = ["SHOWN_VALUES", "check_config", "phoenix_warnings"]
