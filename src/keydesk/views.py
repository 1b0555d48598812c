"""Read-models: what the service hands to the CLI, the TUI and scripts.

Frozen, detached from any database session, and never carrying a secret
or a hash. The rules about what a view allows live on the view, so every
shell asks the same question the same way. Imports nothing of the ORM:
the interface can show views before SQLAlchemy is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from keydesk.errors import KeydeskError
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
    # The owners' cap on a new key's lifetime, in days (None: no cap).
    max_key_lifetime_days: int | None = None

    @property
    def policy_text(self) -> str:
        return lifetime_policy_text(self.name, self.max_key_lifetime_days)

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
    expiring_keys: int = 0  # active keys that stop within EXPIRING_SOON
    max_key_lifetime_days: int | None = None  # its workspace's policy

    @property
    def scope_list(self) -> tuple[str, ...]:
        return tuple(self.scopes.split())

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
    scopes: tuple[str, ...] = ()  # what the key may do (fixed when it was made)
    lifetime_days: int | None = None  # what it was issued for; its replacement gets the same
    replaces: str | None = None  # the public key this one replaced by a rotation
    replaced_by: str | None = None  # the newest key made to replace this one

    def expires_soon(self, now: datetime | None = None) -> bool:
        """Active, and stops within EXPIRING_SOON: worth a warning."""
        now = now or utcnow()
        return (
            self.expires_at is not None
            and key_status(self.revoked_at, self.expires_at, now) is KeyStatus.ACTIVE
            and self.expires_at - now <= EXPIRING_SOON
        )

    def idle_days(self, now: datetime | None = None) -> int:
        """Whole days since it was last used (or made, if never used)."""
        since = self.last_used_at or self.created_at
        return max(0, ((now or utcnow()) - since).days)

    def status_words(self, now: datetime | None = None) -> str:
        """The status as a list shows it, with what a reader must notice in
        words (never only a colour, so NO_COLOR and scripts see it too)."""
        now = now or utcnow()
        status = key_status(self.revoked_at, self.expires_at, now)  # at `now`, not the clock's
        active = status is KeyStatus.ACTIVE
        if active and self.replaced_by and self.expires_at:
            return f"rotating -> {self.replaced_by} ({in_words(self.expires_at - now)} left)"
        if self.expires_soon(now) and self.expires_at:
            return f"expiring in {in_words(self.expires_at - now)}"
        if active and (idle := self.idle_days(now)) >= STALE_AFTER.days:
            return f"active, unused for {idle} days"
        return status.value

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


UNKNOWN_KEY = "unknown"  # a found key this store does not hold: dead
OTHER_WORKSPACE = "other-workspace"  # held, in a workspace the actor cannot see
UNVERIFIED = "unverified: matched by public key only, not revoked"


class UnprovenKey(KeydeskError):
    """A found key whose secret this account cannot check (an admin on
    PostgreSQL) is never revoked on its public key alone."""

    def __init__(self, public_key: str) -> None:
        super().__init__(f"{public_key}: {UNVERIFIED}; your role cannot check its secret")


@dataclass(frozen=True, slots=True)
class FoundKey:
    """What the store says of a private key found leaked (`keydesk scan`).

    `secret_checked`: its secret matched the stored hash, the proof that it
    is that key. False on PostgreSQL for an admin, whose role cannot read
    hashes: the key was matched by its public key among the workspaces the
    admin sees, and `elsewhere` tells a key held in another workspace (which
    may still work) from one the store does not hold."""

    public_key: str
    key: KeyView | None
    secret_checked: bool
    elsewhere: bool = False

    @property
    def status(self) -> str:
        if self.key is not None:
            return self.key.status.value
        return OTHER_WORKSPACE if self.elsewhere else UNKNOWN_KEY

    @property
    def may_work(self) -> bool:
        """Active, or held where the actor cannot see it: counts as live."""
        return self.elsewhere or (self.key is not None and self.key.is_active)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The one time a private key leaves keydesk. Shown once, then dropped."""

    key: KeyView
    private_key: PrivateKey

    def __repr__(self) -> str:
        return f"CreatedKey({self.key.public_key}, label={self.key.label!r})"


