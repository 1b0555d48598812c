"""A key's use per hour, as verifiers counted it (key_usage)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import col

from keydesk.service.context import ServiceContext
from keydesk.store.models import KeyUsage
from keydesk.views import ACCEPTED, USAGE_RANGE_MAX, UsageHour, UsageView, utcnow


def key_usage(context: ServiceContext, public_key: str, since: datetime) -> UsageView:
    """A key's presentations per hour since `since` (at most
    USAGE_RANGE_MAX ago: every hour of the range is a row), as verifiers
    counted them (accepted, and refused by reason)."""
    now = utcnow()
    first, last = _hour_of(max(since, now - USAGE_RANGE_MAX)), _hour_of(now)
    with context.session() as session:
        key = context.member_key(session, public_key)
        counts = session.execute(
            sa.select(col(KeyUsage.hour), col(KeyUsage.outcome), col(KeyUsage.count)).where(
                col(KeyUsage.api_key_id) == key.id,
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
    return UsageView(key.public_key, _hour_start(first), now, tuple(hours))


def _hour_of(moment: datetime) -> int:
    """key_usage.hour: whole hours since the epoch, UTC."""
    return int(moment.timestamp()) // 3600


def _hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)
