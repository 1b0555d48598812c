"""`keydesk store copy`'s progress bar: drawn on stderr at a terminal only,
ending on its own line when the copy is done."""

from __future__ import annotations

import io
import sys

from keydesk.cli.store_copy import _Bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_is_drawn_at_a_terminal_and_ends_its_line(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bar = _Bar()
    bar(500, 1000)
    bar(1000, 1000)
    drawn = terminal.getvalue()
    assert "\rcopying [###############---------------] 500/1,000 rows" in drawn
    assert drawn.endswith("\rcopying [" + "#" * 30 + "] 1,000/1,000 rows\n")


def test_no_bar_off_a_terminal(monkeypatch):
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    _Bar()(1000, 1000)
    assert piped.getvalue() == ""
