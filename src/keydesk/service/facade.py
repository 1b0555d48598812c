"""The key service: everything keydesk does, with permission checks and an
audit trail, for the CLI, the TUI and scripts alike. Knows nothing of screens.

What it returns are the read-models of `keydesk.views`: detached from the
database session, and never carrying a secret or a hash.

It acts as the account it is given, which its caller has proven
(`keydesk.identity`); it never asks anyone who they are. On PostgreSQL the
database enforces the same rules again (row-level security, revision 0002),
so the service writes only what the acting role may write, and reads
`secret_hash` only to check a presented private key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from keydesk import validation
from keydesk.errors import (
    AlreadyExists,
    AlreadyRevoked,
    IntegrationNotConfigured,
    InvalidInput,
    InvalidLabel,
    NotFound,
    PermissionDenied,
    RevokedUnreadable,
    UnknownStoredValue,
)
from keydesk.keys import (
    KeyPairSource,
    PrivateKey,
    check_secret,
    generate_key_pair,
    hash_private_key,
    is_public_key,
    parse_private_key,
)
from keydesk.ssh.approvals import Approval, SshApprovals, approve_created, forget
from keydesk.store.dbapi import DbConnection
from keydesk.store.engine import Store
from keydesk.store.models import (
    Account,
    ApiKey,
    AuditEvent,
    Integration,
    KeyUsage,
    Membership,
    Workspace,
)
from keydesk.store.queries import Reads
from keydesk.store.stored_values import stored_days
from keydesk.views import (
    ACCEPTED,
    ROLE_ORDER,
    USAGE_RANGE_MAX,
    AuditView,
    CreatedKey,
    FoundKey,
    IntegrationStatus,
    IntegrationView,
    KeyView,
    MembersView,
    MemberView,
    Role,
    RotatedKey,
    UnprovenKey,
    UsageHour,
    UsageView,
    WorkspaceView,
    missing_settings,
    replacement_label,
    stop_time,
    stored_role,
    utcnow,
    why_not_lifetime,
)

_T = TypeVar("_T")

AUDIT_PAGE = 200  # events per page: screens and `keydesk audit` read the trail in pages


class _KeyRow(NamedTuple):
    """A key as the service reads it for a change: never its hash."""

    id: int
    public_key: str
    label: str
    integration_id: int


class KeyService:
    """keydesk's operations, performed as `actor` (an account name); in an
    SSH session through the SSH key `ssh_key` (a fingerprint), which acts
    only where an owner approved it (keydesk.ssh.gate)."""

    def __init__(
        self, store: Store, actor: str, *, key_pairs: KeyPairSource = generate_key_pair,
        ssh_key: str | None = None,
    ) -> None:  # fmt: skip
        self.store, self.ssh_key = store, ssh_key
        self.actor = validation.name(actor, "the account name")
        self._key_pairs = key_pairs  # tests pass a repeatable source; nothing else does

    # -- workspaces and members -------------------------------------------

    def workspaces(self) -> list[WorkspaceView]:
        with self.store.session() as session:
            return self._reads(session).workspaces()

    def workspace(self, name: str | None = None) -> WorkspaceView:
        """One of the actor's workspaces; with no name, the only one (an
        error names them when there are several)."""
        mine = self.workspaces()
        if name is None:
            if len(mine) == 1:
                return mine[0]
            if not mine:
                raise PermissionDenied(f"{self.actor} is not a member of any workspace")
            names = ", ".join(w.name for w in mine)
            raise InvalidInput(
                f"you are a member of several workspaces ({names}); give --workspace"
            )
        wanted = unicodedata.normalize("NFC", name.strip())
        for ws in mine:
            if ws.name == wanted:
                return ws
        raise NotFound(f"no workspace named {wanted!r} among yours")

    def set_key_policy(self, workspace: str | None, max_lifetime_days: int | None) -> WorkspaceView:
        """Owners cap how long new keys may live (None: no cap). Keys that
        exist keep their expiry; new keys and replacements follow the cap."""
        if max_lifetime_days is not None and not 1 <= max_lifetime_days <= 36_500:
            raise InvalidInput("the maximum key lifetime must be between 1 and 36500 days")
        name = self.workspace(workspace).name
        with self.store.session() as session:
            ws = self._workspace(session, name)
            role = self._require_member(session, ws)
            if role is not Role.OWNER:
                raise PermissionDenied(
                    f"{self.actor} is a {role} in {ws.name!r}; only owners may set its key policy"
                )
            session.execute(
                sa.update(Workspace)
                .where(col(Workspace.id) == ws.id)
                .values(max_key_lifetime_days=max_lifetime_days)
            )
            text = "none" if max_lifetime_days is None else f"{max_lifetime_days}d"
            self._audit(
                session, _id(ws.id), "workspace.policy", ws.name, f"max key lifetime {text}"
            )
            return WorkspaceView(_id(ws.id), ws.name, role, max_lifetime_days)

    def create_workspace(self, name: str) -> WorkspaceView:
        """A new workspace, with the acting account as its first owner."""
        name = validation.name(name, "the workspace name")
        taken = f"a workspace named {name!r} already exists"
        with self.store.session() as session:
            if session.exec(select(Workspace.id).where(Workspace.name == name)).first():
                raise AlreadyExists(taken)
            _refuse_look_alike(name, session.exec(select(Workspace.name)), "workspace")
            try:
                workspace_id = _insert_workspace(session, name, self.actor)
                approve_created(session, workspace_id, self.actor, self.ssh_key)
            except IntegrityError:  # a race, or a workspace this account cannot see
                session.rollback()
                raise AlreadyExists(taken) from None
            self._audit(session, workspace_id, "workspace.create", name)
            return WorkspaceView(workspace_id, name, Role.OWNER)

    def members(self, workspace: str) -> MembersView:
        """Who is in `workspace`, owners first (members may look)."""
        with self.store.session() as session:
            ws = self._workspace(session, workspace)
            self._require_member(session, ws)
            return self._members(session, ws)

    def add_member(self, workspace: str, account: str, role: str) -> MemberView:
        """Add `account` to `workspace` as `role`, or change its role if it is in."""
        return self._set_member(workspace, account, role, must_exist=False)

    def set_member_role(self, workspace: str, account: str, role: str) -> MemberView:
        return self._set_member(workspace, account, role, must_exist=True)

    def remove_member(self, workspace: str, account: str) -> MemberView:
        """Take `account` out of `workspace` (anyone may leave). The keys it
        created stay as they are: keys belong to integrations."""
        account = validation.name(account, "the account name")
        with self.store.session() as session:
            ws = self._workspace(session, workspace)
            self._require_member(session, ws)
            members = self._members(session, ws)
            member = members.member(account)
            if member is None:
                raise NotFound(f"{account} is not a member of {ws.name}")
            if (refusal := members.why_not_remove(account)) is not None:
                raise PermissionDenied(refusal)
            gone = _id(_account(session, account).id)
            session.execute(
                sa.delete(Membership).where(
                    col(Membership.workspace_id) == ws.id, col(Membership.account_id) == gone
                )
            )
            forget(session, _id(ws.id), gone, postgresql=self.store.backend == "postgresql")
            self._audit(session, _id(ws.id), "member.remove", account, label=member.role.value)
            return member

    def _set_member(
        self, workspace: str, account: str, role: str, *, must_exist: bool
    ) -> MemberView:
        account = validation.name(account, "the account name")
        role_ = _parse_role(role)
        with self.store.session() as session:
            ws = self._workspace(session, workspace)
            self._require_member(session, ws)
            members = self._members(session, ws)
            current = members.member(account)
            if current is None and must_exist:
                raise NotFound(
                    f"{account} is not a member of {ws.name}; add them with: keydesk member add"
                )
            refusal = (
                members.why_not_add(role_)
                if current is None
                else members.why_not_set_role(account, role_)
            )
            if refusal is not None:
                raise PermissionDenied(refusal)
            target = _account(session, account, create=True)
            if current is None:
                session.add(
                    Membership(workspace_id=_id(ws.id), account_id=_id(target.id), role=role_)
                )
                action = "member.add"
            else:
                session.execute(
                    sa.update(Membership)
                    .where(
                        col(Membership.workspace_id) == ws.id,
                        col(Membership.account_id) == target.id,
                    )
                    .values(role=role_.value)
                )
                action = "member.set"
            _flush(session, f"{account} is already a member of {ws.name}")
            self._audit(session, _id(ws.id), action, account, label=role_.value)
            return MemberView(account, role_, current.since if current else utcnow())

    def _members(self, session: Session, ws: Workspace) -> MembersView:
        rows = session.execute(
            sa.select(col(Account.name), col(Membership.role), col(Membership.created_at))
            .join(Account, col(Account.id) == Membership.account_id)
            .where(col(Membership.workspace_id) == ws.id)
        ).all()
        members = sorted(
            (
                MemberView(name, stored_role(role, ws.name, name), since)
                for name, role, since in rows
            ),
            key=lambda m: (ROLE_ORDER.index(m.role), m.account),
        )
        return MembersView(ws.name, self.actor, tuple(members))

    # -- integrations -------------------------------------------------------

    def integrations(self, workspace: str | None = None) -> list[IntegrationView]:
        """Integrations in the actor's workspaces (or one of them), by name."""
        with self.store.session() as session:
            return self._reads(session).integrations(workspace)

    def integration(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        with self.store.session() as session:
            return self._integration(session, ref, workspace)

    def add_integration(
        self,
        workspace: str,
        name: str,
        provider: str,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str = "",
        configure: bool = False,
    ) -> IntegrationView:
        name = validation.name(name, "the integration name")
        provider = validation.name(provider, "the provider")
        client_id = validation.name(client_id, "the client id") if client_id else None
        redirect_uri = validation.redirect_uri(redirect_uri) if redirect_uri else None
        scopes = validation.scopes(scopes)
        with self.store.session() as session:
            ws = self._workspace(session, workspace)
            self._require_manage(session, ws, "add integrations")
            taken = session.exec(
                select(Integration.id).where(
                    Integration.workspace_id == _id(ws.id), Integration.name == name
                )
            ).first()
            if taken:
                raise AlreadyExists(f"{ws.name} already has an integration named {name!r}")
            names = select(Integration.name).where(Integration.workspace_id == _id(ws.id))
            _refuse_look_alike(name, session.exec(names), f"integration in {ws.name}")
            integration = Integration(
                workspace_id=_id(ws.id),
                name=name,
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                scopes=scopes,
            )
            if configure:
                _configure(integration)
            session.add(integration)
            _flush(session, f"{ws.name} already has an integration named {name!r}")
            self._audit(session, _id(ws.id), "integration.add", name, integration_id=integration.id)
            if configure:
                self._audit(
                    session,
                    _id(ws.id),
                    "integration.configure",
                    name,
                    integration_id=integration.id,
                )
            session.flush()
            return self._integration(session, _id(integration.id))

    def update_integration(
        self,
        ref: str | int,
        *,
        client_id: str | None = None,
        redirect_uri: str | None = None,
        scopes: str | None = None,
        configure: bool = False,
        workspace: str | None = None,
    ) -> IntegrationView:
        """Change OAuth settings (None: unchanged; "": cleared) and, with
        `configure`, configure the integration: one transaction, all of the
        change or none of it. A configured integration's client id and
        redirect URI cannot be cleared: its keys depend on them."""
        client = _optional(client_id, lambda v: validation.name(v, "the client id"))
        redirect = _optional(redirect_uri, validation.redirect_uri)
        scopes = None if scopes is None else validation.scopes(scopes)
        with self.store.session() as session:
            integration = self._managed_integration(session, ref, workspace, "edit integrations")
            if client is not None:
                integration.client_id = client or None
            if redirect is not None:
                integration.redirect_uri = redirect or None
            if scopes is not None:
                integration.scopes = scopes
            missing = _missing_settings(integration)
            if missing and integration.status == IntegrationStatus.CONFIGURED:
                raise InvalidInput(
                    f"integration {integration.name!r} is configured and its keys depend on its "
                    f"{missing}: enter a new one instead of clearing it (or disable the "
                    "integration first)"
                )
            integration.updated_at = utcnow()
            session.add(integration)
            self._audit(session, integration.workspace_id, "integration.update", integration.name)
            if configure and integration.status != IntegrationStatus.CONFIGURED:
                _configure(integration)
                self._audit(
                    session, integration.workspace_id, "integration.configure", integration.name
                )
            session.flush()
            return self._integration(session, _id(integration.id))

    def configure_integration(
        self, ref: str | int, workspace: str | None = None
    ) -> IntegrationView:
        """Configure a draft, or enable a disabled integration again (its
        keys verify again, unless revoked or expired meanwhile)."""

        def configure(integration: Integration) -> None:
            if integration.status == IntegrationStatus.CONFIGURED:
                raise InvalidInput(f"integration {integration.name!r} is already configured")
            _configure(integration)

        return self._change_integration(
            ref, workspace, "configure integrations", "integration.configure", configure
        )

    def disable_integration(self, ref: str | int, workspace: str | None = None) -> IntegrationView:
        """Disabled integrations issue no keys and their keys stop verifying
        until the integration is configured again."""

        def disable(integration: Integration) -> None:
            if integration.status == IntegrationStatus.DISABLED:
                raise InvalidInput(f"integration {integration.name!r} is already disabled")
            integration.status = IntegrationStatus.DISABLED
            integration.updated_at = utcnow()

        return self._change_integration(
            ref, workspace, "disable integrations", "integration.disable", disable
        )

    def _change_integration(
        self,
        ref: str | int,
        workspace: str | None,
        permission: str,
        audit_action: str,
        change: Callable[[Integration], None],
    ) -> IntegrationView:
        """Permission check, change, audit event, fresh view: one transaction."""
        with self.store.session() as session:
            integration = self._managed_integration(session, ref, workspace, permission)
            change(integration)
            session.add(integration)
            self._audit(
                session,
                integration.workspace_id,
                audit_action,
                integration.name,
                integration_id=integration.id,
            )
            session.flush()
            return self._integration(session, _id(integration.id))

    # -- keys -------------------------------------------------------------------

    def create_key(
        self,
        integration: str | int,
        label: str,
        *,
        expires_at: datetime | None = None,
        scopes: Iterable[str] = (),
    ) -> CreatedKey:
        """Issue a key. The private key is returned here and nowhere else, ever.

        `expires_at` None: no expiry, which a workspace with a lifetime
        policy refuses. `scopes`: a subset of the integration's (none given:
        all of them)."""
        label = validation.label(label)
        with self.store.session() as session:
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
            return CreatedKey(self._key_query_one(session, row.id), private_key)

    def rotate_key(
        self, public_key: str, overlap: timedelta, *, label: str | None = None
    ) -> RotatedKey:
        """Replace a key: a new key for the same integration with the same
        scopes and lifetime (dated label unless `label`), and the old key set
        to stop at now + `overlap` (revoked at once for 0), in one
        transaction with one audit event naming both keys."""
        if overlap < timedelta(0):
            raise InvalidInput("the overlap cannot be negative (0 revokes the old key at once)")
        new_label = validation.label(label) if label is not None else None
        with self.store.session() as session:
            row = self._key_row(session, public_key)
            old = self._key_query_one(session, row.id)
            target = self._issuing_integration(session, row.integration_id, "rotate keys")
            if old.revoked_at is not None:
                raise AlreadyRevoked(
                    f"key {old.public_key} ({old.label}) is revoked; create a new key instead"
                )
            self._refuse_second_replacement(session, old)
            now = utcnow()
            lifetime = stored_days(old.lifetime_days, f"key {old.public_key}", "lifetime_days")
            cap = target.max_key_lifetime_days
            if cap is not None:
                lifetime = cap if lifetime is None else min(lifetime, cap)
            expires_at = None if lifetime is None else now + timedelta(days=lifetime)
            offered = target.scope_list
            granted = " ".join(s for s in old.scopes if s in offered)  # never wider than now
            stops = now + overlap
            if old.expires_at is not None and old.expires_at <= stops:
                stops = old.expires_at  # already stopping sooner: left as it is
            elif overlap:
                session.execute(
                    sa.update(ApiKey)
                    .where(col(ApiKey.id) == old.id, col(ApiKey.revoked_at).is_(None))
                    .values(expires_at=stops)
                )
            else:
                account = _account(session, self.actor)
                session.execute(
                    sa.update(ApiKey)
                    .where(col(ApiKey.id) == old.id, col(ApiKey.revoked_at).is_(None))
                    .values(revoked_at=now, revoked_by=account.id)
                )
            new_row, private_key = self._insert_key(
                session,
                target,
                new_label or replacement_label(old.label, now.date()),
                granted,
                expires_at,
                lifetime,
                replaces=old,
            )
            if stops == now:
                what = "old key revoked at once"
            elif stops < now:
                what = f"old key had stopped {stop_time(stops)}"
            else:
                what = f"old key stops {stop_time(stops)}"
            self._audit(
                session,
                target.workspace_id,
                "key.rotate",
                old.public_key,
                what,
                integration_id=target.id,
                related=new_row.public_key,
            )
            created = CreatedKey(self._key_query_one(session, new_row.id), private_key)
            return RotatedKey(created, self._key_query_one(session, old.id), stops)

    def _issuing_integration(
        self, session: Session, ref: str | int, action: str
    ) -> IntegrationView:
        view = self._integration(session, ref)
        if not view.can_manage:
            raise PermissionDenied(
                f"{self.actor} is a {view.role} in {view.workspace!r}; only owners and admins may {action}"
            )
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
        self._require_label_free(session, integration, label)
        account = _account(session, self.actor)
        pair = self._key_pairs()
        row = ApiKey(
            integration_id=target.id,
            public_key=pair.public_key,
            label=label,
            secret_hash=hash_private_key(pair.private_key),
            created_by=_id(account.id),
            expires_at=expires_at,
            scopes=scopes,
            lifetime_days=lifetime_days,
            replaces_id=replaces.id if replaces is not None else None,
        )
        session.add(row)
        _flush(session, _label_taken(label, target.name), InvalidLabel)
        if replaces is None:
            self._audit(
                session,
                target.workspace_id,
                "key.create",
                pair.public_key,
                label=label,
                integration_id=target.id,
            )
        return row, pair.private_key

    def keys(
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
        with self.store.session() as session:
            return list(
                self._reads(session).keys(
                    integration,
                    workspace=workspace,
                    include_revoked=include_revoked,
                    expiring_within=expiring_within,
                    unused_for=unused_for,
                )
            )

    def iter_keys(
        self,
        integration: str | int | None = None,
        *,
        workspace: str | None = None,
        expiring_within: timedelta | None = None,
        unused_for: timedelta | None = None,
    ) -> Iterator[KeyView]:
        """`keys()` as a stream, read a batch of rows at a time on one
        connection: memory stays flat however many keys there are (the CLI
        prints each as it comes). The read ends when the iterator does."""
        with self.store.session() as session:
            yield from self._reads(session).keys(
                integration,
                workspace=workspace,
                expiring_within=expiring_within,
                unused_for=unused_for,
                stream=True,
            )

    def key_usage(self, public_key: str, since: datetime) -> UsageView:
        """A key's presentations per hour since `since` (at most
        USAGE_RANGE_MAX ago: every hour of the range is a row), as verifiers
        counted them (accepted, and refused by reason)."""
        now = utcnow()
        first, last = _hour_of(max(since, now - USAGE_RANGE_MAX)), _hour_of(now)
        with self.store.session() as session:
            row = self._key_row(session, public_key)
            self._require_member(session, self._integration_workspace(session, row))
            counts = session.execute(
                sa.select(col(KeyUsage.hour), col(KeyUsage.outcome), col(KeyUsage.count)).where(
                    col(KeyUsage.api_key_id) == row.id,
                    col(KeyUsage.hour) >= first,
                    col(KeyUsage.hour) <= last,
                )
            ).all()
        by_hour: dict[int, dict[str, int]] = {}
        for hour, outcome, count in counts:
            by_hour.setdefault(hour, {})[outcome] = count
        hours = []
        for hour in range(first, last + 1):
            outcomes = by_hour.get(hour, {})
            accepted = outcomes.pop(ACCEPTED, 0)
            hours.append(UsageHour(_hour_start(hour), accepted, outcomes))
        return UsageView(row.public_key, _hour_start(first), now, tuple(hours))

    def key(self, public_key: str) -> KeyView:
        with self.store.session() as session:
            row = self._key_row(session, public_key)
            self._require_member(session, self._integration_workspace(session, row))
            return self._key_query_one(session, row.id)

    def revoke_key(self, public_key: str, *, leaked_at: str | None = None) -> KeyView:
        """Revoke now, for good. Refused by every verifier from the next request.
        `leaked_at`: where it was found leaked, audited as `key.revoke.leaked`
        (an admin's own word; `keydesk scan` revokes only what it proved)."""
        with self.store.session() as session:
            row = self._key_row(session, public_key)
            ws = self._integration_workspace(session, row)
            self._require_manage(session, ws, "revoke keys")
            account = _account(session, self.actor)
            # Conditional update: two admins revoking at once get one success
            # and one clear error, never a second timestamp.
            result = session.execute(
                sa.update(ApiKey)
                .where(col(ApiKey.id) == row.id, col(ApiKey.revoked_at).is_(None))
                .values(revoked_at=utcnow(), revoked_by=account.id)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult
                raise AlreadyRevoked(f"key {row.public_key} ({row.label}) is already revoked")
            self._audit(
                session,
                _id(ws.id),
                "key.revoke" if leaked_at is None else "key.revoke.leaked",
                row.public_key,
                label=row.label if leaked_at is None else _leak_label(leaked_at),
                integration_id=row.integration_id,
            )
        # Read back once committed: a value set around keydesk in another
        # column of the row never stands in the way of revoking it.
        try:
            with self.store.session() as session:
                return self._key_query_one(session, row.id)
        except UnknownStoredValue as bad:
            raise RevokedUnreadable(f"revoked {row.public_key}; but {bad}") from None

    # -- leaked keys: presenting the private key is the proof ---------------------

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
        with self.store.session() as session:
            if self._reads_hashes(session):
                row = self._possessed_key(session, key)
                view = None if row is None else self._key_query_one(session, row.id)
                # In an SSH session, nothing of a workspace the admin may not act in.
                hidden = view is not None and self._reads(session).hides(view.integration_id)
                view = None if hidden else view
                return FoundKey(key.public_key, view, secret_checked=True, elsewhere=hidden)
            found = self._reads(session).key_by_public_key(key.public_key)
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
        with self.store.session() as session:
            if not self._reads_hashes(session):
                raise UnprovenKey(key.public_key)
            row = self._revoke_possessed(session, key, found_at)
            return self._key_query_one(session, row.id)

    def revoke_leaked_key(self, private_key: PrivateKey, found_at: str) -> str:
        """Revoke the one key `private_key` proves, audited as revoked because
        it leaked, with where it was found; returns its public key. Cannot
        reveal or create anything. keydesk serve's POST /v1/revoke: on
        PostgreSQL it runs as `keydesk_verifier`, which reads hashes and may
        call `keydesk_revoke_leaked` (revision 0004), and nothing more."""
        with self.store.session() as session:
            return self._revoke_possessed(session, private_key, found_at).public_key

    def _revoke_possessed(
        self, session: Session, private_key: PrivateKey, found_at: str
    ) -> _KeyRow:
        row = self._possessed_key(session, private_key)
        if row is None:
            raise NotFound(f"no key {private_key.public_key} in this store")
        label = _leak_label(found_at)
        if self.store.backend == "postgresql":
            # The database writes the revocation and its audit event as the
            # session's role; the possession was checked just above.
            outcome = session.execute(
                sa.text("SELECT keydesk_revoke_leaked(:public_key, :label)"),
                {"public_key": row.public_key, "label": label},
            ).scalar_one()
            if outcome != "revoked":
                raise AlreadyRevoked(f"key {row.public_key} ({row.label}) is already revoked")
            return row
        ws = self._integration_workspace(session, row)
        revoker = session.exec(select(Account.id).where(Account.name == self.actor)).first()
        result = session.execute(
            sa.update(ApiKey)
            .where(col(ApiKey.id) == row.id, col(ApiKey.revoked_at).is_(None))
            .values(revoked_at=utcnow(), revoked_by=revoker)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]  # a CursorResult
            raise AlreadyRevoked(f"key {row.public_key} ({row.label}) is already revoked")
        self._audit(
            session,
            _id(ws.id),
            "key.revoke.leaked",
            row.public_key,
            label=label,
            integration_id=row.integration_id,
        )
        return row

    def _reads_hashes(self, session: Session) -> bool:
        """Whether the actor may read `secret_hash`: always on SQLite (the
        file is the boundary); on PostgreSQL, not an admin's role (0002)."""
        if self.store.backend != "postgresql":
            return True
        return bool(
            session.execute(
                sa.text("SELECT has_column_privilege('api_key', 'secret_hash', 'SELECT')")
            ).scalar_one()
        )

    def _possessed_key(self, session: Session, private_key: PrivateKey) -> _KeyRow | None:
        key = parse_private_key(private_key)  # shape and checksum, no I/O
        found = session.execute(
            sa.select(*_KEY_ROW_COLUMNS, col(ApiKey.secret_hash)).where(
                col(ApiKey.public_key) == key.public_key
            )
        ).first()
        # argon2 against the stored hash, or a decoy: equal work either way.
        if not check_secret(found.secret_hash if found else None, key).matches:
            return None
        assert found is not None
        return _KeyRow(*found[:4])

    # -- the audit trail ----------------------------------------------------------

    def audit(
        self,
        workspace: str | None = None,
        *,
        integration: str | int | None = None,
        key: str | None = None,
        since: datetime | None = None,
        after: AuditView | None = None,
        limit: int = AUDIT_PAGE,
        oldest_first: bool = False,
    ) -> list[AuditView]:
        """One page of events in the actor's workspaces (or one workspace,
        integration or key), newest first unless `oldest_first`. The next
        page starts `after` the last event of this one: a trail of any size
        is read a page at a time, each page one indexed range read."""
        if limit < 1:
            raise InvalidInput("the page size must be at least 1")
        with self.store.session() as session:
            query = self._audit_query()
            if workspace is not None:
                ws = self._workspace(session, workspace)
                self._require_member(session, ws)
                query = query.where(col(AuditEvent.workspace_id) == ws.id)
            else:
                mine = [ws.id for ws in self._reads(session).workspaces()]
                query = query.where(col(AuditEvent.workspace_id).in_(mine))
            if integration is not None:
                view = self._integration(session, integration, workspace)
                query = query.where(col(AuditEvent.integration_id) == view.id)
            if key is not None:
                row = self._key_row(session, key)
                self._require_member(session, self._integration_workspace(session, row))
                query = query.where(
                    sa.or_(
                        col(AuditEvent.target) == row.public_key,
                        col(AuditEvent.related) == row.public_key,
                    ),
                    col(AuditEvent.action).startswith("key."),
                )
            if since is not None:
                query = query.where(col(AuditEvent.at) >= since)
            at, id_ = col(AuditEvent.at), col(AuditEvent.id)
            if after is not None:
                if oldest_first:
                    query = query.where(
                        sa.or_(at > after.at, sa.and_(at == after.at, id_ > after.id))
                    )
                else:
                    query = query.where(
                        sa.or_(at < after.at, sa.and_(at == after.at, id_ < after.id))
                    )
            order = (at.asc(), id_.asc()) if oldest_first else (at.desc(), id_.desc())
            rows = session.execute(query.order_by(*order).limit(limit)).all()
        return [AuditView(**row._mapping) for row in rows]

    def _audit_query(self) -> sa.Select[*tuple[Any, ...]]:
        return (
            sa.select(
                col(AuditEvent.id),
                col(AuditEvent.at),
                col(Workspace.name).label("workspace"),
                col(Integration.name).label("integration"),
                col(AuditEvent.actor),
                col(AuditEvent.action),
                col(AuditEvent.target),
                col(AuditEvent.label),
                col(AuditEvent.related),
            )
            .join(Workspace, col(Workspace.id) == AuditEvent.workspace_id)
            .outerjoin(Integration, col(Integration.id) == AuditEvent.integration_id)
        )

    # -- SSH access (keydesk ssh): keys that open keydesk as an account; the
    # rules are keydesk.ssh.approvals.

    def authorize_ssh_key(
        self, account: str, fingerprint: str, write: Callable[[], _T], *,
        workspace: str | None = None, new_key: bool = True,
    ) -> Approval[_T]:  # fmt: skip
        """Approve the SSH key `fingerprint` for `account` in `workspace` (or
        in each of its workspaces the actor owns); `write` then adds or
        updates its authorized_keys line (see SshApprovals.authorize)."""
        with self._ssh() as ssh:
            return ssh.authorize(account, fingerprint, write, workspace=workspace, new_key=new_key)

    def revoke_ssh_key(self, account: str, fingerprint: str, remove: Callable[[], _T]) -> _T:
        """Stop the key `fingerprint` opening keydesk as `account`: `remove`
        takes its line out once the actor may (see SshApprovals.revoke)."""
        with self._ssh() as ssh:
            return ssh.revoke(account, fingerprint, remove)

    def ssh_keys_awaiting(self, workspace: str, account: str) -> tuple[str, ...]:
        """`account`'s SSH keys that may not act in `workspace` until an owner approves them."""
        with self._ssh() as ssh:
            return ssh.awaiting(workspace, account)

    def approve_ssh_keys(
        self, workspace: str, account: str, fingerprints: Iterable[str]
    ) -> Approval[None]:
        """An owner of `workspace` lets these keys of `account` act there."""
        with self._ssh() as ssh:
            return ssh.approve(workspace, account, fingerprints)

    @contextmanager
    def _ssh(self) -> Iterator[SshApprovals]:
        with self.store.session() as session:
            postgresql = self.store.backend == "postgresql"
            yield SshApprovals(session, self._reads(session), self.actor, postgresql)

    # -- internals --------------------------------------------------------------

    def _audit(
        self,
        session: Session,
        workspace_id: int,
        action: str,
        target: str,
        label: str | None = None,
        *,
        integration_id: int | None = None,
        related: str | None = None,
    ) -> None:
        if self.store.backend == "postgresql":
            # There the database writes every change's event itself, as the
            # session's role (revision 0006); a client adds only why a key it
            # just revoked was revoked: it leaked, and where.
            if action == "key.revoke.leaked":
                session.execute(
                    sa.text("SELECT keydesk_mark_leaked(:public_key, :label)"),
                    {"public_key": target, "label": label},
                )
            return
        session.add(
            AuditEvent(
                workspace_id=workspace_id,
                integration_id=integration_id,
                related=related,
                actor=self.actor,
                action=action,
                target=target,
                label=label,
            )
        )

    def _role(self, session: Session, ws: Workspace) -> Role | None:
        role = session.exec(
            select(Membership.role)
            .join(Account, col(Account.id) == Membership.account_id)
            .where(Membership.workspace_id == ws.id, Account.name == self.actor)
        ).first()
        return stored_role(role, ws.name, self.actor) if role else None

    def _require_member(self, session: Session, ws: Workspace) -> Role:
        role = self._role(session, ws)
        if role is None:
            raise PermissionDenied(f"{self.actor} is not a member of workspace {ws.name!r}")
        self._reads(session).require_approved(_id(ws.id), ws.name)
        return role

    def _require_manage(self, session: Session, ws: Workspace, action: str) -> None:
        role = self._require_member(session, ws)
        if not role.can_manage:
            raise PermissionDenied(
                f"{self.actor} is a {role} in {ws.name!r}; only owners and admins may {action}"
            )

    def _workspace(self, session: Session, name: str) -> Workspace:
        name = unicodedata.normalize("NFC", name.strip())  # as names are stored
        ws = session.exec(select(Workspace).where(Workspace.name == name)).first()
        if ws is None:
            raise NotFound(f"no workspace named {name!r}")
        return ws

    @contextmanager
    def reading(self) -> Iterator[Reads]:
        """The list reads (keydesk.store.queries) as this actor, in one unit of work."""
        with self.store.session() as session:
            yield self._reads(session)

    def _reads(self, session: Session) -> Reads:
        """The list reads (keydesk.store.queries), on this unit of work's connection."""
        connection = session.connection().connection.driver_connection
        assert connection is not None, "a checked-out connection has its driver's"
        return Reads(DbConnection(connection, self.store.backend), self.actor, self.ssh_key)

    def _integration(
        self, session: Session, ref: str | int, workspace: str | None = None
    ) -> IntegrationView:
        return self._reads(session).integration(ref, workspace)

    def _managed_integration(
        self, session: Session, ref: str | int, workspace: str | None, action: str
    ) -> Integration:
        view = self._integration(session, ref, workspace)
        if not view.can_manage:
            raise PermissionDenied(
                f"{self.actor} is a {view.role} in {view.workspace!r}; only owners and admins may {action}"
            )
        integration = session.get(Integration, view.id)
        assert integration is not None
        return integration

    def _require_label_free(self, session: Session, integration: Integration, label: str) -> None:
        taken = session.exec(
            select(ApiKey.id).where(
                ApiKey.integration_id == integration.id,
                ApiKey.label == label,
                col(ApiKey.revoked_at).is_(None),
            )
        ).first()
        if taken:
            raise InvalidLabel(_label_taken(label, integration.name))
        active = select(ApiKey.label).where(
            ApiKey.integration_id == integration.id, col(ApiKey.revoked_at).is_(None)
        )
        look_alike = validation.confusable_with(label, session.exec(active))
        if look_alike is not None:
            raise InvalidLabel(
                f"the label {label!r} looks like the active key {look_alike!r} of "
                f"{integration.name!r}; choose a label that reads differently"
            )

    def _key_row(self, session: Session, public_key: str) -> _KeyRow:
        public_key = public_key.strip()
        if not is_public_key(public_key):  # a pasted private key is redacted by the error
            raise InvalidInput(
                f"not a public key: {public_key!r} (expected kdpk_ and 16 letters or digits)"
            )
        row = session.execute(
            sa.select(*_KEY_ROW_COLUMNS, col(Integration.workspace_id))
            .join(Integration, col(Integration.id) == ApiKey.integration_id)
            .where(col(ApiKey.public_key) == public_key)
        ).first()
        # A key of a workspace the actor (in an SSH session: its key) may not
        # act in is unknown: "not a member of 'acme'" would say whose it is.
        if row is None or not self._reads(session).acts_in(row[-1]):
            raise NotFound(f"no key {public_key}")
        return _KeyRow(*row[:4])

    def _integration_workspace(self, session: Session, key: _KeyRow) -> Workspace:
        return session.exec(
            select(Workspace)
            .join(Integration, col(Integration.workspace_id) == Workspace.id)
            .where(Integration.id == key.integration_id)
        ).one()

    def _key_query_one(self, session: Session, key_id: int | None) -> KeyView:
        return self._reads(session).key(_id(key_id))


def _id(value: int | None) -> int:
    """A saved row's primary key (SQLModel types it optional until a flush)."""
    assert value is not None, "row not flushed"
    return value


def _parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in ROLE_ORDER)}"
        ) from None


