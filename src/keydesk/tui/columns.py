"""Table columns chosen on purpose for the terminal's width: each column has
a width budget in cells, one column takes what is left, and when space runs
out the least needed columns go first (what they hold is in the row's
detail line)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import DataTable

CELL_PADDING = 2  # DataTable pads each cell by one column on either side
TABLE_CHROME = 4  # the table's margin (1 + 1) and its vertical scrollbar (2)


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    width: int  # cells; for the flexible column, its least width
    drop: int = 0  # when space runs out, the highest `drop` goes first; 0 never
    flexible_up_to: int = 0  # > 0: this column takes the space left, up to this


def fit(columns: list[Column], screen_width: int) -> list[tuple[Column, int]]:
    """The columns that fit `screen_width`, each with its width in cells."""
    available = screen_width - TABLE_CHROME
    kept = list(columns)
    for candidate in sorted((c for c in columns if c.drop), key=lambda c: -c.drop):
        if _needed(kept) <= available:
            break
        kept.remove(candidate)
    spare = max(0, available - _needed(kept))
    widths = []
    for column in kept:
        width = column.width
        if column.flexible_up_to:
            width = min(column.flexible_up_to, width + spare)
        widths.append((column, width))
    return widths


def _needed(columns: list[Column]) -> int:
    return sum(c.width + CELL_PADDING for c in columns)


def set_columns(table: DataTable[object], layout: list[tuple[Column, int]]) -> None:
    table.clear(columns=True)
    for column, width in layout:
        table.add_column(column.heading, width=width, key=column.key)
