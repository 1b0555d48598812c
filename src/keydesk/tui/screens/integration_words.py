"""What an integration's page says in words: why a key action is refused,
the highlighted key in full, the Overview's own keys
(keydesk.tui.screens.integration_detail)."""

from __future__ import annotations

from datetime import datetime

from keydesk.views import IntegrationView, KeyView, stop_time
from keydesk.wording import when

# What a row's key cannot be when it is not active (space selects what x
# would revoke: active keys only).
REFUSED_VERB = {"revoke": "revoked again", "rotate": "rotated", "toggle_select": "selected"}
REFUSED_OBJECT = {"revoke": "revoke", "rotate": "rotate", "keep": "keep", "copy_public": "copy"}


def no_new_key(integration: IntegrationView) -> str:
    """Why g and t make nothing, with the way out (a draft: configure it)."""
    name, status = integration.name, integration.status.value
    if not integration.can_manage or integration.is_configured:
        return integration.why_no_new_keys() or "No new key can be made here"
    if status == "draft":
        return f"{name} is a draft: no new key can be made; configure it first (c)"
    return f"{name} is {status}: no new key can be made; configure it again (c)"


def detail_line(key: KeyView, now: datetime) -> str:
    """The highlighted key in full, under the table (its row's cells may be cut)."""
    parts = [
        f"{key.label}  ({key.public_key}, {key.status_words(now)})",
        f"created {when(key.created_at)} by {key.creator}",
        f"last used {when(key.last_used_at)}",
    ]
    if key.revoked_at:
        parts.append(f"revoked {when(key.revoked_at)} by {key.revoked_by or '—'}")
    elif key.expires_at:  # a revoked key has stopped already
        parts.append(f"stops at {stop_time(key.expires_at)}")
    if key.scopes:
        parts.append("scopes " + " ".join(key.scopes))
    return " · ".join(parts)


def settings_hint(integration: IntegrationView) -> str:
    """The integration's own keys, named on its Overview."""
    actions = [
        (integration.can_edit, "e edit settings"),
        (integration.can_configure, "c configure"),
        (integration.can_disable, "d disable"),
    ]
    return "  ·  ".join(text for offered, text in actions if offered)
