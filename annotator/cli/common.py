"""What every command shares: the --db option, the rule that bad input never shows a traceback
(`BadInput`: one line on stderr, exit code 2; `friendly_errors` turns the errors of bad files
and environments into it) and the exit codes. Everything printed goes through `cli.output`."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from annotator.cli.output import warn
from annotator.text import sanitize

DEFAULT_DB = "annotations.db"
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(click.ClickException):
    """Bad files, configs or databases: one line, exit code 2. The message is sanitised here,
    once (it may quote a file, a database or the command line)."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(sanitize(message))

    def show(self, file: Any = None) -> None:
        # The message already names the file ("path:line: what is wrong"); nothing to add.
        warn(self.format_message())


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
    """Turn the errors bad input and bad environments raise into `BadInput`: a damaged or
    foreign file, a config, an output that must not or cannot be written, a full disk, a
    read-only file, a lock held too long. A reader of stdout that went away ends the command
    quietly (`quiet_broken_pipe`). The core's error types are imported when an error is
    caught, not when a command is defined (`annotator --help` needs none of their modules)."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # the command's own way out (BadInput among them): nothing to import
        except Exception as error:
            message = _friendly_message(error, kwargs)
            if message is None:
                raise
            raise BadInput(message) from None

    return wrapper  # type: ignore[return-value]


# The core's errors that are bad input, by the package that raises them: an error of a package
# never imported cannot have been raised, so only the loaded ones are looked at (a command's
# error path imports no configs, pydantic and the rest that it never used).
_BAD_INPUT_ERRORS = (
    ("annotator.store", "StoreError"),
    ("annotator.readers", "NotATraceFile"),
    ("annotator.config", "ConfigError"),
    ("annotator.output_file", "OutputError"),
)


def _loaded(module: str, name: str) -> type[Exception] | None:
    found = sys.modules.get(module)
    return getattr(found, name, None) if found is not None else None


def _friendly_message(error: Exception, kwargs: dict[str, Any]) -> str | None:
    """The one line `error` is shown as, if it is bad input (None: it is not). A reader of
    stdout that went away ends the command here, quietly."""
    bad_input = tuple(
        found for module, name in _BAD_INPUT_ERRORS if (found := _loaded(module, name))
    )
    if isinstance(error, bad_input):
        return str(error)
    if isinstance(error, sqlite3.Error):
        from annotator.store import describe_error

        path = kwargs.get("db_path") or kwargs.get("out_path")
        return describe_error(error, path)
    reader_gone = _loaded("annotator.output_file", "ReaderGone")
    if isinstance(error, BrokenPipeError) or (reader_gone and isinstance(error, reader_gone)):
        # Caught here, before click would turn it into exit code 1.
        quiet_broken_pipe()
    return None


@contextmanager
def bad_input_on(*errors: type[Exception]) -> Iterator[None]:
    """Inside: an error of these types (the core's way of refusing an argument or a file)
    becomes `BadInput`, its message the one line shown."""
    try:
        yield
    except errors as error:
        raise BadInput(str(error)) from None


def quiet_broken_pipe() -> None:
    """The reader went away (`annotator stats | head -1`, `annotator export | head`): stop
    quietly with the exit code every command uses for it (141, as `cat` does). Python would
    otherwise complain when it flushes stdout at exit."""
    from annotator.output_file import EXIT_READER_GONE, silence_stdout

    silence_stdout()
    sys.exit(EXIT_READER_GONE)
