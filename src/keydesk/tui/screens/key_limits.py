"""A key's limits and networks, changed from its page (`l`): rate, quota
and networks, as `keydesk key edit` sets them (blank: none, or anywhere).
A bad value is refused on its line, nothing saved."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from keydesk.errors import InvalidInput
from keydesk.limits import parse_limit, parse_networks
from keydesk.tui.display import content, sentence
from keydesk.tui.screens.confirm import limits_confirmation
from keydesk.tui.screens.form import DialogForm, FormScroll
from keydesk.tui.widgets import GuardedInput, KeyFooter
from keydesk.tui.widgets.guarded_input import field_named
from keydesk.views import KeyView

# Blank means the same on the create form (keydesk.tui.screens.create_key),
# where the rate starts as the workspace's default.
RATE_LABEL = "Rate (e.g. 600/min; blank: none)"
QUOTA_LABEL = "Quota (e.g. 1000000/month; blank: none)"
NETWORKS_LABEL = "From networks (CIDRs; blank: anywhere)"


def typed_limits(rate: str, quota: str, networks: str) -> dict[str, Any]:
    """The service's arguments for what was typed (blank: none, anywhere);
    InvalidInput in one line for a value it would refuse."""
    return {
        "rate": str(parse_limit(rate, "The rate")) if rate.strip() else "none",
        "quota": str(parse_limit(quota, "The quota")) if quota.strip() else "none",
        "allow_from": parse_networks([networks], "The allowlist entry") if networks.strip() else (),
    }


class KeyLimitsScreen(DialogForm[dict[str, Any] | None]):
    """Dismisses with the new limits (keydesk.service's edit_key_limits
    arguments), or None when cancelled; a change not saved: Escape and
    ctrl+q ask first."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="limits.cancel"),
        Binding("ctrl+s", "save", "Save", id="limits.save"),
    ]
    AUTO_FOCUS = "#limit-rate"

    def __init__(self, key: KeyView) -> None:
        super().__init__(classes="choice")
        self._key = key
        limits = key.limits
        self._was = (limits.rate or "", limits.quota or "", " ".join(limits.allow_from))

    def compose(self) -> ComposeResult:
        rate, quota, networks = self._was
        # Boxed fields as on the create form (compact ones had no visible box),
        # their labels unpadded so the dialog fits at 60x20.
        with Vertical(id="dialog", classes="limits-dialog"):
            yield Static(content(f"Limits of {self._key.label}"), id="dialog-title")
            # Scrolls: at 60x20 a refusal's last words were below the edge.
            with FormScroll(id="dialog-body"):
                yield Label(RATE_LABEL, classes="field-label")
                yield GuardedInput(rate, id="limit-rate", what="the rate", select_on_focus=False)
                yield Label(QUOTA_LABEL, classes="field-label")
                yield GuardedInput(quota, id="limit-quota", what="the quota", select_on_focus=False)
                yield Label(NETWORKS_LABEL, classes="field-label")
                yield GuardedInput(
                    networks, id="limit-from", what="the allowlist", select_on_focus=False
                )
                yield Static(id="limit-error", classes="field-error")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#limit-error").display = False

    def _typed_values(self) -> tuple[str, str, str]:
        rate, quota, networks = (
            self.query_one(f"#limit-{name}", Input).value for name in ("rate", "quota", "from")
        )
        return rate, quota, networks

    def _typed(self) -> bool:
        return self._typed_values() != self._was

    @on(Input.Submitted)
    def action_save(self) -> None:
        rate, quota, networks = self._typed_values()
        try:
            chosen = typed_limits(rate, quota, networks)
        except InvalidInput as exc:
            self._refused(exc.message)
            # The cursor in the field at fault, as on the integration form
            # (not for a keystroke refused while typing: a Tab may follow).
            if (field := field_named(self, exc.message)) is not None:
                field.focus()
            return
        changes = self._changes()
        if not changes:
            self.app.notify(f"{self._key.label}: nothing changed, nothing saved.", markup=False)
            self.dismiss(None)
        elif self._key.is_active:  # a working key's callers feel it at once

            def answered(save: bool | None) -> None:
                if save:
                    self.dismiss(chosen)

            self.app.push_screen(limits_confirmation(self._key.label, changes), answered)
        else:
            self.dismiss(chosen)

    def _changes(self) -> list[tuple[str, str, str]]:
        """(what, before, after) of each value typed differently, as said."""
        names = ("Rate", "Quota", "From networks")
        blank = ("none", "none", "anywhere")
        return [
            (name, was.strip() or none, now.strip() or none)
            for name, was, now, none in zip(
                names, self._was, self._typed_values(), blank, strict=True
            )
            if " ".join(was.split()) != " ".join(now.split())
        ]

    @on(GuardedInput.Refused)
    def _field_refused(self, event: GuardedInput.Refused) -> None:
        self._refused(event.message)

    def _refused(self, message: str) -> None:
        error = self.query_one("#limit-error", Static)
        error.update(content(sentence(message)))
        error.display = True
        self.call_after_refresh(error.scroll_visible, animate=False)  # in view at 60x20
