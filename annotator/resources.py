"""Files that ship with annotator: the sample traces and the example configs.

In a wheel they live in `annotator/_bundled/` (see pyproject's force-include); in a source checkout
they are the repository's own `sample_traces/` and `configs/` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """`name` is "sample_traces" or "configs"."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} is missing from this installation")


def sample_trace_files() -> list[Path]:
    return sorted(bundled_dir("sample_traces").glob("*.jsonl"))
