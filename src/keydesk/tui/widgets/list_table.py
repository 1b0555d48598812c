"""The table every list is shown in."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.widgets import DataTable, OptionList


class ListTable(DataTable[Any]):
    """Every list's table: a row cursor, and the keys every TUI user
    expects of a list besides the arrows: j/k down and up, Home/End to the
    first and last row (Textual's Home/End scroll sideways). Enter is left
    to the screen, whose binding names what it opens."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    # With no row (an empty list, a filter matching nothing), Textual's moves
    # highlight row -1, whose key is None: `k`, End or PageDown ended keydesk
    # with a traceback on a new store's empty list.
    def action_cursor_up(self) -> None:
        if self.row_count:
            super().action_cursor_up()

    def action_cursor_down(self) -> None:
        if self.row_count:
            super().action_cursor_down()

    def action_scroll_top(self) -> None:
        if self.row_count:
            super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        if self.row_count:
            super().action_scroll_bottom()

    def action_page_up(self) -> None:
        if self.row_count:
            super().action_page_up()

    def action_page_down(self) -> None:
        if self.row_count:
            super().action_page_down()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Enter is the screen's: its own binding (the footer's "⏎ Open", with
        # its id, tooltip and check) opens the row where something opens.
        # DataTable's hidden one would shadow it, in the footer and in ?.
        # Disabled, it lets Enter through; a click on the highlighted row
        # still posts RowSelected.
        if action == "select_cursor":
            return False
        return super().check_action(action, parameters)


class ListOptions(OptionList):
    """Every dialog's list of choices: j/k move in it too (OptionList knows
    only the arrows), and stop at its ends as in every table. OptionList
    wraps: one ↓ or j too many past 'viewer' chose 'owner', past '7 days'
    of overlap the rotation's 'now: the old key stops at once'."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def _step(self, way: int) -> None:
        """To the next enabled choice `way` (1: down), if there is one."""
        at, count = self.highlighted, self.option_count
        start = (-1 if way > 0 else count) if at is None else at
        ahead = range(start + way, count if way > 0 else -1, way)
        found = next((n for n in ahead if not self.get_option_at_index(n).disabled), None)
        if found is not None:
            self.highlighted = found
