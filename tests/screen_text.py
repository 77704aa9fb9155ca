"""The text of the app's screen, as a terminal shows it, through public APIs only: the SVG that
`App.export_screenshot()` writes, read back into lines (one `<text>` element per run of
characters, placed by its column; whitespace-only runs are not written, so gaps are spaces)."""

from __future__ import annotations

import html
import re

from textual.app import App

_TEXT = re.compile(
    r'<text [^>]*?x="(?P<x>[0-9.]+)" [^>]*?textLength="(?P<length>[0-9.]+)" '
    r'clip-path="url\(#[^)]*-line-(?P<line>\d+)\)">(?P<text>[^<]*)</text>'
)


def screen_lines(app: App) -> list[str]:
    width, height = app.size
    lines = [[" "] * width for _ in range(height)]
    for match in _TEXT.finditer(app.export_screenshot()):
        text = html.unescape(match["text"]).replace("\xa0", " ")
        cell = float(match["length"]) / len(text)
        column = round(float(match["x"]) / cell)
        row = lines[int(match["line"])]
        for offset, char in enumerate(text):
            if column + offset < width:
                row[column + offset] = char
    return ["".join(row).rstrip() for row in lines]


def screen_text(app: App) -> str:
    return "\n".join(screen_lines(app))
