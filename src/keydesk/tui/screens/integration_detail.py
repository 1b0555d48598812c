"""One integration: its Overview, its API Keys (a `KeyTable`) with Generate
and Revoke, and its Audit tab (an `AuditLog`).

Big integrations (100,000 keys) stay quick: the keys stream in from one read
and the first rows are shown before the last are read; the filter runs once
typing pauses (the table scans in a worker and holds a window of the rows).
The Overview and Audit tabs are built when first shown: the page opens with
a third fewer widgets to style and lay out.
"""

from __future__ import annotations

from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widget import AwaitMount, Widget
from textual.widgets import Button, DataTable, Input, Static, TabbedContent, TabPane

from keydesk.tui import heap
from keydesk.tui.actions import advised_actions, footer_shows, integration_action, key_action
from keydesk.tui.calls import call_service
from keydesk.tui.display import content, literal
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.integration_words import (
    CHANGES,
    ROLE_ACTIONS,
    detail_line,
    keys_gate,
    no_new_key,
    overview_rows,
    settings_hint,
    title_line,
    why_cannot,
    why_not_key,
)
from keydesk.tui.screens.key_page import KeyScreen
from keydesk.tui.screens.key_reads import FIRST_PAGE, PageKeyReads
from keydesk.tui.widgets import (
    AuditLog,
    FilterInput,
    Header,
    KeyFooter,
    KeyTable,
    Line,
    LoadedKeys,
    Pairs,
)
from keydesk.tui.widgets.filter_input import clear_filter_binding, clear_typed, typed_in
from keydesk.views import IntegrationView, KeyView

FILTER_FROM = 9  # keys; fewer fit on one screen without a filter
FILTER_DELAY = 0.1  # seconds of quiet typing before the filter runs


def tab_body(tab: str, integration: IntegrationView) -> Widget:
    """The Overview's or the Audit tab's content, built when first shown."""
    if tab == "audit":
        return AuditLog(integration.workspace, integration.id)
    hint = Static(content(settings_hint(integration)), id="overview-hint")
    settings = Pairs(overview_rows(integration), id="overview-settings")
    return VerticalScroll(settings, hint, id="overview-body")


def build_tab(tabs: TabbedContent, tab: str, integration: IntegrationView) -> AwaitMount | None:
    """Mount `tab`'s content unless it is there (the API Keys tab always is)."""
    pane = tabs.get_pane(tab)
    if tab == "api-keys" or pane.children:
        return None
    return pane.mount(tab_body(tab, integration))


