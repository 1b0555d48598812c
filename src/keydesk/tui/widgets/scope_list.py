"""Scopes to tick, legible without colour."""

from __future__ import annotations

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.strip import Strip
from textual.widgets import SelectionList
from textual.widgets._toggle_button import ToggleButton


class ScopeList(SelectionList[str]):
    """Scopes to tick. Textual marks ticked and unticked the same `X` in two
    colours; under NO_COLOR both look alike. Here a ticked scope shows `X`
    and an unticked one a blank, as TickBox does.

    Focused (Tab), its first scope is highlighted: Textual highlights none,
    so Space ticked nothing until Down was pressed, and under NO_COLOR
    nothing showed which row Space would act on."""

    BINDINGS = [  # j/k move here too, as in every list (ListOptions, ListTable)
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def on_focus(self, _event: events.Focus) -> None:
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        segments = list(strip)
        if len(segments) < 3 or segments[1].text != ToggleButton.BUTTON_INNER:
            return strip  # no option on this line: no box
        option = self.get_option_at_index(self.scroll_offset.y + y)
        mark = ToggleButton.BUTTON_INNER if option.value in self._selected else " "
        segments[1] = Segment(mark, segments[1].style, segments[1].control)
        return Strip(segments, strip.cell_length)
