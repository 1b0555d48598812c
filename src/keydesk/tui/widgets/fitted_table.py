"""A list whose columns are chosen for the terminal's width: each column has
a width budget in cells, a column may step wider when there is room, one
column takes what is left, and when space runs out the least needed columns
go first (what they hold is in the row's detail line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

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
    comfortable: int = 0  # the flexible column's first claim on the space left
    # Wider widths, each showing longer text whole: once the flexible column is
    # comfortable, the widest the space left allows (a width in between would
    # still cut that text, so the column never stops there).
    steps: tuple[int, ...] = ()
    # > 0: when its rows' text wants a step the space left does not give,
    # the columns whose `drop` is at least this give way to it (never below:
    # those hold what the list is for).
    outranks: int = 0


Fitted = list[tuple[Column, int]]  # the columns shown, each with its width in cells


def fit(columns: list[Column], screen_width: int, wants: Mapping[str, int] | None = None) -> Fitted:
    """The columns that fit `screen_width`, each with its width in cells;
    `wants`: the cells a column's rows need to show whole."""
    fitted = _fit(columns, screen_width)
    for column, width in fitted:
        wanted = (wants or {}).get(column.key, 0)
        # The narrowest step showing the text whole (none: it stays cut anyway).
        step = next((s for s in column.steps if s >= wanted), 0)
        if column.outranks and wanted > width and step:
            return _outranking(columns, screen_width, fitted, column, step) or fitted
    return fitted


def _outranking(
    columns: list[Column], screen_width: int, fitted: Fitted, wide: Column, want: int
) -> Fitted | None:
    """`wide` at `want` cells, the flexible column still comfortable, by
    dropping columns `wide` outranks; None if that is not enough."""
    widened = [
        replace(c, width=want, steps=tuple(s for s in c.steps if s > want))
        if c is wide
        else replace(c, width=max(c.width, c.comfortable))
        for c in columns
    ]
    wider = _fit(widened, screen_width)
    kept = {c.key for c, _ in wider}
    needed = {c.key for c, _ in fitted if not c.drop or c.drop < wide.outranks}
    if not needed <= kept or _needed([c for c, _ in wider]) > screen_width - TABLE_CHROME:
        return None
    originals = {c.key: c for c in columns}
    return [(originals[c.key], width) for c, width in wider]


def _fit(columns: list[Column], screen_width: int) -> Fitted:
    available = screen_width - TABLE_CHROME
    kept = list(columns)
    for candidate in sorted((c for c in columns if c.drop), key=lambda c: -c.drop):
        if _needed(kept) <= available:
            break
        kept.remove(candidate)
    spare = max(0, available - _needed(kept))
    widths = {column.key: column.width for column in kept}  # chosen by least widths
    for column in kept:  # the flexible column first, up to comfortable
        grown = min(max(column.width, column.comfortable), column.width + spare)
        spare -= grown - column.width
        widths[column.key] = grown
    for column in kept:
        now = widths[column.key]
        stepped = max((s for s in column.steps if s - now <= spare), default=now)
        spare -= stepped - now
        widths[column.key] = stepped
    for column in kept:
        if column.flexible_up_to:
            grown = min(column.flexible_up_to, widths[column.key] + spare)
            spare -= grown - widths[column.key]
            widths[column.key] = grown
    return [(column, widths[column.key]) for column in kept]


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
        self.wants: dict[str, int] = {}  # cells a column's rows need (see `fit`)

    def on_mount(self) -> None:
        self.refit()

    def on_resize(self) -> None:
        self.refit()

    def refit(self) -> None:
        """Fit the columns to the screen's width; redraw if they changed."""
        fitted = fit(self._columns, self.screen.size.width or self.app.size.width, self.wants)
        if fitted == self.fitted:
            return
        cursor, first = self.cursor_row, not self.fitted
        self.fitted = fitted
        self.clear(columns=True)
        for column, width in fitted:
            self.add_column(column.heading, width=width, key=column.key)
        if not first:  # the first fit comes before any row
            self._redraw(cursor)
