"""The audit trail: a workspace's (from the palette); an integration's is
the Audit tab of its page. Both are an `AuditLog`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.widgets import AuditLog, Header, KeyFooter


class AuditScreen(KeydeskScreen[None]):
    """A workspace's whole trail."""

    AUTO_FOCUS = "#audit-events"
    BINDINGS = [
        Binding("escape,q", "back", "Back", key_display="esc", id="audit.back"),
        Binding("r", "refresh", "Refresh", id="audit.refresh"),
    ]

    def __init__(self, workspace: str) -> None:
        super().__init__(id="audit-screen")
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(content(f"Audit trail of {self.workspace}"), id="audit-title")
        yield AuditLog(self.workspace, id="workspace-audit")
        yield KeyFooter()

    def action_refresh(self) -> None:
        self.query_one(AuditLog).reload()
