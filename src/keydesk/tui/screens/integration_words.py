"""What an integration's page says in words: why a key action is refused,
the highlighted key in full, the Overview's settings and own keys
(keydesk.tui.screens.integration_detail); what saving its form did and what
configuring it will do (keydesk.tui.flows.integrations). A draft's advice
is worded once (`draft_advice`): its missing settings named only when
some are missing, and the key that goes on from there: e to fill them
in, c to configure it. So is a disabled one's (`disabled_advice`)."""

from __future__ import annotations

from datetime import datetime

from keydesk.tui.display import cells, clipped, visible
from keydesk.tui.widgets import no_match
from keydesk.tui.widgets.filter_input import NEEDLE_SHOWN
from keydesk.views import IntegrationStatus, IntegrationView, KeyView, stop_time
from keydesk.views.tags import tags_text
from keydesk.views.words import counted
from keydesk.wording import when

# What a key that is not active cannot be (space selects what x would
# revoke: active keys only; l sets what only an active key is checked for).
REFUSED_VERB = {
    "revoke": "it cannot be revoked again",
    "rotate": "it cannot be rotated",
    "toggle_select": "it cannot be selected",
    "limits": "its limits cannot be changed",
}
REFUSED_OBJECT = {
    "revoke": "revoke",
    "rotate": "rotate",
    "keep": "keep",
    "copy_public": "copy",
    "toggle_select": "select",
}
KEY_ACTIONS = ("revoke", "rotate", "keep", "copy_public", "open_key", "toggle_select", "limits")


def draft_advice(integration: IntegrationView, draft: str, via: str = "") -> str:
    """What a draft needs before it has keys, in the same words wherever it
    is said (the API Keys tab, g and t refused, ?, a save), after `draft`
    ("okta-sso is a draft"; "A draft" under the page's title, which names
    it): a missing setting first (configuring refuses without it: "configure
    it first (c)" misled), else c. `via`: how those keys are reached from
    here ("esc, then ")."""
    if missing := integration.missing_settings():
        them = "them" if " and " in missing else "it"
        return f"{draft}, no keys yet: configuring it needs its {missing}; {via}e fills {them} in"
    return f"{draft}, no keys yet: {via}c configures it"


# What a viewer's or member's key would do, hidden from the footer: pressing
# one says the role (e, c and d said nothing, where g and a said why).
ROLE_ACTIONS = ("generate", "rotate", "revoke", "keep", "toggle_select")
CHANGES = ("edit", "configure", "disable")
ONLY_MANAGERS = {  # what the others' keys would have done
    "generate": "generate keys",
    "rotate": "rotate keys",  # t said "generate or revoke keys"
    **dict.fromkeys(("revoke", "toggle_select"), "revoke keys"),
    "keep": "cancel a rotation's stop",
    **dict.fromkeys(CHANGES, "edit, configure or disable integrations"),
    "limits": "set a key's limits",
    "add": "add integrations",
}


def only_managers(role: str, workspace: str, done: str) -> str:
    """A role's refusal, with the way out, in the same words for every key."""
    return (
        f"You are a {role} in {workspace}; only owners and admins {done}. "
        "Ask an owner to change your role"
    )


def why_cannot(integration: IntegrationView, action: str) -> str | None:
    """Why `action`, hidden here, does nothing: the account's role, or for
    c and d the integration's state (c on a configured one said nothing,
    as did d after `d D` disabled it)."""
    name = visible(integration.name)
    if integration.can_manage:
        if action == "configure" and integration.is_configured:
            return f"{name} is configured already: d disables it"
        if action == "disable" and integration.status is IntegrationStatus.DISABLED:
            return f"{name} is disabled already: c configures it again"
        if action == "disable" and not integration.is_configured:
            return f"{name} is a draft: there is nothing to disable"
        return None
    if (done := ONLY_MANAGERS.get(action)) is None:
        return None
    return only_managers(integration.role, integration.workspace, done)


def disabled_advice(disabled: str, via: str = "") -> str:
    """What a disabled integration means for its keys, and the key that
    undoes it, in the same words wherever it is said, after `disabled`
    ("legacy-slack is disabled"; "Disabled" under the page's title)."""
    return f"{disabled}: its keys are refused, no new ones made; {via}c configures it again"


def no_new_key(integration: IntegrationView, via: str = "") -> str:
    """Why g and t make nothing, with the way out (a draft or a disabled
    integration: configure it; `via`: how its keys are reached from here)."""
    name = visible(integration.name)
    if not integration.can_manage or integration.is_configured:
        return integration.why_no_new_keys() or "No new key can be made here"
    if integration.status is IntegrationStatus.DRAFT:
        return draft_advice(integration, f"{name} is a draft", via)
    return disabled_advice(f"{name} is disabled", via)


def keys_gate(integration: IntegrationView) -> str | None:
    """Why the API Keys tab offers no Generate (None: it does), and the key
    that changes that."""
    reason = integration.why_no_new_keys()
    if reason is None or not integration.can_manage:
        return reason  # None, or the role: no key of this page changes it
    if integration.status is IntegrationStatus.DISABLED:
        return disabled_advice("Disabled") + "."
    return draft_advice(integration, "A draft") + "."


def saved_words(integration: IntegrationView) -> str:
    """What saving the form did, a draft said as such (`draft_advice`)."""
    name = visible(integration.name)
    if integration.status is not IntegrationStatus.DRAFT:
        return f"{name} saved ({integration.status})."
    return draft_advice(integration, f"{name} saved as a draft") + "."