def _insert_workspace(session: Session, name: str, owner: str) -> int:
    """The workspace and its first owner, in one step. On PostgreSQL no role
    may insert a workspace directly (it could not see the row it made, and
    must not make others its owner): keydesk_create_workspace does both
    (revision 0002). Its rows are the same as the ones made here."""
    if session.get_bind().dialect.name == "postgresql":
        return int(
            session.execute(
                sa.text("SELECT keydesk_create_workspace(:name, :owner)"),
                {"name": name, "owner": owner},
            ).scalar_one()
        )
    account = _account(session, owner, create=True)
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    session.add(
        Membership(workspace_id=_id(workspace.id), account_id=_id(account.id), role=Role.OWNER)
    )
    session.flush()
    return _id(workspace.id)


_KEY_ROW_COLUMNS = (
    col(ApiKey.id), col(ApiKey.public_key), col(ApiKey.label), col(ApiKey.integration_id),
)  # fmt: skip


def _account(session: Session, name: str, *, create: bool = False) -> Account:
    account = session.exec(select(Account).where(Account.name == name)).first()
    if account is None:
        if not create:
            raise PermissionDenied(f"{name} is not a member of any workspace")
        _refuse_look_alike(name, session.exec(select(Account.name)), "account")
        account = Account(name=name)
        session.add(account)
        session.flush()
    return account


