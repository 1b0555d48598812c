"""Small widgets more than one screen uses."""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.table import Table
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable, Footer, Input, SelectionList, Static
from textual.widgets._toggle_button import ToggleButton

from keydesk.tui.display import literal

Offer = tuple[tuple[Binding, bool, str], ...]  # (binding, enabled, tooltip) per key shown


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only when what it offers changes.

    Textual's rebuilds itself after every `refresh_bindings` (a focus move,
    a row highlighted, a tab shown), once per call, mounting a widget per
    key each time: opening a 5,000-key tab rebuilt it 23 times, a third of
    the time to its first rows. This one rebuilds at most once per refresh,
    and not at all when the keys, their state and tooltips are unchanged.
    It leans on Footer's internals (`_bindings_ready`, its compose): check
    it when Textual is upgraded (tests/tui/test_layout.py does)."""

    def __init__(self, *, compact: bool = True) -> None:
        super().__init__(compact=compact)
        self._offered: Offer | None = None
        self._rebuild_pending = False

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._rebuild_soon()

    def watch_show_command_palette(self) -> None:
        self._rebuild_soon()

    def _rebuild_soon(self) -> None:
        if not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        if not self.is_attached or self._pruning:
            # Its screen is closing (as Textual's recompose checks): asking
            # it what it offers would query widgets already removed.
            return
        offered = self._offer()
        if offered != self._offered:
            self._offered = offered
            await self.recompose()

    def _offer(self) -> Offer:
        """What compose shows: the keys shown with their state, and ^p if shown."""
        active = self.screen.active_bindings
        shown = [
            (binding, enabled, tooltip)
            for _node, binding, enabled, tooltip in active.values()
            if binding.show
        ]
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if palette is not None and self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            shown.append(palette[1:])
        return tuple(shown)


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


class FilterInput(Input):
    """A one-line filter box of fixed size (app.tcss). Textual's Input sets
    its virtual size (its text's width, for scrolling) at every keystroke,
    and a widget's virtual size relays out the whole screen, as a scrollbar
    might come or go; an Input has none. Repainted only, a typed character
    is written to the terminal 3-4 ms after its key arrives on the API Keys
    tab, instead of 9-12 ms (measured in tmux)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True)


class ListTable(DataTable[Any]):
    """Every list's table: a row cursor, and the keys every TUI user
    expects of a list besides the arrows: j/k down and up, Home/End to the
    first and last row (Textual's Home/End scroll sideways)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)


class ScopeList(SelectionList[str]):
    """Scopes to tick. Textual marks ticked and unticked the same `X` in two
    colours; under NO_COLOR both look alike. Here a ticked scope shows `X`
    and an unticked one a blank, as TickBox does."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip  # no option on this line: no box
        option = self.get_option_at_index(self.scroll_offset.y + y)
        mark = ToggleButton.BUTTON_INNER if option.value in self._selected else " "
        segments[1] = Segment(mark, segments[1].style, segments[1].control)
        return Strip(segments, strip.cell_length)
