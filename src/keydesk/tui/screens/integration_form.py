"""Add an OAuth integration to the current workspace, or edit one's OAuth settings."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Static

from keydesk.tui.calls import call_service
from keydesk.tui.display import content, sentence
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.views import IntegrationStatus, IntegrationView

FIELDS = (
    ("name", "Name", "e.g. github-prod"),
    ("provider", "Provider", "e.g. GitHub, Google, Okta"),
    ("client-id", "OAuth client ID", "from the provider's app settings"),
    (
        "redirect-uri",
        "Redirect URI",
        "https://your.app/oauth/callback (http://localhost… for development)",
    ),
    ("scopes", "Scopes", "space-separated, e.g. read:user repo"),
)


class IntegrationFormScreen(KeydeskScreen[IntegrationView | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="add.cancel"),
        Binding("ctrl+s", "save", "Save", id="add.save"),
    ]
    AUTO_FOCUS = "Input:enabled"

    def __init__(self, workspace: str, existing: IntegrationView | None = None) -> None:
        super().__init__(id="integration-form-screen")
        self._workspace = workspace
        self._existing = existing
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="add-form", classes="form dense"):
            existing = self._existing
            title = (
                f"Edit {existing.name} in {self._workspace}"
                if existing
                else f"Add an OAuth integration to {self._workspace}"
            )
            yield Static(content(title), classes="form-title")
            values = _values(existing)
            for field_id, label, placeholder in FIELDS:
                yield Label(label, classes="field-label")
                yield Input(
                    values.get(field_id, ""),
                    placeholder=placeholder,
                    id=field_id,
                    disabled=existing is not None and field_id in ("name", "provider"),
                    compact=True,  # five fields fit an 80x24 terminal
                )
            yield Checkbox(
                "Mark configured now (needs client ID and redirect URI)",
                # re-enabling a disabled integration is a choice of its own
                existing is None or existing.status is not IntegrationStatus.DISABLED,
                id="configure",
                compact=True,
            )
            yield Static(id="add-error", classes="field-error")
            with Horizontal(classes="form-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Save", id="save", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#add-error").display = False

    def _value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        if self._busy:
            return
        self._busy = True
        self.query_one("#save", Button).disabled = True
        workspace = self._workspace
        name, provider = self._value("name"), self._value("provider")
        client_id, redirect_uri = self._value("client-id"), self._value("redirect-uri")
        scopes, configure = self._value("scopes"), self.query_one("#configure", Checkbox).value
        service = self.keydesk.service
        existing = self._existing

        def save() -> IntegrationView:
            if existing is None:
                return service.add_integration(
                    workspace, name, provider, client_id=client_id or None,
                    redirect_uri=redirect_uri or None, scopes=scopes, configure=configure,
                )  # fmt: skip
            saved = service.update_integration(
                existing.id, client_id=client_id or None, redirect_uri=redirect_uri or None,
                scopes=scopes,
            )  # fmt: skip
            if configure and not saved.is_configured:
                saved = service.configure_integration(existing.id)
            return saved

        call_service(self, save, self.dismiss, on_error=self._failed, group="save")

    def _failed(self, message: str) -> None:
        self._busy = False
        self.query_one("#save", Button).disabled = False
        error = self.query_one("#add-error", Static)
        error.update(content(sentence(message)))
        error.display = True

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if not self._busy:
            self.dismiss(None)


def _values(existing: IntegrationView | None) -> dict[str, str]:
    if existing is None:
        return {}
    return {
        "name": existing.name,
        "provider": existing.provider,
        "client-id": existing.client_id or "",
        "redirect-uri": existing.redirect_uri or "",
        "scopes": existing.scopes,
    }
