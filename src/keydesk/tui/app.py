"""The keydesk Textual application: screens, and the flows they share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive

from keydesk.service import KeyService
from keydesk.tui import clipboard
from keydesk.tui.calls import call_service
from keydesk.tui.commands import KeydeskCommands
from keydesk.tui.display import visible
from keydesk.tui.messages import IntegrationsChanged, KeysChanged
from keydesk.tui.screens.audit import AuditScreen
from keydesk.tui.screens.confirm import ConfirmScreen, revoke_confirmation
from keydesk.tui.screens.create_key import CreateKeyScreen
from keydesk.tui.screens.integration_detail import IntegrationDetailScreen
from keydesk.tui.screens.integration_form import IntegrationFormScreen
from keydesk.tui.screens.integrations import IntegrationsScreen
from keydesk.tui.screens.key_created import KeyCreatedScreen
from keydesk.tui.screens.members import MembersScreen
from keydesk.tui.screens.welcome import WelcomeScreen
from keydesk.tui.screens.workspaces import WorkspaceScreen
from keydesk.views import CreatedKey, IntegrationView, KeyView, WorkspaceView, replacement_label


class KeydeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "keydesk"
    COMMANDS = App.COMMANDS | {KeydeskCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
    ]

    workspace: reactive[WorkspaceView | None] = reactive(None)

    def __init__(self, service: KeyService) -> None:
        super().__init__()
        self.service = service

    def on_mount(self) -> None:
        self.push_screen(IntegrationsScreen())
        call_service(self, self.service.workspaces, self._workspaces_loaded, group="workspaces")

    def _workspaces_loaded(self, workspaces: list[WorkspaceView]) -> None:
        if workspaces:
            self.workspace = workspaces[0]
        else:
            self.push_screen(WelcomeScreen(), self._first_workspace)

    def _first_workspace(self, workspace: WorkspaceView | None) -> None:
        if workspace is not None:
            self.workspace = workspace
            self.add_integration()

    def watch_workspace(self, workspace: WorkspaceView | None) -> None:
        account = self.service.actor
        self.sub_title = visible(
            f"{account} · {workspace.role} · {workspace.name}" if workspace else account
        )

    # -- flows shared by screens and the command palette --------------------------

    def open_integration(self, integration: IntegrationView, tab: str = "api-keys") -> None:
        self.push_screen(IntegrationDetailScreen(integration, tab=tab))

    def generate_key(
        self, integration_id: int | None = None, *, replacing: KeyView | None = None
    ) -> None:
        """Form → one-time reveal → back where the flow started, key highlighted."""

        def created(result: CreatedKey | None) -> None:
            if result is None:
                return
            integration_id = result.key.integration_id
            self.push_screen(
                KeyCreatedScreen(result, replacing),
                lambda public_key: self._flow_done(integration_id, public_key),
            )

        label = replacement_label(replacing.label, date.today()) if replacing else ""
        self.push_screen(CreateKeyScreen(integration_id, label=label, replacing=replacing), created)

    def rotate_key(self, key: KeyView) -> None:
        """Rotation without downtime: a replacement now, the old key revoked
        by the admin once the new one is deployed."""
        self.generate_key(key.integration_id, replacing=key)

    def _flow_done(self, integration_id: int, public_key: str | None) -> None:
        self.screen.post_message(KeysChanged(integration_id, highlight=public_key))

    def revoke_key(
        self, key: KeyView, on_revoked: Callable[[KeyView], object] | None = None
    ) -> None:
        """The one revoke flow (a key row, the created page, the palette):
        a confirmation that says what breaks, then the revoke in a worker."""

        def revoked(key: KeyView) -> None:
            self.notify(
                f"Revoked {key.public_key} ({visible(key.label)}).", title="keydesk", markup=False
            )
            if on_revoked is not None:
                on_revoked(key)
            self.screen.post_message(KeysChanged(key.integration_id, highlight=key.public_key))

        def confirmed(yes: bool | None) -> None:
            if yes:
                call_service(
                    self, lambda: self.service.revoke_key(key.public_key), revoked, group="revoke"
                )

        self.push_screen(revoke_confirmation(key.label, key.public_key, key.integration), confirmed)

    def add_integration(self) -> None:
        if self.workspace is not None:
            self.push_screen(IntegrationFormScreen(self.workspace.name), self._integration_saved)

    def edit_integration(self, integration: IntegrationView) -> None:
        self.push_screen(
            IntegrationFormScreen(integration.workspace, integration), self._integration_saved
        )

    def _integration_saved(self, integration: IntegrationView | None) -> None:
        if integration is not None:
            self.screen.post_message(IntegrationsChanged(select=integration.id))

    def configure_integration(self, integration: IntegrationView) -> None:
        self._change_integration(
            integration,
            ConfirmScreen(
                f"Configure {integration.name}?",
                ["Keys can then be generated for it, and its existing keys work again."],
                confirm="Configure",
            ),
            self.service.configure_integration,
        )

    def disable_integration(self, integration: IntegrationView) -> None:
        self._change_integration(
            integration,
            ConfirmScreen(
                f"Disable {integration.name}?",
                [
                    f"Its {integration.active_keys} active key(s) stop working at once: every",
                    "request presenting them gets 401 Unauthorized until you configure it again.",
                    "No new keys can be generated while it is disabled.",
                ],
                confirm="Disable",
                destructive=True,
            ),
            self.service.disable_integration,
        )

    def _change_integration(
        self,
        integration: IntegrationView,
        question: ConfirmScreen,
        change: Callable[[int], IntegrationView],
    ) -> None:
        def confirmed(yes: bool | None) -> None:
            if yes:
                call_service(
                    self,
                    lambda: change(integration.id),
                    lambda changed: self.screen.post_message(
                        IntegrationsChanged(select=changed.id)
                    ),
                    group="integration-change",
                )

        self.push_screen(question, confirmed)

    def switch_workspace(self) -> None:
        def chosen(workspace: WorkspaceView | None) -> None:
            if workspace is not None:
                while len(self.screen_stack) > 2:  # back to the integration list
                    self.pop_screen()
                self.workspace = workspace

        call_service(
            self,
            self.service.workspaces,
            lambda workspaces: self.push_screen(
                WorkspaceScreen(workspaces, self.workspace), chosen
            ),
            group="workspaces",
        )

    def show_members(self) -> None:
        if self.workspace is not None:
            self.push_screen(MembersScreen(self.workspace.name))

    def show_audit(self) -> None:
        if self.workspace is not None:
            self.push_screen(AuditScreen(self.workspace.name))

    def refresh_workspace(self) -> None:
        """Read the account's workspaces again: its role in this one may have changed."""

        def reloaded(workspaces: list[WorkspaceView]) -> None:
            current = self.workspace
            self.workspace = next(
                (w for w in workspaces if current and w.id == current.id), current
            )

        call_service(self, self.service.workspaces, reloaded, group="workspaces")

    def left_workspace(self, name: str) -> None:
        """The account has left `name`: on to another of its workspaces, or to the welcome form."""
        while len(self.screen_stack) > 2:  # back to the integration list
            self.pop_screen()
        self.workspace = None
        self.notify(f"You left {visible(name)}.", title="keydesk", markup=False)
        call_service(self, self.service.workspaces, self._workspaces_loaded, group="workspaces")

    def copy_text(self, text: str, what: str) -> None:
        self.notify(clipboard.copy(self, text, what), title="Copied", markup=False)

    async def action_quit(self) -> None:
        if isinstance(self.screen, KeyCreatedScreen):
            self.screen.ask_to_leave(self.exit)
        else:
            self.exit()


def run(database_url: str, proven: str | None = None) -> int:
    """Open the store and run the interface on it until the user quits, as
    the account the store proves (or `proven`, see keydesk.identity)."""
    from keydesk.identity import acting_account
    from keydesk.store import open_store

    store = open_store(database_url)
    try:
        KeydeskApp(KeyService(store, acting_account(store, proven=proven))).run()
    finally:
        store.dispose()
    return 0
