"""Small widgets more than one screen uses."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from keydesk.tui.display import cells, content


class Pairs(Vertical):
    """Name / value rows, the values aligned and wrapping under themselves
    (an Overview's settings, a help screen's keys). Shown literally."""

    DEFAULT_CSS = """
    Pairs { height: auto; }
    Pairs > Horizontal { height: auto; }
    Pairs .pair-name { width: auto; height: auto; padding: 0 2 0 0; text-style: bold; }
    Pairs .pair-value { width: 1fr; height: auto; }
    """

    def __init__(self, rows: list[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows = rows

    def compose(self) -> ComposeResult:
        width = max((cells(name) for name, _ in self._rows), default=0)
        for name, value in self._rows:
            with Horizontal(classes="pair"):
                yield Static(content(name + " " * (width - cells(name))), classes="pair-name")
                yield Static(content(value), classes="pair-value")

    def update(self, rows: list[tuple[str, str]]) -> None:
        self._rows = rows
        self.refresh(recompose=True)
