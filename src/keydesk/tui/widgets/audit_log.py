"""The audit trail as a list: a workspace's or an integration's events,
newest first.

A trail may hold 100,000 events: `AuditLog` never loads it whole. It asks
the service for one page (one indexed range read), shows it, and asks for
the next only when the cursor comes near the end of what is shown. Every
stored string is shown literally. The columns fit the width (Label gets
what is left); the line under the table has the highlighted event whole.
"""

from __future__ import annotations

from typing import cast

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from keydesk.tui.calls import call_service
from keydesk.tui.display import content, literal
from keydesk.tui.interface import Keydesk
from keydesk.tui.widgets.fitted_table import Column, FittedTable
from keydesk.views import AuditView
from keydesk.wording import when

PAGE = 200  # events per read
LOAD_AHEAD = 40  # rows before the end of the table at which the next page is read

COLUMNS = [
    Column("at", "When", 16),
    Column("actor", "Actor", 8, drop=1),
    Column("action", "Action", 17),  # key.revoke.leaked whole; longer ones cut
    # A key's label is in Label; an integration's page names it: Target goes first.
    Column("target", "Target", 21, drop=2),
    Column("label", "Label", 16, flexible_up_to=60),
]


class AuditLog(Vertical):
    """One workspace's or one integration's events, a page at a time. It
    reads its first page when first shown (a tab that is never opened costs
    nothing)."""

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

    def compose(self) -> ComposeResult:
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

    def reload(self) -> None:
        """Start again from the newest event."""
        self._started = True
        self._events = []
        self._more = True
        self._reading = False
        self.table.clear()
        self._read_next()

    def _read_next(self) -> None:
        if self._reading or not self._more:
            return
        self._reading = True
        self._summarise()
        app = cast(Keydesk, self.app)
        workspace, integration = self.workspace, self.integration_id
        after = self._events[-1] if self._events else None
        call_service(
            self,
            # `app.calls` waits, in the worker, for a store still opening
            lambda: app.calls.audit(workspace, integration=integration, after=after, limit=PAGE),
            self._show_page,
            on_error=self._failed,
            group=f"audit-{self.workspace}-{self.integration_id}",
        )

    def _show_page(self, page: list[AuditView]) -> None:
        self._reading = False
        self._more = len(page) == PAGE
        self._events += page
        self._add_rows(page)
        self._laid_out = False
        self.table.call_after_refresh(self._drawn)
        self._summarise()

    def _add_rows(self, events: list[AuditView]) -> None:
        table = self.table
        for event in events:
            values = {
                "at": when(event.at), "actor": event.actor, "action": event.action,
                "target": event.target, "label": event.label,
            }  # fmt: skip
            table.add_row(
                *(literal(values[column.key], width=width) for column, width in table.fitted),
                key=str(event.id),
            )

    def _redraw(self, cursor: int) -> None:
        """The columns changed with the width: the rows read so far, again."""
        self._add_rows(self._events)
        if self.table.row_count:
            self.table.move_cursor(row=min(cursor, self.table.row_count - 1))

    def _drawn(self) -> None:
        # A DataTable sizes its columns when idle, but rows it drew before
        # that stay in its caches at the old widths: draw them again.
        self.table.notify_style_update()
        self._laid_out = True

    def _failed(self, message: str) -> None:
        self._reading = False
        self.query_one("#audit-summary", Static).update(content(message))

    def _summarise(self) -> None:
        shown = len(self._events)
        if self._reading:
            text = f"{shown:,} events · reading more…" if shown else "Reading the audit trail…"
        elif not shown:
            text = "No events yet."
        elif self._more:
            text = f"Newest {shown:,} events · more load as you scroll down"
        else:
            text = f"{shown:,} events, newest first"
        self.query_one("#audit-summary", Static).update(content(text))

    @on(DataTable.RowHighlighted, "#audit-events")
    def _near_the_end(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)
        if event.cursor_row >= self.table.row_count - LOAD_AHEAD:
            self._read_next()

    def _show_detail(self, row: int) -> None:
        """The highlighted event whole: what the columns cut or left out."""
        parts: list[str] = []
        if 0 <= row < len(self._events):
            event = self._events[row]
            parts = [when(event.at), event.actor, event.action, event.target]
            elsewhere = event.integration if self.integration_id is None else None
            parts += [p for p in (event.label, event.related, elsewhere) if p]
        self.query_one("#audit-detail", Static).update(content(" · ".join(parts)))
