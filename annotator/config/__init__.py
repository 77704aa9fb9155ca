"""Annotation configs: what a person can record on a span, read from YAML (or JSON).

Field names and meanings are Phoenix's (``POST /v1/annotation_configs``), so a Phoenix config — a
create body, a ``GET /v1/annotation_configs`` response, or a list of configs — loads unchanged. Our
extensions (``step``, per-value ``key``, ``target``, ``span_kinds``, ``auto_advance``, ``scope``, a
top-level ``keys:`` action remap and ``guidelines:``) are optional; see ``configs/README.md``.

Validation reports every problem at once, each as ``file:line: message``. The parts:

- `source`: the YAML as plain values with the line of every node (bounded: alias bombs, depth);
- `models`: the pydantic models, whose validators are the rules (run once, all of them);
- `rules`: the rules that read better as plain functions, and every message's wording;
- `errors`: `ConfigError` and the problems; `loading`: text -> models, error locations -> lines;
- `bundled`: the configs that ship with annotator.

This package is core: it must never import Textual.
"""

from __future__ import annotations

from annotator.config.bundled import bundled_config_names, bundled_config_path, keys_table_markdown
from annotator.config.errors import ConfigError, ConfigProblem
from annotator.config.loading import load_config, parse_config, parse_config_document
from annotator.config.models import (
    DOCUMENT_SPAN_KINDS,
    AnnotationConfig,
    AnnotationType,
    CategoricalValue,
    ConfigSet,
    OptimizationDirection,
    SpanScope,
)
from annotator.config.phoenix_compat import check_config, phoenix_warnings
from annotator.config.rules import DEFAULT_VALUE_KEYS
from annotator.config.source import MAX_YAML_DEPTH, MAX_YAML_NODES

__all__ = [
    "DEFAULT_VALUE_KEYS",
    "DOCUMENT_SPAN_KINDS",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "AnnotationConfig",
    "AnnotationType",
    "CategoricalValue",
    "ConfigError",
    "ConfigProblem",
    "ConfigSet",
    "OptimizationDirection",
    "SpanScope",
    "bundled_config_names",
    "bundled_config_path",
    "check_config",
    "keys_table_markdown",
    "load_config",
    "parse_config",
    "parse_config_document",
    "phoenix_warnings",
]
