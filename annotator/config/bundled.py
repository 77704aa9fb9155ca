"""The configs that ship with annotator, and the keys table of configs/README.md."""

from __future__ import annotations

from pathlib import Path

from annotator import keymap as km

# The `annotator` package folder: the wheel keeps the configs in `_bundled/configs` under it; a
# source checkout has them in `configs/` beside it.
_PACKAGE = Path(__file__).resolve().parents[1]


def _bundled_dirs() -> list[Path]:
    return [_PACKAGE / "_bundled" / "configs", _PACKAGE.parent / "configs"]


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
        base = km.NAME_CHARACTERS.get(base, base)
    return "+".join([*modifiers, base]).replace("|", "\\|")
