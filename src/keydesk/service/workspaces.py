"""Workspaces: the actor's, a new one with its first owner, and the
owners' policy on how long new keys may live."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from keydesk import validation
from keydesk.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from keydesk.service.context import ServiceContext
from keydesk.service.rows import account, refuse_look_alike, row_id
from keydesk.service.ssh_approvals import approve_created
from keydesk.store.models import Membership, Workspace
from keydesk.views import Role, WorkspaceView


class Workspaces:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def all(self) -> list[WorkspaceView]:
        with self.context.reading() as reads:
            return reads.workspaces()

    def one(self, name: str | None = None) -> WorkspaceView:
        """One of the actor's workspaces; with no name, the only one (an
        error names them when there are several)."""
        mine, actor = self.all(), self.context.actor
        if name is None:
            if len(mine) == 1:
                return mine[0]
            if not mine:
                raise PermissionDenied(f"{actor} is not a member of any workspace")
            names = ", ".join(w.name for w in mine)
            raise InvalidInput(
                f"you are a member of several workspaces ({names}); give --workspace"
            )
        wanted = validation.as_stored(name)
        for ws in mine:
            if ws.name == wanted:
                return ws
        raise NotFound(f"no workspace named {wanted!r} among yours")

    def set_key_policy(self, workspace: str | None, max_lifetime_days: int | None) -> WorkspaceView:
        """Owners cap how long new keys may live (None: no cap). Keys that
        exist keep their expiry; new keys and replacements follow the cap."""
        if max_lifetime_days is not None and not 1 <= max_lifetime_days <= 36_500:
            raise InvalidInput("the maximum key lifetime must be between 1 and 36500 days")
        name = self.one(workspace).name
        context = self.context
        with context.session() as session:
            ws = context.workspace(session, name)
            role = context.require_member(session, ws)
            if role is not Role.OWNER:
                raise PermissionDenied(
                    f"{context.actor} is a {role} in {ws.name!r}; only owners may set its key policy"
                )
            session.execute(
                sa.update(Workspace)
                .where(col(Workspace.id) == ws.id)
                .values(max_key_lifetime_days=max_lifetime_days)
            )
            text = "none" if max_lifetime_days is None else f"{max_lifetime_days}d"
            context.audit(
                session, row_id(ws.id), "workspace.policy", ws.name, f"max key lifetime {text}"
            )
            return WorkspaceView(row_id(ws.id), ws.name, role, max_lifetime_days)

    def create(self, name: str) -> WorkspaceView:
        """A new workspace, with the acting account as its first owner."""
        name = validation.name(name, "the workspace name")
        taken = f"a workspace named {name!r} already exists"
        context = self.context
        with context.session() as session:
            if session.exec(select(Workspace.id).where(Workspace.name == name)).first():
                raise AlreadyExists(taken)
            refuse_look_alike(name, session.exec(select(Workspace.name)), "workspace")
            try:
                workspace_id = _insert_workspace(session, name, context.actor)
                approve_created(session, workspace_id, context.actor, context.ssh_key)
            except IntegrityError:  # a race, or a workspace this account cannot see
                session.rollback()
                raise AlreadyExists(taken) from None
            context.audit(session, workspace_id, "workspace.create", name)
            return WorkspaceView(workspace_id, name, Role.OWNER)


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
    first_owner = account(session, owner, create=True)
    workspace = Workspace(name=name)
    session.add(workspace)
    session.flush()
    session.add(
        Membership(
            workspace_id=row_id(workspace.id), account_id=row_id(first_owner.id), role=Role.OWNER
        )
    )
    session.flush()
    return row_id(workspace.id)
