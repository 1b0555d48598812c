"""API Key Created: the one and only time a private key is shown.

The whole key is always on screen: on one line where it fits, else wrapped
inside its box (a mouse drag selects it whole: Textual's selection knows it
is one line). Copy, Revoke and Done fit on screen down to 60x20.
Messages (copied, revoked) go to a line of their own, never over a key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.notifications import SeverityLevel
from textual.timer import Timer
from textual.widgets import Button, Label, Static

from keydesk.tui import clipboard
from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskScreen
from keydesk.tui.screens.confirm import ConfirmScreen
from keydesk.tui.widgets import Header, KeyFooter
from keydesk.views import CreatedKey, KeyView, RotatedKey, stop_time

WARNING = (
    "⚠ This is the only time this key is shown: keydesk keeps only its hash. "
    "A lost key cannot be recovered, only revoked."
)


class KeyCreatedScreen(KeydeskScreen[str]):
    """Dismisses with the key's public key, whatever happened to it."""

    BINDINGS = [
        Binding("c", "copy_key", "Copy API key", id="created.copy_key",
                tooltip="Copy the private key (OSC 52: works over SSH)"),
        Binding("p", "copy_public", "Copy public", id="created.copy_public",
                tooltip="Copy the public key (kdpk_…, fine to share)"),
        Binding("x", "revoke", "Revoke", id="created.revoke",
                tooltip="Revoke this key now (it was made by mistake)"),
        Binding("d", "done", "Done", id="created.done",
                tooltip="Back to the integration's API Keys, this key highlighted"),
        Binding("escape,q", "leave", "Back", show=False, id="created.back",
                tooltip="Leave this page (asks first: the key is shown only here)"),
    ]  # fmt: skip
    FOOTER_FIRST_TO_GO = ("copy_public",)  # Done and the API key stay at 60 columns
    NOTE_SECONDS: ClassVar[float] = 6.0  # how long a message stays
    # Under 24 rows the page drops its spacing (app.tcss), so the key, its
    # expiry and scopes and every button stay in view down to 60x20.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-tall")]

    def __init__(self, created: CreatedKey, rotation: RotatedKey | None = None) -> None:
        super().__init__(id="created-screen")
        self._created: CreatedKey | None = created
        self._rotation = rotation
        self._key = created.key
        self._copied = False
        self._revoked = False
        self._note_timer: Timer | None = None

    @property
    def holds_secret(self) -> bool:
        return self._created is not None

    def compose(self) -> ComposeResult:
        key = self._key
        assert self._created is not None
        yield Header()
        with VerticalScroll(id="created"):
            title = "API key created" if self._rotation is None else "Replacement API key created"
            yield Static(title, id="created-title", classes="form-title")
            yield Static(content(created_for(key)), id="created-for")
            yield Static(content(WARNING), id="one-time-warning")
            with Horizontal(classes="value-head"):
                yield Label("API key", classes="field-label")
                yield Button("Copy API key", id="copy-key", variant="primary", compact=True)
            with Container(id="api-key-box", classes="value-box"):
                yield Static(
                    content(self._created.private_key.reveal()), id="api-key-value", classes="value"
                )
            with Horizontal(classes="value-head"):
                yield Label("Public key", classes="field-label")
                yield Button("Copy public key", id="copy-public", compact=True)
            with Container(classes="value-box"):
                yield Static(content(key.public_key), id="public-key-value", classes="value")
            yield Static(id="created-note")
            with Horizontal(classes="form-buttons"):
                yield Button("Revoke", id="revoke", variant="error", compact=True)
                yield Button("Done", id="done", variant="success", compact=True)
            if self._rotation is not None:
                yield Static(
                    content(rotation_next(self._rotation)), id="rotation-next", classes="field-hint"
                )
                if not self._rotation.old_revoked:  # hidden under 24 rows: it did not fit
                    yield Static(ROTATION_ADVICE, id="rotation-advice", classes="field-hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        # A toast from the screen before (an integration saved) would stay
        # over the key; this page says its news on its own line (note).
        self.app.clear_notifications()
        self.query_one("#copy-key", Button).focus()

    # -- messages ---------------------------------------------------------------------

    def note(self, message: str, severity: SeverityLevel = "information") -> None:
        """Show a message on the page's own line; it clears itself."""
        line = self.query_one("#created-note", Static)
        line.update(content(message))
        line.set_class(severity == "error", "-error")
        line.set_class(severity == "warning", "-warning")
        if self._note_timer is not None:
            self._note_timer.stop()
        self._note_timer = self.set_timer(self.NOTE_SECONDS, lambda: line.update(""))

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

    def action_copy_text(self) -> None:
        """ctrl+c on a selection. The key selected whole is copied as `c`
        copies it (to both clipboards, said, and Done no longer asks); so is
        the public key; anything else as Textual copies a selection."""
        selection = self.get_selected_text()
        selected = "".join(selection.split()) if selection is not None else None
        if self._created is not None and selected == self._created.private_key.reveal():
            self.action_copy_key()
        elif selected == self._key.public_key:
            self.action_copy_public()
        else:
            super().action_copy_text()

    # -- leaving --------------------------------------------------------------------

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        if self._copied or self._revoked:
            self._close()
        else:
            self.ask_to_leave(self._close)

    def action_leave(self) -> None:
        self.ask_to_leave(self._close)

    def ask_to_leave(self, then: Callable[[], object], *, quitting: bool = False) -> None:
        """Done before a copy, Escape and quit come here: the key is about
        to be gone forever. Only an answer in the dialog leaves (or, when
        `quitting`, quits keydesk: the dialog says so)."""
        if self._revoked:
            then()
            return
        verb = "Quit" if quitting else "Leave"
        if self._copied:
            title = "Quit keydesk?" if quitting else "Leave this page?"
            lines = ["You copied the API key. Make sure it is stored somewhere safe."]
        else:
            title = f"{verb} without the key?"
            lines = ["You have not copied the API key: Stay, then c copies it."]
        lines += ["It will never be shown again; a lost key can only be revoked and replaced."]

        def decided(leave: bool | None) -> None:
            if leave:
                then()

        # Quit is answered with q (ctrl+q again rings: a double tap must not
        # lose the key); Leave with d, as Done (d) asked it.
        self.app.push_screen(
            ConfirmScreen(
                title, lines, confirm=verb, cancel="Stay", destructive=True,
                confirm_key="q" if quitting else "d", id="leave-confirm",
            ),
            decided,
        )  # fmt: skip

    def _close(self) -> None:
        if self.leaving:
            return  # Done clicked twice: a second dismiss would pop the screen below
        self.leaving = True
        self._forget()
        # Leave once a frame without the key has been drawn: no cached
        # picture of the screen holds the key after Done.
        public_key = self._key.public_key

        def leave() -> None:  # not awaited: a screen cannot await its own dismiss
            self.dismiss(public_key)

        self.call_after_refresh(leave)

    def _forget(self) -> None:
        """Drop every reference this process holds to the private key."""
        self._created = None
        self.query_one("#api-key-value", Static).update("")
        clipboard.forget(self.app)

    def on_unmount(self) -> None:
        self._created = None
        if self._note_timer is not None:  # it would keep this screen alive
            self._note_timer.stop()

    # -- revoking -------------------------------------------------------------------

    @on(Button.Pressed, "#revoke")
    def action_revoke(self) -> None:
        if not self._revoked:
            self.keydesk.revoke_key(self._key, on_revoked=self._was_revoked)

    def _was_revoked(self, key: KeyView) -> None:
        self._revoked = True
        self._key = key
        self._forget()
        # The page now tells of a revoked key: the key is worthless, so
        # neither the one-time warning nor an offer to copy it stays.
        self.query_one("#created-title", Static).update("API key revoked")
        self.query_one("#one-time-warning").display = False
        self.query_one("#api-key-value", Static).update(
            content("(revoked — this key no longer works)")
        )
        self.query_one("#copy-key").display = False
        # Nor a Revoke button, nor an expiry: the line above says when it was revoked.
        self.query_one("#revoke").display = False
        self.query_one("#created-for", Static).update(content(created_for(key)))
        if self._rotation is not None and not self._rotation.old_revoked:
            # "Deploy this key before then" no longer holds: say what does.
            self.query_one("#rotation-next", Static).update(
                content(rotation_next(self._rotation, replacement_revoked=True))
            )
            self.query_one("#rotation-advice").display = False
        self.query_one("#done", Button).focus()
        self.refresh_bindings()

    def on_key(self, event: events.Key) -> None:
        # c and x are no longer bound once the key is revoked (the footer
        # drops them): pressed anyway, they say why rather than nothing.
        if self._revoked and event.key in ("c", "x"):
            event.stop()
            self.note(REVOKED_NOTE, "warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_key", "revoke"):
            return not self._revoked
        return True


def created_for(key: KeyView) -> str:
    """What was just made: for what, until when (or since when it is
    revoked), allowed to do what."""
    if key.revoked_at is not None:
        stops = f"revoked {stop_time(key.revoked_at)}"
    elif key.expires_at is not None:
        stops = f"expires {stop_time(key.expires_at)}"
    else:
        stops = "never expires"
    scopes = " ".join(key.scopes) or "(none)"
    return f"“{key.label}” for integration {key.integration}\n{stops} · scopes: {scopes}"


REVOKED_NOTE = "Revoked: nothing to copy or revoke (p copies its public key)."
ROTATION_ADVICE = "The old key's Last used shows whether anything still uses it."


def rotation_next(rotation: RotatedKey, *, replacement_revoked: bool = False) -> str:
    """When the replaced key stops, in UTC as every shell says it; once this
    replacement is revoked too, how to keep the old one working."""
    old = rotation.old
    stops = stop_time(rotation.old_stops_at)
    if rotation.old_revoked:
        return f"{old.public_key} ({old.label}) was revoked: it stopped working at {stops}."
    if replacement_revoked:
        return (
            f"{old.public_key} ({old.label}) still stops working at {stops}: K on its row keeps it."
        )
    return f"{old.public_key} ({old.label}) stops working at {stops}. Deploy this key before then."
