"""A key's use per hour, as verifiers counted it (key_usage)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from keydesk.service.context import ServiceContext
from keydesk.store.models import KeyUsage
from keydesk.views import ACCEPTED, USAGE_RANGE_MAX, UsageHour, UsageView, utcnow
from keydesk.views.usage import usage_hour, usage_hour_start


def key_usage(context: ServiceContext, public_key: str, since: datetime) -> UsageView:
    """A key's presentations per hour since `since` (at most
    USAGE_RANGE_MAX ago: every hour of the range is a row), as verifiers
    counted them (accepted, and refused by reason)."""
    now = utcnow()
    first, last = (
        usage_hour(max(since, now - USAGE_RANGE_MAX).timestamp()),
        usage_hour(now.timestamp()),
    )
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
        hours.append(UsageHour(usage_hour_start(hour), accepted, outcomes))
    return UsageView(key.public_key, usage_hour_start(first), now, tuple(hours))
