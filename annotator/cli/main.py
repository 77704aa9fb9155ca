"""Entry point: the click group, every command registered on it (here, in one place), and the
top-level handling that turns what escapes a command into one line and an exit code."""

from __future__ import annotations

import io
import os
import sys

import click

from annotator import __version__
from annotator.cli.annotate_cmd import annotate_command, demo_command
from annotator.cli.assign_cmd import assign_command
from annotator.cli.common import EXIT_INTERRUPTED, BadInput, quiet_broken_pipe
from annotator.cli.config_cmd import config_group
from annotator.cli.dataset_cmd import dataset_command
from annotator.cli.export_cmd import export_command
from annotator.cli.import_cmd import import_command
from annotator.cli.merge_cmd import merge_command
from annotator.cli.output import warn
from annotator.cli.pull_cmd import pull_command
from annotator.cli.push_cmd import push_command
from annotator.cli.resolve_cmd import resolve_command
from annotator.cli.stats_cmd import stats_command


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="annotator")
def cli() -> None:
    """Annotate LLM traces from the keyboard: spans in, judgements out, all in one SQLite file.

    Start with `annotator demo`, or `annotator annotate TRACES.jsonl`.
    """


for command in (
    annotate_command,
    assign_command,
    config_group,
    dataset_command,
    demo_command,
    export_command,
    import_command,
    merge_command,
    pull_command,
    push_command,
    resolve_command,
    stats_command,
):
    cli.add_command(command)


def main() -> None:
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
        quiet_broken_pipe()
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
