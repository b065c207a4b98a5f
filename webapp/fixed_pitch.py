"""Fixed-pitch rows for long PDF tables (issue #9 "Documents": the 1,000-row payment roster under 6 s).

WeasyPrint's cost grows with the number of boxes, not of characters: laying out a table cell (its style, block,
line and text boxes, the collapsed borders, the drawing) costs about a millisecond, so a 1,000-row roster of 11
cells took 13 s, while one text run per row costs a tenth of that. In "Noto Sans Mono CJK SC" every character takes
a known width, one cell for half-width characters (ASCII, half-width forms) and two for the rest (CJK ideographs,
full-width punctuation, …), so a row can be laid out here as ONE line of text whose columns start at fixed
character cells, and the column rules drawn once per table as a background. The grid is then exact: the header
cells (`ch` wide, 1 ch = one cell of the mono face) and the vertical lines come from the same column widths.

Long text is cut with an ellipsis ("…", two cells) as `text-overflow: ellipsis` did; whitespace and control
characters inside a value become single spaces, so a tab or newline in imported data cannot shift the columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

ELLIPSIS = "…"
_LINE_BREAKING = re.compile(r"[\t\n\r\f\v\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def cells(char: str) -> int:
    """Width of one character in the mono CJK face, in half-width cells (0 for combining and format marks)."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 1 if unicodedata.east_asian_width(char) in ("Na", "H") else 2


def width(text: str) -> int:
    return sum(cells(char) for char in text)


def fit(text: str, room: int) -> str:
    """`text` on one line of `room` cells: whitespace runs and control characters as one space, cut with "…"."""
    text = _LINE_BREAKING.sub(" ", text)
    if width(text) <= room:
        return text
    if room < width(ELLIPSIS):
        return ""
    kept, used, budget = [], 0, room - width(ELLIPSIS)
    for char in text:
        if used + cells(char) > budget:
            break
        kept.append(char)
        used += cells(char)
    return "".join(kept) + ELLIPSIS


@dataclass(frozen=True)
class Column:
    pitch: int  # cells, including one cell of padding on each side
    right: bool = False  # right-aligned (numbers)


@dataclass(frozen=True)
class PitchTable:
    """Columns of a fixed-pitch table; `line` lays out one row, `style` sizes the table and draws its rules."""

    columns: Sequence[Column]
    rule_width: float = 0.125  # cells: .5pt at an 8pt face (a cell is half the font size)
    rule_colour: str = "#666"

    @property
    def pitch(self) -> int:
        return sum(column.pitch for column in self.columns)

    def line(self, values: Sequence[str]) -> str:
        """One row as text, each value fitted into its column (padding included), trailing spaces dropped."""
        if len(values) != len(self.columns):
            raise ValueError(f"{len(values)} values for {len(self.columns)} columns")
        parts = []
        for column, value in zip(self.columns, values, strict=True):
            room = column.pitch - 2
            text = fit(value, room)
            pad = " " * (room - width(text))
            parts.append(f" {pad}{text} " if column.right else f" {text}{pad} ")
        return "".join(parts).rstrip()

    def rules_svg(self) -> str:
        """The vertical rules between columns as an SVG, stretched over the whole table (no aspect ratio)."""
        x, paths = 0, []
        for column in self.columns[:-1]:
            x += column.pitch
            paths.append(f"M{x} 0V1")
        return (
            f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {self.pitch} 1' preserveAspectRatio='none'>"
            f"<path d='{''.join(paths)}' stroke='{self.rule_colour}' stroke-width='{self.rule_width}'/></svg>"
        )

    def stylesheet(self, selector: str) -> str:
        """CSS for the table at `selector`: its width in `ch`, its columns' widths, the column rules as a `data:`
        background. A style sheet rather than `style` attributes, which the pages' CSP rule forbids everywhere; free of
        the characters HTML escaping changes, so a template emits it as it is."""
        uri = "data:image/svg+xml," + quote(self.rules_svg(), safe="")
        rules = [f'{selector} {{ width: {self.pitch}ch; background: url({uri}) no-repeat 0 0 / 100% 100%; }}']
        rules += [
            f"{selector} col:nth-child({number}) {{ width: {column.pitch}ch; }}"
            for number, column in enumerate(self.columns, start=1)
        ]
        return "\n".join(rules)
