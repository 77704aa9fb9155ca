"""`annotator config ...`: check and show annotation configs."""

from __future__ import annotations

from pathlib import Path

import click

from annotator.cli.common import friendly_errors
from annotator.cli.output import say, warn


@click.group("config")
def config_group() -> None:
    """Annotation configs (YAML, Phoenix field names)."""


@config_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@friendly_errors
def check_command(file: str) -> None:
    """Validate a config FILE: every problem as FILE:LINE: message, exit code 2 if any.

    A valid config that Phoenix would refuse as written (a lower-case type, bare-label values,
    no optimization_direction) gets a FILE:LINE: warning (Phoenix) line for each, saying what
    `annotator push` sends instead; the exit code stays 0."""
    from annotator.cli.annotate_cmd import load_config_file
    from annotator.config import phoenix_warnings
    from annotator.keymap import display_key

    config_set = load_config_file(file)
    say(f"{file}: ok, {len(config_set.annotations)} annotation configs")
    for warning in phoenix_warnings(Path(file).read_text(encoding="utf-8"), file, config_set):
        warn(str(warning))
    for config in config_set.annotations:
        detail = ""
        if config.values:
            detail = "  " + "  ".join(
                f"{display_key(value.key)}={value.label}" for value in config.values
            )
        elif str(config.type) == "CONTINUOUS":
            detail = f"  {config.lower_bound}..{config.upper_bound} step {config.step}"
        say(f"  {config.name} ({config.type}, {config.target}){detail}")
