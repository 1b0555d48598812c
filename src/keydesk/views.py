"""Read-models: what the service hands to the CLI, the TUI and scripts.

Frozen, detached from any database session, and never carrying a secret
or a hash. The rules about what a view allows live on the view, so every
shell asks the same question the same way. Imports nothing of the ORM:
the interface can show views before SQLAlchemy is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from keydesk.validation import LABEL_MAX

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def can_manage(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


class IntegrationStatus(StrEnum):
    DRAFT = "draft"
    CONFIGURED = "configured"
    DISABLED = "disabled"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


def key_status(
    revoked_at: datetime | None, expires_at: datetime | None, now: datetime | None = None
) -> KeyStatus:
    """The one definition of an active key (the verifier asks it too)."""
    if revoked_at is not None:
        return KeyStatus.REVOKED
    if expires_at is not None and expires_at <= (now or utcnow()):
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


def missing_settings(client_id: str | None, redirect_uri: str | None) -> str:
    """The one rule of what a configured integration needs: the settings
    not yet given, as words ("client id and redirect URI"), or ""."""
    missing = [("client id", client_id), ("redirect URI", redirect_uri)]
    return " and ".join(what for what, value in missing if not value)


@dataclass(frozen=True, slots=True)
class WorkspaceView:
    id: int
    name: str
    role: Role

    @property
    def can_manage(self) -> bool:
        return self.role.can_manage


ROLE_ORDER = (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER)


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


@dataclass(frozen=True, slots=True)
class IntegrationView:
    id: int
    workspace_id: int
    workspace: str
    name: str
    provider: str
    client_id: str | None
    redirect_uri: str | None
    scopes: str
    status: IntegrationStatus
    created_at: datetime
    updated_at: datetime
    active_keys: int
    role: Role  # the acting account's role in the integration's workspace

    @property
    def can_manage(self) -> bool:
        return self.role.can_manage

    @property
    def is_configured(self) -> bool:
        return self.status is IntegrationStatus.CONFIGURED

    @property
    def can_edit(self) -> bool:
        return self.can_manage

    @property
    def can_configure(self) -> bool:
        """Offered to managers of an integration that is not configured."""
        return self.can_manage and not self.is_configured

    @property
    def can_disable(self) -> bool:
        return self.can_manage and self.is_configured

    def missing_settings(self) -> str:
        """What configuring still needs ("client id and redirect URI"), or ""."""
        return missing_settings(self.client_id, self.redirect_uri)

    @property
    def can_issue_keys(self) -> bool:
        return self.why_no_new_keys() is None

    def why_no_new_keys(self) -> str | None:
        """Why the acting account cannot generate a key here, or None if it can."""
        if not self.can_manage:
            return (
                f"You are a {self.role} in {self.workspace}; only owners and admins "
                "can generate or revoke keys. Ask an owner to change your role."
            )
        if self.status is IntegrationStatus.DRAFT:
            return "This integration is a draft; configure it (client id and redirect URI) first."
        if self.status is IntegrationStatus.DISABLED:
            return "This integration is disabled; configure it again to issue keys."
        return None


@dataclass(frozen=True, slots=True)
class KeyView:
    id: int
    public_key: str
    label: str
    integration_id: int
    integration: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    # The creator has since left the key's workspace (the key stays: keys
    # belong to integrations, not to people).
    creator_removed: bool = False

    @property
    def creator(self) -> str:
        """The creator's name as lists show it."""
        return f"{self.created_by} (removed)" if self.creator_removed else self.created_by

    @property
    def status(self) -> KeyStatus:
        return key_status(self.revoked_at, self.expires_at)

    @property
    def is_active(self) -> bool:
        return self.status is KeyStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The one time a private key leaves keydesk. Shown once, then dropped."""

    key: KeyView
    private_key: PrivateKey

    def __repr__(self) -> str:
        return f"CreatedKey({self.key.public_key}, label={self.key.label!r})"


@dataclass(frozen=True, slots=True)
class AuditView:
    """One event of the audit trail. `target` is what the event is about
    (an integration's or workspace's name, an account, a public key)."""

    id: int
    at: datetime
    workspace: str
    integration: str | None
    actor: str
    action: str
    target: str
    label: str | None


_DATED = re.compile(r"^(?P<base>.*?)(?: \(\d{4}-\d{2}-\d{2}\))?$")


def replacement_label(label: str, today: date) -> str:
    """The label for a key that replaces `label`: the same name with today's
    date (active labels must differ; the date says which is newer)."""
    suffix = f" ({today.isoformat()})"
    match = _DATED.match(label)
    base = match.group("base") if match else label  # a replacement of a replacement keeps one date
    return base[: LABEL_MAX - len(suffix)].rstrip() + suffix
