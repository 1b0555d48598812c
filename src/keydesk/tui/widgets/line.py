"""A line of words a screen updates often (a summary, a detail line)."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import Static

from keydesk.tui.display import content


class Line(Static):
    """Shown literally, and updated only when its words change: an update
    re-lays out the screen, which a keystroke in a filter should not pay for.
    Too long for one line, it breaks where `say` allows (`break_at`), else
    at any space."""

    _said: str | None = None
    _break_at: str | None = None
    _width = 0

    def say(self, text: str, *, break_at: str | None = None) -> None:
        if (text, break_at) != (self._said, self._break_at):
            self._said, self._break_at = text, break_at
            self._show()

    def on_resize(self) -> None:
        if self._break_at is not None and self.content_region.width != self._width:
            self._show()

    def _show(self) -> None:
        text, self._width = self._said or "", self.content_region.width
        if self._break_at is not None and self._width > 0:
            text = packed(text.split(self._break_at), self._break_at, self._width)
        self.update(content(text))


def packed(parts: list[str], joiner: str, width: int) -> str:
    """`parts` joined by `joiner`, on as few lines of `width` cells as whole
    parts allow (the line under the keys table split "expires 2027-03-07" from
    "15:50 UTC"); a part wider than a line is left to wrap at its spaces."""
    lines: list[str] = []
    current = ""
    for part in parts:
        joined = f"{current}{joiner}{part}" if current else part
        if current and cell_len(joined) > width:
            lines.append(current)  # the line's end separates them
            joined = part
        current = joined
    return "\n".join([*lines, current])