def _refuse_look_alike(name: str, existing: Iterable[str], what: str) -> None:
    """Refuse a new name a reader could take for an existing one (`prod`,
    `pr\\u043ed` with a Cyrillic o, a full-width p, `Prod`): see validation.skeletons."""
    other = validation.confusable_with(name, existing)
    if other is not None:
        raise AlreadyExists(
            f"the name {name!r} looks like the existing {what} {other!r}; "
            "choose a name that reads differently"
        )


def _configure(integration: Integration) -> None:
    if missing := _missing_settings(integration):
        raise IntegrationNotConfigured(
            f"integration {integration.name!r} cannot be configured: set its {missing} first"
        )
    integration.status = IntegrationStatus.CONFIGURED
    integration.updated_at = utcnow()


def _missing_settings(integration: Integration) -> str:
    return missing_settings(integration.client_id, integration.redirect_uri)


def _optional(value: str | None, check: Callable[[str], str]) -> str | None:
    """An optional form value: None stays None (unchanged), blank is ""
    (cleared), anything else must pass `check`."""
    if value is None:
        return None
    return check(value) if value.strip() else ""


def _flush(session: Session, conflict: str, error: type[Exception] = AlreadyExists) -> None:
    """Flush, turning a unique-constraint race into the same error the
    pre-check gives."""
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise error(conflict) from None


LEAK_LOCATION_MAX = 64  # AuditEvent.label


def _hour_of(moment: datetime) -> int:
    """key_usage.hour: whole hours since the epoch, UTC."""
    return int(moment.timestamp()) // 3600


def _hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def _whole_days(span: timedelta) -> int:
    """A lifetime in days, rounded up (a key for 36 hours is a 2-day key)."""
    return max(1, -(-int(span.total_seconds()) // 86400))


def _leak_label(found_at: str) -> str:
    """The audit line's note on a leaked key: where it was found (a path may
    itself hold a private key, which is redacted)."""
    found_at = validation.redact_private_keys(found_at, note=False)
    # Under a label's rules (PostgreSQL's keydesk_mark_leaked refuses any
    # other, and with it the revocation): printable, NFC, no surrounding space.
    shown = unicodedata.normalize("NFC", validation.shown_literally(found_at).strip())
    return _clipped(f"found at {shown}".rstrip(), LEAK_LOCATION_MAX)


def _clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label_taken(label: str, integration: str) -> str:
    return (
        f"an active key labelled {label!r} already exists for {integration!r}; "
        "choose another label (one per environment) or revoke that key first"
    )
