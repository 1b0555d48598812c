"""Revoking many keys at once, as the service: keydesk.store.bulk_revoke's
match and revoke on the session's connection (row-level security applies to
them on PostgreSQL), the revoke in one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from keydesk.service.context import ServiceContext
from keydesk.store import bulk_revoke
from keydesk.views.revocations import BulkRevocation, KeySelection, MatchedKey


def matching_keys(context: ServiceContext, selection: KeySelection) -> list[MatchedKey]:
    """The active keys matching every filter of `selection` that the actor
    may revoke (owners and admins of their workspaces), stalest first with
    --unused-for, else newest first."""
    with context.reading() as reads:
        return bulk_revoke.matching(reads, selection)


def revoke_keys(context: ServiceContext, public_keys: Iterable[str], note: str) -> BulkRevocation:
    """Revoke every key of `public_keys` that is still active and the
    actor's to revoke, in one transaction; the others are left as they are
    and named in `skipped`. `note` says why (the selection, or "selected in
    the TUI"), in the batch's event."""
    with context.session() as session:
        return bulk_revoke.revoke(context.reads(session), public_keys, note)
