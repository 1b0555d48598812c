"""The audit trail: a workspace's (from the palette); an integration's is
the Audit tab of its page. Both are an `AuditLog`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.widgets import AuditLog, Header, KeyFooter
from keydesk.tui.widgets.filter_input import clear_filter_binding, clear_typed, typed_in


class AuditScreen(KeydeskScreen[None]):
    """A workspace's whole trail."""

    AUTO_FOCUS = "#audit-events"
    BINDINGS = [
        clear_filter_binding("audit", "event"),
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return bool(typed_in(self)) if action == "clear_filter" else True

    def action_clear_filter(self) -> None:
        clear_typed(self)

    def action_refresh(self) -> None:
        self.query_one(AuditLog).reload()
