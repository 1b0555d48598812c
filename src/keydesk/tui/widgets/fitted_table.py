"""A list whose columns are chosen for the terminal's width: each column has
a width budget in cells, a column may step wider when there is room, one
column takes what is left, and when space runs out the least needed columns
go first (what they hold is in the row's detail line)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from rich.cells import cell_len

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
    # False: once the width leaves it out, short rows do not bring it back
    # (the audit trail: a filter's rows would add Actor, and the table jump).
    returns: bool = True


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
            fitted = _outranking(columns, screen_width, fitted, column, step) or fitted
            break
    return _spent(columns, fitted, screen_width - TABLE_CHROME, wants or {})


def _spent(
    columns: list[Column], fitted: Fitted, available: int, wants: Mapping[str, int]
) -> Fitted:
    """The whole width used where the rows' text is known: a column wider
    than its rows need (By: "alice" in 12 cells) gives the rest to the
    columns its rows cut (a label, a status), which take it whole first; a
    column still cut may have the columns it outranks give way (as `fit`
    does for a step); a column left out comes back if it fits in what is
    left; the rest goes back as it was, then to the flexible column."""
    wants = {key: cells for key, cells in wants.items() if cells > 0}  # 0: not known
    if not wants:
        return fitted
    shown = [column for column, _ in fitted]
    widths = {c.key: w for c, w in fitted}
    for column in columns:  # as wide as its rows need, never narrower than its heading
        width = widths.get(column.key, column.width)
        if column.key in wants:
            width = min(width, max(wants[column.key], cell_len(column.heading)))
        widths[column.key] = width

    def spare() -> int:
        return available - sum(widths[c.key] + CELL_PADDING for c in shown)

    for column in list(shown):  # in order: the first columns hold what the list is for
        if column not in shown:
            continue  # it gave way to an earlier one
        short = wants.get(column.key, 0) - widths[column.key]
        if short <= 0:
            continue
        # Not for text no step holds whole (a status's "rotating -> <key> (…)"):
        # the detail line has it.
        held = not column.steps or wants[column.key] <= max(column.steps)
        if short > spare() and column.outranks and held:
            _give_way(shown, widths, column, short - spare())
        if short <= spare():
            widths[column.key] += short
    for column in shown:  # still cut: what is left, rather than blank cells
        widths[column.key] += max(0, min(wants.get(column.key, 0) - widths[column.key], spare()))
    for column in sorted(
        (c for c in columns if c not in shown and c.returns), key=lambda c: c.drop
    ):
        if widths[column.key] + CELL_PADDING <= spare():
            shown.append(column)
    shown.sort(key=columns.index)
    before = {c.key: w for c, w in fitted}
    for column in sorted(shown, key=lambda c: c.flexible_up_to):  # as they were, then flexible
        most = max(column.flexible_up_to, before.get(column.key, widths[column.key]))
        widths[column.key] += max(0, min(most - widths[column.key], spare()))
    return [(column, widths[column.key]) for column in shown]


def _give_way(shown: list[Column], widths: dict[str, int], column: Column, cells: int) -> None:
    """Drop the columns `column` outranks, least needed first, if that frees
    `cells`; else drop none (cutting a column less is not worth one)."""
    outranked = sorted(
        (c for c in shown if c.drop and c.drop >= column.outranks), key=lambda c: -c.drop
    )
    dropped: list[Column] = []
    for other in outranked:
        if cells <= 0:
            break
        dropped.append(other)
        cells -= widths[other.key] + CELL_PADDING
    if cells <= 0:
        for other in dropped:
            shown.remove(other)


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
    `redraw` (the rows' owner's) fills it again at once, the cursor back on
    the row it was on (Scan's went to the first finding, and x then asked
    about another key): the footer never sees the empty table in between."""

    def __init__(self, columns: list[Column], *, redraw: Callable[[], object], id: str) -> None:
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
            self._redraw()
            if self.row_count:
                self.move_cursor(row=min(cursor, self.row_count - 1))
