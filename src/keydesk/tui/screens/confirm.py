"""A yes/no question in a modal. The safe answer has the focus; Escape is no."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Static

from keydesk.tui.display import content
from keydesk.tui.screens.base import KeydeskModal
from keydesk.tui.widgets import KeyFooter
from keydesk.views import KeyView, in_words, stop_time


class ConfirmScreen(KeydeskModal[bool]):
    """`lines` are shown literally; the first is the question. `confirm_key`
    (by default the answer's first letter, lower case) answers yes in one
    keystroke, and the footer names it beside Escape: Enter presses the
    focused button, which for a destructive question is Cancel. `instead`
    (key, words, what): a third answer, in the footer, that closes the
    question as no and then does `what` (revoke's "Rotate instead").
    `cancel_key`: a key that answers no, as Escape does."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(
        self,
        title: str,
        lines: list[str],
        *,
        confirm: str,
        cancel: str = "Cancel",
        destructive: bool = False,
        confirm_key: str | None = None,
        cancel_key: str | None = None,
        instead: tuple[str, str, Callable[[], object]] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._title = title
        self._lines = lines
        self._confirm = confirm
        self._cancel = cancel
        self._destructive = destructive
        self._instead = instead
        # The footer names the answers as the buttons do.
        keys = self._bindings.key_to_bindings
        keys["escape"] = [Binding("escape", "cancel", cancel, id="confirm.cancel")]
        if instead is not None:
            key, words, _what = instead
            keys[key] = [Binding(key, "instead", words, id="confirm.instead")]
        confirm_key = self._confirm_key = confirm_key or confirm[:1].lower()
        keys[confirm_key] = [Binding(confirm_key, "confirm", confirm, id="confirm.confirm")]
        if confirm_key.isupper():  # a capital, so that a stray key does no harm: said
            lower = confirm_key.lower()
            keys[lower] = [Binding(lower, f"capital('{confirm_key}')", confirm, show=False)]
        if cancel_key is not None:  # beside Escape, which the footer names
            keys[cancel_key] = [Binding(cancel_key, "cancel", cancel, show=False)]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="destructive" if self._destructive else ""):
            yield Static(content(self._title), id="dialog-title")
            with VerticalScroll(id="dialog-body"):
                for line in self._lines:
                    yield Static(content(line), classes="dialog-line")
            with Horizontal(id="dialog-buttons"):
                yield Button(self._cancel, id="cancel", compact=True)
                yield Button(
                    self._confirm,
                    id="confirm",
                    variant="error" if self._destructive else "primary",
                    compact=True,
                )
        yield KeyFooter()

    def on_mount(self) -> None:
        # Destructive questions start on Cancel: a stray Enter must do no harm.
        self.query_one("#cancel" if self._destructive else "#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def answers(self) -> str:
        keys = [(self._confirm_key, self._confirm)]
        if self._instead is not None:
            keys.append(self._instead[:2])
        keys.append(("esc", self._cancel))
        return ", ".join(f"{key} {words}" for key, words in keys)

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_capital(self, key: str) -> None:
        self.keydesk.refuse(
            f"{self._confirm} takes a capital {key} (shift+{key.lower()}): "
            f"a stray {key.lower()} does nothing here"
        )

    def action_instead(self) -> None:
        if self._instead is not None:
            self.dismiss(False)  # off the stack at once: what follows opens above the screen
            self._instead[2]()


def revoke_confirmation(
    key: KeyView,
    replaced: KeyView | None,
    now: datetime,
    rotate: Callable[[], object] | None = None,
    *,
    workspace: str | None = None,
) -> ConfirmScreen:
    """The one revoke question, from the created page and from any key row;
    for a key in a rotation (`replaced`: the key it replaced), what revoking
    it does to the rotation. `rotate` (where the key can be rotated): for a
    key in no rotation, t rotates it instead. `workspace`: the key's, named
    where it is not the current one (a key found by a scan)."""
    in_rotation = _revoke_in_rotation(key, replaced, now)
    instead = ("t", "Rotate instead", rotate) if rotate and in_rotation is None else None
    advice = in_rotation or ("No outage wanted? Rotate it instead (t)." if instead else None)
    return ConfirmScreen(
        "Revoke API key?",
        [
            f"{key.label}  ({key.public_key})",
            f"Integration: {key.integration}" + (f" (workspace {workspace})" if workspace else ""),
            "",
            "Revocation is immediate and cannot be undone. Every service still using "
            "this key gets 401 Unauthorized on its very next request.",
            *(("", advice) if advice else ()),
        ],
        confirm="Revoke",
        cancel="Cancel",
        destructive=True,
        instead=instead,
        id="revoke-confirm",
    )


def _revoke_in_rotation(key: KeyView, replaced: KeyView | None, now: datetime) -> str | None:
    """In plain words: "Rotating? ... then revoke this one" read, on a
    replacement just made, as advice to revoke it. None: in no rotation."""
    if replaced is not None:
        old = replaced.public_key
        if replaced.is_active and replaced.stop_scheduled() and replaced.expires_at:
            return (
                f"This key replaced {old}, which still stops at "
                f"{stop_time(replaced.expires_at)} ({in_words(replaced.expires_at - now)} "
                f"left) as the rotation set: revoking this one leaves neither working then. "
                f"K on {old}'s row keeps it."
            )
        if replaced.is_active:
            return f"This key replaced {old}, which works on: revoking this one does not change it."
        return (
            f"This key replaced {old}, which no longer works: revoking this one leaves "
            "neither working."
        )
    if key.stop_scheduled() and not key.replacement_revoked and key.expires_at:
        return (
            f"This key is being rotated out: {key.replaced_by} replaces it, and it stops "
            f"by itself at {stop_time(key.expires_at)} ({in_words(key.expires_at - now)} "
            "left). Revoking it stops it now instead."
        )
    return None


def revoke_on_rotate_confirmation(label: str, public_key: str) -> ConfirmScreen:
    """A rotation with no overlap revokes the old key at once: asked like any
    revoke (the overlap list wraps, so "now" is one keystroke from "7 days")."""
    return ConfirmScreen(
        "Rotate and revoke the old key now?",
        [
            f"{label}  ({public_key})",
            "",
            "With no overlap the old key stops at once: every service still using it "
            "gets 401 Unauthorized on its very next request, before the replacement "
            "can be deployed. This cannot be undone.",
        ],
        confirm="Rotate and revoke now",
        cancel="Cancel",
        destructive=True,
        id="rotate-now-confirm",
    )


def keep_confirmation(key: KeyView, now: datetime) -> ConfirmScreen:
    """Keeping a key whose rotation's replacement was revoked: what stops
    when, and what keeping it changes."""
    stops = key.expires_at or now
    return ConfirmScreen(
        "Keep this key?",
        [
            f"{key.label}  ({key.public_key})",
            "",
            f"Its replacement {key.replaced_by} was revoked, yet this key still stops "
            f"at {stop_time(stops)} ({in_words(stops - now)} left), as the rotation set it.",
            "",
            "Keeping it cancels that stop: it works to the end of its own lifetime, "
            "as before the rotation. The change is audited.",
        ],
        confirm="Keep key",
        cancel="Cancel",
        id="keep-confirm",
    )


def settings_confirmation(name: str, changes: list[tuple[str, str, str]]) -> ConfirmScreen:
    """Saving the changed settings ((title, old, new) each) of an integration
    past its draft, whose keys use them now: asked, a capital S saving, Enter
    going back to the form."""
    return _changes_confirmation(
        f"Change {name}'s settings?",
        [(title, old or "(none)", new or "(none)") for title, old, new in changes],
        "These settings are in use: the change applies at once to its keys and to "
        "every app relying on them.",
        id="settings-confirm",
    )


def limits_confirmation(label: str, changes: list[tuple[str, str, str]]) -> ConfirmScreen:
    """Saving a working key's changed limits: asked as settings are (`l`,
    "5/sec" and Enter capped a production key at once)."""
    return _changes_confirmation(
        f"Change the limits of {label}?",
        changes,
        "They apply at once: a request over the rate or quota gets 429, one from "
        "another network 403.",
        id="limits-confirm",
    )


def _changes_confirmation(
    title: str, changes: list[tuple[str, str, str]], in_use: str, *, id: str
) -> ConfirmScreen:
    return ConfirmScreen(
        title,
        [*(f"{what}: {old} -> {new}" for what, old, new in changes), "", in_use],
        confirm="Save",
        cancel="Keep editing",
        destructive=True,
        confirm_key="S",
        id=id,
    )


UNSAVED_FORM = "Nothing in this form has been saved."


def leave_form(
    form: Screen[Any],
    typed: bool,
    *,
    quit_app: Callable[[], object] | None = None,
    unsaved: str = UNSAVED_FORM,
) -> None:
    """Leave a form (Escape, Cancel), asking first when it holds text typed
    and not saved: Escape half-way through a form lost it silently. An
    untouched form (only its defaults) closes at once. With `quit_app`
    (ctrl+q) the same question quits keydesk; ctrl+q on it quits at once.
    `unsaved`: what would be lost, in the form's own terms."""
    leave = quit_app or (lambda: form.dismiss(None))
    if not typed:
        leave()
        return

    def decided(discard: bool | None) -> None:
        if discard:
            leave()

    verb, key = ("Quit", "q") if quit_app else ("Discard", "y")
    form.app.push_screen(
        ConfirmScreen(
            "Quit and discard what you typed?" if quit_app else "Discard what you typed?",
            [unsaved, "", f"{key} {verb.lower()} · n or esc keep editing"],
            confirm=verb, cancel="Keep editing", destructive=True,
            confirm_key=key, cancel_key="n", id="discard-confirm",
        ),
        decided,
    )  # fmt: skip
