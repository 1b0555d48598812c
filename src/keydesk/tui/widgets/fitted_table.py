"""A list whose columns are chosen for the terminal's width: each column has
a width budget in cells, one column takes what is left, and when space runs
out the least needed columns go first (what they hold is in the row's
detail line)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keydesk.tui.widgets.list_table import ListTable

CELL_PADDING = 2  # DataTable pads each cell by one column on either side
TABLE_CHROME = 4  # the table's margin (1 + 1) and its vertical scrollbar (2)


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    width: int  # cells; for the flexible column, its least width
    drop: int = 0  # when space runs out, the highest `drop` goes first; 0 never
    flexible_up_to: int = 0  # > 0: this column takes the space left, up to this


Fitted = list[tuple[Column, int]]  # the columns shown, each with its width in cells


def fit(columns: list[Column], screen_width: int) -> Fitted:
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


class FittedTable(ListTable):
    """A ListTable whose columns are fitted to the screen's width when it
    is mounted (before its screen's `on_mount`, so rows can be added from
    there) and whenever it is resized. A later fit empties the table, and
    `redraw` (the rows' owner's) fills it again at once, given the row the
    cursor was on: the footer never sees the empty table in between."""

    def __init__(self, columns: list[Column], *, redraw: Callable[[int], object], id: str) -> None:
        super().__init__(id=id)
        self._columns = columns
        self._redraw = redraw
        self.fitted: Fitted = []

    def on_mount(self) -> None:
        self.refit()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        """Fit the columns to the screen's width; redraw if they changed."""
        fitted = fit(self._columns, self.screen.size.width or self.app.size.width)
        if fitted == self.fitted:
            return
        cursor, first = self.cursor_row, not self.fitted
        self.fitted = fitted
        self.clear(columns=True)
        for column, width in fitted:
            self.add_column(column.heading, width=width, key=column.key)
        if not first:  # the first fit comes before any row
            self._redraw(cursor)
