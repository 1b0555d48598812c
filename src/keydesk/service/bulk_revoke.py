"""Revoking many keys at once (a compromised CI runner's, a whole staging
environment's): the active keys a selection matches, then all of them in
one transaction, with one audit event per key and one per workspace for
the batch (`key.revoke.batch`, naming what was asked and how many).

10,000 keys in well under a second on SQLite: one conditional UPDATE per
chunk of public keys (RETURNING what it revoked), the events inserted in
one executemany. On PostgreSQL the database writes each key's event (its
trigger) and the batch's (keydesk_record_revocations, which counts them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk.errors import InvalidInput
from keydesk.service.context import ServiceContext
from keydesk.service.rows import account, row_id
from keydesk.store.models import ApiKey, AuditEvent
from keydesk.validation import shown_literally
from keydesk.views import KeyView, utcnow
from keydesk.views.revocations import BulkRevocation, KeySelection

CHUNK = 500  # public keys per UPDATE: within every SQLite's limit on parameters
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
    revoked: list[tuple[str, str, int]] = []
    with context.session() as session:
        reads = context.reads(session)
        managed = {i.id: i.workspace_id for i in reads.integrations() if i.role.can_manage}
        revoker = row_id(account(session, context.actor).id)
        now = utcnow()
        for start in range(0, len(asked), CHUNK):
            chunk = asked[start : start + CHUNK]
            result = session.execute(
                sa.update(ApiKey)
                .where(
                    col(ApiKey.public_key).in_(chunk),
                    col(ApiKey.revoked_at).is_(None),
                    sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
                    col(ApiKey.integration_id).in_(list(managed)),
                )
                .values(revoked_at=now, revoked_by=revoker)
                .returning(col(ApiKey.public_key), col(ApiKey.label), col(ApiKey.integration_id))
            )
            revoked.extend((public, label, integration) for public, label, integration in result)
        if context.postgresql:  # each key's event is the trigger's; the batch's counts them
            session.execute(sa.text("SELECT keydesk_record_revocations(:note)"), {"note": note})
        elif revoked:
            _audit(context, session, revoked, managed, note, now)
    done = {public for public, _, _ in revoked}
    order = [key for key in asked if key in done]
    return BulkRevocation(tuple(order), tuple(k for k in asked if k not in done), note)


def _audit(
    context: ServiceContext,
    session: Session,
    revoked: list[tuple[str, str, int]],
    managed: dict[int, int],
    note: str,
    now: datetime,
) -> None:
    """SQLite: what PostgreSQL's triggers write, in one executemany."""
    events = [
        {"workspace_id": managed[integration], "integration_id": integration,
         "actor": context.actor, "action": "key.revoke", "target": public, "label": label,
         "related": None, "at": now}
        for public, label, integration in revoked
    ]  # fmt: skip
    per_workspace: dict[int, set[int]] = {}
    counts: dict[int, int] = {}
    for _, _, integration in revoked:
        workspace = managed[integration]
        per_workspace.setdefault(workspace, set()).add(integration)
        counts[workspace] = counts.get(workspace, 0) + 1
    for workspace, integrations in per_workspace.items():
        events.append(
            {"workspace_id": workspace,
             "integration_id": next(iter(integrations)) if len(integrations) == 1 else None,
             "actor": context.actor, "action": "key.revoke.batch", "target": note,
             "label": f"{counts[workspace]} key{'s' * (counts[workspace] != 1)} revoked",
             "related": None, "at": now}
        )  # fmt: skip
    session.execute(sa.insert(AuditEvent), events)


def _clipped(note: str) -> str:
    note = " ".join(shown_literally(note).split()) or "keys chosen one by one"
    return note if len(note) <= NOTE_MAX else note[: NOTE_MAX - 1] + "…"
