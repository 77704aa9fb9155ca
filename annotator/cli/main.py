"""Entry point: the click group, every command registered on it (here, in one place), and the
top-level handling that turns what escapes a command into one line and an exit code.

The commands are registered by name and loaded when used (click's lazy loading of
subcommands): `annotator stats` imports the stats command alone, not every command's modules,
and `annotator --help` only the command modules (each defers its heavy imports to its body)."""

from __future__ import annotations

import importlib
import io
import os
import sys

import click

from annotator.cli.common import EXIT_INTERRUPTED, BadInput, quiet_broken_pipe
from annotator.cli.output import warn

# Every command: its name, and the module and attribute of its click command.
COMMANDS: dict[str, tuple[str, str]] = {
    "annotate": ("annotator.cli.annotate_cmd", "annotate_command"),
    "assign": ("annotator.cli.assign_cmd", "assign_command"),
    "config": ("annotator.cli.config_cmd", "config_group"),
    "dataset": ("annotator.cli.dataset_cmd", "dataset_command"),
    "demo": ("annotator.cli.annotate_cmd", "demo_command"),
    "export": ("annotator.cli.export_cmd", "export_command"),
    "import": ("annotator.cli.import_cmd", "import_command"),
    "merge": ("annotator.cli.merge_cmd", "merge_command"),
    "pull": ("annotator.cli.pull_cmd", "pull_command"),
    "push": ("annotator.cli.push_cmd", "push_command"),
    "resolve": ("annotator.cli.resolve_cmd", "resolve_command"),
    "stats": ("annotator.cli.stats_cmd", "stats_command"),
}


class LazyGroup(click.Group):
    """A group whose commands (`COMMANDS`) are imported the first time they are looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in COMMANDS:
            # No such command: click's "Did you mean ...?" picks from the loaded commands.
            for name in COMMANDS:
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    # What click.version_option prints, with the version looked up only when asked for.
    if not value or ctx.resilient_parsing:
        return
    from annotator import __version__

    click.echo(f"annotator, version {__version__}", color=ctx.color)
    ctx.exit()


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--version",
    "-V",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Annotate LLM traces from the keyboard: spans in, judgements out, all in one SQLite file.

    Start with `annotator demo`, or `annotator annotate TRACES.jsonl`.
    """
    # Run before the command (not for --help or --version, which need no store): a lock
    # waited for is said on stderr, for as long as the command runs.
    from annotator.store import set_lock_notice

    previous = set_lock_notice(lambda message: warn(f"annotator: {message}"))
    ctx.call_on_close(lambda: set_lock_notice(previous))


def main() -> None:
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
