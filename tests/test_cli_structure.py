"""The command line's structure: every command is registered in one place (annotator.cli.main),
the command modules share their helpers through annotator.cli.common and never import main, so
nothing depends on which module was imported first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import annotator.cli
from annotator.cli.main import cli

COMMANDS = {
    "annotate", "assign", "config", "dataset", "demo", "export", "import", "merge", "pull", "push",
    "resolve", "stats",
}  # fmt: skip


def test_importing_the_group_registers_every_command() -> None:
    assert set(cli.commands) == COMMANDS
    assert set(cli.commands["config"].commands) == {"check", "show", "store"}


def _fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_no_command_module_imports_the_entry_point() -> None:
    """No cycle main -> command -> main: the commands import their helpers from common."""
    folder = Path(annotator.cli.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*_cmd.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            else:
                continue
            if "annotator.cli.main" in names:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
    assert len(list(folder.glob("*_cmd.py"))) == 11


def test_the_entry_point_alone_has_every_command() -> None:
    out = _fresh("from annotator.cli.main import cli; print(sorted(cli.commands))")
    assert out == str(sorted(COMMANDS))
