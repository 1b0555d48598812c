"""Who is in a workspace, and changing that. The rules on who may change
whom are the view's (views.MembersView), so every shell asks them the
same way; this module applies them and writes the change."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from keydesk import validation
from keydesk.errors import InvalidInput, NotFound, PermissionDenied
from keydesk.service.context import ServiceContext
from keydesk.service.rows import account, flush, row_id
from keydesk.service.ssh_approvals import forget
from keydesk.store.models import Membership, Workspace
from keydesk.views import ROLE_ORDER, MembersView, MemberView, Role, utcnow


class Members:
    def __init__(self, context: ServiceContext) -> None:
        self.context = context

    def of(self, workspace: str) -> MembersView:
        """Who is in `workspace`, owners first (members may look)."""
        with self.context.reading() as reads:
            return reads.members(workspace)

    def remove(self, workspace: str, name: str) -> MemberView:
        """Take account `name` out of `workspace` (anyone may leave). The keys
        it created stay as they are: keys belong to integrations."""
        name = validation.name(name, "the account name")
        context = self.context
        with context.session() as session:
            ws, members = self._read(session, workspace)
            member = members.member(name)
            if member is None:
                raise NotFound(f"{name} is not a member of {ws.name}")
            if (refusal := members.why_not_remove(name)) is not None:
                raise PermissionDenied(refusal)
            gone = row_id(account(session, name).id)
            session.execute(
                sa.delete(Membership).where(
                    col(Membership.workspace_id) == ws.id, col(Membership.account_id) == gone
                )
            )
            forget(session, row_id(ws.id), gone, postgresql=context.postgresql)
            context.audit(session, row_id(ws.id), "member.remove", name, label=member.role.value)
            return member

    def set(self, workspace: str, name: str, role: str, *, must_exist: bool) -> MemberView:
        """Add account `name` as `role`, or change its role if it is in (only
        that, with `must_exist`)."""
        name = validation.name(name, "the account name")
        role_ = _parse_role(role)
        context = self.context
        with context.session() as session:
            ws, members = self._read(session, workspace)
            current = members.member(name)
            if current is None and must_exist:
                raise NotFound(
                    f"{name} is not a member of {ws.name}; add them with: keydesk member add"
                )
            refusal = (
                members.why_not_add(role_)
                if current is None
                else members.why_not_set_role(name, role_)
            )
            if refusal is not None:
                raise PermissionDenied(refusal)
            target = row_id(account(session, name, create=True).id)
            action = _write_membership(session, row_id(ws.id), target, role_, current is None)
            flush(session, f"{name} is already a member of {ws.name}")
            context.audit(session, row_id(ws.id), action, name, label=role_.value)
            return MemberView(name, role_, current.since if current else utcnow())

    def _read(self, session: Session, workspace: str) -> tuple[Workspace, MembersView]:
        """The workspace and its members, which the actor must be one of."""
        ws = self.context.workspace(session, workspace)
        self.context.require_member(session, ws)
        return ws, self.context.reads(session).members_of(row_id(ws.id), ws.name)


def _write_membership(
    session: Session, workspace_id: int, account_id: int, role: Role, new: bool
) -> str:
    """Add the membership or change its role; the audit action it was."""
    if new:
        session.add(Membership(workspace_id=workspace_id, account_id=account_id, role=role))
        return "member.add"
    session.execute(
        sa.update(Membership)
        .where(
            col(Membership.workspace_id) == workspace_id,
            col(Membership.account_id) == account_id,
        )
        .values(role=role.value)
    )
    return "member.set"


def _parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in ROLE_ORDER)}"
        ) from None
