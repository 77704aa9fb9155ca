"""CSV cells a spreadsheet will not run as formulas (OWASP's advice on CSV injection).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written
with a single quote in front (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``): Excel, LibreOffice and
Google Sheets then show it as text instead of evaluating it. Numbers stay numbers (a score of
``-0.5`` is written ``-0.5``): callers only pass text through `neutralise`.

The change is reversible, so that ``annotator import`` reads our own CSV export back exactly: a
cell that already starts with quotes followed by one of those characters gets one more quote
(``'=x`` -> ``''=x``), and `restore` takes exactly one away from any such cell.
"""

from __future__ import annotations

TRIGGERS = frozenset("=+-@\t\r")


def neutralise(text: str) -> str:
    """`text` as a cell no spreadsheet evaluates (see the module docstring)."""
    if text[:1] in TRIGGERS or (text[:1] == "'" and text.lstrip("'")[:1] in TRIGGERS):
        return "'" + text
    return text


def restore(cell: str) -> str:
    """The text `neutralise` was given, from what it returned."""
    if cell[:1] == "'" and cell.lstrip("'")[:1] in TRIGGERS:
        return cell[1:]
    return cell
