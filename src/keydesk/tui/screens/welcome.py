"""First run: the account belongs to no workspace yet, so make one."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Label, Static

from keydesk.tui.calls import call_service
from keydesk.tui.display import content, sentence
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.form import FormScroll, ask_before_quitting
from keydesk.tui.widgets import GuardedInput, Header, KeyFooter
from keydesk.validation import NAME_MAX
from keydesk.views import WorkspaceView


class WelcomeScreen(KeydeskScreen[WorkspaceView]):
    """`notice`: where the store was just made, said in the page (a message
    in the corner covered the words a first-time user must read)."""

    AUTO_FOCUS = "#workspace"

    def __init__(self, notice: str | None = None) -> None:
        super().__init__(classes="-notice" if notice else None)
        self._notice = notice

    def compose(self) -> ComposeResult:
        yield Header()
        # Scrolls rather than cuts the button off where a long path leaves no room.
        with FormScroll(id="welcome", classes="form"):
            yield Static("Welcome to keydesk", classes="form-title")
            if self._notice:
                yield Static(content(self._notice), id="welcome-store")
            yield Static(
                content(
                    f"You are {self.keydesk.actor}, and you are not in any workspace yet.\n"
                    "A workspace holds your OAuth integrations and their API keys; you will be its owner.\n"
                    "(To join an existing one instead, ask its owner to run: "
                    f"keydesk member add --workspace NAME --account {self.keydesk.actor} --role admin)"
                )
            )
            yield Label("Workspace name", classes="field-label")
            yield GuardedInput(
                placeholder="e.g. acme", id="workspace", what="the workspace name", limit=NAME_MAX
            )
            yield Static(id="welcome-error", classes="field-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Create workspace", id="create", variant="primary")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#welcome-error").display = False

    @on(Input.Submitted)
    @on(Button.Pressed, "#create")
    def _create(self) -> None:
        name = self.query_one("#workspace", Input).value
        call_service(
            self,
            lambda: self.keydesk.calls.create_workspace(name),
            self.dismiss,
            on_error=self._failed,
        )

    @on(GuardedInput.Refused, "#workspace")
    def _refused(self, event: GuardedInput.Refused) -> None:
        self._failed(event.message)

    def asked_before_quitting(self, quit_app: Callable[[], object]) -> bool:
        """A name typed and not yet made: ctrl+q asks, as on every form."""
        return ask_before_quitting(
            self, False, lambda: bool(self.query_one("#workspace", Input).value), quit_app
        )

    def _failed(self, message: str) -> None:
        error = self.query_one("#welcome-error", Static)
        error.update(content(sentence(message)))
        error.display = True
