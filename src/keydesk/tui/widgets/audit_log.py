"""The audit trail as a list: a workspace's or an integration's events,
newest first.

A trail may hold 100,000 events: `AuditLog` never loads it whole. It asks
the service for one page (one indexed range read), shows it, and asks for
the next only when the cursor comes near the end of what is shown. Every
stored string is shown literally.
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
from keydesk.tui.widgets.list_table import ListTable
from keydesk.views import AuditView
from keydesk.wording import when

PAGE = 200  # events per read
LOAD_AHEAD = 40  # rows before the end of the table at which the next page is read


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
        yield ListTable(id="audit-events")

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#audit-events", DataTable)

    @property
    def events(self) -> list[AuditView]:
        """What has been read so far (newest first)."""
        return list(self._events)

    @property
    def settled(self) -> bool:
        """No page is being read, and the rows shown have been measured and
        drawn (a DataTable sizes its columns when idle, after rows arrive)."""
        return self._started and not self._reading and self._laid_out

    def on_mount(self) -> None:
        for label, key in (
            ("When", "at"),
            ("Actor", "actor"),
            ("Action", "action"),
            ("Target", "target"),
            ("Label", "label"),
        ):
            self.table.add_column(label, key=key)

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
        table = self.table
        for event in page:
            table.add_row(
                when(event.at),
                literal(event.actor),
                literal(event.action),
                literal(event.target),
                literal(event.label),
                key=str(event.id),
            )
        self._laid_out = False
        table.call_after_refresh(self._drawn)
        self._summarise()

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
        if event.cursor_row >= self.table.row_count - LOAD_AHEAD:
            self._read_next()
