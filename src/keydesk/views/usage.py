"""A key's use per hour, as verifiers counted it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Outcomes a verifier counts per key and hour (key_usage.outcome).
ACCEPTED = "accepted"
WRONG_SECRET = "wrong_secret"  # noqa: S105 (a reason, not a password)


HOUR = timedelta(hours=1)
USAGE_RANGE_MAX = timedelta(days=366)  # the longest look back at a key's usage


def usage_hour(epoch_seconds: float) -> int:
    """key_usage.hour: whole hours since the epoch, UTC (what verifiers
    count under, and what the service reads back)."""
    return int(epoch_seconds) // 3600


def usage_hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


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