def unchanged_words(integration: IntegrationView) -> str:
    """A save of the form as it opened: nothing written, a draft's advice kept."""
    name = visible(integration.name)
    if integration.status is not IntegrationStatus.DRAFT:
        return f"{name}: nothing changed, nothing saved."
    return draft_advice(integration, f"{name}: nothing changed; still a draft") + "."


def configure_lines(integration: IntegrationView) -> list[str]:
    """What configuring does, for this integration: a draft has never had a
    key; a disabled one's active keys work again (those revoked or expired
    meanwhile are not counted: they stay stopped)."""
    if integration.status is not IntegrationStatus.DISABLED:
        return ["Keys can then be generated for it."]
    n = integration.active_keys
    if not n:
        return ["Keys can be generated for it again."]
    works = "works" if n == 1 else "work"
    return [
        f"Keys can be generated for it again, and its {counted(n, 'active key')} {works} again."
    ]


def why_not_key(
    integration: IntegrationView,
    key: KeyView | None,
    action: str,
    now: datetime,
    via: str = "",
    needle: str = "",
    unread: str | None = None,
) -> str | None:
    """Why a key's action (x, t, K, space, l, p, Enter) does nothing now,
    with the way out where there is one: the one answer the integration's
    page, the key's page and ? give (None: not a key action, or possible).
    The key's own state first: a revoked key in a disabled integration is
    refused for being revoked, which no re-enabling changes. No key at all:
    the filter (`needle`) hides them, they could not be read (`unread`), or
    there is none yet."""
    if action not in KEY_ACTIONS:
        return None
    if key is not None and action in REFUSED_VERB and not key.is_active:
        if action == "revoke" and key.revoked_at is None:
            return f"{key.public_key} has expired: it works no more, nothing to revoke"
        return f"{key.public_key} is {key.status.value}: {REFUSED_VERB[action]}"
    if action == "rotate" and not integration.can_issue_keys:
        return no_new_key(integration, via)
    if key is None and unread:
        return f"No key to {REFUSED_OBJECT.get(action, 'act on')}: they could not be read: {unread}"
    if key is None:
        return no_key_to(integration, action, needle)
    if action == "keep" and not key.stop_is_orphaned(now):
        return (
            f"K keeps a key whose replacement was revoked; {key.public_key} has none: "
            "nothing to keep"
        )
    return None


def no_key_to(integration: IntegrationView, action: str, needle: str = "") -> str:
    """An empty key list's answer to x, t, space, p: the filter hides every
    key (esc clears it), or the integration has none yet (g makes one where
    it may: a draft's g says why not)."""
    start = f"No key to {REFUSED_OBJECT.get(action, 'act on')}"
    if needle := needle.strip():
        return f"{start}: none matches “{clipped(needle, NEEDLE_SHOWN)}” — esc clears the filter"
    way = "; g generates one" if integration.can_issue_keys else ""
    return f"{start}: {visible(integration.name)} has none yet{way}"


def detail_line(key: KeyView | None, now: datetime, needle: str = "") -> str:
    """The highlighted key in full, under the table (its row's cells may be
    cut); with none, that the filter (`needle`) matches no key, or nothing."""
    if key is None:
        return no_match("key", needle.strip()) if needle.strip() else ""
    parts = [
        f"{key.label}  ({key.public_key}, {key.status_words(now)})",
        f"created {when(key.created_at)} by {key.creator}",
        f"last used {when(key.last_used_at)}",
    ]
    if key.revoked_at:
        parts.append(f"revoked {when(key.revoked_at)} by {key.revoked_by or '—'}")
    elif key.expires_at:  # a revoked key has stopped already
        parts.append(f"expires {stop_time(key.expires_at)}")  # the reveal page's word
    if key.scopes:
        parts.append("scopes " + " ".join(key.scopes))
    if key.tags:  # the table has no room for them; the filter matches them
        parts.append("tags " + tags_text(key.tags))
    return " · ".join(parts)


def title_line(integration: IntegrationView, width: int) -> str:
    """Name · provider · status on one line of `width` cells: a long name
    is cut, the status always shows."""
    tail = f"  ·  {clipped(integration.provider, 24)}  ·  {integration.status}"
    room = width - 4 - cells(tail)
    return clipped(integration.name, max(room, 8)) + tail


def settings_hint(integration: IntegrationView) -> str:
    """The integration's own keys, named on its Overview."""
    actions = [
        (integration.can_edit, "e edit settings"),
        (integration.can_configure, "c configure"),
        (integration.can_disable, "d disable"),
    ]
    return "  ·  ".join(text for offered, text in actions if offered)


def active_keys_words(integration: IntegrationView) -> str:
    """The count, and that they are refused while the integration is disabled."""
    n = integration.active_keys
    if n and integration.status is IntegrationStatus.DISABLED:
        return f"{n} (refused while it is disabled)"
    return str(n)


def overview_rows(integration: IntegrationView) -> list[tuple[str, str]]:
    """The Overview tab's name / value rows."""
    return [
        ("Name", integration.name),
        ("Workspace", integration.workspace),
        ("Provider", integration.provider),
        ("Status", integration.status.value),
        ("Client ID", integration.client_id or "— (not set)"),
        ("Redirect URI", integration.redirect_uri or "— (not set)"),
        ("Scopes", integration.scopes or "—"),
        ("Active keys", active_keys_words(integration)),
        ("Created", when(integration.created_at)),
        ("Updated", when(integration.updated_at)),
        ("Your role", integration.role.value),
    ]
