"""Showing stored text and times. Everything a user typed is shown literally:
Rich markup stays text, control characters become visible escapes."""

from __future__ import annotations

import re
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text
from textual.content import Content

from keydesk.validation import shown_literally


def visible(text: str | None, *, newlines: bool = False) -> str:
    return shown_literally(text, newlines=newlines)


def literal(
    text: str | None, style: str = "", width: int | None = None, *, keep_end: bool = False
) -> Text:
    """A table cell that shows `text` exactly (Rich Text never parses markup),
    cut to `width` terminal cells with an ellipsis (a CJK character is two).
    `keep_end`: the ellipsis goes in the middle, so names that differ only
    at their ends ("api-gateway-prod-eu", "…-us") still differ when cut."""
    shown = visible(text)
    if keep_end and width is not None and width > 2 and cell_len(shown) > width:
        shown = _cut_middle(shown, width)
    cell = Text(shown, style=style, no_wrap=True, overflow="ellipsis")
    if width is not None and cell.cell_len > width:
        cell.truncate(width, overflow="ellipsis")
    return cell


# A rotation's replacement is named after the old key with a date
# (keydesk.views.replacement_label): the date is what tells the pair apart.
_DATE_END = re.compile(r"\(\d{4}-(\d{2}-\d{2}(?: #\d+)?)\)$")
_LEAST_HEAD = 4  # cells of the name kept before the date (else its end is cut)


def _cut_middle(text: str, width: int) -> str:
    """`text` in `width` cells: its start, an ellipsis, and its end (the end
    gets the odd cell, and any a wide character leaves at the start). A
    rotation's date at the end stays whole where the width allows, else
    its day: cut, "stripe-prod (2026-12-06)" read "stri…2-06)" beside
    "stripe-prod"."""
    room = width - 1
    if date := _DATE_END.search(text):
        for end in (date[0], f"({date[1]})"):  # "(2026-12-06)", else "(12-06)"
            if room - len(end) >= _LEAST_HEAD:
                return _start(text, room - len(end)).rstrip() + "…" + end
    head = _start(text, room // 2)
    tail, room = "", room - cell_len(head)
    for character in reversed(text):
        if cell_len(character) > room:
            break
        tail, room = character + tail, room - cell_len(character)
    return f"{head}…{tail}"


def _start(text: str, width: int) -> str:
    """The longest start of `text` in `width` cells."""
    head, used = "", 0
    for character in text:
        used += cell_len(character)
        if used > width:
            break
        head += character
    return head


def clipped(text: str | None, width: int) -> str:
    """`text` shown literally in at most `width` cells, an ellipsis marking a cut."""
    return literal(text, width=max(width, 1)).plain


def cells(text: str) -> int:
    return cell_len(text)


def content(text: str | None) -> Content:
    """Widget content that shows `text` exactly (Content is never markup);
    line breaks are kept, every other control character is escaped."""
    return Content(visible(text, newlines=True))


def day(value: datetime | None) -> str:
    """A date, local, for narrow columns."""
    return value.astimezone().strftime("%Y-%m-%d") if value else "—"


def sentence(message: str) -> str:
    """A service message ("the label is required") as a line on a form."""
    return ended(message[:1].upper() + message[1:])


def ended(message: str) -> str:
    """`message` ending as a sentence does; its first word keeps its case (it
    may be an account's name or a public key)."""
    return message if message.endswith((".", "?", "!")) else message + "."