class IntegrationDetailScreen(KeydeskScreen[None]):
    BINDINGS = [
        clear_filter_binding("detail", "key or event"),
        Binding("escape,q", "back", "Back", key_display="esc", id="detail.back",
                tooltip="Back to the integrations (Escape clears a typed filter first)"),
        Binding("g", "generate", "New key", id="detail.generate",
                tooltip="Generate an API key for this integration (shown once)"),
        Binding("t", "rotate", "Rotate", id="detail.rotate",
                tooltip="Rotate the highlighted key: generate its replacement first"),
        Binding("x,delete", "revoke", "Revoke", key_display="x", id="detail.revoke",
                tooltip="Revoke the highlighted key (immediate, irreversible)"),
        Binding("space", "toggle_select", "Select", show=False, id="detail.select",
                tooltip="Select the highlighted key, or unselect it: x revokes the selection"),
        Binding("K", "keep", "Keep key", id="detail.keep",
                tooltip="Keep the highlighted key: cancel the stop its rotation set "
                "(its replacement was revoked)"),
        Binding("slash", "filter_keys", "Filter", key_display="/", id="detail.filter",
                tooltip="Filter keys (label, public key, status, creator) or audit events"),
        Binding("enter", "open_key", "Open", key_display="⏎", id="detail.open_key",
                tooltip="Open the highlighted key's page: usage, expiry, rotation, events"),
        Binding("p", "copy_public", "Copy public key", show=False, id="detail.copy_public",
                tooltip="Copy the public key of the highlighted key"),
        # Tabs by their place, as shown: a letter would clash with the keys of
        # the list a tab holds (k, the API Keys tab's, moved up in the Audit table).
        Binding("1", "show_tab('overview')", "Overview", show=False, id="detail.overview",
                tooltip="Overview tab: OAuth settings (e edit, c configure, d disable)"),
        Binding("2", "show_tab('api-keys')", "API Keys", show=False, id="detail.keys",
                tooltip="API Keys tab"),
        Binding("3", "show_tab('audit')", "Audit", show=False, id="detail.audit",
                tooltip="Audit tab: every change to this integration and its keys"),
        # The footer is for keys; these are named on the Overview tab and in ? help.
        Binding("e", "edit", "Edit", show=False, id="detail.edit",
                tooltip="Edit the OAuth settings"),
        Binding("c", "configure", "Configure", show=False, id="detail.configure",
                tooltip="Configure: keys can then be generated"),
        Binding("d", "disable", "Disable", show=False, id="detail.disable",
                tooltip="Disable: its keys stop working until configured again"),
        Binding("r", "refresh", "Refresh", show=False, id="detail.refresh",
                tooltip="Read the keys and settings again"),
    ]  # fmt: skip

    # At 60 columns g (the page's own action, beside its button) stays; ? lists the rest.
    FOOTER_FIRST_TO_GO = ("keep", "rotate", "open_key")

    def __init__(
        self, integration: IntegrationView, *, tab: str = "api-keys", highlight: str | None = None
    ) -> None:
        super().__init__()  # no id: two integrations' pages may be stacked
        self.integration = integration
        self._initial_tab = tab
        self._highlight = highlight
        self._filter_timer: Timer | None = None
        self._filter_on_show = False  # `/` switched the tab: its filter, not its table
        self._key_reads = PageKeyReads()

    def compose(self) -> ComposeResult:
        self.load_keys(self._highlight)  # while the page is built (key_reads.py)
        yield Header()
        yield Static(id="detail-title")
        with TabbedContent(initial=self._initial_tab, id="tabs"):
            with TabPane("Overview", id="overview"):
                if self._initial_tab == "overview":
                    yield tab_body("overview", self.integration)
            with TabPane("API Keys", id="api-keys"):
                with Horizontal(id="keys-bar"):
                    yield Line(id="keys-summary")
                    yield Button("Generate API key", id="generate", variant="primary", compact=True)
                yield Static(id="keys-gate")
                yield FilterInput(
                    placeholder="Filter keys by label, public key, status or creator  ( / )",
                    id="key-filter",
                    compact=True,
                )
                yield KeyTable(self.keydesk.now, id="keys")
                yield Line(id="key-detail")
            with TabPane("Audit", id="audit"):
                if self._initial_tab == "audit":
                    yield tab_body("audit", self.integration)
        yield KeyFooter()

    # -- widgets, typed ---------------------------------------------------------

    table = getters.query_one("#keys", KeyTable)
    key_filter = getters.query_one("#key-filter", Input)
    summary = getters.query_one("#keys-summary", Line)
    tabs = getters.query_one("#tabs", TabbedContent)
    generate_button = getters.query_one("#generate", Button)
    gate = getters.query_one("#keys-gate", Static)
    title_bar = getters.query_one("#detail-title", Static)
    key_detail = getters.query_one("#key-detail", Line)

    def on_mount(self) -> None:
        self.key_filter.display = False
        self._show_integration(self.integration)
        self.summary.say("Loading keys…")
        if self._highlight is not None:  # a key was just made: the counts changed too
            self.on_integrations_changed(IntegrationsChanged())
        self._focus_tab()
        self._key_reads.mounted()

    def on_resize(self) -> None:
        self._show_title()
        self.call_after_refresh(self._summarise)  # the counts in words the new width holds

    def uncovered(self) -> None:
        self.action_refresh()

    # -- integration ------------------------------------------------------------

    def _show_integration(self, integration: IntegrationView) -> None:
        self.integration = integration
        self._show_title()
        for settings in self.query("#overview-settings").results(Pairs):  # once shown
            settings.show(overview_rows(integration))
            self.query_one("#overview-hint", Static).update(content(settings_hint(integration)))
        reason = keys_gate(integration)
        self._advise()
        button = self.generate_button
        button.disabled = reason is not None
        button.tooltip = literal(reason) if reason else None
        gate = self.gate
        gate.display = reason is not None
        gate.update(content(reason or ""))
        self.refresh_bindings()

    def _show_title(self) -> None:
        self.title_bar.update(content(title_line(self.integration, self.size.width)))

    def on_integrations_changed(self, message: IntegrationsChanged) -> None:
        if message.select == self.integration.id:  # disabled, enabled: its keys' rows say so
            key = self.highlighted_key()
            self.load_keys(self._highlight or (key.public_key if key else None))
        for log in self.query(AuditLog):  # once shown
            log.stale()  # the change made events of its own
        call_service(
            self,
            lambda: self.keydesk.calls.integration(self.integration.id),
            self._show_integration,
            group="integration",
        )

    # -- keys: loading ----------------------------------------------------------------

    def action_refresh(self) -> None:
        self.on_integrations_changed(IntegrationsChanged(select=self.integration.id))

    def load_keys(self, highlight: str | None = None) -> None:
        self._highlight = highlight
        reads = self._key_reads
        read = reads.read(self, self.keydesk, self.integration.id, self._first_page)
        heap.defer_full_collections(self)  # a big read would start several
        fill, failed = reads.once_mounted(self._fill_keys), reads.once_mounted(self._load_failed)
        call_service(self, read, fill, on_error=failed, group="keys")

    def _load_failed(self, message: str) -> None:
        heap.settle(self, keep=False)
        self.table.unreadable(message)  # the line above says it, and x and t (not a toast)

    def on_screen_resume(self) -> None:
        # Textual paints the page in its own handler, after this one.
        if self.table.row_count:
            self.call_next(self._key_reads.drawn)

    def on_unmount(self) -> None:
        self._key_reads.drawn()
        heap.let_go(self)

    def _first_page(self, keys: list[KeyView]) -> None:
        """A big integration: its first rows, and the filter, before the
        rest is read (what is typed meanwhile applies once all are in)."""
        self.call_after_refresh(self._key_reads.drawn)
        if not self.key_filter.display:
            self.key_filter.display = True
            self.refresh_bindings()
        if self.key_filter.value.strip() or self.table.loaded is not None:
            return  # a filter applies to every key: wait for all of them
        self.summary.say("Loading keys…")
        self.table.show_rows(keys, highlight=None)

    def _fill_keys(self, loaded: LoadedKeys) -> None:
        # A big load stays for the screen's life: later full collections skip it.
        heap.settle(self, keep=len(loaded.keys) > FIRST_PAGE)
        self.table.load(loaded)
        key_filter = self.key_filter
        # Never hidden while it filters or is being typed in (`/` showed it).
        filterable = (
            len(loaded.keys) >= FILTER_FROM or bool(key_filter.value) or key_filter.has_focus
        )
        if key_filter.display != filterable:
            key_filter.display = filterable
            self.refresh_bindings()  # "/ Filter" now applies (or not)
        highlight = self._highlight
        self._highlight = None
        needle = key_filter.value.strip().lower()
        if highlight and needle and not loaded.matches(highlight, needle):
            key_filter.value = ""  # the key to show must be in view
        self._apply_filter(highlight)
        if highlight or self.focused is None or (not loaded.keys and self.focused is self.table):
            self._focus_tab()  # never away from where the user is typing; a key just made: on it

    # -- keys: filtering -------------------------------------------------------------

    @on(Input.Changed, "#key-filter")
    def _filter_changed(self) -> None:
        # Once typing pauses (the typed character drawn first); emptied (Escape), at once.
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self.table.stop_filtering()
        if not self.key_filter.value:
            return self._apply_filter()
        self._filter_timer = self.set_timer(FILTER_DELAY, self._apply_filter)

    def _apply_filter(self, highlight: str | None = None) -> None:
        self._filter_timer = None
        self.table.filter(self.key_filter.value.strip().lower(), highlight)

    @on(KeyTable.Filtered)
    @on(KeyTable.SelectionChanged)
    def _summarise(self) -> None:
        if self.table.loaded is not None or self.table.unread:  # else "Loading keys…" stays
            self.summary.say(self.table.summary(self.summary.size.width or None))
        footer_shows(self, "space", bool(self.table.selected))  # while selecting (Rotate leaves)
        self.refresh_bindings()  # x revokes the selection, or the highlighted key

    @on(KeyTable.KeyHighlighted)
    def _key_changed(self, message: KeyTable.KeyHighlighted) -> None:
        """Its detail line, and what the footer offers (redrawn only if that changed)."""
        self._show_key_detail(message.key)
        self._advise()
        self.refresh_bindings()

    def _advise(self) -> None:
        """The footer keeps the keys the page's words name (the Overview's: e, c, d)."""
        named = ("edit", "configure", "disable") if self.tabs.active == "overview" else ()
        key, now = self.highlighted_key(), self.keydesk.now()
        self.advised = advised_actions(self.integration, key, now) + named

    def _show_key_detail(self, key: KeyView | None) -> None:
        detail = detail_line(key, self.keydesk.now(), self.key_filter.value)
        self.key_detail.say(detail, break_at=" · ")

    # -- keys: what other screens and the palette ask ------------------------------

    def on_keys_changed(self, message: KeysChanged) -> None:
        if message.integration_id == self.integration.id:
            self.load_keys(highlight=message.highlight)
            self.on_integrations_changed(IntegrationsChanged())

    def show_key(self, public_key: str | None) -> None:
        """The end of a generate flow: the API Keys tab, this key highlighted."""
        self.tabs.active = "api-keys"
        self.load_keys(highlight=public_key)
        self.on_integrations_changed(IntegrationsChanged())

    def listed_keys(self) -> list[KeyView]:
        """The keys in the table (a window of the matching ones)."""
        return self.table.listed_keys()

    def highlighted_key(self) -> KeyView | None:
        return self.table.highlighted_key()

    # -- focus ------------------------------------------------------------------------

    def _focus_tab(self) -> None:
        """The API Keys tab focuses its table (Up/Down and x act at once);
        with no keys yet, the Generate button when it can be used. Another
        tab focuses its own first widget (focus in another pane would switch
        the tab back to that pane)."""
        if self.tabs.active != "api-keys":
            if (first := _first_stop(self.tabs.get_pane(self.tabs.active))) is not None:
                first.focus()
        elif (
            self.table.loaded is not None
            and not self.table.loaded.keys
            and not self.generate_button.disabled
        ):
            self.generate_button.focus()
        else:
            self.table.focus()

    @on(TabbedContent.TabActivated)
    async def _tab_changed(self) -> None:
        if (building := build_tab(self.tabs, self.tabs.active, self.integration)) is not None:
            await building  # a tab bar click: built as it shows
        if not (self._filter_on_show and self.tabs.active == "api-keys"):
            self._focus_tab()  # not after `/`, which focused the filter
        self._filter_on_show = False
        self._advise()
        self.refresh_bindings()

    # -- actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        on_keys = self.tabs.active == "api-keys"
        if action == "filter_keys":
            return True  # from any tab, however few keys: `/` always filters
        if action == "clear_filter":
            return bool(typed_in(self.tabs.active_pane))
        if on_keys and self.table.selected and action in ("revoke", "toggle_select", "rotate"):
            return self.integration.can_manage and action != "rotate"
        action = "revoke" if action == "toggle_select" else action  # what may be selected
        if action in ("revoke", "rotate", "keep", "copy_public", "open_key"):
            if not on_keys:
                return False
            return key_action(self.integration, self.highlighted_key(), action, self.keydesk.now())
        if action in ("generate", "edit", "configure", "disable"):
            return integration_action(self.integration, action)
        return True

    def why_not(self, action: str) -> str | None:
        if action == "generate" and not self.integration.can_issue_keys:
            return no_new_key(self.integration)
        key, now, unread = self.highlighted_key(), self.keydesk.now(), self.table.unread
        return why_not_key(self.integration, key, action, now, "", self.key_filter.value, unread)

    def why_hidden(self, action: str) -> str | None:
        if not self.integration.can_manage or action in CHANGES:
            return why_cannot(self.integration, action)  # a viewer's g, t, x, K, e; c and d
        if action not in ROLE_ACTIONS or self.tabs.active != "api-keys":
            return None  # silence, as for a key of another tab
        if action == "rotate" and self.table.selected:
            return "t rotates one key: esc unselects the selected ones first"
        return self.why_not(action)  # as pressing it says

    def action_back(self) -> None:
        if not (self.table.clear_selection() or clear_typed(self.tabs.active_pane)):
            self.app.pop_screen()  # unselected, then the shown tab's filter emptied, first

    def action_clear_filter(self) -> None:
        clear_typed(self.tabs.active_pane)

    def action_toggle_select(self) -> None:
        self.table.toggle_selected()

    @on(Button.Pressed, "#generate")
    def action_generate(self) -> None:
        self.keydesk.generate_key(self.integration.id)

    def action_rotate(self) -> None:
        if (key := self.highlighted_key()) is not None and key.is_active:
            self.keydesk.rotate_key(key)

    def action_revoke(self) -> None:
        if self.table.selected:  # together, behind one confirmation
            self.keydesk.revoke_keys(list(self.table.selected.values()), self.table.clear_selection)
        elif (key := self.highlighted_key()) is not None and key.is_active:
            self.keydesk.revoke_key(key)

    def action_keep(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.keydesk.keep_key(key)

    def action_open_key(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.app.push_screen(KeyScreen(self.integration, key))

    @on(KeyTable.KeySelected)
    def _key_selected(self, message: KeyTable.KeySelected) -> None:
        self.app.push_screen(KeyScreen(self.integration, message.key))

    async def action_filter_keys(self) -> None:
        """The box shows by itself from FILTER_FROM keys; `/` shows it for fewer.
        With the Audit tab showing, `/` filters its trail, wherever focus is
        (on the tab bar, this binding, not the trail's own, gets it)."""
        if self.tabs.active == "audit":
            if (building := build_tab(self.tabs, "audit", self.integration)) is not None:
                await building  # clicked to, and `/` before it was built
            self.query_one(AuditLog).action_filter()
            return
        key_filter = self.key_filter
        if not key_filter.display:
            key_filter.display = True
            self.refresh_bindings()
        self._filter_on_show = self.tabs.active != "api-keys"
        self.tabs.active = "api-keys"
        key_filter.focus()

    @on(Input.Submitted, "#key-filter")
    def _filter_done(self) -> None:
        if self._filter_timer is not None:
            self._apply_filter()
        self.table.focus()

    def action_copy_public(self) -> None:
        if (key := self.highlighted_key()) is not None:
            self.keydesk.copy_text(key.public_key, "Public key")

    async def action_show_tab(self, tab: str) -> None:
        if (building := build_tab(self.tabs, tab, self.integration)) is not None:
            await building  # before it shows: no empty frame
        self.tabs.active = tab

    def action_edit(self) -> None:
        self.keydesk.edit_integration(self.integration)

    def action_configure(self) -> None:
        self.keydesk.configure_integration(self.integration)

    def action_disable(self) -> None:
        self.keydesk.disable_integration(self.integration)


def _first_stop(pane: Widget) -> Widget | None:
    """A tab's list if it has one (an Audit tab's filter holding text came
    first: `j`, `1` and `?` were typed into it), else its first focus stop."""
    stops = [w for w in pane.query("*") if w.focusable]
    return next((w for w in stops if isinstance(w, DataTable)), next(iter(stops), None))
