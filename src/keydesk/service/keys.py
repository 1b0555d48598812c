"""Keys: issuing one (its private key leaves keydesk once, here), rotating
it, revoking it, and reading keys as the actor may see them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from keydesk import validation
from keydesk.errors import (
    AlreadyRevoked,
    IntegrationNotConfigured,
    InvalidInput,
    InvalidLabel,
    NoScheduledStop,
    RevokedUnreadable,
    UnknownStoredValue,
)
from keydesk.keys import KeyPairSource, PrivateKey, hash_private_key
from keydesk.service.context import ServiceContext
from keydesk.service.key_limits import default_rate, new_limits, write_limits
from keydesk.service.revocation import leak_label, revoke
from keydesk.service.rows import KeyRef, account, flush, row_id
from keydesk.service.tags import write_tags
from keydesk.store.models import ApiKey, Integration
from keydesk.store.stored_values import stored_days
from keydesk.views import (
    CreatedKey,
    IntegrationStatus,
    IntegrationView,
    KeyView,
    RotatedKey,
    replacement_label,
    stop_time,
    utcnow,
    why_not_lifetime,
)
from keydesk.views.tags import parse_tags


class Keys:
    """`key_pairs` makes each new key's pair (keydesk.keys.generate_key_pair;
    pictures and tests pass a repeatable source)."""

    def __init__(self, context: ServiceContext, key_pairs: KeyPairSource) -> None:
        self.context, self._key_pairs = context, key_pairs

    def create(
        self,
        integration: str | int,
        label: str,
        *,
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
        tags: Iterable[str] = (),
        rate: str | None = None,
        quota: str | None = None,
        allow_from: Iterable[str] = (),
    ) -> CreatedKey:
        """Issue a key. The private key is returned here and nowhere else, ever.

        `expires_at` None: no expiry, which a workspace with a lifetime
        policy refuses. `scopes`: a subset of the integration's (none given:
        all of them). `tags`: `name=value` each (keydesk.views.tags).
        `rate`, `quota`: `600/min` (rate None: the workspace's default);
        `allow_from`: CIDRs it may be used from (none: anywhere)."""
        label = validation.label(label)
        tagged = parse_tags(tags)
        with self.context.session() as session:
            target = self._issuing_integration(session, integration, "create keys")
            now = utcnow()
            refusal = why_not_lifetime(
                target.workspace, target.max_key_lifetime_days, expires_at, now
            )
            if refusal is not None:
                raise InvalidInput(refusal)
            granted = validation.key_scopes(scopes, target.scopes, target.name)
            lifetime = None if expires_at is None else _whole_days(expires_at - now)
            row, private_key = self._insert_key(
                session, target, label, granted, expires_at, lifetime
            )
            ref = KeyRef(row_id(row.id), row.public_key, label, target.id)
            write_tags(self.context, session, ref, target.workspace_id, tagged)
            limits = new_limits(rate, quota, allow_from, default_rate(session, target.workspace_id))
            write_limits(self.context, session, ref, target.workspace_id, limits)
            return CreatedKey(self.context.key_view(session, row.id), private_key)

    def rotate(
        self, public_key: str, overlap: timedelta, *, label: str | None = None
    ) -> RotatedKey:
        """Replace a key: a new key for the same integration with the same
        scopes, lifetime, limits and networks (dated label unless `label`),
        and the old key set to stop at now + `overlap` (revoked at once for
        0), in one transaction with one audit event naming both keys."""
        if overlap < timedelta(0):
            raise InvalidInput("the overlap cannot be negative (0 revokes the old key at once)")
        new_label = validation.label(label) if label is not None else None
        context = self.context
        with context.session() as session:
            ref = context.key_ref(session, public_key)
            old = context.key_view(session, ref.id)
            target = self._issuing_integration(session, ref.integration_id, "rotate keys")
            if old.revoked_at is not None:
                raise AlreadyRevoked(
                    f"key {old.public_key} ({old.label}) is revoked; create a new key instead"
                )
            self._refuse_second_replacement(session, old)
            now = utcnow()
            lifetime = _replacement_lifetime(old, target)
            expires_at = None if lifetime is None else now + timedelta(days=lifetime)
            offered = target.scope_list
            granted = " ".join(s for s in old.scopes if s in offered)  # never wider than now
            stops = self._stop(session, ref, old, now + overlap, now)
            new_row, private_key = self._insert_key(
                session,
                target,
                new_label
                or replacement_label(old.label, now.date(), _active_labels(session, target.id)),
                granted,
                expires_at,
                lifetime,
                replaces=old,
            )
            new_ref = KeyRef(row_id(new_row.id), new_row.public_key, new_row.label, target.id)
            write_limits(context, session, new_ref, target.workspace_id, old.limits)
            context.audit(
                session,
                target.workspace_id,
                "key.rotate",
                old.public_key,
                _rotation_note(stops, now),
                integration_id=target.id,
                related=new_row.public_key,
            )
            created = CreatedKey(context.key_view(session, new_row.id), private_key)
            return RotatedKey(created, context.key_view(session, old.id), stops)

    def revoke(self, public_key: str, *, leaked_at: str | None = None) -> KeyView:
        """Revoke now, for good. Refused by every verifier from the next request.
        `leaked_at`: where it was found leaked, audited as `key.revoke.leaked`
        (an admin's own word; `keydesk scan` revokes only what it proved)."""
        context = self.context
        with context.session() as session:
            key = context.key_ref(session, public_key)
            ws = context.key_workspace(session, key)
            context.require_manage(session, ws, "revoke keys")
            revoke(session, key, account(session, context.actor).id, utcnow())
            context.audit(
                session,
                row_id(ws.id),
                "key.revoke" if leaked_at is None else "key.revoke.leaked",
                key.public_key,
                label=key.label if leaked_at is None else leak_label(leaked_at),
                integration_id=key.integration_id,
            )
        # Read back once committed: a value set around keydesk in another
        # column of the row never stands in the way of revoking it.
        try:
            with context.session() as session:
                return context.key_view(session, key.id)
        except UnknownStoredValue as bad:
            raise RevokedUnreadable(f"revoked {key.public_key}; but {bad}") from None

    def keep(self, public_key: str) -> KeyView:
        """Cancel the stop a rotation set: the key lives to the end of its
        own lifetime again (never stops, if it had none), within the
        workspace's key policy. For a rotation whose replacement was revoked
        (found leaked, say): its stop would leave the integration keyless.
        Audited as `key.keep`, as PostgreSQL's trail writes it (revision 0010)."""
        context = self.context
        with context.session() as session:
            ref = context.key_ref(session, public_key)
            key = context.key_view(session, ref.id)
            target = context.integration(session, ref.integration_id)
            context.require_manager(target.role, target.workspace, "keep keys")
            own_end = _own_end(key, target)
            if (
                not key.is_active
                or not key.stop_scheduled()
                or key.expires_at is None
                or (own_end is not None and key.expires_at >= own_end)
            ):
                raise NoScheduledStop(
                    f"key {key.public_key} ({key.label}) has no scheduled stop to cancel"
                    + ("" if key.is_active else f": it is {key.status}")
                )
            if not key.replacement_revoked:  # as PostgreSQL's trigger has it (revision 0010)
                raise NoScheduledStop(
                    f"key {key.public_key} ({key.label}) stops as its rotation planned: its"
                    f" replacement {key.replaced_by} works; keep is for a revoked replacement"
                )
            session.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == key.id, col(ApiKey.revoked_at).is_(None))
                .values(expires_at=own_end)
            )
            note = "no expiry" if own_end is None else f"stops {stop_time(own_end)}"
            context.audit(
                session, target.workspace_id, "key.keep", key.public_key, note,
                integration_id=target.id,
            )  # fmt: skip
            return context.key_view(session, ref.id)

    def one(self, public_key: str) -> KeyView:
        with self.context.session() as session:
            key = self.context.member_key(session, public_key)
            return self.context.key_view(session, key.id)

    def listed(
        self,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        include_revoked: bool = True,
        expiring_within: timedelta | None = None,
        unused_for: timedelta | None = None,
    ) -> list[KeyView]:
        """An integration's keys (or a workspace's, or all the actor's),
        active first, newest first. `expiring_within`: only active keys that
        stop within that span, soonest first. `unused_for`: only active keys
        not used (or, never used, made) within that span, stalest first."""
        with self.context.reading() as reads:
            return list(
                reads.keys(
                    integration,
                    workspace=workspace,
                    include_revoked=include_revoked,
                    expiring_within=expiring_within,
                    unused_for=unused_for,
                )
            )

    # -- the steps of issuing and rotating ---------------------------------------

    def _issuing_integration(
        self, session: Session, ref: str | int, action: str
    ) -> IntegrationView:
        view = self.context.integration(session, ref)
        self.context.require_manager(view.role, view.workspace, action)
        if view.status != IntegrationStatus.CONFIGURED:
            raise IntegrationNotConfigured(
                f"integration {view.name!r} is {view.status}; "
                "keys can only be issued for a configured integration"
            )
        return view

    def _refuse_second_replacement(self, session: Session, old: KeyView) -> None:
        """One live replacement at a time: rotate the replacement instead
        (or revoke it first, if it was never deployed)."""
        now = utcnow()
        live = session.execute(
            sa.select(col(ApiKey.public_key)).where(
                col(ApiKey.replaces_id) == old.id,
                col(ApiKey.revoked_at).is_(None),
                sa.or_(col(ApiKey.expires_at).is_(None), col(ApiKey.expires_at) > now),
            )
        ).first()
        if live is not None:
            raise InvalidInput(
                f"key {old.public_key} is already being replaced by {live[0]}; "
                f"rotate {live[0]} instead, or revoke it first"
            )

    def _stop(
        self, session: Session, ref: KeyRef, old: KeyView, stops: datetime, now: datetime
    ) -> datetime:
        """Set the replaced key to stop at `stops` (revoked, if that is now);
        when it stops. One that already stops sooner is left as it is."""
        if old.expires_at is not None and old.expires_at <= stops:
            return old.expires_at
        if stops > now:
            session.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == old.id, col(ApiKey.revoked_at).is_(None))
                .values(expires_at=stops)
            )
        else:
            revoke(session, ref, account(session, self.context.actor).id, now)
        return stops

    def _insert_key(
        self,
        session: Session,
        target: IntegrationView,
        label: str,
        scopes: str,
        expires_at: datetime | None,
        lifetime_days: int | None,
        *,
        replaces: KeyView | None = None,
    ) -> tuple[ApiKey, PrivateKey]:
        """The new key's row and its private key, audited as created unless
        it replaces another (the rotation's one event covers it)."""
        integration = session.get(Integration, target.id)
        assert integration is not None
        _require_label_free(session, integration, label)
        creator = account(session, self.context.actor)
        pair = self._key_pairs()
        row = ApiKey(
            integration_id=target.id,
            public_key=pair.public_key,
            label=label,
            secret_hash=hash_private_key(pair.private_key),
            created_by=row_id(creator.id),
            expires_at=expires_at,
            scopes=scopes,
            lifetime_days=lifetime_days,
            replaces_id=replaces.id if replaces is not None else None,
        )
        session.add(row)
        flush(session, _label_taken(label, target.name), InvalidLabel)
        if replaces is None:
            self.context.audit(
                session,
                target.workspace_id,
                "key.create",
                pair.public_key,
                label=label,
                integration_id=target.id,
            )
        return row, pair.private_key


