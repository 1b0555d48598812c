"""Which actions the footer offers, decided once for every screen.

Textual's `check_action` answers True (offered), None (shown dimmed: not
possible right now) or False (hidden). An action the account's role never
allows is hidden; one that applies to the screen but not to this row or
this state is dimmed, so the footer does not jump as the cursor moves. The
rules themselves live on the views; this only maps them to the footer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from textual.screen import Screen

from keydesk.views import IntegrationStatus, IntegrationView, KeyView


def _offer(role_allows: bool, possible_now: bool) -> bool | None:
    if not role_allows:
        return False
    return True if possible_now else None


def advised_actions(
    integration: IntegrationView, key: KeyView | None = None, now: datetime | None = None
) -> tuple[str, ...]:
    """The keys a page's words name, which its footer keeps: for an
    integration that makes no keys (its API Keys tab's advice,
    keydesk.tui.screens.integration_words.keys_gate) e for a draft's missing
    setting ("e fills it in"), else c; K on a `key` whose status says "repl.
    revoked" (at 80 columns K gave way first); none where the role decides."""
    if not integration.can_manage:
        return ()
    keep = ("keep",) if key is not None and key.stop_is_orphaned(now) else ()
    if integration.why_no_new_keys() is None:
        return keep
    if integration.status is IntegrationStatus.DRAFT and integration.missing_settings():
        return ("edit", *keep)
    return ("configure", *keep)


def integration_action(integration: IntegrationView | None, action: str) -> bool | None:
    if integration is None:
        return None if action in ("generate", "edit") else False  # Enter opens nothing: hidden
    if action == "generate":
        return _offer(integration.can_manage, integration.can_issue_keys)
    if action == "edit":
        return integration.can_edit
    # Configure and Disable never apply together: show the one that does.
    if action == "configure":
        return integration.can_configure
    if action == "disable":
        return integration.can_disable
    return True


def footer_shows(screen: Screen[Any], key: str, shown: bool) -> None:
    """Show or hide `key`'s binding in `screen`'s footer (it acts either way,
    and ? lists it): for a key that matters only in a state, such as space
    while keys are selected."""
    bindings = screen._bindings.key_to_bindings[key]
    bindings[:] = [replace(binding, show=shown) for binding in bindings]


def key_action(
    integration: IntegrationView, key: KeyView | None, action: str, now: datetime | None = None
) -> bool | None:
    """`now`: the app's (Keydesk.now), for a key's time left."""
    active = key is not None and key.is_active
    if action == "revoke":
        return _offer(integration.can_manage, active)
    if action == "rotate":
        return _offer(integration.can_manage, active and integration.can_issue_keys)
    if action == "open_key":  # Enter opens nothing on an empty list: hidden
        return key is not None
    if action == "keep":  # rare: offered only on a key whose replacement was revoked
        return integration.can_manage and key is not None and key.stop_is_orphaned(now)
    return key is not None or None
