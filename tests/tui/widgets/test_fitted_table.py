"""FittedTable: the columns chosen for the screen's width, and its owner
asked to draw the rows again, at once, when a resize changes them."""

from __future__ import annotations

from textual.app import App, ComposeResult

from keydesk.tui.widgets import Column, FittedTable, fit

COLUMNS = [
    Column("name", "Name", 10, flexible_up_to=30),
    Column("status", "Status", 10),
    Column("created", "Created", 10, drop=1),
    Column("by", "By", 10, drop=2),
]


def test_the_least_needed_column_goes_first_and_the_flexible_one_takes_what_is_left():
    assert [(c.key, w) for c, w in fit(COLUMNS, 100)] == [
        ("name", 30),
        ("status", 10),
        ("created", 10),
        ("by", 10),
    ]
    # 40 cells inside the table's chrome; 4 columns need 48 with their padding,
    # 3 need 36: "by" (drop 2) goes first and the name takes the 4 left.
    assert [(c.key, w) for c, w in fit(COLUMNS, 44)] == [
        ("name", 14),
        ("status", 10),
        ("created", 10),
    ]
    assert [c.key for c, _ in fit(COLUMNS, 20)] == ["name", "status"]  # never dropped


class _Owner(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.redrawn: list[tuple[int, int]] = []  # (cursor, rows in the table then)

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, redraw=self._redraw, id="list")

    def _redraw(self, cursor: int) -> None:
        table = self.query_one(FittedTable)
        self.redrawn.append((cursor, table.row_count))
        for n in range(5):
            table.add_row(*(f"{column.key}{n}" for column, _ in table.fitted))


async def test_a_resize_that_changes_the_columns_has_the_owner_redraw_at_once():
    app = _Owner()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(FittedTable)
        assert [c.key for c, _ in table.fitted] == ["name", "status", "created", "by"]
        assert app.redrawn == []  # the first fit comes before any row
        for n in range(5):
            table.add_row(*(f"{c.key}{n}" for c, _ in table.fitted))
        table.move_cursor(row=3)
        await pilot.resize_terminal(30, 20)
        await pilot.pause()
        assert [c.key for c, _ in table.fitted] == ["name", "status"]
        assert app.redrawn == [(3, 0)]  # handed the cursor's row, the table empty
        assert table.row_count == 5 and list(table.columns) == ["name", "status"]
        await pilot.resize_terminal(30, 24)  # the same columns: nothing to redraw
        await pilot.pause()
        assert app.redrawn == [(3, 0)]
