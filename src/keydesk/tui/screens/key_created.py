"""API Key Created: the one and only time a private key is shown."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Header, Label, Static

from keydesk.tui import clipboard
from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.views import CreatedKey, KeyView

WARNING = (
    "⚠ This is the only time this API key is shown. keydesk keeps only a hash of "
    "it: a lost key cannot be recovered — revoke it and generate a new one."
)


class KeyCreatedScreen(KeydeskScreen[str]):
    """Dismisses with the key's public key, whatever happened to it."""

    BINDINGS = [
        Binding("c", "copy_key", "Copy API key", id="created.copy_key"),
        Binding("p", "copy_public", "Copy public key", id="created.copy_public"),
        Binding("x", "revoke", "Revoke", id="created.revoke"),
        Binding("d", "done", "Done", id="created.done"),
        Binding("escape", "leave", "Back", id="created.back"),
    ]

    def __init__(self, created: CreatedKey, replacing: KeyView | None = None) -> None:
        super().__init__(id="created-screen")
        self._created: CreatedKey | None = created
        self._replacing = replacing
        self._key = created.key
        self._copied = False
        self._revoked = False

    def compose(self) -> ComposeResult:
        key = self._key
        assert self._created is not None
        yield Header()
        with VerticalScroll(id="created"):
            yield Static("API key created", classes="form-title")
            yield Static(
                content(f"“{key.label}” for integration {key.integration}"), id="created-for"
            )
            yield Static(content(WARNING), id="one-time-warning")
            if self._replacing is not None:
                old = self._replacing
                yield Static(
                    content(
                        f"Next: deploy this key where {old.label} is used, check it is used "
                        f"(Last used), then revoke {old.public_key} from the API Keys tab."
                    ),
                    id="rotation-next",
                    classes="field-hint",
                )
            with Horizontal(classes="value-head"):
                yield Label("API key", classes="field-label")
                yield Button("Copy API key", id="copy-key", variant="primary", compact=True)
            yield Static(
                content(self._created.private_key.reveal()), id="api-key-value", classes="value"
            )
            with Horizontal(classes="value-head"):
                yield Label("Public key", classes="field-label")
                yield Button("Copy public key", id="copy-public", compact=True)
            yield Static(content(key.public_key), id="public-key-value", classes="value")
            with Horizontal(classes="form-buttons"):
                yield Button("Revoke", id="revoke", variant="error")
                yield Button("Done", id="done", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#copy-key", Button).focus()

    # -- copying --------------------------------------------------------------------

    @on(Button.Pressed, "#copy-key")
    def action_copy_key(self) -> None:
        if self._created is None:
            return
        self.keydesk.copy_text(self._created.private_key.reveal(), "API key")
        self._copied = True

    @on(Button.Pressed, "#copy-public")
    def action_copy_public(self) -> None:
        self.keydesk.copy_text(self._key.public_key, "Public key")

    # -- leaving --------------------------------------------------------------------

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        self._close()

    def action_leave(self) -> None:
        self.ask_to_leave(self._close)

    def ask_to_leave(self, then: Callable[[], object]) -> None:
        """Escape, back and quit come here: the key is about to be gone forever."""
        if self._revoked:
            then()
            return
        lines = (
            ["You copied the API key. Make sure it is stored somewhere safe."]
            if self._copied
            else ["You have not copied the API key."]
        )
        lines += ["It will never be shown again; a lost key can only be revoked and replaced."]

        def decided(leave: bool | None) -> None:
            if leave:
                then()

        self.app.push_screen(
            ConfirmScreen(
                "Leave without the key?", lines, confirm="Leave", cancel="Stay", destructive=True,
                id="leave-confirm",
            ),
            decided,
        )  # fmt: skip

    def _close(self) -> None:
        self._forget()
        self.dismiss(self._key.public_key)

    def _forget(self) -> None:
        """Drop every reference this process holds to the private key."""
        self._created = None
        self.query_one("#api-key-value", Static).update("")
        clipboard.forget(self.app)

    def on_unmount(self) -> None:
        self._created = None

    # -- revoking -------------------------------------------------------------------

    @on(Button.Pressed, "#revoke")
    def action_revoke(self) -> None:
        if not self._revoked:
            self.keydesk.revoke_key(self._key, on_revoked=self._was_revoked)

    def _was_revoked(self, key: KeyView) -> None:
        self._revoked = True
        self._key = key
        self._forget()
        self.query_one("#api-key-value", Static).update(
            content("(revoked — this key no longer works)")
        )
        for button in ("#copy-key", "#revoke"):
            self.query_one(button, Button).disabled = True
        self.query_one("#done", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_key", "revoke"):
            return not self._revoked or None
        return True
