"""A workspace's key-lifetime policy: its owners' cap on how long new keys
may live, asked the same way by the service and the create form."""

from __future__ import annotations

from datetime import datetime, timedelta

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
