"""One integration: its Overview, and its API Keys with Generate and Revoke."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Static,
    TabbedContent,
    TabPane,
)

from keydesk.tui.actions import integration_action, key_action
from keydesk.tui.calls import call_service
from keydesk.tui.display import content, literal, when
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.audit import AuditLog
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.views import IntegrationView, KeyView

# A DataTable re-measures its rows as they grow, so thousands of rows cost
# seconds of rendering (bench/tui.py). The table shows at most MAX_ROWS of
# the keys that match the filter (active first, newest first), added in
# slices with a yield between them so the interface never freezes; the
# filter finds any of the rest at once, in memory.
MAX_ROWS = 500
ROWS_PER_SLICE = 50
FILTER_FROM = 9  # keys; fewer fit on one screen without a filter

STATUS_STYLE = {"active": "bold", "revoked": "dim strike", "expired": "dim"}


class IntegrationDetailScreen(KeydeskScreen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("g", "generate", "Generate", id="detail.generate"),
        Binding("t", "rotate", "Rotate", id="detail.rotate"),
        Binding("x", "revoke", "Revoke", id="detail.revoke"),
        Binding("delete", "revoke", "Revoke", show=False),
        Binding("p", "copy_public", "Copy public key", show=False, id="detail.copy_public"),
        Binding("o", "show_tab('overview')", "Overview", show=False, id="detail.overview"),
        Binding("k", "show_tab('api-keys')", "API Keys", show=False, id="detail.keys"),
        Binding("a", "show_tab('audit')", "Audit", show=False, id="detail.audit"),
        Binding("e", "edit", "Edit", id="detail.edit"),
        Binding("c", "configure", "Configure", id="detail.configure"),
        Binding("d", "disable", "Disable", id="detail.disable"),
        Binding("r", "refresh", "Refresh", show=False, id="detail.refresh"),
        Binding("slash", "filter_keys", "Filter", show=False, id="detail.filter"),
    ]

    def __init__(self, integration: IntegrationView, *, tab: str = "api-keys") -> None:
        super().__init__(id="detail-screen")
        self.integration = integration
        self._initial_tab = tab
        self._keys: dict[str, KeyView] = {}
        self._ordered: list[KeyView] = []
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
                yield Input(
                    placeholder="Filter keys by label, public key, status or creator  ( / )",
                    id="key-filter",
                    compact=True,
                )
                yield DataTable(id="keys", cursor_type="row", zebra_stripes=True)
            with TabPane("Audit", id="audit"):
                yield AuditLog(self.integration.workspace, self.integration.id)
        yield Footer()

    # -- widgets, typed ---------------------------------------------------------

    @property
    def table(self) -> DataTable[object]:
        return self.query_one("#keys", DataTable)

    @property
    def key_filter(self) -> Input:
        return self.query_one("#key-filter", Input)

    @property
    def summary(self) -> Static:
        return self.query_one("#keys-summary", Static)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def generate_button(self) -> Button:
        return self.query_one("#generate", Button)

    @property
    def gate(self) -> Static:
        return self.query_one("#keys-gate", Static)

    @property
    def title_bar(self) -> Static:
        return self.query_one("#detail-title", Static)

    @property
    def overview(self) -> Static:
        return self.query_one("#overview-text", Static)

    def on_mount(self) -> None:
        table = self.table
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
        self.key_filter.display = False
        self._show_integration(self.integration)
        self.load_keys()

    # -- integration ------------------------------------------------------------

    def _show_integration(self, integration: IntegrationView) -> None:
        self.integration = integration
        self.title_bar.update(
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
        self.overview.update(
            content("\n".join(f"{name:<{width}}  {value}" for name, value in rows))
        )
        reason = integration.why_no_new_keys()
        button = self.generate_button
        button.disabled = reason is not None
        button.tooltip = literal(reason) if reason else None
        gate = self.gate
        gate.display = reason is not None
        gate.update(content(reason or ""))
        self.refresh_bindings()

    def on_integrations_changed(self, _message: IntegrationsChanged) -> None:
        call_service(
            self,
            lambda: self.keydesk.service.integration(self.integration.id),
            self._show_integration,
            group="integration",
        )

    # -- keys -----------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_keys()
        self.on_integrations_changed(IntegrationsChanged())

    def load_keys(self, highlight: str | None = None) -> None:
        self._highlight = highlight
        self.summary.update(content("Loading keys…"))
        self.table.loading = True
        integration_id = self.integration.id
        call_service(
            self, lambda: self.keydesk.service.keys(integration_id), self._fill_keys, group="keys"
        )

    def _fill_keys(self, keys: list[KeyView]) -> None:
        self._ordered = keys
        self._keys = {k.public_key: k for k in keys}
        key_filter = self.key_filter
        key_filter.display = len(keys) >= FILTER_FROM
        if self._highlight and not _matches(self._keys.get(self._highlight), key_filter.value):
            key_filter.value = ""  # the key just made must be in view
        self._render_keys()

    @on(Input.Changed, "#key-filter")
    def _render_keys(self) -> None:
        needle = self.key_filter.value
        matched = [k for k in self._ordered if _matches(k, needle)]
        self._add_rows(matched)

    @work(group="fill", exclusive=True)
    async def _add_rows(self, matched: list[KeyView]) -> None:
        table = self.table
        table.clear()
        table.loading = False
        shown = matched[:MAX_ROWS]
        summary = self.summary
        for start in range(0, len(shown), ROWS_PER_SLICE):
            for key in shown[start : start + ROWS_PER_SLICE]:
                table.add_row(*_row(key), key=key.public_key)
            if len(shown) > ROWS_PER_SLICE:
                summary.update(content(f"Loading keys… {table.row_count:,} of {len(shown):,}"))
            await asyncio.sleep(0.01)  # lets the table measure this slice while idle
        self._summarise(len(matched), len(shown))
        if self._highlight and self._highlight in table.rows:
            table.move_cursor(row=table.get_row_index(self._highlight))
            table.focus()
        self._highlight = None
        self.refresh_bindings()

    def _summarise(self, matched: int, shown: int) -> None:
        if not self._keys:
            text = "No API keys yet."
        else:
            active = sum(1 for k in self._ordered if k.is_active)
            text = f"{active:,} active · {len(self._keys) - active:,} revoked or expired"
            if shown < matched:
                text += f"\nShowing {shown:,} of {matched:,}: filter ( / ) to find the rest."
            elif matched < len(self._keys):
                text += f"\n{matched:,} match the filter."
        self.summary.update(content(text))

    def on_keys_changed(self, message: KeysChanged) -> None:
        if message.integration_id == self.integration.id:
            self.load_keys(highlight=message.highlight)
            self.on_integrations_changed(IntegrationsChanged())

    def listed_keys(self) -> list[KeyView]:
        return list(self._keys.values())

    def highlighted_key(self) -> KeyView | None:
        table = self.table
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return self._keys.get(row_key.value or "")

    # -- actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("revoke", "rotate", "copy_public"):
            if self.tabs.active != "api-keys":
                return None
            return key_action(self.integration, self.highlighted_key(), action)
        if action in ("generate", "edit", "configure", "disable"):
            return integration_action(self.integration, action)
        return True

    @on(TabbedContent.TabActivated)
    @on(DataTable.RowHighlighted, "#keys")
    def _bindings_changed(self) -> None:
        self.refresh_bindings()

    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        self.keydesk.generate_key(self.integration.id)

    def action_rotate(self) -> None:
        if (key := self.highlighted_key()) is not None and key.is_active:
            self.keydesk.rotate_key(key)

    def action_revoke(self) -> None:
        if (key := self.highlighted_key()) is not None and key.is_active:
            self.keydesk.revoke_key(key)

    def action_filter_keys(self) -> None:
        key_filter = self.key_filter
        if key_filter.display:
            self.action_show_tab("api-keys")
            key_filter.focus()

    @on(Input.Submitted, "#key-filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_copy_public(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.keydesk.copy_text(key.public_key, "Public key")

    def action_show_tab(self, tab: str) -> None:
        self.tabs.active = tab

    def action_edit(self) -> None:
        self.keydesk.edit_integration(self.integration)

    def action_configure(self) -> None:
        self.keydesk.configure_integration(self.integration)

    def action_disable(self) -> None:
        self.keydesk.disable_integration(self.integration)


def _matches(key: KeyView | None, needle: str) -> bool:
    if key is None:
        return False
    needle = needle.strip().lower()
    return (
        not needle
        or needle in f"{key.label} {key.public_key} {key.status} {key.created_by}".lower()
    )


def _row(key: KeyView) -> tuple[Text | str, ...]:
    status = key.status
    return (
        literal(key.label),
        key.public_key,
        literal(status, STATUS_STYLE.get(status, "")),
        when(key.created_at),
        literal(key.creator),
        when(key.last_used_at),
        when(key.revoked_at) if key.revoked_at else "",
    )