def _active_labels_of(integration_id: int | None) -> SelectOfScalar[str]:
    return select(ApiKey.label).where(
        ApiKey.integration_id == integration_id, col(ApiKey.revoked_at).is_(None)
    )


def _active_labels(session: Session, integration_id: int) -> set[str]:
    return set(session.exec(_active_labels_of(integration_id)))


def _require_label_free(session: Session, integration: Integration, label: str) -> None:
    active = _active_labels_of(integration.id)
    if session.exec(active.where(ApiKey.label == label)).first():
        raise InvalidLabel(_label_taken(label, integration.name))
    look_alike = validation.confusable_with(label, session.exec(active))
    if look_alike is not None:
        raise InvalidLabel(
            f"the label {label!r} looks like the active key {look_alike!r} of "
            f"{integration.name!r}; choose a label that reads differently"
        )


def _replacement_lifetime(old: KeyView, target: IntegrationView) -> int | None:
    """The old key's lifetime in days, within the workspace's cap as it is now."""
    lifetime = stored_days(old.lifetime_days, f"key {old.public_key}", "lifetime_days")
    cap = target.max_key_lifetime_days
    if cap is not None:
        lifetime = cap if lifetime is None else min(lifetime, cap)
    return lifetime


def _own_end(key: KeyView, target: IntegrationView) -> datetime | None:
    """When `key` stops by its own lifetime (None: never), within the
    workspace's key policy as it is now."""
    lifetime = _replacement_lifetime(key, target)  # the same days a replacement would get
    return None if lifetime is None else key.created_at + timedelta(days=lifetime)


def _rotation_note(stops: datetime, now: datetime) -> str:
    if stops == now:
        return "old key revoked at once"
    if stops < now:
        return f"old key had stopped {stop_time(stops)}"
    return f"old key stops {stop_time(stops)}"


def _whole_days(span: timedelta) -> int:
    """A lifetime in days, rounded up (a key for 36 hours is a 2-day key)."""
    return max(1, -(-int(span.total_seconds()) // 86400))


def _label_taken(label: str, integration: str) -> str:
    return (
        f"an active key labelled {label!r} already exists for {integration!r}; "
        "choose another label (one per environment) or revoke that key first"
    )
