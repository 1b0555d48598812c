"""Revoking many keys at once (a compromised CI runner's, a whole staging
environment's): the active keys a selection matches, then all of them in
one transaction, with one audit event per key and one per workspace for
the batch (`key.revoke.batch`, naming what was asked and how many).

10,000 keys in well under a second on SQLite: one conditional UPDATE
(RETURNING what it revoked) on the session's own DB-API connection, the
public keys passed as one parameter (a JSON array, an array on
PostgreSQL), and the events inserted in one executemany. On PostgreSQL the database writes each key's event (its
trigger) and the batch's (keydesk_record_revocations, which counts them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from keydesk.errors import InvalidInput
from keydesk.service.context import ServiceContext
from keydesk.service.rows import account, row_id
from keydesk.validation import shown_literally
from keydesk.views import KeyView, utcnow
from keydesk.views.revocations import BulkRevocation, KeySelection

NOTE_MAX = 128  # AuditEvent.target


def matching_keys(context: ServiceContext, selection: KeySelection) -> list[KeyView]:
    """The active keys matching every filter of `selection` that the actor
    may revoke (owners and admins of their workspaces), stalest first with
    --unused-for, else newest first."""
    if selection.empty:
        raise InvalidInput(
            "give at least one filter: --tag, --created-by, --integration or --unused-for"
        )
    with context.reading() as reads:
        managed = {i.id for i in reads.integrations(selection.workspace) if i.role.can_manage}
        found = reads.keys(
            selection.integration,
            workspace=selection.workspace,
            include_revoked=False,
            unused_for=selection.unused_for,
            tags=selection.tags,
            created_by=selection.created_by,
        )
        now = utcnow()
        return [
            key
            for key in found
            if key.integration_id in managed and (key.expires_at is None or key.expires_at > now)
        ]


def revoke_keys(context: ServiceContext, public_keys: Iterable[str], note: str) -> BulkRevocation:
    """Revoke every key of `public_keys` that is still active and the
    actor's to revoke, in one transaction; the others are left as they are
    and named in `skipped`. `note` says why (the selection, or "selected in
    the TUI"), in the batch's event."""
    asked = list(dict.fromkeys(key.strip() for key in public_keys))
    note = _clipped(note)
    with context.session() as session:
        reads = context.reads(session)
        db = reads.db
        managed = {i.id: i.workspace_id for i in reads.integrations() if i.role.can_manage}
        now = utcnow()
        params = {
            "now": db.time(now), "by": row_id(account(session, context.actor).id),
            "keys": asked, "managed": list(managed),
        }  # fmt: skip
        if not context.postgresql:  # one parameter each, whatever their number
            params |= {"keys": json.dumps(asked), "managed": json.dumps(list(managed))}
        revoked = [
            (str(public), str(label), int(integration))
            for public, label, integration in db.rows(_REVOKE[db.backend], params)
        ]
        if context.postgresql:  # each key's event is the trigger's; the batch's counts them
            db.rows("SELECT keydesk_record_revocations(:note)", {"note": note})
        elif revoked:
            db.run_many(_EVENT, _events(context.actor, revoked, managed, note, db.time(now)))
    done = {public for public, _, _ in revoked}
    return BulkRevocation(
        tuple(k for k in asked if k in done), tuple(k for k in asked if k not in done), note
    )


# One conditional UPDATE for them all: two admins revoking at once never
# revoke a key twice, and a key revoked meanwhile is skipped, not an error.
_REVOKE = {
    "sqlite": """UPDATE api_key SET revoked_at = :now, revoked_by = :by
WHERE public_key IN (SELECT value FROM json_each(:keys))
  AND integration_id IN (SELECT value FROM json_each(:managed))
  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
RETURNING public_key, label, integration_id""",
    "postgresql": """UPDATE api_key SET revoked_at = :now, revoked_by = :by
WHERE public_key = ANY(:keys) AND integration_id = ANY(:managed)
  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > :now)
RETURNING public_key, label, integration_id""",
}
_EVENT = """INSERT INTO audit_event (workspace_id, integration_id, actor, action, target, label,
  related, at) VALUES (:workspace_id, :integration_id, :actor, :action, :target, :label, NULL, :at)"""


def _events(
    actor: str,
    revoked: list[tuple[str, str, int]],
    managed: dict[int, int],
    note: str,
    at: object,
) -> list[dict[str, object]]:
    """SQLite: what PostgreSQL's triggers write: one event per key, then
    one per workspace for the batch (naming its integration if only one)."""
    events: list[dict[str, object]] = [
        {"workspace_id": managed[integration], "integration_id": integration, "actor": actor,
         "action": "key.revoke", "target": public, "label": label, "at": at}
        for public, label, integration in revoked
    ]  # fmt: skip
    per_workspace: dict[int, list[int]] = {}
    for _, _, integration in revoked:
        per_workspace.setdefault(managed[integration], []).append(integration)
    for workspace, integrations in per_workspace.items():
        count = len(integrations)
        events.append(
            {"workspace_id": workspace,
             "integration_id": integrations[0] if len(set(integrations)) == 1 else None,
             "actor": actor, "action": "key.revoke.batch", "target": note,
             "label": f"{count} key{'s' * (count != 1)} revoked", "at": at}
        )  # fmt: skip
    return events


def _clipped(note: str) -> str:
    note = " ".join(shown_literally(note).split()) or "keys chosen one by one"
    return note if len(note) <= NOTE_MAX else note[: NOTE_MAX - 1] + "…"
