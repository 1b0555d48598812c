"""The audit trail's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    # The label of the key `target` names, from the key itself: an event's
    # own `label` may say something else (a rotation's stop, a kept key's expiry).
    key_label: str | None = None
