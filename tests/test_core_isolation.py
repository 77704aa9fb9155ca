"""The core (model, readers, config, store, importer, team) must work without Textual: it is
what scripts, the CLI and other tools import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = [
    "annotator.model",
    "annotator.timeutil",
    "annotator.attributes",
    "annotator.semconv",
    "annotator.text",
    "annotator.keymap",
    "annotator.readers",
    "annotator.config",
    "annotator.store",
    "annotator.importer",
    "annotator.resources",
    "annotator.team.agreement",
    "annotator.team.stats",
    "annotator.team.dataset",
    "annotator.query",
    "annotator.phoenix",
    "annotator.phoenix.connection",
    "annotator.phoenix.pulling",
    "annotator.phoenix.otlp",
    "annotator.phoenix.local_server",
]


def test_core_never_imports_textual() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        + "print(loaded)\n"
        + "raise SystemExit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stdout + result.stderr
