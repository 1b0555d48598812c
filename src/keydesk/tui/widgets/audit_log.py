"""The audit trail as a list: a workspace's or an integration's events,
newest first.

A trail may hold 100,000 events: `AuditLog` never loads it whole. It asks
the service for one page (one indexed range read), shows it, and asks for
the next only when the cursor comes near the end of what is shown. Every
stored string is shown literally. The columns fit the width (Detail gets
what is left); the line under the table has the highlighted event whole.

`/` filters the whole trail, not the rows read so far: the store is asked
(in a worker, a page at a time, as without a filter) for the events holding
the text, and the line above the table says so.
"""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.events import DescendantBlur
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from keydesk.tui.calls import call_service
from keydesk.tui.display import cells, content, literal, visible
from keydesk.tui.interface import Keydesk
from keydesk.tui.widgets.filter_input import FilterInput, no_match
from keydesk.tui.widgets.fitted_table import Column, FittedTable
from keydesk.views import AuditView, counted
from keydesk.wording import when

PAGE = 200  # events per read
LOAD_AHEAD = 40  # rows before the end of the table at which the next page is read
# Seconds of quiet typing before the store is searched: a search of a whole
# trail runs on in its thread once a newer one replaces it (seconds for
# 1,000,000 events), so one per pause, not one per character.
FILTER_DELAY = 0.4

# Which columns show depends on the width alone (`returns=False`): at 80
# columns Actor is out whatever the rows, so a filter's rows do not bring it
# in and shift the table (README: Key and Actor out at 80, Detail at 60).
COLUMNS = [
    Column("at", "When", 16),
    Column("actor", "Actor", 8, drop=2, returns=False),
    # The action whole at every width (README), integration.configure the
    # longest: at 60 columns About gives way ("api-ga…taging", its end kept;
    # whole in the line under the table), not the action ("integra…nfigure").
    Column("action", "Action", 21),
    # What the event is about: a key's label (its end kept, as on the API
    # Keys tab), else an integration, account or workspace by name; from 80
    # columns 19 for "api-gateway-staging" whole.
    Column("about", "About", 13, comfortable=19, flexible_up_to=24),
    Column("key", "Key", 21, drop=3, returns=False),  # the public key, for key events
    # What the event says besides (a rotation's stop, a role, a policy);
    # when cut, Key (also in the line under the table) gives way to it.
    Column("detail", "Detail", 12, drop=1, flexible_up_to=60, outranks=3, returns=False),
]


def about(event: AuditView) -> str:
    """Which key, integration, account or workspace `event` is about."""
    return event.key_label or event.target


def detail(event: AuditView) -> str | None:
    """What `event` says besides what it is about (a key event's own label
    is often the key's label, said already)."""
    return event.label if event.label != about(event) else None


