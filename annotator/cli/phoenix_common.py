"""What `pull`, `push` and `dataset --push` share: the --url option, a connection whose every
failure is one line and exit code 2, and the progress display (a Rich bar with a rate and an
ETA on a terminal, plain lines otherwise, both on stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from annotator.cli.common import bad_input_on
from annotator.cli.output import clean, warn

if TYPE_CHECKING:
    from annotator.phoenix.connection import PhoenixClient

F = TypeVar("F", bound=Callable[..., Any])

# push: Phoenix refused some items, or does not have the spans they are about (each listed);
# everything else was sent.
EXIT_NOT_ALL_SENT = 4


def url_option(function: F) -> F:
    return click.option(
        "--url",
        metavar="URL",
        help="Phoenix's address (default: PHOENIX_COLLECTOR_ENDPOINT, PHOENIX_BASE_URL, ... as "
        "Phoenix reads them, else http://localhost:6006). The key comes from PHOENIX_API_KEY, "
        "extra headers from PHOENIX_CLIENT_HEADERS.",
    )(function)


@contextmanager
def phoenix_client(url: str | None) -> Iterator[PhoenixClient]:
    """A connection to Phoenix; any PhoenixError inside becomes one line and exit code 2 (what
    was written before it stays: pull and push continue from there next time)."""
    from annotator.phoenix import PhoenixError, connect

    with bad_input_on(PhoenixError), connect(url) as client:
        yield client


class Progress:
    """The `progress(stage, done, total)` callback of pull and push, shown on stderr: a Rich
    bar (count, rate, ETA) when stderr is a terminal, else one plain line per tenth of a stage
    and at its end (or every few seconds when the total is unknown)."""

    def __init__(self, verb: str, units: dict[str, str], *, terminal: bool | None = None) -> None:
        self._verb = verb
        self._units = units  # stage -> what it counts
        self._terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._printed: dict[str, int] = {}  # stage -> last tenth printed
        self._last_line = 0.0
        self.done: dict[str, int] = {}

    def __enter__(self) -> Progress:
        if self._terminal:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                ProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task: Any) -> Text:
                    unit = task.fields.get("unit", "")
                    speed = task.finished_speed or task.speed
                    if speed is None and task.elapsed and task.completed:
                        speed = task.completed / task.elapsed  # one step: no samples to average
                    if speed is None:
                        return Text(f"- {unit}/s", style="progress.data.speed")
                    return Text(f"{speed:,.0f} {unit}/s", style="progress.data.speed")

            self._bar = RichProgress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                Rate(),
                TimeRemainingColumn(),
                console=Console(stderr=True, highlight=False, markup=False, emoji=False),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.done[stage] = done
        unit = self._units.get(stage, "items")
        if self._bar is not None:
            task = self._tasks.get(stage)
            description = clean(f"{self._verb} {stage}")
            if task is None:
                task = self._bar.add_task(description, total=total, completed=done, unit=unit)
                self._tasks[stage] = task
            else:
                self._bar.update(task, total=total, completed=done)
            return
        self._plain(stage, done, total, unit)

    def _plain(self, stage: str, done: int, total: int | None, unit: str) -> None:
        now = time.monotonic()
        if total:
            tenth = min(10, done * 10 // total)
            if tenth == self._printed.get(stage, -1):
                return
            self._printed[stage] = tenth
            warn(f"{self._verb} {stage}: {done:,} of {total:,} {unit}")
        elif total == 0:
            if stage not in self._printed:
                self._printed[stage] = 0
                warn(f"{self._verb} {stage}: none")
        elif now - self._last_line >= 2.0:
            self._last_line = now
            warn(f"{self._verb} {stage}: {done:,} {unit}")
