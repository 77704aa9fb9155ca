"""The command line's structure: every command is registered in one place (annotator.cli.main),
the command modules share their helpers through annotator.cli.common and never import main, so
nothing depends on which module was imported first. A command is imported when it is used:
`annotator stats` loads no other command, `annotator --help` none of the core's heavy modules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import click

import annotator.cli
from annotator.cli.main import COMMANDS as REGISTRY
from annotator.cli.main import cli

COMMANDS = {
    "annotate", "assign", "config", "dataset", "demo", "export", "import", "merge", "pull", "push",
    "resolve", "stats",
}  # fmt: skip


def test_the_group_registers_every_command_by_its_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
    config = cli.get_command(ctx, "config")
    assert isinstance(config, click.Group)
    assert set(config.commands) == {"check", "show", "store"}
    assert cli.get_command(ctx, "nosuch") is None


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


_LOADED_BY_HELP = textwrap.dedent(
    """
    import json, sys
    import click
    from annotator.cli.main import cli

    def loaded():
        return sorted(m for m in sys.modules if m.split(".")[0] in ("annotator", "pydantic",
                      "yaml", "rich", "textual", "orjson", "sqlite_utils"))

    before = loaded()
    cli.get_command(click.Context(cli), "merge")
    one = sorted(set(loaded()) - set(before))
    try:
        cli.main(["--help"], prog_name="annotator", standalone_mode=False)
    except SystemExit:
        pass
    after_help = loaded()
    from annotator.cli.common import friendly_errors

    @friendly_errors
    def failing():
        raise ValueError("a bug, not bad input")

    try:
        failing()
    except ValueError:
        pass
    after_error = loaded()
    import annotator.annotations_io, annotator.importer  # what `annotator import` runs
    after_import = loaded()
    from annotator.cli.filter_options import selection_from
    selection_from(None, None, None)  # what export, dataset and stats run without a filter
    print(json.dumps({"before": before, "one": one, "help": after_help, "error": after_error,
                      "commands": sorted(cli.commands), "import": after_import,
                      "unfiltered": loaded()}))
    """
)


def test_a_command_is_imported_when_used_and_help_needs_no_core_module() -> None:
    """In a fresh process: the entry point alone loads no command, looking one up loads its
    module alone, and `annotator --help` (which lists every command) loads the command modules
    and the text sanitiser, none of the core's heavy modules (configs, store, pydantic), nor does
    an error going through friendly_errors; the import's modules load neither the query engine
    nor the configs."""
    found = json.loads(_fresh(_LOADED_BY_HELP).splitlines()[-1])
    shared = ["annotator", "annotator.cli", "annotator.cli.common", "annotator.cli.main"]
    assert found["before"] == [*shared, "annotator.cli.output", "annotator.text"]
    assert found["one"] == ["annotator.cli.merge_cmd"]
    helpers = ["configs", "filter_options", "output", "phoenix_common"]
    modules = {f"annotator.cli.{name}" for name in helpers} | {
        module for module, _ in REGISTRY.values()
    }
    assert found["help"] == sorted({*shared, *modules, "annotator.text"})
    # friendly_errors looks at an error without importing what could not have raised it
    assert found["error"] == found["help"]
    assert found["commands"] == sorted(COMMANDS)
    # `annotator import` reads files into the store: no query engine, no configs
    assert not [m for m in found["import"] if m.startswith(("annotator.query", "annotator.config"))]
    # a command run without --where / --trace-where / --search loads the filters' objects, not
    # the parser, the compiler and SQLite's check of the filter (query/filters.py)
    engine = [f"annotator.query.{name}" for name in ("parse", "ir", "compile", "limits", "fields")]
    assert "annotator.query.selection" in found["unfiltered"]
    assert [m for m in engine if m in found["unfiltered"]] == []
