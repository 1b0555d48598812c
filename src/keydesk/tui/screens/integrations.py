"""Home: the workspace's OAuth integrations, filtered as you type."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from keydesk.tui.actions import integration_action
from keydesk.tui.calls import call_service
from keydesk.tui.display import content, literal, when
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.views import IntegrationStatus, IntegrationView, WorkspaceView

STATUS_STYLE = {
    IntegrationStatus.CONFIGURED: "bold",
    IntegrationStatus.DRAFT: "italic",
    IntegrationStatus.DISABLED: "dim",
}


class IntegrationsScreen(KeydeskScreen[None]):
    AUTO_FOCUS = "#integrations"
    BINDINGS = [
        Binding("enter", "open", "Open", id="integrations.open"),
        Binding("slash", "focus_filter", "Filter", key_display="/", id="integrations.filter"),
        Binding("a", "add", "Add", id="integrations.add"),
        Binding("g", "generate", "New key", id="integrations.generate"),
        Binding("e", "edit", "Edit", id="integrations.edit"),
        Binding("c", "configure", "Configure", id="integrations.configure"),
        Binding("d", "disable", "Disable", id="integrations.disable"),
        Binding("w", "switch_workspace", "Workspace", id="integrations.workspace"),
        Binding("m", "members", "Members", id="integrations.members"),
        Binding("r", "refresh", "Refresh", show=False, id="integrations.refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="integrations-screen")
        self._integrations: list[IntegrationView] = []
        self._select: int | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(
            placeholder="Filter integrations by name, provider or status  ( / )", id="filter"
        )
        yield DataTable(id="integrations", cursor_type="row", zebra_stripes=True)
        yield Static(id="empty-guide")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#integrations", DataTable)
        table.add_column("Name", key="name")
        table.add_column("Provider", key="provider")
        table.add_column("Status", key="status")
        table.add_column("Active keys", key="keys")
        table.add_column("Created", key="created")
        self.watch(self.app, "workspace", self._workspace_changed)
        table.focus()

    # -- data ---------------------------------------------------------------------

    def _workspace_changed(self, workspace: WorkspaceView | None) -> None:
        if workspace is not None:
            self.action_refresh()

    def action_refresh(self) -> None:
        workspace = self.keydesk.workspace
        if workspace is None:
            return
        table = self.query_one("#integrations", DataTable)
        table.loading = True
        call_service(
            self,
            lambda: self.keydesk.service.integrations(workspace.name),
            self._show,
            group="integrations",
        )

    def _show(self, integrations: list[IntegrationView]) -> None:
        self._integrations = integrations
        self.query_one("#integrations", DataTable).loading = False
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.query_one("#integrations", DataTable)
        needle = self.query_one("#filter", Input).value.strip().lower()
        keep = table.cursor_row
        table.clear()
        for item in self._integrations:
            if needle and needle not in f"{item.name} {item.provider} {item.status}".lower():
                continue
            table.add_row(
                literal(item.name),
                literal(item.provider),
                literal(item.status.value, STATUS_STYLE[item.status]),
                str(item.active_keys),
                when(item.created_at),
                key=str(item.id),
            )
        if self._select is not None and str(self._select) in table.rows:
            table.move_cursor(row=table.get_row_index(str(self._select)))
            self._select = None
        elif table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._update_guide(needle)
        self.refresh_bindings()

    def _update_guide(self, needle: str) -> None:
        guide = self.query_one("#empty-guide", Static)
        table = self.query_one("#integrations", DataTable)
        workspace = self.keydesk.workspace
        if table.row_count:
            guide.display = False
            return
        guide.display = True
        if needle:
            guide.update(content(f"No integration matches “{needle}”. Escape clears the filter."))
        elif workspace is not None and workspace.can_manage:
            guide.update(
                content(
                    f"No integrations in {workspace.name} yet.\n\n"
                    "Press a to add your first OAuth integration: its name, provider, client id\n"
                    "and redirect URI. Once it is configured you can generate API keys for it."
                )
            )
        else:
            guide.update(content("No integrations here yet. Ask an owner or admin to add one."))

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self._render_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.query_one("#integrations", DataTable).focus()

    def on_integrations_changed(self, message: IntegrationsChanged) -> None:
        self._select = message.select
        self.action_refresh()

    def on_keys_changed(self, _message: KeysChanged) -> None:
        self.action_refresh()  # active key counts

    # -- actions ------------------------------------------------------------------

    def highlighted(self) -> IntegrationView | None:
        table = self.query_one("#integrations", DataTable)
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return next((i for i in self._integrations if str(i.id) == row_key.value), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add":
            workspace = self.keydesk.workspace
            return (workspace is not None and workspace.can_manage) or None
        if action == "members":
            return self.keydesk.workspace is not None or None
        if action in ("open", "generate", "configure", "disable", "edit"):
            return integration_action(self.highlighted(), action)
        return True

    @on(DataTable.RowHighlighted, "#integrations")
    def _highlight_changed(self) -> None:
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#integrations")
    def _row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.open_integration(item)

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one("#integrations", DataTable).focus()

    def action_add(self) -> None:
        self.keydesk.add_integration()

    def action_generate(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.generate_key(item.id)

    def action_edit(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.edit_integration(item)

    def action_configure(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.configure_integration(item)

    def action_disable(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.disable_integration(item)

    def action_switch_workspace(self) -> None:
        self.keydesk.switch_workspace()

    def action_members(self) -> None:
        self.keydesk.show_members()
