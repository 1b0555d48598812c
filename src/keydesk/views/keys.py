"""Keys: their status, as lists show it, and the one time a private key
leaves keydesk (a new or rotated key)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from keydesk.validation import LABEL_MAX
from keydesk.views.limits import NO_LIMITS, KeyLimits
from keydesk.views.tags import Tag
from keydesk.views.words import in_words, utcnow

if TYPE_CHECKING:
    from keydesk.keys import PrivateKey


EXPIRING_SOON = timedelta(days=14)  # flagged in lists, counted per integration
STALE_AFTER = timedelta(days=30)  # an active key unused this long is called out in lists


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
    # That replacement was revoked (by hand, or found leaked by a scan):
    # this key's scheduled stop would leave the integration with no key.
    replacement_revoked: bool = False
    tags: tuple[Tag, ...] = ()  # sorted by name (keydesk.views.tags)
    limits: KeyLimits = NO_LIMITS  # its rate, quota and networks (keydesk.views.limits)
    # Its integration is disabled: the key, active or not, is refused (until
    # the integration is configured again).
    integration_disabled: bool = False

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
        if active and self.integration_disabled:  # "active" under a "Disabled" banner misled
            return REFUSED_WHILE_DISABLED
        if self.stop_is_orphaned(now) and self.expires_at:
            return f"replacement revoked, stops in {in_words(self.expires_at - now)}"
        if active and self.stop_scheduled() and self.expires_at and not self.replacement_revoked:
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

    def stop_scheduled(self) -> bool:
        """Set by a rotation to stop before its own lifetime ends (more than
        a day before: a lifetime is whole days, rounded up)."""
        if not self.replaced_by or self.expires_at is None:
            return False
        if self.lifetime_days is None:  # it had no expiry of its own
            return True
        return self.expires_at <= self.created_at + timedelta(days=self.lifetime_days - 1)

    def stop_is_orphaned(self, now: datetime | None = None) -> bool:
        """Active, set to stop by a rotation whose replacement was revoked:
        worth keeping (keydesk key keep) or rotating again."""
        return (
            self.replacement_revoked
            and self.stop_scheduled()
            and key_status(self.revoked_at, self.expires_at, now or utcnow()) is KeyStatus.ACTIVE
        )


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


REFUSED_WHILE_DISABLED = "refused: integration disabled"
_DATED = re.compile(r"^(?P<base>.*?)(?: \(\d{4}-\d{2}-\d{2}(?: #\d+)?\))?$")


def replacement_label(label: str, today: date, taken: Collection[str] = ()) -> str:
    """The label for a key that replaces `label`: the same name with today's
    date (active labels must differ; the date says which is newer), and
    `#2`, `#3`… after it when an active label in `taken` has it already (a
    replacement rotated the day it was made kept its own label, refused)."""
    match = _DATED.match(label)
    base = match.group("base") if match else label  # a replacement of a replacement keeps one date
    for n in itertools.count(1):
        suffix = f" ({today.isoformat()}{'' if n == 1 else f' #{n}'})"
        dated = _fitted(base, LABEL_MAX - len(suffix)) + suffix
        if dated not in taken:
            return dated
    raise AssertionError("unreachable: itertools.count never ends")


def _fitted(label: str, room: int) -> str:
    """`label` in `room` characters: its start, "…" and its end, where what
    tells keys apart often is ("…service v2", "…service v3": cut at the end,
    both replacements had the same label)."""
    if len(label) <= room:
        return label
    tail = (room - 1) // 2
    return label[: room - 1 - tail].rstrip() + "…" + label[len(label) - tail :].lstrip()
