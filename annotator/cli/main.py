"""Entry point: the click group, shared options and the rule that bad input never shows a
traceback (one line on stderr, exit code 2)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from annotator import __version__

DEFAULT_DB = "annotations.db"
EXIT_BAD_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(click.ClickException):
    """Bad files, configs or databases: one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:
        # The message already names the file ("path:line: what is wrong"); nothing to add.
        click.echo(self.format_message(), err=True)


def db_option(function: F) -> F:
    return click.option(
        "--db",
        "db_path",
        default=DEFAULT_DB,
        show_default=True,
        envvar="ANNOTATOR_DB",
        type=click.Path(dir_okay=False),
        help="SQLite file holding spans and annotations (env ANNOTATOR_DB).",
    )(function)


def friendly_errors(function: F) -> F:
    """Turn the errors bad input raises into `BadInput`."""
    from annotator.config import ConfigError
    from annotator.readers import NotATraceFile
    from annotator.store import StoreError

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (StoreError, NotATraceFile) as error:
            raise BadInput(str(error)) from None
        except ConfigError as error:
            raise BadInput(str(error)) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="annotator")
def cli() -> None:
    """Annotate LLM traces from the keyboard: spans in, judgements out, all in one SQLite file.

    Start with `annotator demo`, or `annotator annotate TRACES.jsonl`.
    """


def main() -> None:
    from annotator.cli import commands  # noqa: F401  (registers the commands)

    try:
        cli(prog_name="annotator")
    except KeyboardInterrupt:
        click.echo("annotator: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # a bug, not bad input: still one line unless asked for more
        if os.environ.get("ANNOTATOR_DEBUG"):
            raise
        click.echo(
            f"annotator: internal error: {type(error).__name__}: {error} "
            "(set ANNOTATOR_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)
