"""One integration: its Overview, and its API Keys with Generate and Revoke."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Static, TabbedContent, TabPane

from keydesk.service import IntegrationView, KeyView
from keydesk.tui.calls import call_service
from keydesk.tui.display import content, literal, when
from keydesk.tui.messages import IntegrationsChanged, KeysChanged

# Rows are added in slices with a yield between them, so a store with
# thousands of keys opens without freezing the interface.
ROWS_PER_SLICE = 250

STATUS_STYLE = {"active": "bold", "revoked": "dim strike", "expired": "dim"}


class IntegrationDetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("g", "generate", "Generate API key", id="detail.generate"),
        Binding("x", "revoke", "Revoke", id="detail.revoke"),
        Binding("delete", "revoke", "Revoke", show=False),
        Binding("p", "copy_public", "Copy public", id="detail.copy_public"),
        Binding("o", "show_tab('overview')", "Overview", show=False, id="detail.overview"),
        Binding("k", "show_tab('api-keys')", "API Keys", show=False, id="detail.keys"),
        Binding("e", "edit", "Edit", id="detail.edit"),
        Binding("c", "configure", "Configure", id="detail.configure"),
        Binding("d", "disable", "Disable", id="detail.disable"),
        Binding("r", "refresh", "Refresh", show=False, id="detail.refresh"),
    ]

    def __init__(self, integration: IntegrationView, *, tab: str = "api-keys") -> None:
        super().__init__(id="detail-screen")
        self.integration = integration
        self._initial_tab = tab
        self._keys: dict[str, KeyView] = {}
        self._highlight: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="detail-title")
        with TabbedContent(initial=self._initial_tab, id="tabs"):
            with TabPane("Overview", id="overview"), VerticalScroll(id="overview-body"):
                yield Static(id="overview-text")
            with TabPane("API Keys", id="api-keys"):
                with Horizontal(id="keys-bar"):
                    yield Static(id="keys-summary")
                    yield Button("Generate API key", id="generate", variant="primary")
                yield Static(id="keys-gate")
                yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#keys", DataTable)
        for label, key in (
            ("Label", "label"),
            ("Public key", "public"),
            ("Status", "status"),
            ("Created", "created"),
            ("By", "by"),
            ("Last used", "used"),
            ("Revoked", "revoked"),
        ):
            table.add_column(label, key=key)
        self._show_integration(self.integration)
        self.load_keys()

    # -- integration ------------------------------------------------------------

    def _show_integration(self, integration: IntegrationView) -> None:
        self.integration = integration
        self.query_one("#detail-title", Static).update(
            content(f"{integration.name}  ·  {integration.provider}  ·  {integration.status}")
        )
        rows = [
            ("Workspace", integration.workspace),
            ("Provider", integration.provider),
            ("Status", integration.status.value),
            ("Client ID", integration.client_id or "— (not set)"),
            ("Redirect URI", integration.redirect_uri or "— (not set)"),
            ("Scopes", integration.scopes or "—"),
            ("Active keys", str(integration.active_keys)),
            ("Created", when(integration.created_at)),
            ("Updated", when(integration.updated_at)),
            ("Your role", integration.role.value),
        ]
        width = max(len(name) for name, _ in rows)
        self.query_one("#overview-text", Static).update(
            content("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
        )
        reason = integration.why_no_new_keys()
        button = self.query_one("#generate", Button)
        button.disabled = reason is not None
        button.tooltip = reason
        gate = self.query_one("#keys-gate", Static)
        gate.display = reason is not None
        gate.update(content(reason or ""))
        self.refresh_bindings()

    def on_integrations_changed(self, _message: IntegrationsChanged) -> None:
        call_service(
            self,
            lambda: self.app.service.integration(self.integration.id),
            self._show_integration,
            group="integration",
        )

    # -- keys -----------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_keys()
        self.on_integrations_changed(IntegrationsChanged())

    def load_keys(self, highlight: str | None = None) -> None:
        self._highlight = highlight
        self.query_one("#keys-summary", Static).update(content("Loading keys…"))
        self.query_one("#keys", DataTable).loading = True
        integration_id = self.integration.id
        call_service(
            self, lambda: self.app.service.keys(integration_id), self._fill_keys, group="keys"
        )

    @work(group="fill", exclusive=True)
    async def _fill_keys(self, keys: list[KeyView]) -> None:
        table = self.query_one("#keys", DataTable)
        summary = self.query_one("#keys-summary", Static)
        self._keys = {k.public_key: k for k in keys}
        table.clear()
        table.loading = False
        for start in range(0, len(keys), ROWS_PER_SLICE):
            for key in keys[start : start + ROWS_PER_SLICE]:
                table.add_row(*_row(key), key=key.public_key)
            if len(keys) > ROWS_PER_SLICE:
                summary.update(content(f"Loading keys… {table.row_count:,} of {len(keys):,}"))
                await asyncio.sleep(0)
        self._summarise()
        if self._highlight and self._highlight in table.rows:
            table.move_cursor(row=table.get_row_index(self._highlight))
            table.focus()
        self._highlight = None
        self.refresh_bindings()

    def _summarise(self) -> None:
        active = sum(1 for k in self._keys.values() if k.is_active)
        other = len(self._keys) - active
        text = f"{active} active · {other} revoked or expired" if self._keys else "No API keys yet."
        self.query_one("#keys-summary", Static).update(content(text))

    def on_keys_changed(self, message: KeysChanged) -> None:
        if message.integration_id == self.integration.id:
            self.load_keys(highlight=message.highlight)
            self.on_integrations_changed(IntegrationsChanged())

    def listed_keys(self) -> list[KeyView]:
        return list(self._keys.values())

    def highlighted_key(self) -> KeyView | None:
        table = self.query_one("#keys", DataTable)
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self._keys.get(row_key.value or "")

    # -- actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        on_keys = self.query_one("#tabs", TabbedContent).active == "api-keys"
        if action == "generate":
            return self.integration.why_no_new_keys() is None or None
        if action == "revoke":
            key = self.highlighted_key()
            return (
                on_keys and self.integration.can_manage and key is not None and key.is_active
            ) or None
        if action == "copy_public":
            return (on_keys and self.highlighted_key() is not None) or None
        if action == "edit":
            return self.integration.can_manage or None
        if action == "configure":
            return not self.integration.is_configured and (self.integration.can_manage or None)
        if action == "disable":
            return self.integration.is_configured and (self.integration.can_manage or None)
        return True

    @on(TabbedContent.TabActivated)
    @on(DataTable.RowHighlighted, "#keys")
    def _bindings_changed(self) -> None:
        self.refresh_bindings()

    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        self.app.generate_key(self.integration.id)

    def action_revoke(self) -> None:
        if (key := self.highlighted_key()) is not None and key.is_active:
            self.app.revoke_key(key)

    def action_copy_public(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.app.copy_text(key.public_key, "Public key")

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab

    def action_edit(self) -> None:
        self.app.edit_integration(self.integration)

    def action_configure(self) -> None:
        self.app.configure_integration(self.integration)

    def action_disable(self) -> None:
        self.app.disable_integration(self.integration)


def _row(key: KeyView):
    status = key.status
    return (
        literal(key.label),
        key.public_key,
        literal(status, STATUS_STYLE.get(status, "")),
        when(key.created_at),
        literal(key.created_by),
        when(key.last_used_at),
        when(key.revoked_at) if key.revoked_at else "",
    )
