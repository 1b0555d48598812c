"""A line of words a screen updates often (a summary, a detail line)."""

from __future__ import annotations

from textual.widgets import Static

from keydesk.tui.display import content


class Line(Static):
    """Shown literally, and updated only when its words change: an update
    re-lays out the screen, which a keystroke in a filter should not pay for."""

    _said: str | None = None

    def say(self, text: str) -> None:
        if text != self._said:
            self._said = text
            self.update(content(text))
