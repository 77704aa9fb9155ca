"""The one exception a filter expression raises: where (line, column) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from annotator.text import sanitize

# Fragments of the user's text quoted in a message are cut to this length, so that a megabyte
# of pasted text cannot become a megabyte of error message.
FRAGMENT_LIMIT = 60


class FilterError(ValueError):
    """A filter expression that cannot be used.

    ``line`` and ``col`` are 1-based and count characters (not bytes) in the text as given;
    ``message`` says what is wrong and, where there is one, what to write instead. ``str()``
    gives the line a command prints: ``col 17: unknown function 'startswith' — ...`` (with
    ``line N, `` in front when the expression spans several lines).
    """

    def __init__(self, message: str, line: int = 1, col: int = 1, *, multiline: bool = False):
        self.message = message
        self.line = line
        self.col = col
        self.multiline = multiline
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"line {self.line}, col {self.col}" if self.multiline else f"col {self.col}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Where:
    """A position in the filter's text, kept for an error found after parsing."""

    line: int = 1
    col: int = 1
    multiline: bool = False

    def error(self, message: str) -> FilterError:
        return FilterError(message, self.line, self.col, multiline=self.multiline)


START = Where()  # the whole filter: line 1, col 1


def fragment(text: str, limit: int = FRAGMENT_LIMIT) -> str:
    """A piece of the user's expression for a message: one line, bounded, and with escape
    sequences, bidi overrides and other controls shown as escapes (messages reach terminals)."""
    flat = sanitize(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
