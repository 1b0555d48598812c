"""The one-line filter box above a list."""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input


class FilterInput(Input):
    """A one-line filter box of fixed size (app.tcss). Textual's Input sets
    its virtual size (its text's width, for scrolling) at every keystroke,
    and a widget's virtual size relays out the whole screen, as a scrollbar
    might come or go; an Input has none. Repainted only, a typed character
    is written to the terminal 3-4 ms after its key arrives on the API Keys
    tab, instead of 9-12 ms (measured in tmux)."""

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), repaint=True)
