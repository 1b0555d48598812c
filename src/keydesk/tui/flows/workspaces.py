"""The workspace shown: the first of the account's (or the welcome form
making one), another chosen, the account's role in it read again, one
left; its members and its audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import App

from keydesk.tui.calls import call_service
from keydesk.tui.display import visible
from keydesk.tui.store_calls import StoreCalls
from keydesk.views import WorkspaceView


class WorkspaceFlows:
    def __init__(
        self,
        app: App[Any],
        calls: StoreCalls,
        *,
        current: Callable[[], WorkspaceView | None],
        show: Callable[[WorkspaceView | None], object],
        made_first: Callable[[], object],
    ) -> None:
        """`current` and `show`: the app's workspace; `made_first`: what
        follows the welcome form's new workspace (adding an integration)."""
        self._app = app
        self._calls = calls
        self._current = current
        self._show = show
        self._made_first = made_first

    def loaded(self, workspaces: list[WorkspaceView], notice: str | None = None) -> None:
        """The account's workspaces: the first one shown, or the welcome form
        (saying `notice`, where a new store was made, in its text)."""
        from keydesk.tui.screens.welcome import WelcomeScreen

        if workspaces:
            self._show(workspaces[0])
        else:
            self._app.push_screen(WelcomeScreen(notice), self._first_workspace)

    def _first_workspace(self, workspace: WorkspaceView | None) -> None:
        if workspace is not None:
            self._show(workspace)
            self._made_first()

    def switch(self) -> None:
        from keydesk.tui.screens.workspaces import WorkspaceScreen

        def chosen(workspace: WorkspaceView | None) -> None:
            if workspace is not None:
                self._back_to_the_list()
                self._show(workspace)

        call_service(
            self._app,
            self._calls.workspaces,
            lambda workspaces: self._app.push_screen(
                WorkspaceScreen(workspaces, self._current()), chosen
            ),
            group="workspaces",
        )

    def _back_to_the_list(self) -> None:
        while len(self._app.screen_stack) > 2:  # the integration list, over Textual's default
            self._app.pop_screen()

    def refresh(self) -> None:
        """Read the account's workspaces again: its role in this one may have changed."""

        def reloaded(workspaces: list[WorkspaceView]) -> None:
            current = self._current()
            self._show(next((w for w in workspaces if current and w.id == current.id), current))

        call_service(self._app, self._calls.workspaces, reloaded, group="workspaces")

    def left(self, name: str) -> None:
        """The account has left `name`: on to another of its workspaces, or to the welcome form."""
        self._back_to_the_list()
        self._show(None)
        self._app.notify(f"You left {visible(name)}.", title="keydesk", markup=False)
        call_service(self._app, self._calls.workspaces, self.loaded, group="workspaces")

    def members(self) -> None:
        from keydesk.tui.screens.members import MembersScreen

        workspace = self._current()
        if workspace is not None:
            self._app.push_screen(MembersScreen(workspace.name))

    def audit(self) -> None:
        from keydesk.tui.screens.audit import AuditScreen

        workspace = self._current()
        if workspace is not None:
            self._app.push_screen(AuditScreen(workspace.name))
