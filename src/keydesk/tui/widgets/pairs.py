"""Name / value rows shown literally."""

from __future__ import annotations

from rich.table import Table
from textual.widgets import Static

from keydesk.tui.display import literal


class Pairs(Static):
    """Name / value rows, the values aligned and wrapping under themselves
    (an Overview's settings, a help screen's keys), shown literally. One
    widget, however many rows: a screen opens faster with fewer widgets."""

    def __init__(self, rows: list[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows = rows
        self.show(rows)

    def show(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows
        grid = Table.grid(padding=(0, 2, 0, 0))
        grid.add_column(no_wrap=True, style="bold")
        grid.add_column(overflow="fold")
        for name, value in rows:
            cell = literal(value)
            cell.no_wrap, cell.overflow = False, "fold"
            grid.add_row(literal(name), cell)
        self.update(grid)
