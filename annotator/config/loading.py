"""Reading a config: YAML text -> `ConfigSet`, or `ConfigError` with every problem as
`file:line: message`.

The document is read to plain values with a line table (`source`), the configs are found in it
(`rules.document_shape`), and the models validate them once; each pydantic error's location is
mapped back to the line of the YAML node it names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from annotator.config import rules
from annotator.config.errors import ConfigError, ConfigProblem, Loc, Stage
from annotator.config.models import ConfigSet
from annotator.config.source import Document, Lines, read_document
from annotator.config.source import Path as DataPath

# Where a problem of one config sits among the others on its line (see `Stage`): a field's own
# value in the order the fields are documented, the target before the values and bounds.
_FIELD_ORDER = (
    "name", "type", "description", "optimization_direction", "target", "span_kinds",
    "auto_advance", "scope", "values", "lower_bound", "upper_bound", "step",
)  # fmt: skip


class Locator:
    """Model locations -> document paths -> lines. The models see ``keys`` and a list of
    ``annotations``; the document holds them under ``annotations:``, ``data:``, as a bare list
    or as one config on its own."""

    def __init__(self, lines: Lines, config_paths: list[DataPath]) -> None:
        self.lines = lines
        self.config_paths = config_paths

    def path(self, loc: Loc) -> DataPath:
        if loc[:1] == ("annotations",) and len(loc) > 1 and isinstance(loc[1], int):
            return (*self.config_paths[loc[1]], *loc[2:])
        return loc

    def line(self, loc: Loc, at_key: bool = False) -> int | None:
        return self.lines.line(self.path(loc), at_key)

    def problems(self, error: ValidationError, filename: str) -> list[ConfigProblem]:
        """Every error as a problem at its line, in the order problems on one line are listed."""
        found: list[tuple[tuple[int, ...], int, ConfigProblem]] = []
        for emitted, detail in enumerate(error.errors(include_url=False)):
            context = detail.get("ctx") or {}
            loc: Loc = tuple(detail["loc"])
            if "field" in context:  # about a sibling of the field whose validator found it
                loc = (*loc[:-1], context["field"])
            stage = Stage(context.get("stage", Stage.FIELD))
            line = self.line(loc, bool(context.get("at_key")))
            found.append((_rank(loc, stage), emitted, ConfigProblem(filename, line, detail["msg"])))
        found.sort(key=lambda item: item[:2])
        return [problem for *_, problem in found]


def _rank(loc: Loc, stage: Stage) -> tuple[int, ...]:
    """The keys: map first; then each config (by stage, then field); then, after every config,
    duplicate names and value keys the app uses."""
    if loc[:1] != ("annotations",) or len(loc) < 2 or not isinstance(loc[1], int):
        return (0,)
    index = loc[1]
    if stage == Stage.NAMES:
        return (2, index)
    if stage == Stage.APP_KEYS:
        return (3, index)
    name = loc[2] if len(loc) > 2 else None
    field = _FIELD_ORDER.index(name) if name in _FIELD_ORDER else -1
    return (1, index, stage, field)


@dataclass(frozen=True, slots=True)
class ReadConfig:
    """A config read and validated, with the document it came from: its values and their
    lines, and each config's path and item in it (in file order, as `configs.annotations`)."""

    configs: ConfigSet
    document: Document
    items: list[tuple[DataPath, Any]]


def parse_config(text: str, filename: str = "<config>") -> ConfigSet:
    """Read a config from YAML/JSON text. Raises ConfigError listing every problem."""
    return read_config(text, filename).configs


def read_config(text: str, filename: str) -> ReadConfig:
    """`parse_config`, keeping the document (for what is said about the file as written, such
    as Phoenix's warnings). Raises ConfigError listing every problem."""
    document = read_document(text, filename)
    shape = rules.document_shape(document.data)
    problems = list(document.problems)
    problems += [
        ConfigProblem(filename, document.lines.line(path, at_key), message)
        for path, message, at_key in shape.issues
    ]
    locator = Locator(document.lines, [path for path, _ in shape.items])
    data = {
        "keys": shape.keys,
        "guidelines": shape.guidelines,
        "annotations": [item for _, item in shape.items],
        "source": filename,
    }
    try:
        configs = ConfigSet.model_validate(data, context=locator)
    except ValidationError as error:
        problems += locator.problems(error, filename)
    if problems:
        raise ConfigError(problems)
    return ReadConfig(configs, document, shape.items)


# Characters a JSON encoder leaves raw that YAML 1.1 refuses in a stream (DEL, C1 but NEL,
# U+FFFE/U+FFFF); as \\u escapes they are the same characters to the YAML reader.
_YAML_REFUSES = re.compile("[\x7f-\x84\x86-\x9f\ufffe\uffff]")


def parse_config_document(document: dict[str, Any], filename: str) -> ConfigSet:
    """A config document as `ConfigSet.to_document()` wrote it (stored in a database) back to a
    config set. Raises ConfigError as `parse_config` does."""
    text = json.dumps(document, ensure_ascii=False)
    text = _YAML_REFUSES.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return parse_config(text, filename)


def load_config(path: str | Path) -> ConfigSet:
    """Read a config file. Raises ConfigError (also when the file cannot be read)."""
    return parse_config(config_text(path), str(path))


def config_text(path: str | Path) -> str:
    """A config file's text. Raises ConfigError when it cannot be read or is not UTF-8."""
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            [ConfigProblem(filename, None, "not UTF-8 text: save the config as UTF-8")]
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        message = f"cannot read the config: {reason}"
        raise ConfigError([ConfigProblem(filename, None, message)]) from None
    return text
