"""Leaked keys: presenting the private key is the proof. What the store
says of a key found leaked, and revoking it on that proof alone."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from keydesk.errors import AlreadyRevoked, NotFound
from keydesk.keys import PrivateKey, check_secret, parse_private_key
from keydesk.service.context import ServiceContext
from keydesk.service.revocation import leak_label, revoke
from keydesk.service.rows import KEY_REF_COLUMNS, KeyRef, row_id
from keydesk.store.models import Account, ApiKey
from keydesk.views import FoundKey, KeyView, UnprovenKey, utcnow


class Leaks:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def found_key(self, private_key: PrivateKey) -> FoundKey:
        """What this store says of a private key found leaked, as far as the
        actor may know. Where the actor reads hashes (SQLite; on PostgreSQL
        the store's owner and superusers) the secret is checked against the
        hash and no role is needed: whoever holds the whole private key may
        learn what `keydesk verify` would tell them, and revoke it (GitHub's
        credential revocation works the same way); a wrong secret or an
        unknown id is `unknown`. An admin on PostgreSQL cannot read hashes:
        the key is matched by its public key among the workspaces the admin
        sees, unchecked, and told apart from one in another workspace."""
        key = parse_private_key(private_key)  # shape and checksum, no I/O
        context = self.context
        with context.session() as session:
            reads = context.reads(session)
            if self._reads_hashes(session):
                return reads.found_key(key)  # the bare read `keydesk scan` runs on SQLite
            found = reads.key_by_public_key(key.public_key)
            if found is not None:
                return FoundKey(key.public_key, found, secret_checked=False)
            elsewhere = session.execute(
                sa.text("SELECT keydesk_key_exists(:public_key)"), {"public_key": key.public_key}
            ).scalar_one()
            return FoundKey(key.public_key, None, secret_checked=False, elsewhere=bool(elsewhere))

    def revoke_found_key(self, private_key: PrivateKey, found_at: str) -> KeyView:
        """Revoke a key found leaked at `found_at`, proven by its secret, audited
        as `key.revoke.leaked`. Never on a match by public key (an admin on
        PostgreSQL): a forgery with another secret would revoke the real key."""
        key = parse_private_key(private_key)
        with self.context.session() as session:
            if not self._reads_hashes(session):
                raise UnprovenKey(key.public_key)
            row = self._revoke_possessed(session, key, found_at)
            return self.context.key_view(session, row.id)

    def revoke_leaked_key(self, private_key: PrivateKey, found_at: str) -> str:
        """Revoke the one key `private_key` proves, audited as revoked because
        it leaked, with where it was found; returns its public key. Cannot
        reveal or create anything. keydesk serve's POST /v1/revoke: on
        PostgreSQL it runs as `keydesk_verifier`, which reads hashes and may
        call `keydesk_revoke_leaked` (revision 0004), and nothing more."""
        with self.context.session() as session:
            return self._revoke_possessed(session, private_key, found_at).public_key

    def _revoke_possessed(self, session: Session, private_key: PrivateKey, found_at: str) -> KeyRef:
        key = _possessed_key(session, private_key)
        if key is None:
            raise NotFound(f"no key {private_key.public_key} in this store")
        label = leak_label(found_at)
        context = self.context
        if context.postgresql:
            # The database writes the revocation and its audit event as the
            # session's role; the possession was checked just above.
            outcome = session.execute(
                sa.text("SELECT keydesk_revoke_leaked(:public_key, :label)"),
                {"public_key": key.public_key, "label": label},
            ).scalar_one()
            if outcome != "revoked":
                raise AlreadyRevoked(f"key {key.public_key} ({key.label}) is already revoked")
            return key
        ws = context.key_workspace(session, key)
        # Whoever proves the key may revoke it, with or without an account here.
        revoker = session.exec(select(Account.id).where(Account.name == context.actor)).first()
        revoke(session, key, revoker, utcnow())
        context.audit(
            session,
            row_id(ws.id),
            "key.revoke.leaked",
            key.public_key,
            label=label,
            integration_id=key.integration_id,
        )
        return key

    def _reads_hashes(self, session: Session) -> bool:
        """Whether the actor may read `secret_hash`: always on SQLite (the
        file is the boundary); on PostgreSQL, not an admin's role (0002)."""
        if not self.context.postgresql:
            return True
        return bool(
            session.execute(
                sa.text("SELECT has_column_privilege('api_key', 'secret_hash', 'SELECT')")
            ).scalar_one()
        )


def _possessed_key(session: Session, private_key: PrivateKey) -> KeyRef | None:
    key = parse_private_key(private_key)  # shape and checksum, no I/O
    found = session.execute(
        sa.select(*KEY_REF_COLUMNS, col(ApiKey.secret_hash)).where(
            col(ApiKey.public_key) == key.public_key
        )
    ).first()
    # argon2 against the stored hash, or a decoy: equal work either way.
    if not check_secret(found.secret_hash if found else None, key).matches:
        return None
    assert found is not None
    return KeyRef(*found[:4])
