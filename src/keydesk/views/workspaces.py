"""Workspaces, roles and members, with the rules on who may change whom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from keydesk.views.policy import lifetime_policy_text


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def can_manage(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


ROLE_ORDER = (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER)


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: int
    name: str
    role: Role
    # The owners' cap on a new key's lifetime, in days (None: no cap).
    max_key_lifetime_days: int | None = None

    @property
    def policy_text(self) -> str:
        return lifetime_policy_text(self.name, self.max_key_lifetime_days)

    @property
    def can_manage(self) -> bool:
        return self.role.can_manage


@dataclass(frozen=True, slots=True)
class MemberView:
    account: str
    role: Role
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class MembersView:
    """A workspace's members as the acting account (`you`) sees them, and
    the rules on changing them, asked the same way by the service, the CLI
    and the TUI (on PostgreSQL the database enforces them too):

    * owners and admins manage members; anyone may leave;
    * only an owner makes an owner, or changes or removes one;
    * the last owner can neither leave nor be demoted.
    """

    workspace: str
    you: str
    members: tuple[MemberView, ...]

    def member(self, account: str) -> MemberView | None:
        return next((m for m in self.members if m.account == account), None)

    @property
    def your_role(self) -> Role | None:
        you = self.member(self.you)
        return you.role if you else None

    @property
    def can_manage(self) -> bool:
        return self.your_role is not None and self.your_role.can_manage

    def why_not_add(self, role: Role) -> str | None:
        if (refusal := self._why_not_manage()) is not None:
            return refusal
        if role is Role.OWNER and self.your_role is not Role.OWNER:
            return "only an owner can make another account an owner"
        return None

    def why_not_set_role(self, account: str, role: Role) -> str | None:
        member = self.member(account)
        if member is None:
            return f"{account} is not a member of {self.workspace}"
        if (refusal := self._why_not_manage()) is not None:
            return refusal
        if Role.OWNER in (member.role, role) and self.your_role is not Role.OWNER:
            if role is Role.OWNER:
                return "only an owner can make another account an owner"
            return f"{account} is an owner; only an owner can change an owner's role"
        if member.role is Role.OWNER and role is not Role.OWNER and self._owners() == 1:
            return (
                f"{account} is the last owner of {self.workspace} and cannot be demoted; "
                "make another account an owner first"
            )
        return None

    def why_not_remove(self, account: str) -> str | None:
        member = self.member(account)
        if member is None:
            return f"{account} is not a member of {self.workspace}"
        if account != self.you:
            if (refusal := self._why_not_manage()) is not None:
                return refusal
            if member.role is Role.OWNER and self.your_role is not Role.OWNER:
                return f"{account} is an owner; only an owner can remove an owner"
        if member.role is Role.OWNER and self._owners() == 1:
            return (
                f"{account} is the last owner of {self.workspace} and cannot leave; "
                "make another account an owner first"
            )
        return None

    def roles_you_may_give(self, account: str) -> list[Role]:
        """The roles `account` may be given by you (its current one included)."""
        member = self.member(account)
        return [
            role
            for role in ROLE_ORDER
            if (member is not None and role is member.role)
            or self.why_not_set_role(account, role) is None
        ]

    def _owners(self) -> int:
        return sum(1 for m in self.members if m.role is Role.OWNER)

    def _why_not_manage(self) -> str | None:
        role = self.your_role
        if role is None:
            return f"{self.you} is not a member of {self.workspace}"
        if not role.can_manage:
            return (
                f"{self.you} is a {role} in {self.workspace}; "
                "only owners and admins may change members"
            )
        return None