class AuditLog(Vertical):
    """One workspace's or one integration's events, a page at a time. It
    reads its first page when first shown (a tab that is never opened costs
    nothing)."""

    # Here, not on a screen: wherever a trail is shown (an integration's Audit
    # tab included, whose page's own `/` filters keys), `/` filters it, and
    # what is typed after it goes into the box, not to another binding.
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="audit.filter",
                tooltip="Filter the whole trail: action, key, account or any text"),
    ]  # fmt: skip

    def __init__(
        self, workspace: str, integration_id: int | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.workspace = workspace
        self.integration_id = integration_id
        self._events: list[AuditView] = []
        self._more = True
        self._reading = False
        self._started = False
        self._laid_out = True
        self._matching = ""  # the filter's text the events shown hold
        self._generation = 0  # a page asked for before a reload is dropped
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        filter_input = FilterInput(
            placeholder="Filter the whole trail: action, key, account, any text  ( / )",
            id="audit-filter",
            compact=True,
        )
        filter_input.display = False  # shown by `/`
        filter_input.can_focus = False  # a tab focuses its first focusable widget: the list
        yield filter_input
        yield Static(id="audit-summary")
        yield FittedTable(COLUMNS, redraw=self._redraw, id="audit-events")
        yield Static(id="audit-detail")

    @property
    def table(self) -> FittedTable:
        return self.query_one("#audit-events", FittedTable)

    @property
    def events(self) -> list[AuditView]:
        """What has been read so far (newest first)."""
        return list(self._events)

    @property
    def settled(self) -> bool:
        """No page is being read, and the rows shown have been measured and
        drawn (a DataTable sizes its columns when idle, after rows arrive)."""
        return self._started and not self._reading and self._laid_out

    def on_show(self) -> None:
        if not self._started:
            self.reload()

    def stale(self) -> None:
        """Events were added meanwhile (a key made, rotated or revoked from
        this page): read again once shown, at once if shown now."""
        self._started = False
        if self.region.width:
            self.reload()

    @property
    def filter_input(self) -> Input:
        return self.query_one("#audit-filter", Input)

    def action_filter(self) -> None:
        self.filter_input.display = self.filter_input.can_focus = True
        self.filter_input.focus()

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        # An empty filter left (Escape, Enter, a click) goes until `/` again.
        if event.widget is self.filter_input and not self.filter_input.value:
            self.filter_input.display = self.filter_input.can_focus = False

    @on(Input.Changed, "#audit-filter")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        typed = self.filter_input.value.strip()
        if typed != self._matching:  # not the last search's answer under new text
            said = summary(0, True, True, typed)
            self.query_one("#audit-summary", Static).update(content(said))
            self.query_one("#audit-detail", Static).update("")
        # Once typing pauses; emptied (Escape), at once: a key typed behind it is for the
        # whole trail (as on the API Keys tab).
        if self.filter_input.value:
            self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)
        else:
            self._apply_filter()

    def _apply_filter(self) -> None:
        self._filter_timer = None
        if self.filter_input.value.strip() != self._matching:
            self.reload()

    @on(Input.Submitted, "#audit-filter")
    def _filter_done(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._apply_filter()
        self.table.focus()

    def reload(self) -> None:
        """Start again from the newest event."""
        self._started = True
        self._generation += 1
        self._matching = self.filter_input.value.strip()
        self._events = []
        self._more = True
        self._reading = False
        self.table.clear()
        self.table.wants.clear()  # the new rows' text decides the widths
        self._read_next()
        self._show_detail(-1)  # the event it described may be filtered out

    def _read_next(self) -> None:
        if self._reading or not self._more:
            return
        self._reading = True
        self._summarise()
        app = cast(Keydesk, self.app)
        workspace, integration = self.workspace, self.integration_id
        after = self._events[-1] if self._events else None
        matching, generation = self._matching or None, self._generation
        call_service(
            self,
            # `app.calls` waits, in the worker, for a store still opening
            lambda: app.calls.audit(
                workspace, integration=integration, after=after, limit=PAGE, matching=matching
            ),
            lambda page: self._show_page(page) if generation == self._generation else None,
            on_error=self._failed,
            group=f"audit-{self.workspace}-{self.integration_id}",
        )

    def _show_page(self, page: list[AuditView]) -> None:
        self._reading = False
        self._more = len(page) == PAGE
        if self._measure(page):
            self.table.refit()  # redraws the rows shown before this page
        self._events += page
        self._add_rows(page)
        self._laid_out = False
        self.table.call_after_refresh(self._drawn)
        self._summarise()
        # The cursor stays on row 0 as a new read fills the table, which
        # Textual does not report as a change of row: said here.
        self._show_detail(self.table.cursor_row)

    def _measure(self, events: list[AuditView]) -> bool:
        """Whether `events` need wider columns than the rows shown: a column
        wider than its text (Action's 21 cells for "key.rotate") gives the
        rest to one its text is cut in (Detail)."""
        wants = self.table.wants
        wanted: dict[str, int] = {}
        for values in map(_values, events):
            for column, text in values.items():
                # 1 for none: known empty, as narrow as its heading
                wanted[column] = max(wanted.get(column, 1), cells(visible(text)))
        if not any(n > wants.get(c, 0) for c, n in wanted.items()):
            return False
        wants.update({c: max(n, wants.get(c, 0)) for c, n in wanted.items()})
        return True

    def _add_rows(self, events: list[AuditView]) -> None:
        table = self.table
        for event in events:
            table.add_row(*_cells(_values(event), table), key=str(event.id))

    def _redraw(self) -> None:
        """The columns changed with the width: the rows read so far, again."""
        self._add_rows(self._events)

    def _drawn(self) -> None:
        # A DataTable sizes its columns when idle, but rows it drew before
        # that stay in its caches at the old widths: draw them again. Textual
        # runs this on the screen in front: the page may be gone by then
        # (q right after leaving a filtered Audit tab ended keydesk).
        try:
            table = self.table
        except NoMatches:
            return
        table.notify_style_update()
        self._laid_out = True

    def _failed(self, message: str) -> None:
        self._reading = False
        self.query_one("#audit-summary", Static).update(content(message))

    def _summarise(self) -> None:
        self.query_one("#audit-summary", Static).update(
            content(summary(len(self._events), self._reading, self._more, self._matching))
        )

    @on(DataTable.RowHighlighted, "#audit-events")
    def _near_the_end(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)
        if event.cursor_row >= self.table.row_count - LOAD_AHEAD:
            self._read_next()

    def _show_detail(self, row: int) -> None:
        """The highlighted event whole: what the columns cut or left out;
        with none, why (a filter matching nothing), or nothing."""
        parts: list[str] = []
        if not self._events and self._matching and not self._reading:
            parts = [no_match("event", self._matching)]
        elif 0 <= row < len(self._events):
            event = self._events[row]
            parts = [when(event.at), event.actor, event.action, event.target]
            elsewhere = event.integration if self.integration_id is None else None
            related = f"replacement {event.related}" if event.related else None  # a rotation's
            said = (event.key_label, event.label, related, elsewhere)
            parts += [p for p in dict.fromkeys(said) if p and p not in parts]  # said once
        self.query_one("#audit-detail", Static).update(content(" · ".join(parts)))


def _values(event: AuditView) -> dict[str, str | None]:
    key = event.target if event.action.startswith("key.") else None
    return {
        "at": when(event.at), "actor": event.actor, "action": event.action,
        "about": about(event), "key": key, "detail": detail(event),
    }  # fmt: skip


def _cells(values: dict[str, str | None], table: FittedTable) -> list[Text]:
    return [
        literal(values[column.key], width=width, keep_end=column.key in ("about", "action"))
        for column, width in table.fitted
    ]


def summary(shown: int, reading: bool, more: bool, matching: str) -> str:
    """The line above the table: how many events, and what was searched."""
    events = counted(shown, "event")  # "1 events holding" read wrong
    if not matching:
        if reading:
            return f"{events} · reading more…" if shown else "Reading the audit trail…"
        if not shown:
            return "No events yet."
        if more:
            return f"Newest {events} · more load as you scroll down"
        return f"{events}, newest first"
    holding = f"holding “{matching}”"
    if reading:
        if shown:
            return f"{events} {holding} · searching on…"
        return f"Searching the whole trail for events {holding}…"
    if not shown:  # the line under the table says so, as on every list (no_match)
        return f"{events}: the whole trail searched"
    if more:
        return f"Newest {events} {holding} · more load as you scroll down"
    return f"{events} {holding} (the whole trail searched), newest first"
