"""Which actions the footer offers, decided once for every screen.

Textual's `check_action` answers True (offered), False (shown dimmed: not
possible right now) or None (hidden). The rules themselves live on the
views; this only maps them to the footer."""

from __future__ import annotations

from keydesk.views import IntegrationView, KeyView


def _offer(role_allows: bool, possible_now: bool) -> bool | None:
    """Hidden when the account's role never allows it; dimmed when it is
    allowed but does not apply right now."""
    return possible_now if role_allows else None


def integration_action(integration: IntegrationView | None, action: str) -> bool | None:
    if integration is None:
        return None
    if action == "generate":
        return integration.can_issue_keys or None
    if action == "edit":
        return integration.can_edit or None
    if action == "configure":
        return _offer(integration.can_manage, integration.can_configure)
    if action == "disable":
        return _offer(integration.can_manage, integration.can_disable)
    return True


def key_action(integration: IntegrationView, key: KeyView | None, action: str) -> bool | None:
    if key is None:
        return None
    if action == "revoke":
        return (integration.can_manage and key.is_active) or None
    if action == "rotate":
        return (integration.can_issue_keys and key.is_active) or None
    return True
