"""Showing stored text and times. Everything a user typed is shown literally:
Rich markup stays text, control characters become visible escapes."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.content import Content


def visible(text: str | None, *, newlines: bool = False) -> str:
    """`text` with every non-printable character written as an escape
    (``\\x1b``), so nothing stored can move, clear or restyle the screen."""
    if not text:
        return ""
    return "".join(
        c if c.isprintable() or (newlines and c == "\n") else f"\\x{ord(c):02x}" for c in text
    )


def literal(text: str | None, style: str = "") -> Text:
    """A table cell that shows `text` exactly (Rich Text never parses markup)."""
    return Text(visible(text), style=style, no_wrap=True, overflow="ellipsis")


def content(text: str | None) -> Content:
    """Widget content that shows `text` exactly (Content is never markup);
    line breaks are kept, every other control character is escaped."""
    return Content(visible(text, newlines=True))


def when(value: datetime | None) -> str:
    """A time as admins read it: local, to the minute."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else "—"
