"""The one way the command line writes to the terminal.

Every line a command prints can carry data from a file: span ids, annotation names, labels,
identifiers, file names, config fields. A hostile trace can put terminal escape sequences in any
of them (an OSC 52 sequence rewrites the clipboard, others the window title or the screen) and
bidi controls that reorder what is read. So nothing reaches stdout or stderr except through
here, where it goes through the sanitiser the app uses (`annotator.text.sanitize`: controls,
C1, bidi and invisible format characters become visible escapes such as ``\\x1b``):

* `say` (stdout) and `warn` (stderr) for lines of text;
* `say_json` for JSON, with every such character written as a ``\\uXXXX`` escape (the same
  string to a JSON reader, harmless on a terminal); `data_stdout` for the files `export` and
  `dataset` write to stdout (JSON escaped the same way; CSV sanitised only on a terminal, since
  CSV has no escapes and a pipe must get the exact data);
* `show` / `SafeConsole` for Rich renderables (the stats tables): each piece of text is
  sanitised after layout, while Rich's own styling codes still reach a terminal.
"""

from __future__ import annotations

import io
import sys
from typing import IO, Any

import click

from annotator.text import escape_json_text, sanitize


def clean(text: object) -> str:
    """`text` as it may be shown: every unsafe character as a visible escape."""
    return sanitize(str(text))


def say(text: object = "") -> None:
    """A line (or lines) of text on stdout."""
    click.echo(clean(text))


def warn(text: object) -> None:
    """A line (or lines) on stderr: problems, progress, notes."""
    click.echo(clean(text), err=True)


def say_json(value: Any) -> None:
    """`value` as indented JSON on stdout."""
    import orjson

    text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    click.echo(escape_json_text(text))


class _SafeData(io.RawIOBase):
    """stdout for data written as UTF-8 bytes in whole rows (each write holds whole
    characters), with every unsafe character escaped the way the format allows."""

    def __init__(self, json: bool) -> None:
        self._out = sys.stdout.buffer
        self._escape = escape_json_text if json else sanitize

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        raw = bytes(data)
        self._out.write(
            self._escape(raw.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        )
        return len(raw)

    def flush(self) -> None:
        self._out.flush()


def data_stdout(*, json: bool) -> IO[bytes]:
    """Where a command writes its data when the output is stdout: JSON always escaped (lossless),
    CSV sanitised when stdout is a terminal (where it is read, not parsed), else exact."""
    sys.stdout.flush()
    if json or sys.stdout.isatty():
        return _SafeData(json)  # type: ignore[return-value]
    return sys.stdout.buffer


def rich_console() -> Any:
    """A Rich console: no markup, emoji or highlighting of data; 100 columns when the output is
    not a terminal (files and pipes get a stable layout)."""
    import os

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit with 1; every command exits with 141 when its reader goes away.
            from annotator.output_file import EXIT_READER_GONE, silence_stdout

            self.quiet = True
            silence_stdout()
            raise SystemExit(EXIT_READER_GONE)

    terminal = _Console(highlight=False, emoji=False, markup=False)
    if not terminal.is_terminal and "COLUMNS" not in os.environ:
        return _Console(highlight=False, emoji=False, markup=False, width=100)
    return terminal


def show(renderable: Any, console: Any) -> None:
    """Print a Rich renderable with every piece of text sanitised after layout. Cells are
    expected to hold sanitised text already (so that the layout is right); this is what makes
    sure nothing unsanitised reaches the terminal when one does not."""
    from rich.segment import Segment, Segments

    safe = [
        segment
        if segment.control or segment.text == "\n"
        else Segment(sanitize(segment.text), segment.style)
        for segment in console.render(renderable, console.options)
    ]
    console.print(Segments(safe), end="")


class SafeConsole:
    """The two Rich console calls the commands use, both through `show`."""

    def __init__(self, console: Any = None) -> None:
        self.console = console if console is not None else rich_console()

    def print(self, renderable: Any = "") -> None:
        show(renderable, self.console)

    def rule(self, title: Any = "") -> None:
        from rich.rule import Rule

        show(Rule(title), self.console)
