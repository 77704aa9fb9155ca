"""Entry point: the click group, shared options and the rule that bad input never shows a
traceback (one line on stderr, exit code 2). Everything printed goes through `cli.output`."""

from __future__ import annotations

import io
import os
import sqlite3
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from annotator import __version__
from annotator.cli.output import warn

DEFAULT_DB = "annotations.db"
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

F = TypeVar("F", bound=Callable[..., Any])


class BadInput(click.ClickException):
    """Bad files, configs or databases: one line, exit code 2."""

    exit_code = EXIT_BAD_INPUT

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
    foreign file, a config, a full disk, a read-only file, a lock held too long."""
    from annotator.config import ConfigError
    from annotator.readers import NotATraceFile
    from annotator.store import StoreError
    from annotator.store import describe_error

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (StoreError, NotATraceFile) as error:
            raise BadInput(str(error)) from None
        except ConfigError as error:
            raise BadInput(str(error)) from None
        except sqlite3.Error as error:
            path = kwargs.get("db_path") or kwargs.get("out_path")
            message = describe_error(error, path)
            if message is None:
                raise
            raise BadInput(message) from None
        except BrokenPipeError:
            # Caught here, before click would turn it into exit code 1.
            _quiet_broken_pipe()

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="annotator")
def cli() -> None:
    """Annotate LLM traces from the keyboard: spans in, judgements out, all in one SQLite file.

    Start with `annotator demo`, or `annotator annotate TRACES.jsonl`.
    """


def main() -> None:
    from annotator.cli import commands  # noqa: F401  (registers the commands)
    from annotator.store import set_lock_notice

    set_lock_notice(lambda message: warn(f"annotator: {message}"))
    try:
        try:
            # Not standalone: click's own messages come back here to go through `warn`.
            result = cli(prog_name="annotator", standalone_mode=False)
        finally:
            if sys.stdout is not None:  # None: started with stdout closed (>&-)
                sys.stdout.flush()  # here, so that a closed pipe is seen below, not at exit
        if isinstance(result, int) and result:  # `ctx.exit(n)`, e.g. a group without command
            sys.exit(result)
    except click.Abort as error:  # click turns Ctrl-C into Abort when not standalone
        if isinstance(error.__cause__, KeyboardInterrupt):
            warn("annotator: interrupted")
            sys.exit(EXIT_INTERRUPTED)
        warn("Aborted.")
        sys.exit(1)
    except BadInput as error:
        error.show()
        sys.exit(error.exit_code)
    except click.ClickException as error:
        # Click's own messages (usage errors) quote what was typed: through `warn` too.
        text = io.StringIO()
        error.show(file=text)
        warn(text.getvalue().rstrip("\n"))
        sys.exit(error.exit_code)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except KeyboardInterrupt:
        warn("annotator: interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:  # a bug, not bad input: still one line unless asked for more
        if os.environ.get("ANNOTATOR_DEBUG"):
            raise
        warn(
            f"annotator: internal error: {type(error).__name__}: {error} "
            "(set ANNOTATOR_DEBUG=1 for the traceback)"
        )
        sys.exit(1)


def _quiet_broken_pipe() -> None:
    """The reader went away (`annotator stats | head -1`): stop quietly with the exit code every
    command uses for it (141, as `cat` does). Python would otherwise complain when it flushes
    stdout at exit."""
    from annotator.output_file import EXIT_READER_GONE, silence_stdout

    silence_stdout()
    sys.exit(EXIT_READER_GONE)
