"""An integration's API keys as a table (the API Keys tab of its page).

Big integrations (100,000 keys) stay quick: the filter searches text made
once per load (`LoadedKeys`), in a worker; the table holds a window of the
matching keys and grows it as the cursor nears its end (a DataTable pays for
every row it holds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable
from textual.worker import get_current_worker

from keydesk.tui.calls import call_service
from keydesk.tui.display import cells, clipped, literal, sentence, visible
from keydesk.tui.widgets.fitted_table import Column, FittedTable
from keydesk.views import REFUSED_WHILE_DISABLED, KeyStatus, KeyView, key_status
from keydesk.views.tags import tags_text
from keydesk.wording import when

WINDOW = 60  # rows added to the table at a time (more than a screenful)
MAX_ROWS = 1000  # the table never holds more; the filter finds the rest
SCAN_CHUNK = 10_000  # keys the filter scans between checks for a newer keystroke

STATUS_STYLE = {"active": "bold", "revoked": "dim strike", "expired": "dim"}
SELECTED_MARK = "✓ "  # before a selected key's label: seen without colour too
SELECTED_STYLE = "reverse"

# At 80 columns: label, public key, status and last used (what a rotation
# checks); created, creator and revocation join as the terminal widens, and
# are always in the highlighted key's detail line; the status widens with it.
KEY_COLUMNS = [
    # 20: "api-gateway-staging" and "api-gateway-prod" told apart before the
    # status widens; a label still cut has Created, By and Revoked give way.
    Column("label", "Label", 10, flexible_up_to=40, comfortable=20, outranks=2),
    Column("public", "Public key", 21),
    # Status words, whole where there is room: "expiring in 59 minutes" (22),
    # "active, unused for 999 days" (27), "replacement revoked, stops in 59
    # minutes" (40); "rotating -> <public key> (…)" (51) is said in fewer
    # words ("rotating, 7d"), as is a revoked replacement ("repl. revoked,
    # 7d"): the detail line has it whole. Where the rows' words need a step the space
    # left does not give, Created, By and Revoked (also in the detail line)
    # give way to it; 60 and 80 columns never have the room. Down to 14
    # ("unused 60 days", `shorter_status`) where a label is cut too: the label
    # tells keys apart (a rotated pair read "stri…2-06)" at 60 columns), the
    # status is whole in the detail line.
    Column("status", "Status", 14, steps=(19, 22, 27, 40), outranks=2),
    Column("used", "Last used", 16, drop=1),
    Column("created", "Created", 16, drop=2),
    Column("by", "By", 12, drop=3),
    Column("revoked", "Revoked", 16, drop=4),
]


# A narrow Status column (60 and 80 columns, where the label comes first)
# says what matters first; the detail line under the table has the words.
_SHORTER = [
    (re.compile(r"expiring in (.+)"), r"\1 left"),  # "10 days left", not "expiring in …"
    (re.compile(r"active, unused for (.+)"), r"unused \1"),
]


# "rotating -> <public key> (7 days left)": the replacement's public key is
# in the label beside it (its date) and the detail line; the rotation and
# when the old key stops are what matter ("rotating -> k…" said neither).
_ROTATING = re.compile(r"rotating -> \S+ \((.+) left\)")
# The one warning a status gives: it must be read in its cell, not cut to
# "replacement r…" (the K to keep the key is offered beside it).
_ORPHANED = re.compile(r"replacement revoked, stops in (.+)")
_UNIT = re.compile(r"([\d,]+) (\w)\w*")  # "7 days" -> "7d", "24 hours" -> "24h"


def shorter_status(words: str, width: int) -> str:
    """The status in `width` cells if fewer words can say it."""
    if words == REFUSED_WHILE_DISABLED:  # the page's banner says why
        return _fitting(width, "refused: disabled", "refused")
    if rotating := _ROTATING.fullmatch(words):
        span = rotating[1]
        brief = _brief(span)
        return _fitting(
            width,
            f"rotating, {span} left",
            f"rotating, {brief} left",
            f"rotating, {brief}",
            "rotating",  # a scan's Status (10 cells): how long, in the detail line
        )
    if orphaned := _ORPHANED.fullmatch(words):
        span = orphaned[1]
        brief = _brief(span)
        return _fitting(
            width,
            f"repl. revoked, stops in {span}",
            f"repl. revoked, {span} left",
            f"repl. revoked, {brief} left",
            f"repl. revoked, {brief}",
            "repl. revoked",  # when it stops: the detail line
        )
    for pattern, shorter in _SHORTER:
        words = pattern.sub(shorter, words, count=1)
    return words


def _fitting(width: int, *tries: str) -> str:
    """The first of `tries` that fits `width` cells, else the last."""
    return next((t for t in tries if cell_len(t) <= width), tries[-1])


def _brief(span: str) -> str:
    """ "7 days" as "7d", "less than a minute" as "<1m"."""
    return _UNIT.sub(r"\1\2", span).replace("less than a minute", "<1m")


@dataclass(frozen=True)
class LoadedKeys:
    """One load of an integration's keys, with what filtering and the
    summary need computed once, off the UI thread."""

    keys: list[KeyView]  # active first, newest first
    haystacks: list[str]  # lower-case text the filter searches, per key
    active: int

    @classmethod
    def of(cls, keys: list[KeyView], now: datetime) -> LoadedKeys:
        statuses = [key_status(k.revoked_at, k.expires_at, now) for k in keys]
        return cls(
            keys,
            [
                f"{k.label} {k.public_key} {status} {k.created_by} {tags_text(k.tags)}".lower()
                for k, status in zip(keys, statuses, strict=True)
            ],
            statuses.count(KeyStatus.ACTIVE),
        )

    def matches(self, public_key: str, needle: str) -> bool:
        """Whether that key is loaded and its text contains `needle`."""
        position = position_of(self.keys, public_key)
        return position is not None and needle in self.haystacks[position]


def matching(loaded: LoadedKeys, needle: str) -> list[KeyView]:
    """In a worker: the keys whose text contains `needle`, in order; a scan
    cancelled by a newer keystroke stops early (its result is dropped)."""
    worker = get_current_worker()
    keys, haystacks = loaded.keys, loaded.haystacks
    matched: list[KeyView] = []
    for start in range(0, len(keys), SCAN_CHUNK):
        if worker.is_cancelled:
            break
        end = start + SCAN_CHUNK
        matched.extend(
            key
            for key, text in zip(keys[start:end], haystacks[start:end], strict=True)
            if needle in text
        )
    return matched


def position_of(keys: list[KeyView], public_key: str | None) -> int | None:
    return next((n for n, k in enumerate(keys) if k.public_key == public_key), None)


class KeyTable(FittedTable):
    """The keys of one load that match the filter, a window at a time.
    It tells its screen when the highlighted key changes, when a key is
    clicked open (Enter is the screen's own binding, as in every ListTable)
    and when a filter has been applied."""

    # Escape (and q, its screen's other Back) unselects before it does
    # anything else: the footer said "esc Back" meanwhile.
    BINDINGS = [
        Binding("escape,q", "unselect", "Unselect", key_display="esc", id="keys.unselect",
                tooltip="Unselect the selected keys"),
    ]  # fmt: skip

    class KeyHighlighted(Message):
        """The highlighted key (None: no rows) may have changed."""

        def __init__(self, key: KeyView | None) -> None:
            super().__init__()
            self.key = key

    class KeySelected(Message):
        """A click on the highlighted key: open it."""

        def __init__(self, key: KeyView) -> None:
            super().__init__()
            self.key = key

    class Filtered(Message):
        """The rows now show the loaded keys that match the filter."""

    class SelectionChanged(Message):
        """Keys were selected or unselected (`selected`)."""

    def __init__(self, now: Callable[[], datetime], *, id: str) -> None:
        """`now`: the app's clock, for status words."""
        super().__init__(KEY_COLUMNS, redraw=self._redraw_window, id=id)
        self._now = now
        self.loaded: LoadedKeys | None = None  # None until the first load is in
        self.unread: str | None = None  # why the keys could not be read (unreadable)
        self.matched: list[KeyView] = []
        self._shown = 0  # rows of `matched` in the table
        self._needle: str | None = ""  # None: a newer filter is on its way
        # Keys marked with space to be revoked together, by public key, in
        # the order chosen; only active ones, kept across filters and loads.
        self.selected: dict[str, KeyView] = {}

    # -- what it shows ------------------------------------------------------------

    def unreadable(self, message: str) -> None:
        """The keys could not be read (a store deleted or locked): said on the
        line above (it stayed "Loading keys…" for good) and by x and t (they
        said the integration had no key)."""
        self.unread = message
        self.post_message(self.Filtered())

    def listed_keys(self) -> list[KeyView]:
        """The keys in the table (a window of the matching ones)."""
        return self.matched[: self._shown]

    def highlighted_key(self) -> KeyView | None:
        row = self.cursor_row
        if not self._shown or not 0 <= row < self._shown:
            return None
        return self.matched[row]

    def summary(self, width: int | None = None) -> str:
        """The counts line above the table, in fewer words where `width`
        cells do not hold it: wrapped, it pushed the table down a line as
        keys were selected (at 60 columns)."""
        loaded = self.loaded
        total = len(loaded.keys) if loaded else 0
        if loaded is None and self.unread:
            return sentence(f"the keys could not be read: {self.unread}")
        if loaded is None or not total:
            return "No API keys yet."
        matched, selected = len(self.matched), len(self.selected)
        # A disabled integration's active keys are refused ("1 active" under
        # its banner read as working).
        refused = loaded.keys[0].integration_disabled  # one integration's keys: all alike
        active = f"{loaded.active:,} {'refused while disabled' if refused else 'active'}"
        ended = f"{total - loaded.active:,}"
        verb = "matches" if matched == 1 else "match"
        found = (f"{matched:,} {verb} the filter", f"{matched:,} {verb}") if matched < total else ()
        chosen = (f"{selected:,} selected",) if selected else ()
        wordings = (
            (active, f"{ended} revoked or expired", *found[:1], *chosen),
            (active, f"{ended} revoked/expired", *found[1:], *chosen),
            (active, *found[1:], *chosen),
        )
        lines = [" · ".join(words) for words in wordings]
        fits = [line for line in lines if width is None or cells(line) <= width]
        text = fits[0] if fits else clipped(lines[-1], width or 1)
        if matched > MAX_ROWS:
            text += f"\nThe list holds the first {MAX_ROWS:,}: filter ( / ) to find the rest."
        return text

    # -- selecting several keys -----------------------------------------------------

    def toggle_selected(self) -> bool:
        """Select the highlighted key, or unselect it; False when there is no
        active key there (a revoked or expired key cannot be revoked)."""
        key, row = self.highlighted_key(), self.cursor_row
        if key is None or not key.is_active:
            return False
        if self.selected.pop(key.public_key, None) is None:
            self.selected[key.public_key] = key
        self._redraw_label(row, key)
        self.post_message(self.SelectionChanged())
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "unselect":
            return bool(self.selected)
        return super().check_action(action, parameters)

    def action_unselect(self) -> None:
        self.clear_selection()

    def clear_selection(self) -> bool:
        """Unselect every key; False when none was selected."""
        chosen, self.selected = self.selected, {}
        if not chosen:
            return False
        for row, key in enumerate(self.listed_keys()):
            if key.public_key in chosen:
                self._redraw_label(row, key)
        self.post_message(self.SelectionChanged())
        return True

    def _redraw_label(self, row: int, key: KeyView) -> None:
        column = next(n for n, (c, _) in enumerate(self.fitted) if c.key == "label")
        self.update_cell_at(Coordinate(row, column), self._label(key, self.fitted[column][1]))

    def _label(self, key: KeyView, width: int) -> Text:
        # Cut in the middle: "api-gateway-prod" and "-staging" still differ.
        if key.public_key in self.selected:
            return literal(SELECTED_MARK + key.label, SELECTED_STYLE, width=width, keep_end=True)
        return literal(key.label, width=width, keep_end=True)

    # -- filling it ---------------------------------------------------------------

    def load(self, loaded: LoadedKeys) -> None:
        """A new load: `filter` shows it. Selected keys no longer active
        (revoked meanwhile, here or elsewhere) are no longer selected."""
        self.loaded, self.unread = loaded, None
        if self.selected:
            fresh = {key.public_key: key for key in loaded.keys if key.public_key in self.selected}
            self.selected = {
                public: fresh[public]
                for public in self.selected
                if public in fresh and fresh[public].is_active
            }

    def stop_filtering(self) -> None:
        """The filter's text changed: a scan under way is for older text."""
        self._needle = None
        self.workers.cancel_group(self, "filter")

    def filter(self, needle: str, highlight: str | None = None) -> None:
        """Show the loaded keys containing `needle`, the highlighted key (or
        `highlight`) still highlighted if listed. The scan over every key
        runs in a worker (100,000 keys: 10-30 ms of GIL-held work the event
        loop would otherwise wait out in one piece); the table changes here."""
        loaded = self.loaded
        if loaded is None:
            return  # the load applies it
        if highlight is None and (current := self.highlighted_key()) is not None:
            highlight = current.public_key  # still listed, it stays highlighted (Escape too)
        self._needle = needle
        if not needle:
            self._show_filtered(loaded, needle, loaded.keys, highlight)
            return
        call_service(
            self,
            lambda: matching(loaded, needle),
            lambda keys: self._show_filtered(loaded, needle, keys, highlight),
            group="filter",
        )

    def _show_filtered(
        self, loaded: LoadedKeys, needle: str, keys: list[KeyView], highlight: str | None
    ) -> None:
        if loaded is not self.loaded or needle != self._needle:
            return  # a newer load or keystroke has its own scan coming
        self.show_rows(keys, highlight)
        self.post_message(self.Filtered())

    def show_rows(self, matched: list[KeyView], highlight: str | None) -> None:
        shown = self.matched[: self._shown]
        position = position_of(matched, highlight) if highlight else None
        self.matched = matched
        wanted = min(len(matched), max(WINDOW, (position or 0) + WINDOW // 2))
        if not shown or matched[: len(shown)] != shown:
            # Redrawn only when the rows in the table change: typing a filter
            # that every shown row still matches costs nothing on screen.
            self._shown = 0
            self.clear()
            self.wants.clear()  # the new rows' words decide the widths
        self._extend(wanted)
        if position is not None and position < self._shown:
            self.move_cursor(row=position)
        self.post_message(self.KeyHighlighted(self.highlighted_key()))

    def _extend(self, upto: int) -> None:
        upto = min(upto, len(self.matched), MAX_ROWS)
        if upto <= self._shown:
            return
        now = self._now()
        keys = self.matched[self._shown : upto]
        words = [key.status_words(now) for key in keys]
        wanted = {
            "status": max(map(cell_len, words)),
            "label": max(cells(visible(key.label)) for key in keys),
            "by": max(cells(visible(key.creator)) for key in keys),
            # "—" in 16 cells when no key was used: room a cut label takes
            "used": max(cell_len(when(key.last_used_at)) for key in keys),
        }
        if any(n > self.wants.get(c, 0) for c, n in wanted.items()):  # the rows shown are redrawn
            self.wants.update({c: max(n, self.wants.get(c, 0)) for c, n in wanted.items()})
            self.refit()
        status_width = next(w for c, w in self.fitted if c.key == "status")
        self.add_rows(
            self._row(key, now, said, status_width) for key, said in zip(keys, words, strict=True)
        )
        self._shown = upto

    def _row(self, key: KeyView, now: datetime, words: str, status_width: int) -> list[Text | str]:
        status = key_status(key.revoked_at, key.expires_at, now)
        if cell_len(words) > status_width:
            words = shorter_status(words, status_width)
        values: dict[str, Text | str] = {
            "public": key.public_key,
            "status": literal(
                words,
                "dim" if key.integration_disabled else STATUS_STYLE.get(status, ""),
                width=status_width,
            ),
            "used": when(key.last_used_at),
            "created": when(key.created_at),
            "revoked": when(key.revoked_at) if key.revoked_at else "",
        }
        cells: list[Text | str] = []
        for column, width in self.fitted:
            if column.key == "label":
                cells.append(self._label(key, width))
            elif column.key == "by":
                cells.append(literal(key.creator, width=width))
            else:
                cells.append(values[column.key])
        return cells

    def _redraw_window(self) -> None:
        shown, self._shown = self._shown, 0
        self._extend(shown)

    # -- the cursor ---------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= self._shown - WINDOW // 5:
            self._extend(self._shown + WINDOW)
        self.post_message(self.KeyHighlighted(self.highlighted_key()))

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.post_message(self.KeySelected(key))
