"""Home: the workspace's OAuth integrations, filtered as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from keydesk.tui.actions import advised_actions, integration_action
from keydesk.tui.calls import call_service
from keydesk.tui.display import cells, content, day, literal, visible
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.integration_words import (
    ONLY_MANAGERS,
    no_new_key,
    only_managers,
    why_cannot,
)
from keydesk.tui.widgets import (
    Column,
    FilterInput,
    Fitted,
    FittedTable,
    Header,
    KeyFooter,
    no_match,
)
from keydesk.tui.widgets.filter_input import clear_filter_binding, typed_in
from keydesk.views import EXPIRING_SOON, IntegrationStatus, IntegrationView, WorkspaceView

STATUS_STYLE = {
    IntegrationStatus.CONFIGURED: "bold",
    IntegrationStatus.DRAFT: "italic",
    IntegrationStatus.DISABLED: "dim",
}

COLUMNS = [
    Column("name", "Name", 16, flexible_up_to=40),
    Column("provider", "Provider", 12),
    Column("status", "Status", 10),
    # Active keys, and how many of them stop within 14 days, in words:
    # "4 (1 expiring)" where the column can be that wide (the rows' words
    # are its wants: at 60 columns short names and providers leave it the
    # room), fewer down to "4 (1 ends)" in its 10 cells ("4 · 1 ends" read
    # as a riddle; "exp" as expired).
    Column("keys", "Active", 10, drop=1),
    Column("created", "Created", 10, drop=2),
]


class IntegrationsScreen(KeydeskScreen[None]):
    AUTO_FOCUS = "#integrations"
    # ? explains the Active column's "4 (1 expiring)", which no heading has room for.
    HELP_NOTES = [
        (
            "Active",
            f"Keys that work, and how many of them stop working within "
            f"{EXPIRING_SOON.days} days, by expiry or a rotation: 4 (1 expiring)",
        )
    ]
    BINDINGS = [
        # Offered (first) while the filter holds text; an empty filter's
        # Escape goes down to the list unnamed (it clears nothing).
        clear_filter_binding("integrations", "integration", "escape"),  # q quits here
        Binding("escape", "focus_list", show=False),
        Binding("enter", "open", "Open", key_display="⏎", id="integrations.open",
                tooltip="Open the highlighted integration (its API Keys)"),
        Binding("slash", "focus_filter", "Filter", key_display="/", id="integrations.filter",
                tooltip="Filter integrations by name, provider or status"),
        Binding("a", "add", "Add", id="integrations.add", tooltip="Add an OAuth integration"),
        Binding("q", "app.quit", "Quit", show=False, id="integrations.quit",
                tooltip="Quit keydesk"),  # ? lists it with ctrl+q: "q / ^q"
        Binding("g", "generate", "New key", id="integrations.generate",
                tooltip="Generate an API key for the highlighted integration"),
        Binding("e", "edit", "Edit", show=False, id="integrations.edit",
                tooltip="Edit the highlighted integration's OAuth settings"),
        Binding("c", "configure", "Configure", show=False, id="integrations.configure",
                tooltip="Configure the highlighted integration"),
        Binding("d", "disable", "Disable", show=False, id="integrations.disable",
                tooltip="Disable the highlighted integration (its keys stop working)"),
        Binding("w", "switch_workspace", "Workspace", id="integrations.workspace",
                tooltip="Switch to another workspace"),
        Binding("m", "members", "Members", id="integrations.members",
                tooltip="Who is in this workspace, and as what"),
        Binding("s", "scan", "Scan", id="integrations.scan",
                tooltip="Scan a folder for leaked private keys"),
        Binding("r", "refresh", "Refresh", show=False, id="integrations.refresh",
                tooltip="Read the integrations again"),
    ]  # fmt: skip

    # Scan is shown where there is room (at 120 columns), first to go below.
    FOOTER_FIRST_TO_GO = ("scan",)

    def __init__(self) -> None:
        super().__init__(id="integrations-screen")
        self._integrations: list[IntegrationView] = []
        self._select: int | None = None
        self._highlighted_id: int | None = None  # kept across a refit, which empties the table
        self._mounted = False  # rows are drawn from on_mount on

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterInput(
            placeholder="Filter integrations by name, provider or status  ( / )",
            id="filter",
            compact=True,
        )
        yield FittedTable(COLUMNS, redraw=self._refitted, id="integrations")
        yield Static(id="empty-guide")
        yield KeyFooter()

    @property
    def table(self) -> FittedTable:
        return self.query_one("#integrations", FittedTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    def on_mount(self) -> None:
        self._mounted = True
        self._fit_and_render()  # the table has its columns (it is mounted first)
        self.watch(self.app, "workspace", self._workspace_changed)
        if not self.keydesk.ready and not self._integrations:  # a quiet line while it opens
            self.add_class("-opening")  # no rows nor keys yet (app.tcss)
            self._guide(f"Opening {self.keydesk.where or 'the store'}…")
        self.table.focus()

    def uncovered(self) -> None:
        self.action_refresh()

    # -- data ---------------------------------------------------------------------

    def _workspace_changed(self, workspace: WorkspaceView | None) -> None:
        if workspace is not None:
            self.action_refresh()

    def action_refresh(self) -> None:
        workspace = self.keydesk.workspace
        if workspace is None:
            return

        def read() -> list[IntegrationView]:
            with self.keydesk.reading() as reads:
                return reads.integrations(workspace.name)

        call_service(self, read, self.show, group="integrations")

    def show(self, integrations: list[IntegrationView]) -> None:
        self.remove_class("-opening")
        self._integrations = integrations
        if self._mounted:  # else on_mount draws them
            self._fit_and_render()

    def _fit_and_render(self) -> None:
        """The columns as wide as the rows' words need, then the rows."""
        table = self.table
        fitted = table.fitted
        table.wants = _wants(self._integrations)
        table.refit()  # redraws the rows if the widths changed
        if table.fitted == fitted:
            self._render_rows()

    def _refitted(self) -> None:
        """New columns (a resize) emptied the table: the row that was
        highlighted is highlighted again (it went back to the first, and g
        then made a key for another integration)."""
        if self._select is None:
            self._select = self._highlighted_id
        self._render_rows()

    def _render_rows(self) -> None:
        table = self.table
        needle = self.filter_input.value.strip().lower()
        keep = table.cursor_row
        selected = self.highlighted()
        table.clear()
        for item in self._integrations:
            if needle and needle not in f"{item.name} {item.provider} {item.status}".lower():
                continue
            table.add_row(*self._cells(item, table.fitted), key=str(item.id))
        select = self._select if self._select is not None else (selected and selected.id)
        self._select = None
        if select is not None and str(select) in table.rows:
            table.move_cursor(row=table.get_row_index(str(select)))
        elif table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._update_guide(needle)
        self._follow_row()

    def _cells(self, item: IntegrationView, layout: Fitted) -> list[Text | str]:
        widths = {column.key: width for column, width in layout}
        values: dict[str, Text | str] = {
            "status": literal(item.status.value, STATUS_STYLE[item.status]),
            "keys": key_counts(
                item.active_keys, item.expiring_keys, widths.get("keys", 0), _refused(item)
            ),
            "created": day(item.created_at),
        }
        return [
            literal(getattr(item, column.key), width=width)
            if column.key in ("name", "provider")
            else values[column.key]
            for column, width in layout
        ]

    def _guide(self, text: str | None) -> None:
        guide = self.query_one("#empty-guide", Static)
        guide.display = text is not None
        guide.update(content(text or ""))

    def _update_guide(self, needle: str) -> None:
        workspace = self.keydesk.workspace
        if self.table.row_count:
            self._guide(None)
        elif needle:  # as typed, not as compared
            typed = self.filter_input.value.strip()
            self._guide(no_match("integration", typed))
        elif workspace is not None and workspace.can_manage:
            self._guide(
                f"No integrations in {workspace.name} yet.\n\n"
                "Press a to add your first OAuth integration: its name, provider, client id "
                "and redirect URI. Once it is configured you can generate API keys for it."
            )
        else:
            self._guide("No integrations here yet. Ask an owner or admin to add one.")

    @on(Input.Changed, "#filter")
    def _filter(self) -> None:
        self._render_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def on_integrations_changed(self, message: IntegrationsChanged) -> None:
        self._select = message.select
        self.action_refresh()

    def on_keys_changed(self, _message: KeysChanged) -> None:
        self.action_refresh()  # active key counts

    # -- actions ------------------------------------------------------------------

    def highlighted(self) -> IntegrationView | None:
        table = self.table
        if not table.row_count:
            return None
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return next((i for i in self._integrations if str(i.id) == row_key.value), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "add":
            workspace = self.keydesk.workspace
            return workspace is not None and workspace.can_manage
        if action == "members":
            return self.keydesk.workspace is not None
        if action in ("open", "generate", "configure", "disable", "edit"):
            return integration_action(self.highlighted(), action)
        if action == "clear_filter":
            return bool(typed_in(self))
        if action == "focus_list":
            return self.filter_input.has_focus
        return True

    def why_not(self, action: str) -> str | None:
        item = self.highlighted()
        if item is None:
            return self._none_here(action)
        return no_new_key(item) if action == "generate" else None

    def why_hidden(self, action: str) -> str | None:
        if action == "add" and (workspace := self.keydesk.workspace) is not None:
            return only_managers(workspace.role, workspace.name, ONLY_MANAGERS["add"])
        item = self.highlighted()  # a viewer's g: the role, as the integration's page says
        return self._none_here(action) if item is None else why_cannot(item, action)

    def _none_here(self, action: str) -> str | None:
        """g, e, c or d with no row ("Edit: not possible here now"; d said nothing)."""
        if action not in ("generate", "edit", "configure", "disable"):
            return None
        workspace = self.keydesk.workspace
        may_add = workspace is not None and workspace.can_manage
        if typed_in(self):
            return "No integration matches the filter (esc clears it)"
        return "No integration here" + (": add one (a)" if may_add else " yet")

    @on(DataTable.RowHighlighted, "#integrations")
    def _highlight_changed(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value if event.row_key is not None else None  # no row
        self._highlighted_id = int(key) if key is not None else None
        self._follow_row()

    def _follow_row(self) -> None:
        """The footer offers what the highlighted row's refusal names: a
        draft's `g` says "e fills it in", so `e Edit` shows beside it."""
        item = self.highlighted()
        self.advised = advised_actions(item) if item is not None else ()
        self.refresh_bindings()  # the footer redraws only if what it offers changed

    @on(DataTable.RowSelected, "#integrations")
    def _row_selected(self) -> None:  # a click on the highlighted row (Enter is bound above)
        self.action_open()

    def action_open(self) -> None:
        if (item := self.highlighted()) is not None:
            self.keydesk.open_integration(item)

    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.table.focus()

    def action_focus_list(self) -> None:
        self.table.focus()

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

    def action_scan(self) -> None:
        self.keydesk.scan_for_leaks()


def _key_words(active: int, expiring: int, refused: bool = False) -> tuple[str, ...]:
    """Active keys, with how many of them stop soon in words (not only
    colour), from the most words to the fewest; `refused`: a disabled
    integration's ("1" read as a key that works)."""
    if refused and active:
        return (f"{active} refused",)
    if not expiring:
        return (str(active),)
    return (
        f"{active} ({expiring} expiring)",
        f"{active}, {expiring} expiring",
        f"{active} ({expiring} ending)",
        f"{active} ({expiring} ends)",
    )


def key_counts(active: int, expiring: int, width: int, refused: bool = False) -> str:
    """The Active cell: the most words that fit `width` cells."""
    words = _key_words(active, expiring, refused)
    return next((w for w in words if cells(w) <= width), words[-1])


def _wants(integrations: list[IntegrationView]) -> dict[str, int]:
    """The cells each column's rows need to show whole (see FittedTable)."""
    if not integrations:
        return {}
    return {
        "name": max(cells(visible(i.name)) for i in integrations),
        "provider": max(cells(visible(i.provider)) for i in integrations),
        "keys": max(
            cells(_key_words(i.active_keys, i.expiring_keys, _refused(i))[0]) for i in integrations
        ),
    }


def _refused(integration: IntegrationView) -> bool:
    return integration.status is IntegrationStatus.DISABLED