@dataclass(frozen=True, slots=True)
class RotatedKey:
    """A rotation: the replacement (its private key shown once) and the old
    key, which stops working at `old_stops_at` (now, if the overlap was 0)."""

    created: CreatedKey
    old: KeyView
    old_stops_at: datetime

    @property
    def old_revoked(self) -> bool:
        return self.old.revoked_at is not None

    def __repr__(self) -> str:
        return f"RotatedKey({self.old.public_key} -> {self.created.key.public_key})"


# Outcomes a verifier counts per key and hour (key_usage.outcome).
ACCEPTED = "accepted"
WRONG_SECRET = "wrong_secret"  # noqa: S105 (a reason, not a password)


@dataclass(frozen=True, slots=True)
class UsageHour:
    start: datetime
    accepted: int
    refused: dict[str, int]  # reason -> count


@dataclass(frozen=True, slots=True)
class UsageView:
    """A key's presentations per hour, from `since` to `until` (every hour
    of the range, quiet ones as zeros), as verifiers counted them: counts
    reach the store in batches, so the last few seconds may be missing."""

    public_key: str
    since: datetime
    until: datetime
    hours: tuple[UsageHour, ...]

    @property
    def accepted(self) -> int:
        return sum(h.accepted for h in self.hours)

    @property
    def refused(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for hour in self.hours:
            for reason, count in hour.refused.items():
                totals[reason] = totals.get(reason, 0) + count
        return dict(sorted(totals.items()))

    def wrong_secrets_since(self, moment: datetime) -> int:
        """Refusals of this real public key with a wrong secret: someone has
        the id and is guessing, or a client holds a damaged key."""
        return sum(h.refused.get(WRONG_SECRET, 0) for h in self.hours if h.start + HOUR > moment)


HOUR = timedelta(hours=1)
USAGE_RANGE_MAX = timedelta(days=366)  # the longest look back at a key's usage
EXPIRING_SOON = timedelta(days=14)  # flagged in lists, counted per integration
STALE_AFTER = timedelta(days=30)  # an active key unused this long is called out in lists
EXPIRY_CHOICES_DAYS = (30, 90, 365)  # the create form's choices, besides a date and never


def lifetime_policy_text(workspace: str, days: int | None) -> str:
    if days is None:
        return f"keys in {workspace} may live without an expiry"
    return f"keys in {workspace} must expire within {days} days"


def default_expiry_days(policy_days: int | None) -> int:
    """What a new key's expiry defaults to in the form: 90 days, or the
    workspace's cap if that is shorter."""
    return min(90, policy_days) if policy_days is not None else 90


def why_not_lifetime(
    workspace: str, policy_days: int | None, expires_at: datetime | None, now: datetime
) -> str | None:
    """Why a key expiring at `expires_at` (None: never) breaks the
    workspace's policy, or None. The one rule the service and the form ask."""
    if expires_at is not None and expires_at <= now:
        return "the expiry must be in the future"
    if policy_days is None:
        return None
    if expires_at is None:
        return (
            f"{lifetime_policy_text(workspace, policy_days)} (its owners' policy); "
            f"choose an expiry of at most {policy_days}d"
        )
    if expires_at > now + timedelta(days=policy_days):
        return (
            f"{lifetime_policy_text(workspace, policy_days)} (its owners' policy); "
            f"{expires_at:%Y-%m-%d} is further than {policy_days} days away"
        )
    return None


def stop_time(moment: datetime) -> str:
    """When a key stops working, as every shell shows it: UTC to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def counted(count: int, noun: str) -> str:
    """`1 file`, `2 files`, `1,204 keys`: a count as a sentence says it."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def in_words(delta: timedelta) -> str:
    """A span as a person says it: `3 days`, `5 hours`, `12 minutes`."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return counted(count, unit)
    return "less than a minute"


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
    related: str | None = None  # another key the event concerns (a rotation's new key)


_DATED = re.compile(r"^(?P<base>.*?)(?: \(\d{4}-\d{2}-\d{2}\))?$")


def replacement_label(label: str, today: date) -> str:
    """The label for a key that replaces `label`: the same name with today's
    date (active labels must differ; the date says which is newer)."""
    suffix = f" ({today.isoformat()})"
    match = _DATED.match(label)
    base = match.group("base") if match else label  # a replacement of a replacement keeps one date
    return base[: LABEL_MAX - len(suffix)].rstrip() + suffix
