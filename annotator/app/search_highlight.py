"""Where a full-text search matched, marked in the laid-out span view.

The search (SQLite FTS5, `annotator.store.queue.search_sql`) matches words and word prefixes,
case and accents aside; the view marks the same: each searched word where a word starts. Marking
works on laid-out lines (segments of sanitised text), so it never touches markup and costs
nothing when no search is active. A match cut by a line break is not marked.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

MATCH_STYLE = Style(reverse=True, bold=True)
# A word starts where no letter or digit precedes (FTS5's unicode61 splits on `_`, `-`, `.`).
_WORD_START = r"(?<![^\W_])"


def is_match(style: Style) -> bool:
    """Whether a laid-out segment's style carries the match marking."""
    return bool(style.reverse and style.bold)


def search_words(text: str) -> tuple[str, ...]:
    """The words of a search as typed (quotes and FTS syntax are just separators)."""
    return tuple(dict.fromkeys(w.casefold() for w in re.findall(r"[^\W_]+", text) if w))


def _fold(text: str) -> str:
    """Case and accents aside, one character for one (so positions stay those of `text`)."""
    folded = []
    for char in text:
        base = unicodedata.normalize("NFD", char)[0] if not char.isascii() else char
        low = base.lower()
        folded.append(low if len(low) == 1 else char)
    return "".join(folded)


@lru_cache(maxsize=32)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = sorted((_fold(w) for w in words), key=len, reverse=True)
    return re.compile(_WORD_START + "(?:" + "|".join(map(re.escape, alternatives)) + ")")


def mark_matches(strips: list[Strip], words: tuple[str, ...]) -> list[Strip]:
    """`strips` with every match of `words` styled MATCH_STYLE; unchanged when none."""
    pattern = _pattern(words)
    if pattern is None:
        return strips
    return [_mark(strip, pattern) for strip in strips]


def _mark(strip: Strip, pattern: re.Pattern[str]) -> Strip:
    text = "".join(segment.text for segment in strip)
    spans = [match.span() for match in pattern.finditer(_fold(text)) if match.end() > match.start()]
    if not spans:
        return strip
    marked: list[Segment] = []
    offset = 0
    for segment in strip:
        start, end = offset, offset + len(segment.text)
        offset = end
        cuts = sorted({start, end, *(p for s, e in spans for p in (s, e) if start < p < end)})
        for a, b in itertools.pairwise(cuts):
            piece = segment.text[a - start : b - start]
            inside = any(s <= a and b <= e for s, e in spans)
            style = (segment.style or Style()) + MATCH_STYLE if inside else segment.style
            marked.append(Segment(piece, style, segment.control))
    return Strip(marked, strip.cell_length)
