"""What every part of the service shares: the store, the acting account (in
an SSH session, through its key), the reads of one unit of work, the audit
trail's writes, and the one permission check.

It acts as the account it is given, which its caller has proven
(`keydesk.identity`); it never asks anyone who they are. On PostgreSQL the
database enforces the same rules again (row-level security, revision 0002),
so the service writes only what the acting role may write, and reads
`secret_hash` only to check a presented private key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlmodel import Session, col, select

from keydesk import validation
from keydesk.errors import InvalidInput, NotFound, PermissionDenied
from keydesk.keys import is_public_key
from keydesk.service.rows import KEY_REF_COLUMNS, KeyRef, row_id
from keydesk.store.dbapi import DbConnection
from keydesk.store.engine import Store
from keydesk.store.models import Account, ApiKey, AuditEvent, Integration, Membership, Workspace
from keydesk.store.queries import Reads
from keydesk.store.stored_values import stored_role
from keydesk.views import IntegrationView, KeyView, Role


class ServiceContext:
    """The store and who acts in it (`actor`, an account name; `ssh_key`, the
    SSH key it came through, which acts only where an owner approved it:
    keydesk.ssh.gate), shared by every part of the service."""

    def __init__(self, store: Store, actor: str, ssh_key: str | None) -> None:
        self.store, self.actor, self.ssh_key = store, actor, ssh_key

    @property
    def postgresql(self) -> bool:
        return self.store.backend == "postgresql"

    def session(self) -> AbstractContextManager[Session]:
        """One unit of work (committed when the block ends without an error)."""
        return self.store.session()

    @contextmanager
    def reading(self) -> Iterator[Reads]:
        """The list reads (keydesk.store.queries) as this actor, in one unit of work."""
        with self.store.session() as session:
            yield self.reads(session)

    def reads(self, session: Session) -> Reads:
        """The list reads (keydesk.store.queries), on this unit of work's connection."""
        connection = session.connection().connection.driver_connection
        assert connection is not None, "a checked-out connection has its driver's"
        return Reads(DbConnection(connection, self.store.backend), self.actor, self.ssh_key)

    def audit(
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
        if self.postgresql:
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

    # -- permissions: who may do what ---------------------------------------

    def require_manager(self, role: Role, workspace: str, action: str) -> None:
        """The one "only owners and admins" rule of the service."""
        if not role.can_manage:
            raise PermissionDenied(
                f"{self.actor} is a {role} in {workspace!r}; only owners and admins may {action}"
            )

    def role(self, session: Session, ws: Workspace) -> Role | None:
        role = session.exec(
            select(Membership.role)
            .join(Account, col(Account.id) == Membership.account_id)
            .where(Membership.workspace_id == ws.id, Account.name == self.actor)
        ).first()
        return stored_role(role, ws.name, self.actor) if role else None

    def require_member(self, session: Session, ws: Workspace) -> Role:
        role = self.role(session, ws)
        if role is None:
            raise PermissionDenied(f"{self.actor} is not a member of workspace {ws.name!r}")
        self.reads(session).require_approved(row_id(ws.id), ws.name)
        return role

    def require_manage(self, session: Session, ws: Workspace, action: str) -> None:
        self.require_manager(self.require_member(session, ws), ws.name, action)

    # -- rows by name, as the actor may see them ---------------------------------

    def workspace(self, session: Session, name: str) -> Workspace:
        name = validation.as_stored(name)
        ws = session.exec(select(Workspace).where(Workspace.name == name)).first()
        if ws is None:
            raise NotFound(f"no workspace named {name!r}")
        return ws

    def integration(
        self, session: Session, ref: str | int, workspace: str | None = None
    ) -> IntegrationView:
        return self.reads(session).integration(ref, workspace)

    def managed_integration(
        self, session: Session, ref: str | int, workspace: str | None, action: str
    ) -> Integration:
        view = self.integration(session, ref, workspace)
        self.require_manager(view.role, view.workspace, action)
        integration = session.get(Integration, view.id)
        assert integration is not None
        return integration

    def key_ref(self, session: Session, public_key: str) -> KeyRef:
        public_key = public_key.strip()
        if not is_public_key(public_key):  # a pasted private key is redacted by the error
            raise InvalidInput(
                f"not a public key: {public_key!r} (expected kdpk_ and 16 letters or digits)"
            )
        row = session.execute(
            sa.select(*KEY_REF_COLUMNS, col(Integration.workspace_id))
            .join(Integration, col(Integration.id) == ApiKey.integration_id)
            .where(col(ApiKey.public_key) == public_key)
        ).first()
        # A key of a workspace the actor (in an SSH session: its key) may not
        # act in is unknown: "not a member of 'acme'" would say whose it is.
        if row is None or not self.reads(session).acts_in(row[-1]):
            raise NotFound(f"no key {public_key}")
        return KeyRef(*row[:4])

    def key_workspace(self, session: Session, key: KeyRef) -> Workspace:
        return session.exec(
            select(Workspace)
            .join(Integration, col(Integration.workspace_id) == Workspace.id)
            .where(Integration.id == key.integration_id)
        ).one()

    def member_key(self, session: Session, public_key: str) -> KeyRef:
        """A key of a workspace the actor is a member of (any role may look)."""
        key = self.key_ref(session, public_key)
        self.require_member(session, self.key_workspace(session, key))
        return key

    def key_view(self, session: Session, key_id: int | None) -> KeyView:
        return self.reads(session).key(row_id(key_id))
