"""The README is part of the interface: its keys table, commands and quickstart must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from annotator.cli.main import cli
from annotator.config import keys_table_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_keys_table_is_generated_from_the_keymap() -> None:
    table = README.split("<!-- keys-table:start -->")[1].split("<!-- keys-table:end -->")[0]
    assert table.strip() == keys_table_markdown().strip()


def test_every_command_is_documented() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    commands = re.findall(r"^  (\w[\w-]*)\s", result.output.split("Commands:")[1], re.MULTILINE)
    assert commands
    for command in commands:
        assert f"`annotator {command}" in README, command


def test_quickstart_has_the_two_commands_ci_runs() -> None:
    for marker in ("<!-- quickstart:run -->", "<!-- quickstart:test -->"):
        block = README.split(marker)[1].split("```")[1]
        assert block.startswith("bash\n") and "python3 -m venv .venv" in block
